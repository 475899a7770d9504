//! `become` through a sudo that asks for a password, on a real server: the
//! password from the stage's secrets (`ansible_become_password`) or asked
//! on the terminal (`-K`), handed to sudo on stdin and never shown.

use super::{WEB, redeploy_changes_nothing};
use crate::support::apps::{App, SECRET, wheelhouse};
use crate::support::fleet::Fleet;

const PASSWORD: &str = "sudo pass $1 'x";

#[test]
fn become_with_a_sudo_password_from_secrets_or_the_terminal() {
    let fleet = Fleet::spec()
        .server("web1", WEB)
        .sudo_password(PASSWORD)
        .start();
    let vars = format!(
        "    deploy_to: /home/deploy/flask-hello\n    process_manager: systemd\n    nginx: false\n    procfile_port: 8000\n    gunicorn_host: \"{{{{ ansible_host }}}}\"\n    pip_args: --no-index --find-links {}\n",
        wheelhouse().display()
    );
    let inventory = fleet.inventory("deploy", &[("web", &["web1"])], &vars);
    let app = App::on_fleet("flask-hello", &fleet, &inventory, "", 8000);
    let secrets = |extra: &str| {
        app.project.file(
            "secrets/test.yml",
            &format!("secret_key: {SECRET}\n{extra}"),
        );
    };

    // No password: `check` says sudo fails, and the deploy stops before
    // its first escalated step changes anything.
    let out = app.project.ferry(&["check", "test"]);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(out.stdout.contains("✗ sudo"), "{}", out.stdout);
    assert!(
        out.stdout.contains("a password is required"),
        "{}",
        out.stdout
    );
    let out = app.project.ferry(&["deploy", "test"]);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("sudo asks for a password: give it as `ansible_become_password`"),
        "{}",
        out.stdout
    );
    assert!(
        fleet
            .root("web1", "ls /etc/systemd/system")
            .find("flask-hello")
            .is_none(),
        "a unit was written without sudo"
    );

    // A wrong one is refused, by sudo.
    secrets("ansible_become_password: wrong\n");
    let out = app.project.ferry(&["check", "test"]);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(out.stdout.contains("incorrect password"), "{}", out.stdout);

    // The right one: the deploy runs, twice, and never shows it.
    secrets(&format!(
        "ansible_become_password: {}\n",
        serde_json::json!(PASSWORD)
    ));
    let out = app.project.ferry(&["check", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let out = app.project.ferry(&["deploy", "test", "-v"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan = app.project.ferry(&["plan", "test", "--offline", "--json"]);
    for text in [&out.stdout, &out.stderr, &plan.stdout, &plan.stderr] {
        assert!(!text.contains(PASSWORD), "the password leaked:\n{text}");
    }
    assert_eq!(
        fleet
            .root("web1", "systemctl is-active flask-hello-web-1")
            .trim(),
        "active"
    );
    redeploy_changes_nothing(&app);
    // Nor is it on the server's record of what sudo ran.
    let journal = fleet.root("web1", "journalctl --no-pager -o cat _COMM=sudo");
    assert!(journal.contains("COMMAND="), "{journal}");
    assert!(!journal.contains("sudo pass"), "{journal}");

    // Asked on the terminal (`-K`), when the secrets do not give it.
    secrets("");
    let out = app.project.ferry(&["check", "test", "-K"]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("needs a terminal"), "{}", out.stderr);
    let out = on_a_terminal(&app, "check test -K", PASSWORD);
    assert!(out.contains("BECOME password:"), "{out}");
    assert!(out.contains("✓ sudo"), "{out}");
    assert!(!out.contains(PASSWORD), "{out}");
}

/// `ferry ARGS` under a pseudo-terminal (`script`), typing `typed` and a
/// newline once it has asked for sudo's password: everything the terminal
/// showed.
fn on_a_terminal(app: &App, args: &str, typed: &str) -> String {
    use std::io::{Read as _, Write as _};
    let command = format!("{} {args}", crate::support::ferry::ferry_bin().display());
    let mut child = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(app.project.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", app.project.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script (util-linux)");
    let shown = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    // Typed only once it asks (with echo off): earlier, the terminal
    // would echo it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !shown.lock().unwrap().contains("BECOME password:") {
        assert!(
            std::time::Instant::now() < deadline,
            "ferry never asked: {}",
            shown.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{typed}\n").as_bytes()).unwrap();
    child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    shown.lock().unwrap().clone()
}
