//! The file modules — `lineinfile`, `blockinfile`, `replace`, `stat` — on a
//! real sshd host through `ferry playbook`: a dry run on the fresh state
//! changes nothing and predicts exactly the changes the run then reports;
//! a second run changes nothing and says why.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::ferry::{Project, step_diffs};
use crate::support::listing::Listing;
use crate::support::sshd::TestHosts;

const PLAYBOOK: &str = r#"- hosts: web
  vars:
    d: "{{ deploy_to | dirname }}/etc"
  tasks:
    - name: Port
      lineinfile: { path: "{{ d }}/app.conf", regexp: "^port=", line: "port=8080" }
    - name: Debug after main
      ansible.builtin.lineinfile:
        path: "{{ d }}/app.conf"
        line: debug=false
        insertafter: '^\[main\]'
    - name: No hand comment
      lineinfile: { path: "{{ d }}/app.conf", regexp: "^# by hand", state: absent }
    - name: Env file
      lineinfile: { path: "{{ d }}/env/app.env", line: "LANG=C.UTF-8", create: true, mode: "0600" }
    - name: Block
      blockinfile:
        path: "{{ d }}/app.conf"
        block: |
          [extra]
          workers=4
    - name: Hosts
      ansible.builtin.replace: { path: "{{ d }}/app.conf", regexp: '\blocalhost\b', replace: "127.0.0.1" }
    - name: Mode
      lineinfile: { path: "{{ d }}/app.conf", line: "port=8080", mode: "0640" }
    - name: Stat
      stat: { path: "{{ d }}/app.conf" }
      register: conf
    - name: Stat missing
      ansible.builtin.stat: { path: "{{ d }}/missing" }
      register: missing
    - name: Show
      debug:
        msg: "exists={{ conf.stat.exists }} isreg={{ conf.stat.isreg }} size={{ conf.stat.size }} mode={{ conf.stat.mode }} missing={{ missing.stat.exists }}"
"#;

const EDITS: [&str; 7] = [
    "Port",
    "Debug after main",
    "No hand comment",
    "Env file",
    "Block",
    "Hosts",
    "Mode",
];

const BEFORE: &str = "# by hand\n[main]\nport=80\nhost=localhost\n";

const AFTER: &str = "[main]\ndebug=false\nport=8080\nhost=127.0.0.1\n\
# BEGIN ANSIBLE MANAGED BLOCK\n[extra]\nworkers=4\n# END ANSIBLE MANAGED BLOCK\n";

/// `(status, reason, output)` of step `name`.
fn end(events: &[serde_json::Value], name: &str) -> (String, String, String) {
    let e = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == name)
        .unwrap_or_else(|| panic!("no step `{name}`"));
    let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("output"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn file_modules_check_predicts_the_run_and_a_second_run_is_ok() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let etc = hosts.hosts[0].dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let conf = etc.join("app.conf");
    std::fs::write(&conf, BEFORE).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    project.file("site.yml", PLAYBOOK);
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];

    let before = Listing::of(std::slice::from_ref(&etc), &|_| false);
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let differ = before.changes_to(&Listing::of(std::slice::from_ref(&etc), &|_| false));
    assert!(
        differ.is_empty(),
        "the dry run changed files:\n{}",
        differ.join("\n")
    );

    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), AFTER);
    assert_eq!(mode(&conf), 0o640);
    let env = etc.join("env/app.env");
    assert_eq!(std::fs::read_to_string(&env).unwrap(), "LANG=C.UTF-8\n");
    assert_eq!(mode(&env), 0o600);

    let conf_shown = conf.display().to_string();
    let expected = [
        format!("`{conf_shown}`: line replaced"),
        format!("`{conf_shown}`: line added"),
        format!("`{conf_shown}`: 1 line(s) removed"),
        format!("`{}`: line added", env.display()),
        format!("`{conf_shown}`: block inserted"),
        format!("`{conf_shown}`: 1 replacements made"),
        format!("`{conf_shown}`: mode 644 → 640"),
    ];
    for (name, reason) in EDITS.iter().zip(&expected) {
        let (status, said, _) = end(&run, name);
        assert_eq!((status.as_str(), &said), ("changed", reason), "{name}");
        // What the dry run predicted, step by step, is what the run did.
        let (status, predicted, _) = end(&check, name);
        assert_eq!(status, "changed", "{name}");
        assert_eq!(predicted, format!("would change {said}"), "{name}");
    }
    let (_, _, shown) = end(&run, "Show");
    assert_eq!(
        shown,
        format!(
            "exists=True isreg=True size={} mode=0640 missing=False",
            AFTER.len()
        )
    );
    assert_eq!(end(&run, "Stat").1, format!("`{conf_shown}` exists"));
    assert_eq!(
        end(&run, "Stat missing").1,
        format!("`{}` does not exist", etc.join("missing").display())
    );

    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let oks = [
        "line already present",
        "line already present",
        "no line matches: nothing to remove",
        "line already present",
        "block already present",
        "no match: nothing replaced",
        "line already present",
    ];
    for (name, why) in EDITS.iter().zip(oks) {
        let (status, reason, _) = end(&again, name);
        assert_eq!(status, "ok", "{name}: {reason}");
        assert!(reason.ends_with(why), "{name}: {reason}");
    }
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), AFTER);
}

