//! Playbooks and ad-hoc commands on real OpenSSH hosts on loopback.

use std::time::{Duration, Instant};

use crate::support::ferry::{Project, step_ends};
use crate::support::sshd::TestHosts;

#[test]
fn run_reaches_twenty_hosts_and_groups_output_per_host() {
    let hosts = TestHosts::start(20);
    let project = Project::with_hosts(&hosts);
    let out = project.ferry(&["run", "test", "--", "echo", "hello from", "$0"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for h in &hosts.hosts {
        let block = format!("── {} ", h.name);
        assert!(
            out.stdout.contains(&block),
            "no block for {}:\n{}",
            h.name,
            out.stdout
        );
    }
    // argv words are quoted: `$0` is not expanded by the remote shell.
    let lines = out.stdout.lines().filter(|l| *l == "hello from $0").count();
    assert_eq!(lines, 20, "{}", out.stdout);
}

#[test]
fn unknown_host_key_is_refused_with_its_fingerprint_until_accepted() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file(".ssh/known_hosts", "");
    let out = project.ferry(&["run", "test", "--", "true"]);
    assert_eq!(out.status, 3, "no host reachable: {}", out.stderr);
    assert!(out.stderr.contains("SHA256:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--accept-new-host-keys"),
        "{}",
        out.stderr
    );

    let out = project.ferry(&["run", "test", "--accept-new-host-keys", "--", "true"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let out = project.ferry(&["run", "test", "--", "true"]);
    assert_eq!(out.status, 0, "keys learnt on first use: {}", out.stderr);
}

#[test]
fn changed_host_key_stops_that_host_only() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    let (h1, h2) = (&hosts.hosts[0], &hosts.hosts[1]);
    // host1's entry carries host2's key: to ferry, host1's key has changed.
    let forged = format!(
        "[{}]:{} {}\n{}\n",
        h1.address,
        h1.port,
        h2.host_key,
        h2.known_hosts_line()
    );
    project.file(".ssh/known_hosts", &forged);
    let out = project.ferry(&["run", "test", "--accept-new-host-keys", "--", "true"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("has changed"), "{all}");
    assert!(
        all.contains("known_hosts:1"),
        "names the line to fix: {all}"
    );
    let known = std::fs::read_to_string(project.path().join(".ssh/known_hosts")).unwrap();
    assert_eq!(known, forged, "a changed key is never overwritten");
}

#[test]
fn an_unreachable_host_does_not_stop_the_others() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    let mut inventory = std::fs::read_to_string(project.path().join("inventory/test.ini")).unwrap();
    // Nothing listens there: a closed port on this host's own address range.
    inventory.push_str(&format!(
        "gone ansible_host={} ansible_port=1\n",
        hosts.hosts[0].address
    ));
    project.file("inventory/test.ini", &inventory);
    let out = project.ferry(&["run", "test", "--", "echo", "alive"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let lines = out.stdout.lines().filter(|l| *l == "alive").count();
    assert_eq!(lines, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("gone") && out.stdout.contains("unreachable"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_failing_step_on_one_host_is_named_in_the_recap() {
    let hosts = TestHosts::start(3);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - name: Refuse on host2\n      shell: if [ {{ inventory_hostname }} = host2 ]; then echo 'no disk left' >&2; exit 3; fi\n    - name: After\n      command: 'true'\n",
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("host2"), "{}", out.stdout);
    assert!(out.stdout.contains("Refuse on host2"), "{}", out.stdout);
    assert!(
        out.stdout.contains("no disk left"),
        "stderr tail in the recap:\n{}",
        out.stdout
    );

    let (_, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    let ends = step_ends(&events);
    assert!(ends.contains(&("host2".into(), "Refuse on host2".into(), "failed".into())));
    assert!(
        !ends.iter().any(|(h, n, _)| h == "host2" && n == "After"),
        "host2 stops at its failure"
    );
    assert!(ends.contains(&("host1".into(), "After".into(), "changed".into())));
}

#[test]
fn when_register_loop_and_handlers_use_real_results() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    std::fs::write(hosts.hosts[0].dir.join("flag"), "on\n").unwrap();
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - name: Read the flag
      command: cat {{ deploy_to | dirname }}/flag
      register: flag
      ignore_errors: true
    - name: Only where the flag is on
      shell: echo yes > {{ deploy_to | dirname }}/flagged
      when: flag.rc == 0 and flag.stdout == 'on'
    - name: Use the result in arguments
      shell: echo "{{ flag.rc }}" > {{ deploy_to | dirname }}/rc
    - name: Make files
      file:
        path: "{{ deploy_to | dirname }}/{{ item }}"
        state: touch
      loop: [a, b]
      notify: done
  handlers:
    - name: done
      shell: echo handled >> {{ deploy_to | dirname }}/handled
"#,
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let read = |h: usize, f: &str| std::fs::read_to_string(hosts.hosts[h].dir.join(f)).ok();
    assert_eq!(read(0, "flagged").as_deref(), Some("yes\n"));
    assert_eq!(read(1, "flagged"), None, "host2 has no flag");
    assert_eq!(read(0, "rc").as_deref(), Some("0\n"));
    assert_ne!(read(1, "rc").as_deref(), Some("0\n"));
    for h in 0..2 {
        assert!(read(h, "a").is_some() && read(h, "b").is_some());
        assert_eq!(
            read(h, "handled").as_deref(),
            Some("handled\n"),
            "handler ran once"
        );
    }
}

#[test]
fn a_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project
        .file("templates/app.conf.j2", "name = {{ inventory_hostname }}\n")
        .file(
            "site.yml",
            r#"- hosts: web
  tasks:
    - name: App directory
      file: { path: "{{ deploy_to }}", state: directory, mode: "0750" }
    - name: Config
      template: { src: app.conf.j2, dest: "{{ deploy_to }}/app.conf", mode: "0640" }
    - name: Content
      copy: { content: "hello\n", dest: "{{ deploy_to }}/hello.txt" }
    - name: Link
      file: { path: "{{ deploy_to }}/link", src: hello.txt, state: link }
    - name: Once
      command: touch {{ deploy_to }}/once
      args: { creates: "{{ deploy_to }}/once" }
"#,
        );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (first, events) = project.ferry_json(&args);
    assert_eq!(first.status, 0, "{}", first.stderr);
    let statuses: Vec<String> = step_ends(&events).into_iter().map(|(_, _, s)| s).collect();
    assert_eq!(statuses.len(), 10);
    assert!(statuses.iter().all(|s| s == "changed"), "{statuses:?}");
    let conf = std::fs::read_to_string(hosts.hosts[1].dir.join("app/app.conf")).unwrap();
    assert_eq!(conf, "name = host2\n");

    let (second, events) = project.ferry_json(&args);
    assert_eq!(second.status, 0, "{}", second.stderr);
    let statuses: Vec<String> = step_ends(&events).into_iter().map(|(_, _, s)| s).collect();
    assert!(statuses.iter().all(|s| s == "ok"), "{statuses:?}");
}

#[test]
fn dry_run_reports_what_would_change_and_changes_nothing() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - file: { path: \"{{ deploy_to }}\", state: directory }\n    - copy: { content: x, dest: \"{{ deploy_to }}/x\" }\n",
    );
    let (out, events) = project.ferry_json(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--check",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(step_ends(&events).len(), 2);
    assert!(
        !hosts.hosts[0].dir.join("app").exists(),
        "a dry run changes nothing"
    );
}

#[test]
fn ctrl_c_stops_new_steps_and_the_running_command() {
    let hosts = TestHosts::start(3);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - shell: echo $$ > {{ deploy_to }}.pid; exec sleep 60\n    - shell: touch {{ deploy_to }}.after\n",
    );
    let child = std::process::Command::new(crate::support::ferry::ferry_bin())
        .args([
            "playbook",
            "site.yml",
            "-i",
            "inventory/test.ini",
            "--grace",
            "1",
        ])
        .current_dir(project.path())
        .env("HOME", project.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_files: Vec<_> = hosts.hosts.iter().map(|h| h.dir.join("app.pid")).collect();
    let started = Instant::now();
    while !pid_files.iter().all(|p| p.exists()) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "steps never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGINT, as Ctrl-C sends it.
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let interrupted = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "ferry took {:?} to stop",
        interrupted.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "128 + SIGINT");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("interrupted"), "{stdout}");
    // Every host is counted as not having finished (never "0 hosts").
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stopped by Ctrl-C: 3 of 3 hosts did not succeed"),
        "{stderr}"
    );
    for h in &hosts.hosts {
        assert!(
            !h.dir.join("app.after").exists(),
            "no new step after Ctrl-C"
        );
        let pid = std::fs::read_to_string(h.dir.join("app.pid")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{}", pid.trim())).exists() {
            assert!(
                Instant::now() < deadline,
                "remote command {} still running",
                pid.trim()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn run_once_serial_and_max_fail_percentage() {
    let hosts = TestHosts::start(4);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - name: Once for all hosts
      shell: echo {{ inventory_hostname }} >> {{ deploy_to | dirname }}/../once
      run_once: true
- hosts: web
  serial: 2
  max_fail_percentage: 0
  tasks:
    - name: Fail in the first batch
      shell: "[ {{ inventory_hostname }} != host2 ]"
    - name: Record
      shell: touch {{ deploy_to | dirname }}/recorded
"#,
    );
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let once = std::fs::read_to_string(hosts.root.join("once")).unwrap();
    assert_eq!(once.lines().count(), 1, "run_once ran once: {once}");
    let ends = step_ends(&events);
    let once_ends = ends
        .iter()
        .filter(|(_, n, _)| n == "Once for all hosts")
        .count();
    assert_eq!(once_ends, 4, "every host reports the shared result");
    // Batch 1 (host1, host2) runs; host2 fails; 50% > 0%: batch 2 never starts.
    assert!(hosts.hosts[0].dir.join("recorded").exists());
    for h in &hosts.hosts[2..] {
        assert!(
            !h.dir.join("recorded").exists(),
            "{} ran after the play stopped",
            h.name
        );
    }
}

#[test]
fn timeout_stops_a_step_and_until_retries_it() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - name: Third time lucky
      shell: n=$(cat {{ deploy_to | dirname }}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{ deploy_to | dirname }}/n; echo $n
      register: tries
      until: tries.stdout == '3'
      retries: 5
      delay: 0
    - name: Too slow
      shell: sleep 30
      timeout: 1
"#,
    );
    let started = Instant::now();
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    let n = std::fs::read_to_string(hosts.hosts[0].dir.join("n")).unwrap();
    assert_eq!(n.trim(), "3", "until stopped retrying once true");
    let slow = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "Too slow")
        .expect("the slow step ended");
    assert_eq!(slow["status"], "failed");
    assert!(
        slow["reason"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s"),
        "{slow}"
    );
}

#[test]
fn check_reports_tools_disk_and_a_held_lock() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    let out = project.ferry(&["check", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("MB free"), "{}", out.stdout);

    let lock = hosts.hosts[1].dir.join("app/.ferry/lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(lock.join("owner"), "alice@laptop pid 42\n").unwrap();
    let out = project.ferry(&["check", "test"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("deploy lock held: alice@laptop pid 42"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ferry unlock"), "{}", out.stdout);
}

#[test]
fn check_asks_for_sudo_only_on_hosts_whose_deploy_escalates() {
    // No sudo on these hosts (this machine has none): a `become` whose
    // `when:` is false for every host, or that renders false, asks nothing.
    // (To another user than the one ferry logs in as: a `become` to that
    // very user needs no sudo at all.)
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file("inventory/group_vars/web.yml", "nginx: false\n");
    project.file(
        "deploy.yml",
        "- hosts: web\n  vars: { escalate: false }\n  tasks:\n    - command: 'true'\n      become: true\n      become_user: nobody\n      when: nginx\n    - command: 'true'\n      become: \"{{ escalate }}\"\n      become_user: nobody\n",
    );
    let out = project.ferry(&["check", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("sudo"), "{}", out.stdout);

    // On host2 it does escalate: only host2 is asked.
    project.file(
        "inventory/host_vars/host2.yml",
        &format!(
            "deploy_to: {}\nnginx: true\n",
            hosts.hosts[1].dir.join("app").display()
        ),
    );
    let out = project.ferry(&["check", "test"]);
    let host2 = out.stdout.split("── host2 ──").nth(1).unwrap_or_default();
    let host1 = out.stdout.split("── host2 ──").next().unwrap_or_default();
    assert!(host2.contains("✗ sudo"), "{}", out.stdout);
    assert!(
        host1.contains("- sudo (as nobody): not needed"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_encrypted_key_opens_with_its_passphrase_variable_which_stays_secret() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let key = project.path().join("encrypted_ed25519");
    hosts.authorize_new_key(&key, "open sesame 42");
    let h = &hosts.hosts[0];
    let inventory = format!(
        "[web]\n{} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
        h.name,
        h.address,
        h.port,
        h.user,
        key.display()
    );
    project.file("inventory/test.ini", &inventory);
    let vars =
        |passphrase: &str| format!("deploy_to: /tmp/unused\nssh_key_passphrase: '{passphrase}'\n");

    project.file("inventory/host_vars/host1.yml", &vars("open sesame 42"));
    let out = project.ferry(&["run", "test", "--", "echo", "unlocked"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("unlocked"));
    assert!(!out.stdout.contains("open sesame") && !out.stderr.contains("open sesame"));

    project.file("inventory/host_vars/host1.yml", &vars("open sesame 43"));
    let out = project.ferry(&["run", "test", "--", "true"]);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("wrong passphrase"), "{}", out.stderr);
    assert!(!out.stdout.contains("open sesame") && !out.stderr.contains("open sesame"));
}
