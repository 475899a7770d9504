//! `certs` end to end: real sshd hosts, Debian's pebble as the ACME server,
//! its DNS pointing each name at one host's own address, where a small web
//! server serves that host's webroot. ferry is not told which host a name
//! leads to: validation succeeds only because every host has the challenge.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use crate::support::ferry::{Project, line_count, step_ends};
use crate::support::pebble::{Pebble, WebServer};
use crate::support::sshd::TestHosts;

/// Hosts, pebble, each host's web server, and a project whose play
/// includes the built-in `certs` playbook.
struct Setup {
    hosts: TestHosts,
    pebble: Pebble,
    servers: Vec<WebServer>,
    project: Project,
    /// An address of this test's range that is none of the hosts'.
    elsewhere: String,
}

fn webroot(hosts: &TestHosts, i: usize) -> PathBuf {
    hosts.hosts[i].dir.join("www")
}

fn cert_dir(hosts: &TestHosts, i: usize) -> PathBuf {
    hosts.hosts[i].dir.join("ssl").join("site.test")
}

/// Per-host variables: where the webroot and certificates are, and a log
/// the reload handler appends to.
fn host_vars(project: &Project, hosts: &TestHosts) {
    for (i, h) in hosts.hosts.iter().enumerate() {
        project.file(
            &format!("inventory/host_vars/{}.yml", h.name),
            &format!(
                "certs_webroot: {}\ncerts_dir: {}\nreload_log: {}\n",
                webroot(hosts, i).display(),
                hosts.hosts[i].dir.join("ssl").display(),
                hosts.hosts[i].dir.join("reloads").display()
            ),
        );
    }
}

fn setup(n: usize, validity: Option<u64>) -> Setup {
    let hosts = TestHosts::start(n);
    let elsewhere = hosts.spare_address();
    let mut addresses: Vec<&str> = hosts.hosts.iter().map(|h| h.address.as_str()).collect();
    addresses.push(&elsewhere);
    let pebble = Pebble::start(validity, &addresses);
    let servers = (0..n)
        .map(|i| {
            std::fs::create_dir_all(webroot(&hosts, i)).unwrap();
            pebble.serve(&hosts.hosts[i].address, &webroot(&hosts, i))
        })
        .collect();
    let project = Project::with_hosts(&hosts);
    host_vars(&project, &hosts);
    write_playbook(
        &project,
        &pebble.directory,
        &pebble.ca_bundle,
        "[site.test, www.site.test]",
    );
    Setup {
        hosts,
        pebble,
        servers,
        project,
        elsewhere,
    }
}

impl Setup {
    /// Points `name` at host `i` (its own address).
    fn point(&self, name: &str, i: usize) {
        self.pebble.point(name, &self.hosts.hosts[i].address);
    }
}

fn write_playbook(project: &Project, directory: &str, ca_bundle: &Path, names: &str) {
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  vars:
    acme_directory: {directory}
    acme_ca_bundle: "{bundle}"
    certificates:
      - {names}
    certs_owner: ""
    certs_group: ""
    certs_reload: "echo reloaded >> {{{{ reload_log }}}}"
    certs_prepare: "echo prepared >> {{{{ reload_log }}}}.prepare"
  tasks:
    - include: certs
"#,
            bundle = ca_bundle.display()
        ),
    );
}

fn run(
    project: &Project,
    extra: &[&str],
) -> (crate::support::ferry::Output, Vec<(String, String, String)>) {
    let mut args = vec!["playbook", "site.yml", "-i", "inventory/test.ini"];
    args.extend_from_slice(extra);
    let (out, events) = project.ferry_json(&args);
    (out, step_ends(&events))
}