#[test]
fn file_modules_fail_with_the_reason_and_bad_input_stops_before_connecting() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let missing = hosts.hosts[0].dir.join("nope.conf");
    project.file(
        "missing.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Edit\n      lineinfile: {{ path: {}, line: x }}\n",
            missing.display()
        ),
    );
    let args = ["playbook", "missing.yml", "-i", "inventory/test.ini"];
    for check in [true, false] {
        let all = if check {
            [&args[..], &["--check"]].concat()
        } else {
            args.to_vec()
        };
        let (out, events) = project.ferry_json(&all);
        assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
        let (status, reason, _) = end(&events, "Edit");
        assert_eq!(status, "failed");
        assert_eq!(
            reason,
            format!(
                "`{}` does not exist (`create: true` creates it)",
                missing.display()
            )
        );
    }
    assert!(!missing.exists());

    project.file(
        "bad.yml",
        "- hosts: web\n  tasks:\n    - replace:\n        path: /tmp/x\n        regexp: '(?<=a)b'\n",
    );
    let out = project.ferry(&["playbook", "bad.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("bad.yml:5:17")
            && out
                .stderr
                .contains("`regexp` is not a regular expression ferry can use"),
        "{}",
        out.stderr
    );
    project.file(
        "symbolic.yml",
        "- hosts: web\n  tasks:\n    - lineinfile: { path: /tmp/x, line: a, mode: u+x }\n",
    );
    let out = project.ferry(&["playbook", "symbolic.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("needs an octal `mode`"),
        "{}",
        out.stderr
    );
}

/// The defect: the new modules' steps skipped `changed_when`,
/// `failed_when` and `until` (only commands were judged), and a task's
/// `creates:` on them was silently ignored.
#[test]
fn changed_when_failed_when_and_until_judge_the_file_modules_and_creates_is_refused() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let dir = hosts.hosts[0].dir.clone();
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Quiet edit
      lineinfile: {{ path: "{d}/quiet.conf", line: "a=1", create: true }}
      changed_when: false
    - name: Look
      stat: {{ path: "{d}/quiet.conf" }}
      register: looked
      until: looked.stat.exists
      retries: 2
      delay: 0
    - name: Must exist
      stat: {{ path: "{d}/nope" }}
      register: nope
      failed_when: not nope.stat.exists
"#,
            d = dir.display()
        ),
    );
    let (out, events) = project.ferry_json(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let statuses: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("Quiet edit", "ok"),
        ("Look", "ok"),
        ("Must exist", "failed"),
    ]
    .iter()
    .map(|(n, s)| (n.to_string(), s.to_string()))
    .collect();
    assert_eq!(statuses, expected);
    assert_eq!(
        std::fs::read_to_string(dir.join("quiet.conf")).unwrap(),
        "a=1\n"
    );

    project.file(
        "creates.yml",
        "- hosts: web\n  tasks:\n    - git: { repo: /tmp/r, dest: /tmp/d }\n      creates: /tmp/d\n",
    );
    let out = project.ferry(&["playbook", "creates.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("`creates`/`removes` guard commands; `git` checks the host itself")
            && out.stderr.contains("creates.yml:4:16"),
        "{}",
        out.stderr
    );
}

