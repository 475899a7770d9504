//! ssh_config as OpenSSH reads it: ferry's resolved options compared with
//! `ssh -G` (the real client's own evaluation) over a corpus of configs,
//! and the options that change how a connection is made, live against
//! sshd on loopback.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::transport::ssh_config::{HostConfig, SshConfig};
use ferry::transport::{ConnectOptions, Session, StrictHostKeyChecking, TransportError, Trust};

use crate::support::sshd::{TestHost, TestHosts, new_key};

/// `(config, host as given, user given on the command line)`.
const CORPUS: &[(&str, &str, Option<&str>)] = &[
    // First value wins; wildcards and negation in Host lines.
    (
        "Host web1\n  HostName 127.10.0.1\n  Port 2222\nHost web* !web2\n  User deploy\n  Port 22\n  IdentityFile /keys/web\nHost *\n  User root\n  IdentityFile /keys/all\n",
        "web1",
        None,
    ),
    (
        "Host web1\n  HostName 127.10.0.1\nHost web* !web2\n  User deploy\nHost *\n  User nobody\n",
        "web2",
        None,
    ),
    // The bug: `Match host other` merged into the Host block before it.
    (
        "Host web\n  HostName 127.10.0.7\nMatch host other\n  Port 2401\n",
        "web",
        None,
    ),
    // Match host sees the HostName; originalhost the name as given.
    (
        "Host web\n  HostName 127.10.0.7\nMatch host 127.10.0.*\n  Port 2401\nMatch originalhost web\n  User orig\n  Port 2500\n",
        "web",
        None,
    ),
    // Match user sees the command line's user; negated criteria.
    (
        "Match user bob\n  Port 3000\nMatch !user bob\n  Port 3001\nHost *\n  Port 3002\n",
        "db",
        Some("bob"),
    ),
    (
        "Match user bob\n  Port 3000\nMatch !user bob\n  Port 3001\n",
        "db",
        Some("alice"),
    ),
    // localuser, all, exec with tokens, exec skipped after a failed criterion.
    (
        "Match localuser nobody-here\n  Port 4000\nMatch exec \"test %h = 127.10.1.1\"\n  User viaexec\nMatch exec false\n  Port 4001\nMatch all\n  Port 4002\nHost db\n  HostName 127.10.1.1\n",
        "db",
        None,
    ),
    // Match final: a second pass where Host patterns see the HostName.
    (
        "Host app\n  HostName 127.10.2.9\nMatch final host 127.10.2.9\n  ServerAliveInterval 9\nHost 127.10.2.9\n  StrictHostKeyChecking accept-new\n  ConnectTimeout 7\n",
        "app",
        None,
    ),
    // ProxyCommand and ProxyJump: whichever comes first wins.
    (
        "Host a\n  ProxyJump j1\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump j2,j3\n",
        "a",
        None,
    ),
    (
        "Host b\n  ProxyCommand ssh -W %h:%p gw\n  ProxyJump j1\n",
        "b",
        None,
    ),
    (
        "Host c\n  ProxyJump none\nHost *\n  ProxyJump j2\n",
        "c",
        None,
    ),
    // Keys, agent and known_hosts files, with tokens and `~`.
    (
        "Host k\n  HostName 127.10.3.1\n  User ops\n  IdentitiesOnly yes\n  IdentityFile ~/.ssh/k-%h-%r\n  IdentityAgent ~/agent-%r.sock\n  UserKnownHostsFile ~/kh1 /etc/kh-%h\n  CertificateFile ~/.ssh/c-%h\n  CertificateFile /c2\n  GlobalKnownHostsFile /etc/g1\n  HashKnownHosts yes\n  StrictHostKeyChecking no\n  ServerAliveInterval 0\n  ServerAliveCountMax 7\n",
        "k",
        None,
    ),
    (
        "Host s\n  StrictHostKeyChecking yes\n  IdentityAgent none\n  ConnectTimeout=5\n",
        "s",
        None,
    ),
    // `Key=value`, quotes, comments, case of keywords.
    (
        "HOST q\n  hostname=127.10.4.1 # the db\n  PORT \"2022\"\n",
        "q",
        None,
    ),
    // Case: Host compares the name as given, Match host folds case.
    (
        "Host WEB\n  Port 1\nMatch host WEB\n  Port 2\n",
        "web",
        None,
    ),
];

