//! `certs_mode: certbot` end to end: a host that keeps Debian's certbot,
//! its certificate first obtained from pebble by certbot itself (as its
//! user did), then renewed by ferry's `certs` step — which reports `ok` and
//! reloads nothing when certbot renews nothing.

use std::path::Path;
use std::process::Command;

use crate::support::ferry::{Project, line_count, step_ends};
use crate::support::pebble::Pebble;
use crate::support::sshd::TestHosts;

/// Sets `renew_before_expiry` in certbot's renewal configuration of
/// `site.test`: whether the next `certbot renew` finds it due.
fn renew_before(config: &Path, days: u32) {
    let path = config.join("renewal/site.test.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("renew_before_expiry"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, format!("renew_before_expiry = {days} days\n{kept}")).unwrap();
}

#[test]
fn certbot_mode_renews_only_what_certbot_finds_due_and_reloads_only_then() {
    if Command::new("certbot").arg("--version").output().is_err() {
        panic!("certbot is not installed: run `bash .ci/run` (it installs certbot)");
    }
    // Pebble's certificates last 10 days here; certbot's own default window
    // is 30 days, so what is due is set per run in its renewal config.
    let ca = tempfile::tempdir().unwrap();
    let ca_bundle = ca.path().join("pebble-listener-ca.pem");
    // The host's environment trusts pebble's HTTPS, as certbot's would
    // trust a real CA's: REQUESTS_CA_BUNDLE, set by its sshd.
    let hosts = TestHosts::start_with(
        1,
        &format!("SetEnv SHLVL=1 REQUESTS_CA_BUNDLE={}", ca_bundle.display()),
    );
    let host = &hosts.hosts[0];
    let pebble = Pebble::start(Some(10 * 86_400), &[host.address.as_str()]);
    std::fs::copy(&pebble.ca_bundle, &ca_bundle).unwrap();
    let webroot = host.dir.join("www");
    std::fs::create_dir_all(&webroot).unwrap();
    let _server = pebble.serve(&host.address, &webroot);
    pebble.point("site.test", &host.address);

    let config = host.dir.join("letsencrypt");
    let dirs = [
        "--config-dir".to_string(),
        config.display().to_string(),
        "--work-dir".into(),
        host.dir.join("le-work").display().to_string(),
        "--logs-dir".into(),
        host.dir.join("le-logs").display().to_string(),
    ];
    let out = Command::new("certbot")
        .args(["certonly", "--non-interactive", "--agree-tos"])
        .args(["--register-unsafely-without-email", "--webroot", "-w"])
        .arg(&webroot)
        .args(["-d", "site.test", "--server", &pebble.directory])
        .args(&dirs)
        .env("REQUESTS_CA_BUNDLE", &ca_bundle)
        .output()
        .expect("run certbot");
    assert!(
        out.status.success(),
        "certbot certonly: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let live = config.join("live/site.test/fullchain.pem");
    let first = std::fs::read_to_string(&live).unwrap();

    let project = Project::with_hosts(&hosts);
    let reloads = host.dir.join("reloads");
    let args: Vec<String> = dirs.iter().map(|a| format!("\"{a}\"")).collect();
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  vars:
    certs_mode: certbot
    certbot_args: [{args}]
    certs_reload: "echo reloaded >> {reloads}"
  tasks:
    - include: certs
"#,
            args = args.join(", "),
            reloads = reloads.display()
        ),
    );
    let run = |extra: &[&str]| {
        let mut a = vec!["playbook", "site.yml", "-i", "inventory/test.ini"];
        a.extend_from_slice(extra);
        let (out, events) = project.ferry_json(&a);
        (out, step_ends(&events))
    };

    // Not due: certbot renews nothing, the step is ok, nothing reloads.
    renew_before(&config, 5);
    let (out, steps) = run(&[]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Certificates" && st == "ok"),
        "{steps:?}"
    );
    assert!(
        out.stdout
            .contains("certbot renewed nothing (1 not due yet)"),
        "{}",
        out.stdout
    );
    assert_eq!(line_count(&reloads), 0);
    assert_eq!(std::fs::read_to_string(&live).unwrap(), first);

    // A dry run lists what certbot has, and runs no renewal.
    renew_before(&config, 30);
    let (out, _) = run(&["--check"]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("would run `certbot renew`") && out.stdout.contains("`site.test`"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&live).unwrap(), first);

    // Due: certbot renews (without its random sleep: this returns in
    // seconds), ferry reports `changed` and reloads once.
    let started = std::time::Instant::now();
    let (out, steps) = run(&[]);
    assert_eq!(
        out.status,
        0,
        "{}{}\n{}",
        out.stdout,
        out.stderr,
        pebble.log()
    );
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Certificates" && st == "changed"),
        "{steps:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "certbot slept"
    );
    assert_ne!(std::fs::read_to_string(&live).unwrap(), first, "renewed");
    assert_eq!(line_count(&reloads), 1);
}
