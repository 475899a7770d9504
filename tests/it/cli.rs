//! The command line, run as a user runs it: the real binary on real files.

use crate::support::ferry::Project;

#[test]
fn offline_plan_of_the_example_shows_every_hosts_rendered_steps() {
    let project = Project::example(
        "flask-hello",
        "local",
        &format!("secret_key: {EXAMPLE_SECRET}\n"),
    );
    let out = project.ferry(&["plan", "local", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for (n, host) in ["web1", "web2", "web3"].iter().enumerate() {
        let n = n + 1;
        assert!(
            out.stdout
                .contains(&format!("  {host} (127.0.0.{n}:220{n})")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!(
                "/tmp/ferry-example/{host}/flask-hello/shared/venv/bin/python"
            )),
            "venv path rendered for {host}:\n{}",
            out.stdout
        );
    }
    // Long generated scripts show as their one-line summary.
    assert!(
        out.stdout.contains(
            "run:   service: upgrade flask-hello-web:* with USR2 (no request dropped) serving `/tmp/ferry-example/web1/flask-hello/current`"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("when (at run time)") || out.stdout.contains("rendered at run time")
    );
    // The secret goes into a 0600 file over stdin and is masked in the plan.
    assert!(!out.stdout.contains(EXAMPLE_SECRET), "{}", out.stdout);
}

#[test]
fn json_plan_is_the_same_plan_as_data() {
    let project = Project::example(
        "flask-hello",
        "local",
        &format!("secret_key: {EXAMPLE_SECRET}\n"),
    );
    let out = project.ferry(&["plan", "local", "--offline", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    let hosts = plan["plays"][0]["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    let text = project.ferry(&["plan", "local", "--offline"]).stdout;
    // The release id is the time of the run, to the second: the two runs may
    // straddle a second, so read each plan with its own id.
    let id = plan["release"]["id"].as_str().unwrap();
    let text_id = release_id_in(&text);
    for host in hosts {
        for step in host["steps"].as_array().unwrap() {
            if let Some(run) = step["body"]["action"]["run"].as_str() {
                let run = ferry::shell::summary(&run.replace(id, &text_id));
                assert!(text.contains(&run), "text plan lacks `{run}`");
            }
        }
    }
    assert!(!out.stdout.contains(EXAMPLE_SECRET));
}

const EXAMPLE_SECRET: &str = "example-secret-key-5d1e";

#[test]
fn a_missing_secrets_file_is_named_where_its_variable_is_used() {
    let project = Project::example("flask-hello", "local", "");
    std::fs::remove_dir_all(project.path().join("secrets")).unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "v1"],
    ] {
        crate::support::git::git(project.path(), args);
    }
    let out = project.ferry(&["plan", "local", "--offline"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("undefined variable `secret_key` at deploy.yml:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("help: there is no secrets/local.yml"),
        "{}",
        out.stderr
    );
}

/// The id in the first `releases/<id>` path of a text plan.
fn release_id_in(text: &str) -> String {
    let start = text.find("/releases/").expect("a release path") + "/releases/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[test]
fn inventory_list_prints_ansible_shaped_json() {
    let project = Project::new();
    project.file(
        "inventory/prod.ini",
        "[web]\nweb[1:2] ansible_user=deploy\n\n[web:vars]\nport=80\n",
    );
    let out = project.ferry(&["inventory", "prod", "--list"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list["web"]["hosts"], serde_json::json!(["web1", "web2"]));
    assert_eq!(list["_meta"]["hostvars"]["web2"]["ansible_user"], "deploy");
}

#[test]
fn help_lists_every_subcommand() {
    let out = Project::new().ferry(&["--help"]);
    assert_eq!(out.status, 0);
    for cmd in [
        "init",
        "deploy",
        "plan",
        "rollback",
        "releases",
        "run",
        "check",
        "unlock",
        "inventory",
        "playbook",
    ] {
        assert!(out.stdout.contains(cmd), "--help lacks `{cmd}`");
    }
}

#[test]
fn loops_includes_and_precedence_compile_per_host() {
    let project = Project::new();
    project
        .file(
            "deploy.yml",
            "- hosts: web\n  vars:\n    greeting: play\n  tasks:\n    - include: steps\n      vars:\n        who: include\n    - command: echo {{ item }} {{ greeting }}\n      loop: [a, b]\n",
        )
        .file(
            "playbooks/steps.yml",
            "defaults:\n  who: default\n  port: 1\ntasks:\n  - shell: echo {{ who }} {{ port }} {{ color }}\n",
        )
        .file(
            "inventory/test.ini",
            "[web]\nweb1 color=red port=2\nweb2 color=blue\n\n[web:vars]\ncolor=green\n",
        );
    let out = project.ferry(&["plan", "test", "--offline", "-e", "greeting=extra"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    // include vars beat inventory and defaults; host vars beat group vars.
    assert!(
        out.stdout.contains("run:   echo include 2 red"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("run:   echo include 1 blue"),
        "{}",
        out.stdout
    );
    // -e beats play vars; one step per loop item.
    assert!(out.stdout.contains("run:   echo a extra"), "{}", out.stdout);
    assert!(out.stdout.contains("run:   echo b extra"), "{}", out.stdout);
}

#[test]
fn become_on_an_include_escalates_its_tasks_and_handlers() {
    let project = Project::new();
    project
        .file(
            "deploy.yml",
            "- hosts: web\n  tasks:\n    - include: steps\n      become: true\n      become_user: www\n    - include: steps\n",
        )
        .file(
            "playbooks/steps.yml",
            "tasks:\n  - shell: echo inside\n    notify: after\n  - shell: echo as-root\n    become_user: root\nhandlers:\n  - name: after\n    shell: echo handler\n",
        )
        .file("inventory/test.ini", "[web]\nweb1\n");
    let out = project.ferry(&["plan", "test", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.contains("sudo -n -H -u www -- sh -c 'echo inside'"),
        "{text}"
    );
    assert!(
        text.contains("sudo -n -H -u root -- sh -c 'echo as-root'"),
        "a task's own become_user wins: {text}"
    );
    assert!(
        text.contains("sudo -n -H -u www -- sh -c 'echo handler'"),
        "{text}"
    );
    // The second include, without `become`, runs as the login user.
    assert!(text.contains("run:   echo inside"), "{text}");
}

#[test]
fn when_false_skips_at_compile_time_and_registered_results_wait_for_run_time() {
    let project = Project::new();
    project
        .file(
            "deploy.yml",
            "- hosts: web\n  tasks:\n    - command: whoami\n      register: me\n    - shell: echo {{ me.stdout }}\n    - shell: echo db only\n      when: \"'db' in group_names\"\n    - shell: echo root\n      when: me.stdout == 'root'\n",
        )
        .file("inventory/test.ini", "[web]\nweb1\n");
    let out = project.ferry(&["plan", "test", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("rendered at run time: reads `me`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("skip: `when: 'db' in group_names` is false"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("when (at run time): me.stdout == 'root'"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_stages_map_in_deploy_yml_names_each_stages_inventory() {
    let project = Project::new();
    project
        .file(
            "deploy.yml",
            "stages:\n  prod: hosts/production.ini\nplays:\n  - hosts: web\n    tasks:\n      - command: echo {{ inventory_hostname }}\n",
        )
        .file("hosts/production.ini", "[web]\nweb7\n");
    let out = project.ferry(&["plan", "prod", "--offline"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("run:   echo web7"), "{}", out.stdout);
    let out = project.ferry(&["inventory", "prod", "--list"]);
    assert!(out.stdout.contains("web7"), "{}", out.stdout);
}

#[test]
fn plan_into_a_closed_pipe_panicked() {
    // `ferry plan … --json | head`: the reader is gone before ferry writes.
    let project = Project::example(
        "flask-hello",
        "local",
        &format!("secret_key: {EXAMPLE_SECRET}\n"),
    );
    for json in [true, false] {
        let mut args = vec!["plan", "local", "--offline"];
        if json {
            args.push("--json");
        }
        let mut child = std::process::Command::new(crate::support::ferry::ferry_bin())
            .args(&args)
            .current_dir(project.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", project.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
}

/// The defect: `-e ansible_ssh_private_key_file=…` (or any connection
/// variable) was a variable like any other, while the host was still
/// reached with the inventory's key; in Ansible extra vars outrank the
/// inventory there too, and a push target's deploy relies on it.
#[test]
fn extra_vars_outrank_the_inventorys_connection_variables() {
    let project = Project::example(
        "flask-hello",
        "local",
        &format!("secret_key: {EXAMPLE_SECRET}\n"),
    );
    let out = project.ferry(&[
        "plan",
        "local",
        "--offline",
        "--json",
        "-e",
        "ansible_ssh_private_key_file=/srv/push/home/.ssh/id_ed25519",
        "-e",
        "ansible_port=2299",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    for host in plan["plays"][0]["hosts"].as_array().unwrap() {
        assert_eq!(
            host["connection"]["key_file"], "/srv/push/home/.ssh/id_ed25519",
            "{host}"
        );
        assert_eq!(host["connection"]["port"], 2299, "{host}");
    }
}

/// `ferry remote add` never takes over a git remote it did not make, and
/// says so before it connects to any host.
#[test]
fn remote_add_refuses_a_git_remote_it_did_not_make() {
    let project = Project::example(
        "flask-hello",
        "local",
        &format!("secret_key: {EXAMPLE_SECRET}\n"),
    );
    let dir = project.path();
    crate::support::git::git(dir, &["init", "-q", "-b", "main"]);
    crate::support::git::git(dir, &["add", "-A"]);
    crate::support::git::git(dir, &["commit", "-q", "-m", "v1"]);
    crate::support::git::git(dir, &["remote", "add", "local", "git@example.org:shop.git"]);
    let out = project.ferry(&["remote", "add", "local"]);
    assert_eq!(out.status, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "has a git remote `local` already (git@example.org:shop.git), not made by ferry"
        ),
        "{}",
        out.stderr
    );
    let out = project.ferry(&["remote", "remove", "local"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no push target `local`"),
        "{}",
        out.stderr
    );
}