fn reasons(out: &crate::support::ferry::Output) -> String {
    out.stdout.clone() + &out.stderr
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn reloads(hosts: &TestHosts, i: usize) -> usize {
    line_count(&hosts.hosts[i].dir.join("reloads"))
}

/// How often `prepare` ran on host `i`.
fn prepared(hosts: &TestHosts, i: usize) -> usize {
    line_count(&hosts.hosts[i].dir.join("reloads.prepare"))
}

/// The user id the tests run as (`id -u`).
fn login_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `openssl verify` of the leaf against pebble's root, with the chain's
/// intermediate as untrusted.
fn verify_chain(chain_file: &Path, root_pem: &str, dir: &Path) {
    let chain = read(chain_file.to_path_buf());
    let blocks: Vec<&str> = chain
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN"))
        .collect();
    assert!(blocks.len() >= 2, "a leaf and its intermediate: {chain}");
    std::fs::write(dir.join("leaf.pem"), blocks[0].trim()).unwrap();
    std::fs::write(dir.join("inter.pem"), blocks[1..].join("\n").trim()).unwrap();
    std::fs::write(dir.join("root.pem"), root_pem).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.join("root.pem"))
        .arg("-untrusted")
        .arg(dir.join("inter.pem"))
        .arg(dir.join("leaf.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "chain does not verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn names_of(chain_file: &Path) -> Vec<String> {
    let leaf = ferry::certs::leaf(&read(chain_file.to_path_buf())).unwrap();
    leaf.names.into_iter().collect()
}

#[test]
fn issues_once_for_every_host_then_renews_only_when_needed() {
    let mut s = setup(3, None);
    // The two names of the certificate lead to two different hosts: one
    // order, its challenges on every host, installed everywhere.
    s.point("site.test", 0);
    s.point("www.site.test", 1);
    let (out, steps) = run(&s.project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", reasons(&out), s.pebble.log());
    assert!(s.servers[0].served() >= 1 && s.servers[1].served() >= 1);
    let certs: Vec<_> = steps
        .iter()
        .filter(|(_, n, _)| n == "Certificates")
        .collect();
    assert_eq!(certs.len(), 3, "{steps:?}");
    assert!(
        certs.iter().all(|(_, _, status)| status == "changed"),
        "{steps:?}"
    );
    let root = s.pebble.root_pem();
    let first = read(cert_dir(&s.hosts, 0).join("fullchain.pem"));
    for i in 0..3 {
        let dir = cert_dir(&s.hosts, i);
        assert_eq!(
            read(dir.join("fullchain.pem")),
            first,
            "one certificate for all hosts"
        );
        let mode = std::fs::metadata(dir.join("privkey.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key mode on host {i}");
        assert_eq!(reloads(&s.hosts, i), 1, "reloaded once on host {i}");
        assert_eq!(prepared(&s.hosts, i), 1, "prepared before the order");
        let left: Vec<_> =
            std::fs::read_dir(webroot(&s.hosts, i).join(".well-known/acme-challenge"))
                .unwrap()
                .collect();
        assert!(left.is_empty(), "challenge files removed on host {i}");
        assert!(!dir.join("privkey.pem.ferry-new").exists());
    }
    assert_eq!(
        names_of(&cert_dir(&s.hosts, 1).join("fullchain.pem")),
        ["site.test", "www.site.test"]
    );
    verify_chain(
        &cert_dir(&s.hosts, 2).join("fullchain.pem"),
        &root,
        &s.pebble.dir,
    );
    let account = s.project.path().join(".ferry/acme/test/account.json");
    let mode = std::fs::metadata(&account).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "account file mode");
    assert!(s.project.path().join(".ferry/acme/.gitignore").exists());

    // Second run, pebble stopped: nothing is due, so no ACME server is
    // needed — every host reports ok, nothing reloads.
    s.pebble.stop();
    let (out, steps) = run(&s.project, &[]);
    assert_eq!(out.status, 0, "{}", reasons(&out));
    assert!(
        steps
            .iter()
            .filter(|(_, n, _)| n == "Certificates")
            .all(|(_, _, st)| st == "ok"),
        "{steps:?}"
    );
    assert!(
        out.stdout.contains("`site.test` valid until"),
        "{}",
        out.stdout
    );
    assert!(
        !steps.iter().any(|(_, n, _)| n == "reload web server"),
        "{steps:?}"
    );
    assert_eq!(read(cert_dir(&s.hosts, 0).join("fullchain.pem")), first);

    // Names changed, against a restarted pebble that forgot the account:
    // the account is made anew and the certificate reissued everywhere,
    // this time validated through the third host too.
    s.pebble.restart();
    s.point("site.test", 2);
    s.point("www.site.test", 0);
    s.point("api.site.test", 1);
    write_playbook(
        &s.project,
        &s.pebble.directory,
        &s.pebble.ca_bundle,
        "[site.test, www.site.test, api.site.test]",
    );
    let (out, _) = run(&s.project, &["--check"]);
    assert_eq!(out.status, 0, "{}", reasons(&out));
    assert!(
        out.stdout.contains("would issue `site.test`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("names changed on `host1`"),
        "{}",
        out.stdout
    );
    let (out, steps) = run(&s.project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", reasons(&out), s.pebble.log());
    assert!(s.servers[2].served() >= 1, "pebble asked the third host");
    assert!(
        steps
            .iter()
            .filter(|(_, n, _)| n == "Certificates")
            .all(|(_, _, st)| st == "changed")
    );
    for i in 0..3 {
        let chain = cert_dir(&s.hosts, i).join("fullchain.pem");
        assert_eq!(
            names_of(&chain),
            ["api.site.test", "site.test", "www.site.test"]
        );
        assert_eq!(reloads(&s.hosts, i), 2, "reloaded again on host {i}");
        assert_eq!(prepared(&s.hosts, i), 2, "not when nothing was due");
    }
    verify_chain(
        &cert_dir(&s.hosts, 0).join("fullchain.pem"),
        &s.pebble.root_pem(),
        &s.pebble.dir,
    );
}

/// What every host has: chain and key.
fn installed(s: &Setup) -> Vec<(String, String)> {
    (0..s.hosts.hosts.len())
        .map(|i| {
            let dir = cert_dir(&s.hosts, i);
            (
                read(dir.join("fullchain.pem")),
                read(dir.join("privkey.pem")),
            )
        })
        .collect()
}

/// After a failed run: each host still has exactly what it had, nothing
/// staged, no challenge left, no reload.
fn nothing_changed(s: &Setup, before: &[(String, String)]) {
    assert_eq!(installed(s), before, "every host keeps chain and key");
    for i in 0..s.hosts.hosts.len() {
        let dir = cert_dir(&s.hosts, i);
        assert!(!dir.join("fullchain.pem.ferry-new").exists());
        assert!(!dir.join("privkey.pem.ferry-new").exists());
        assert_eq!(reloads(&s.hosts, i), 1, "no reload after a failure");
        let left = std::fs::read_dir(webroot(&s.hosts, i).join(".well-known/acme-challenge"))
            .unwrap()
            .count();
        assert_eq!(left, 0, "challenge files removed on host {i}");
    }
}

#[test]
fn a_host_not_serving_the_webroot_or_a_name_elsewhere_fails_and_every_host_keeps_its_certificate() {
    let s = setup(3, None);
    s.point("site.test", 0);
    s.point("www.site.test", 1);
    let (out, _) = run(&s.project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", reasons(&out), s.pebble.log());
    let before = installed(&s);

    // The second host's web server stops serving the webroot.
    s.servers[1].serving.store(false, Ordering::SeqCst);
    s.point("new.site.test", 2);
    write_playbook(
        &s.project,
        &s.pebble.directory,
        &s.pebble.ca_bundle,
        "[site.test, www.site.test, new.site.test]",
    );
    let (out, steps) = run(&s.project, &[]);
    assert_eq!(out.status, 1, "{}", reasons(&out));
    assert!(
        steps
            .iter()
            .filter(|(_, n, _)| n == "Certificates")
            .all(|(_, _, st)| st == "failed"),
        "{steps:?}"
    );
    let text = reasons(&out);
    let url = format!(
        "http://www.site.test:{}/.well-known/acme-challenge/",
        s.pebble.http_port
    );
    assert!(
        text.contains("could not validate `www.site.test`"),
        "{text}"
    );
    assert!(text.contains(&url), "the URL pebble fetched: {text}");
    assert!(text.contains("404"), "{text}");
    assert!(text.contains("stays in place"), "{text}");
    nothing_changed(&s, &before);

    // Served again, but the new name leads to a server that is none of
    // these hosts.
    s.servers[1].serving.store(true, Ordering::SeqCst);
    let _other = s.pebble.serve(&s.elsewhere, &s.hosts.root.join("nowhere"));
    s.pebble.point("new.site.test", &s.elsewhere);
    let (out, _) = run(&s.project, &[]);
    assert_eq!(out.status, 1, "{}", reasons(&out));
    let text = reasons(&out);
    assert!(
        text.contains("could not validate `new.site.test`"),
        "{text}"
    );
    assert!(
        text.contains("does `new.site.test` point at these hosts"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http://new.site.test:{}/.well-known/acme-challenge/",
            s.pebble.http_port
        )),
        "{text}"
    );
    nothing_changed(&s, &before);
}

#[test]
fn a_short_lived_certificate_is_renewed() {
    // Pebble issues certificates valid for 10 days: within the default
    // 30-day window, so the next run renews.
    let s = setup(1, Some(10 * 86_400));
    s.point("site.test", 0);
    s.point("www.site.test", 0);
    let (out, _) = run(&s.project, &[]);
    assert_eq!(out.status, 0, "{}\n{}", reasons(&out), s.pebble.log());
    let dir = cert_dir(&s.hosts, 0);
    let first = read(dir.join("fullchain.pem"));
    let first_key = read(dir.join("privkey.pem"));
    // Renewed with the files owned as configured (chown needs root, which
    // CI is; elsewhere the files stay the login user's).
    let root = login_uid() == 0;
    let owner: &[&str] = if root {
        &["-e", "certs_owner=nobody", "-e", "certs_group=nogroup"]
    } else {
        &[]
    };
    let (out, steps) = run(&s.project, owner);
    assert_eq!(out.status, 0, "{}", reasons(&out));
    assert!(
        out.stdout.contains("renew_before is 30 days"),
        "{}",
        out.stdout
    );
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Certificates" && st == "changed"),
        "{steps:?}"
    );
    assert_ne!(read(dir.join("fullchain.pem")), first);
    assert_ne!(read(dir.join("privkey.pem")), first_key, "a fresh key");
    assert_eq!(reloads(&s.hosts, 0), 2);
    if root {
        use std::os::unix::fs::MetadataExt;
        for file in ["fullchain.pem", "privkey.pem"] {
            let meta = std::fs::metadata(dir.join(file)).unwrap();
            assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{file}");
        }
        let mode = std::fs::metadata(dir.join("privkey.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // With a shorter window, the same certificate is kept.
    let (out, steps) = run(&s.project, &["-e", "certs_renew_before=5"]);
    assert_eq!(out.status, 0, "{}", reasons(&out));
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Certificates" && st == "ok"),
        "{steps:?}"
    );
    assert_eq!(reloads(&s.hosts, 0), 2);
}

#[test]
fn an_unreachable_acme_server_is_named_and_nothing_is_installed() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    host_vars(&project, &hosts);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let directory = format!("https://127.0.0.1:{port}/dir");
    write_playbook(&project, &directory, Path::new(""), "site.test");

    // A dry run says what would be issued, and contacts no ACME server.
    let (out, steps) = run(&project, &["--check"]);
    assert_eq!(out.status, 0, "{}", reasons(&out));
    assert!(
        out.stdout.contains("would issue `site.test`"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("not on `host1`"), "{}", out.stdout);
    assert!(steps.iter().all(|(_, _, st)| st != "failed"), "{steps:?}");

    let (out, _) = run(&project, &[]);
    assert_eq!(out.status, 1, "{}", reasons(&out));
    let text = reasons(&out);
    assert!(
        text.contains(&format!("cannot reach the ACME server at `{directory}`")),
        "{text}"
    );
    for i in 0..2 {
        assert!(
            !cert_dir(&hosts, i).exists(),
            "nothing installed on host {i}"
        );
        assert_eq!(reloads(&hosts, i), 0);
    }
}