#[test]
fn resolved_options_match_ssh_g_over_a_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (index, (text, host, user)) in CORPUS.iter().enumerate() {
        let path = dir.path().join(format!("config{index}"));
        std::fs::write(&path, text).unwrap();
        let openssh = ssh_g(&path, host, *user);
        let config = SshConfig::load(&path).unwrap();
        let preset: Vec<(String, Vec<String>)> = user
            .iter()
            .map(|u| ("User".to_string(), vec![u.to_string()]))
            .collect();
        let ferry = as_ssh_g(&config.resolve(host, &preset), host, *user);
        for (key, value) in &ferry {
            let theirs = openssh.get(key).cloned().unwrap_or_default();
            if *value != theirs {
                failures.push(format!(
                    "config {index} ({host}): {key}: ferry `{value}`, ssh -G `{theirs}`\n{text}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The system-wide file is read after the user's, and the user's first
/// values win: as `ssh -G` reads one file that includes both.
#[test]
fn system_wide_config_is_read_after_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user");
    let system = dir.path().join("system");
    std::fs::write(&user, "Host web\n  Port 2201\nHost *\n  User fromuser\n").unwrap();
    std::fs::write(
        &system,
        "Host *\n  Port 22\n  User fromsystem\n  HashKnownHosts yes\n  SendEnv LANG\n",
    )
    .unwrap();
    let both = dir.path().join("both");
    std::fs::write(
        &both,
        format!("Include {}\nInclude {}\n", user.display(), system.display()),
    )
    .unwrap();
    let config = SshConfig::load_files(Some(&user), Some(&system)).unwrap();
    for host in ["web", "db"] {
        let resolved = config.resolve(host, &[]);
        assert_eq!(
            as_ssh_g(&resolved, host, None),
            as_ssh_g(&resolved, host, None)
                .keys()
                .map(|k| (k.clone(), ssh_g(&both, host, None)[k].clone()))
                .collect(),
            "{host}"
        );
        assert_eq!(resolved.hash_known_hosts, Some(true));
        let ignored: Vec<String> = resolved.ignored.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(ignored, ["SendEnv"], "reported, not dropped");
        let at = resolved.ignored[0].1.as_ref().unwrap();
        assert_eq!((at.file.as_path(), at.line), (system.as_path(), 5));
    }
}

/// `ssh -G`'s answer as key → value (lowercase keys, values joined by
/// spaces; repeated keys such as identityfile joined by newlines).
fn ssh_g(config: &Path, host: &str, user: Option<&str>) -> HashMap<String, String> {
    let mut cmd = Command::new("ssh");
    cmd.arg("-G").arg("-F").arg(config);
    if let Some(user) = user {
        cmd.args(["-l", user]);
    }
    let out = cmd
        .arg(host)
        .output()
        .expect("ssh -G (apt-get install openssh-client)");
    assert!(
        out.status.success(),
        "ssh -G: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map: HashMap<String, String> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = if key == "identityfile" || key == "certificatefile" {
            expand_like_ssh(value, &map)
        } else {
            value.to_string()
        };
        map.entry(key.to_string())
            .and_modify(|v| {
                v.push('\n');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

/// ssh -G prints IdentityFile unexpanded; ssh expands it when it reads
/// the key (`~`, `%d`, `%h`, `%r`, `%u`), as ferry does at once.
fn expand_like_ssh(value: &str, so_far: &HashMap<String, String>) -> String {
    let home = std::env::var("HOME").unwrap();
    let value = match value.strip_prefix("~/") {
        Some(rest) => format!("{home}/{rest}"),
        None => value.to_string(),
    };
    value
        .replace("%d", &home)
        .replace("%h", &so_far["hostname"])
        .replace("%r", &so_far["user"])
}

/// ferry's resolved options in `ssh -G`'s form, for the keys ferry acts on,
/// with OpenSSH's defaults where the config says nothing.
fn as_ssh_g(c: &HostConfig, host: &str, user: Option<&str>) -> HashMap<String, String> {
    let local = ssh_g(Path::new("/dev/null"), "localhost", None)["user"].clone();
    let paths = |files: &[PathBuf]| {
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut map = HashMap::new();
    let mut put = |k: &str, v: String| {
        map.insert(k.to_string(), v);
    };
    put("hostname", c.host_name.clone().unwrap_or(host.to_string()));
    put(
        "user",
        c.user.clone().or(user.map(str::to_string)).unwrap_or(local),
    );
    put("port", c.port.unwrap_or(22).to_string());
    if !c.identity_files.is_empty() {
        put("identityfile", paths(&c.identity_files).replace(' ', "\n"));
    }
    if !c.certificate_files.is_empty() {
        put(
            "certificatefile",
            paths(&c.certificate_files).replace(' ', "\n"),
        );
    }
    if !c.proxy_jump.is_empty() {
        put("proxyjump", c.proxy_jump.join(","));
    }
    if let Some(command) = &c.proxy_command {
        put("proxycommand", command.clone());
    }
    let yes_no = |b: Option<bool>| if b == Some(true) { "yes" } else { "no" }.to_string();
    put("identitiesonly", yes_no(c.identities_only));
    put("hashknownhosts", yes_no(c.hash_known_hosts));
    if let Some(agent) = &c.identity_agent {
        put("identityagent", agent.clone());
    }
    if let Some(files) = &c.user_known_hosts {
        put("userknownhostsfile", paths(files));
    }
    if let Some(files) = &c.global_known_hosts {
        put("globalknownhostsfile", paths(files));
    }
    let strict = match c.strict_host_key_checking {
        None | Some(StrictHostKeyChecking::Ask) => "ask",
        Some(StrictHostKeyChecking::Yes) => "true",
        Some(StrictHostKeyChecking::No) => "false",
        Some(StrictHostKeyChecking::AcceptNew) => "accept-new",
    };
    put("stricthostkeychecking", strict.to_string());
    put(
        "connecttimeout",
        c.connect_timeout
            .map_or("none".to_string(), |t| t.as_secs().to_string()),
    );
    put(
        "serveraliveinterval",
        c.alive.interval.map_or(0, |t| t.as_secs()).to_string(),
    );
    put(
        "serveralivecountmax",
        c.alive.count_max.unwrap_or(3).to_string(),
    );
    map
}

async fn connect(config: &str, dir: &Path, host: &str) -> Result<Session, TransportError> {
    let path = dir.join("ssh_config");
    std::fs::write(&path, config).unwrap();
    let target = SshConfig::load(&path).unwrap().target(host, "nobody");
    // Only the files the config names: no user or system known_hosts.
    let trust = Trust {
        known_hosts: vec![dir.join("no-such-known-hosts")],
        ..Trust::default()
    };
    let options = ConnectOptions {
        agent_socket: Some(dir.join("no-agent")),
        ..ConnectOptions::default()
    };
    Session::connect(&target, &trust, &options).await
}

async fn echo(session: &Session) -> String {
    let out = session.exec("echo ok", None, &mut |_, _| {}).await.unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `Host app` block for `h`, logging in with `key`, known_hosts `kh`.
fn block(h: &TestHost, key: &Path, kh: &Path, extra: &str) -> String {
    format!(
        "Host app\n  HostName {}\n  Port {}\n  User {}\n  IdentityFile {}\n  UserKnownHostsFile {}\n{extra}",
        h.address,
        h.port,
        h.user,
        key.display(),
        kh.display()
    )
}

/// ProxyCommand was ignored: ferry connected straight to HostName.
#[tokio::test]
async fn proxy_command_was_ignored() {
    let hosts = TestHosts::start_with(2, "LogLevel DEBUG1");
    let (gateway, app) = (&hosts.hosts[0], &hosts.hosts[1]);
    let dir = tempfile::tempdir().unwrap();
    // The real OpenSSH client carries the connection through host1.
    let through = format!(
        "  ProxyCommand ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -i {} -p {} -W %h:%p {}@{}\n",
        hosts.known_hosts.display(),
        hosts.key.display(),
        gateway.port,
        gateway.user,
        gateway.address
    );
    let config = block(app, &hosts.key, &hosts.known_hosts, &through);
    let session = connect(&config, dir.path(), "app").await.unwrap();
    assert_eq!(echo(&session).await, "ok\n");
    let forwarded = format!("target {} port {}", app.address, app.port);
    assert!(gateway.log().contains(&forwarded), "{}", gateway.log());
    // A command that cannot carry it: no straight connection instead.
    let config = block(
        app,
        &hosts.key,
        &hosts.known_hosts,
        "  ProxyCommand exit 1\n",
    );
    let error = connect(&config, dir.path(), "app").await.unwrap_err();
    assert!(error.to_string().contains("ProxyCommand"), "{error}");
}

/// ssh-agent on a socket of the test's own, holding `key`; killed on drop.
struct Agent {
    socket: PathBuf,
    pid: i32,
}

impl Agent {
    fn start(dir: &Path, key: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let out = Command::new("ssh-agent")
            .arg("-a")
            .arg(&socket)
            .arg("-s")
            .output()
            .expect("ssh-agent");
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|pid| pid.parse().ok())
            .expect("agent pid");
        let agent = Agent { socket, pid };
        let added = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .unwrap();
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }
}

/// `IdentitiesOnly yes` was ignored: ferry logged in with an agent key
/// OpenSSH would not have offered. `IdentityAgent` picks the agent.
#[tokio::test]
async fn identities_only_was_ignored_and_identity_agent_chooses_the_agent() {
    let hosts = TestHosts::start(1);
    let h = &hosts.hosts[0];
    let dir = tempfile::tempdir().unwrap();
    // The agent holds the key the host accepts; the config's file is another.
    let agent = Agent::start(dir.path(), &hosts.key);
    let other = dir.path().join("other_ed25519");
    new_key(&other, "ed25519", "");
    let with = |extra: &str| {
        // `extra` first: its IdentityAgent wins over the one after it.
        let agent = format!("{extra}  IdentityAgent {}\n", agent.socket.display());
        block(h, &other, &hosts.known_hosts, &agent)
    };
    let session = connect(&with(""), dir.path(), "app").await.unwrap();
    assert_eq!(echo(&session).await, "ok\n", "the agent's key logs in");
    let error = connect(&with("  IdentitiesOnly yes\n"), dir.path(), "app")
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::AuthFailed { .. }),
        "only `other` may be offered: {error}"
    );
    // The agent's key is the file's: IdentitiesOnly lets it through.
    let own = block(
        h,
        &hosts.key,
        &hosts.known_hosts,
        &format!(
            "  IdentitiesOnly yes\n  IdentityAgent {}\n",
            agent.socket.display()
        ),
    );
    assert_eq!(
        echo(&connect(&own, dir.path(), "app").await.unwrap()).await,
        "ok\n"
    );
    let error = connect(&with("  IdentityAgent none\n"), dir.path(), "app")
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::AuthFailed { .. }),
        "{error}"
    );
}

/// `StrictHostKeyChecking` and `UserKnownHostsFile` were ignored.
#[tokio::test]
async fn strict_host_key_checking_was_ignored() {
    let hosts = TestHosts::start(2);
    let h = &hosts.hosts[0];
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("fresh/.ssh/known_hosts");
    let config = |strict: &str| {
        block(
            h,
            &hosts.key,
            &kh,
            &format!("  StrictHostKeyChecking {strict}\n  HashKnownHosts yes\n"),
        )
    };
    let error = connect(&config("yes"), dir.path(), "app")
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::UnknownHostKey { .. }),
        "{error}"
    );
    assert!(!kh.exists());
    let session = connect(&config("accept-new"), dir.path(), "app")
        .await
        .unwrap();
    assert_eq!(echo(&session).await, "ok\n");
    let learnt = std::fs::read_to_string(&kh).unwrap();
    assert!(
        learnt.starts_with("|1|") && learnt.lines().count() == 1,
        "{learnt}"
    );
    // Now known: `yes` connects.
    connect(&config("yes"), dir.path(), "app").await.unwrap();
    // A changed key is refused even under `no`.
    let other = &hosts.hosts[1];
    let forged = format!("[{}]:{} {}\n", h.address, h.port, other.host_key);
    std::fs::write(&kh, forged).unwrap();
    let error = connect(&config("no"), dir.path(), "app").await.unwrap_err();
    assert!(
        matches!(error, TransportError::ChangedHostKey { .. }),
        "{error}"
    );
}

/// Options ferry does not act on were dropped in silence: `-v` names each
/// once, with its file and line and the hosts it applies to.
#[test]
fn unsupported_option_was_silently_ignored() {
    let hosts = TestHosts::start(2);
    let project = crate::support::ferry::Project::with_hosts(&hosts);
    project.file(".ssh/config", "Host *\n  ForwardAgent yes\n");
    let out = project.ferry(&["run", "test", "-v", "--", "true"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let config = project.path().join(".ssh/config");
    let line = format!(
        "ssh_config: `ForwardAgent` ({}:2) is not supported by ferry: ignored for host1, host2",
        config.display()
    );
    let count = out.stderr.lines().filter(|l| *l == line).count();
    assert_eq!(count, 1, "{}", out.stderr);
    let quiet = project.ferry(&["run", "test", "--", "true"]);
    assert!(!quiet.stderr.contains("ForwardAgent"), "{}", quiet.stderr);
}

/// The inventory's `ansible_ssh_common_args`/`ansible_ssh_extra_args` were
/// ignored: their `-J` and `-o` options now count as given on ssh's
/// command line.
#[test]
fn ansible_ssh_common_args_were_ignored() {
    let hosts = TestHosts::start_with(2, "LogLevel DEBUG1");
    let (gateway, app) = (&hosts.hosts[0], &hosts.hosts[1]);
    let project = crate::support::ferry::Project::new();
    project.file(
        "inventory/test.ini",
        &format!(
            "[web]\napp ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={} \
             ansible_ssh_common_args='-J {}@{}:{}' \
             ansible_ssh_extra_args='-o StrictHostKeyChecking=accept-new -o HashKnownHosts=yes'\n",
            app.address,
            app.port,
            app.user,
            hosts.key.display(),
            gateway.user,
            gateway.address,
            gateway.port
        ),
    );
    // The hop is reached with ssh_config alone, as `ssh -J` reaches it (the
    // `-o` options are the target's): its key file and known key are there.
    project.file(
        ".ssh/config",
        &format!("Host *\n  IdentityFile {}\n", hosts.key.display()),
    );
    project.file(
        ".ssh/known_hosts",
        &format!("{}\n", gateway.known_hosts_line()),
    );
    let out = project.ferry(&["run", "test", "--", "echo", "through"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("through"), "{}", out.stdout);
    let forwarded = format!("target {} port {}", app.address, app.port);
    assert!(gateway.log().contains(&forwarded), "{}", gateway.log());
    let learnt = std::fs::read_to_string(project.path().join(".ssh/known_hosts")).unwrap();
    let lines: Vec<&str> = learnt.lines().collect();
    assert_eq!(lines.len(), 2, "the gateway's, then the app's: {learnt}");
    assert!(lines[1].starts_with("|1|"), "hashed: {learnt}");
    // The second run knows both keys.
    let again = project.ferry(&["run", "test", "--", "echo", "through"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
}

#[test]
fn bad_ansible_ssh_common_args_are_bad_input() {
    let project = crate::support::ferry::Project::new();
    project.file(
        "inventory/test.ini",
        "[web]\napp ansible_host=127.0.0.1 ansible_ssh_common_args='-o'\n",
    );
    let out = project.ferry(&["run", "test", "--", "true"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("host `app`: `ansible_ssh_common_args`: `-o` needs an argument"),
        "{}",
        out.stderr
    );
}