const DIFF_SECRET: &str = "t0ken-hunter2-value";

const DIFF_PLAYBOOK: &str = r#"- hosts: web
  vars:
    d: "{{ deploy_to | dirname }}/etc"
  tasks:
    - name: Conf
      copy: { dest: "{{ d }}/app.conf", content: "port=8080\nhost=localhost\n" }
    - name: Motd
      ansible.builtin.copy: { dest: "{{ d }}/motd", content: "hello\n" }
    - name: Hosts
      lineinfile: { path: "{{ d }}/hosts.conf", regexp: "^web=", line: "web=127.0.0.1" }
    - name: Token
      template: { src: token.conf.j2, dest: "{{ d }}/token.conf", mode: "0644" }
    - name: Private
      copy: { dest: "{{ d }}/key", content: "known to no one\n", mode: "0600" }
"#;

/// `--diff` shows what `copy`, `template` and the edits change in a file's
/// text: in check mode what they would change (the diff the run then
/// shows), and never a secret: not content holding a secret value, not a
/// file kept from other users. A second run shows no diff.
#[test]
fn diff_shows_what_file_steps_change_and_check_mode_the_same_and_never_a_secret() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let etc = hosts.hosts[0].dir.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("app.conf"), "port=80\nhost=localhost\n").unwrap();
    std::fs::write(etc.join("hosts.conf"), "db=127.0.0.11\nweb=127.0.0.12\n").unwrap();
    project.file("secrets/test.yml", &format!("api_token: {DIFF_SECRET}\n"));
    std::fs::set_permissions(
        project.path().join("secrets/test.yml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    project.file(
        "templates/token.conf.j2",
        "# the API token\ntoken={{ api_token }}\n",
    );
    project.file("site.yml", DIFF_PLAYBOOK);
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini", "--diff"];

    let mut printed = String::new();
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    printed.push_str(&format!("{}{}", out.stdout, out.stderr));
    assert!(!etc.join("motd").exists(), "the dry run wrote a file");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    printed.push_str(&format!("{}{}", out.stdout, out.stderr));
    let at = |name: &str| etc.join(name).display().to_string();
    let expected = [
        (
            "Conf",
            format!(
                "--- before: {0}\n+++ after: {0}\n@@ -1,2 +1,2 @@\n-port=80\n+port=8080\n host=localhost",
                at("app.conf")
            ),
        ),
        (
            "Motd",
            format!(
                "--- before: {0} (absent)\n+++ after: {0}\n@@ -0,0 +1 @@\n+hello",
                at("motd")
            ),
        ),
        (
            "Hosts",
            format!(
                "--- before: {0}\n+++ after: {0}\n@@ -1,2 +1,2 @@\n db=127.0.0.11\n-web=127.0.0.12\n+web=127.0.0.1",
                at("hosts.conf")
            ),
        ),
        (
            "Token",
            "diff not shown: the content holds a secret".to_string(),
        ),
        (
            "Private",
            format!(
                "diff not shown: `{}` is not readable by other users (mode 600), so its content may be secret",
                at("key")
            ),
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(n, d)| (n.to_string(), d))
        .collect();
    assert_eq!(step_diffs(&run), expected);
    assert_eq!(
        step_diffs(&check),
        expected,
        "check mode shows what the run does"
    );
    assert_eq!(
        std::fs::read_to_string(etc.join("token.conf")).unwrap(),
        format!("# the API token\ntoken={DIFF_SECRET}\n")
    );

    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(step_diffs(&again), []);

    // The plain reporter shows the diff under the step; without `--diff`,
    // nothing is read for one.
    std::fs::write(etc.join("motd"), "hi\n").unwrap();
    let out = project.ferry(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(shown.contains("    -hi\n    +hello\n"), "{shown}");
    printed.push_str(&shown);
    std::fs::write(etc.join("motd"), "hi\n").unwrap();
    let (out, quiet) = project.ferry_json(&args[..4]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(step_diffs(&quiet), []);
    assert_eq!(end(&quiet, "Motd").0, "changed");
    assert!(printed.contains("token.conf"), "{printed}");
    assert!(!printed.contains(DIFF_SECRET), "{printed}");
}
