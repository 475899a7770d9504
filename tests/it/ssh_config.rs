//! ssh_config as OpenSSH reads it: ferry's resolved options compared with
//! `ssh -G` (the real client's own evaluation) over a corpus of configs,
//! and the options that change how a connection is made, live against
//! sshd on loopback.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::transport::StrictHostKeyChecking;
use ferry::transport::ssh_config::{HostConfig, SshConfig};

/// `(config, host as given, user given on the command line)`.
const CORPUS: &[(&str, &str, Option<&str>)] = &[
    // First value wins; wildcards and negation in Host lines.
    (
        "Host web1\n  HostName 10.0.0.1\n  Port 2222\nHost web* !web2\n  User deploy\n  Port 22\n  IdentityFile /keys/web\nHost *\n  User root\n  IdentityFile /keys/all\n",
        "web1",
        None,
    ),
    (
        "Host web1\n  HostName 10.0.0.1\nHost web* !web2\n  User deploy\nHost *\n  User nobody\n",
        "web2",
        None,
    ),
    // The bug: `Match host other` merged into the Host block before it.
    (
        "Host web\n  HostName 10.0.0.7\nMatch host other\n  Port 2401\n",
        "web",
        None,
    ),
    // Match host sees the HostName; originalhost the name as given.
    (
        "Host web\n  HostName 10.0.0.7\nMatch host 10.0.0.*\n  Port 2401\nMatch originalhost web\n  User orig\n  Port 2500\n",
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
        "Match localuser nobody-here\n  Port 4000\nMatch exec \"test %h = 10.1.1.1\"\n  User viaexec\nMatch exec false\n  Port 4001\nMatch all\n  Port 4002\nHost db\n  HostName 10.1.1.1\n",
        "db",
        None,
    ),
    // Match final: a second pass where Host patterns see the HostName.
    (
        "Host app\n  HostName 10.2.0.9\nMatch final host 10.2.0.9\n  ServerAliveInterval 9\nHost 10.2.0.9\n  StrictHostKeyChecking accept-new\n  ConnectTimeout 7\n",
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
        "Host k\n  HostName 10.3.0.1\n  User ops\n  IdentitiesOnly yes\n  IdentityFile ~/.ssh/k-%h-%r\n  IdentityAgent ~/agent-%r.sock\n  UserKnownHostsFile ~/kh1 /etc/kh-%h\n  GlobalKnownHostsFile /etc/g1\n  HashKnownHosts yes\n  StrictHostKeyChecking no\n  ServerAliveInterval 0\n  ServerAliveCountMax 7\n",
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
        "HOST q\n  hostname=10.4.0.1 # the db\n  PORT \"2022\"\n",
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
        let value = if key == "identityfile" {
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
