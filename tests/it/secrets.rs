//! Secrets are tainted values, end to end on real sshd hosts: a secret, and
//! anything rendered from one, never appears in any output — plain, `-v`,
//! `--json`, errors — nor on a command line; an error about a secrets file
//! or a secret's source never quotes a value; a YAML tag ferry does not
//! understand stops the run before any host is touched.

use base64::Engine as _;

use crate::support::ferry::{Output, Project};
use crate::support::git::commit_all;
use crate::support::sshd::TestHosts;

const SECRET: &str = "s3cr3t-Value-9f2a";

/// The forms of [`SECRET`] a derivation in these tests produces.
fn derived_forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
    vec![
        SECRET.to_string(),
        b64.to_uppercase(),
        b64.clone(),
        SECRET.to_uppercase(),
        format!("x={SECRET}"),
        base64::engine::general_purpose::STANDARD.encode(format!("x={SECRET}")),
    ]
}

fn reversed() -> String {
    SECRET.chars().rev().collect()
}

/// Panics when any of `forms` appears in the run's stdout or stderr.
fn assert_hidden(out: &Output, forms: &[String], what: &str) {
    for form in forms {
        assert!(
            !out.stdout.contains(form.as_str()) && !out.stderr.contains(form.as_str()),
            "{what}: `{form}` shown\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
    }
}

/// A project on `hosts` with `deploy.yml` and a 0600 `secrets/test.yml`
/// kept out of its git repository.
fn project(hosts: &TestHosts, deploy: &str, secrets: &str) -> Project {
    use std::os::unix::fs::PermissionsExt as _;
    let project = Project::with_hosts(hosts);
    project.file("deploy.yml", deploy);
    project.file(".gitignore", "secrets/\n");
    project.file("secrets/test.yml", secrets);
    let mode = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(project.path().join("secrets/test.yml"), mode).unwrap();
    commit_all(project.path(), "v1");
    project
}

/// Whether any test host accepted a login: an input error must stop the
/// run before that.
fn anyone_logged_in(hosts: &TestHosts) -> bool {
    hosts.hosts.iter().any(|h| h.log().contains("Accepted"))
}

const DEBUG_PLAY: &str = "- hosts: web\n  tasks:\n    - debug: msg=hello\n";

#[test]
fn a_yaml_error_in_the_secrets_file_is_located_and_never_quotes_the_value() {
    let hosts = TestHosts::start(1);
    for (secrets, at) in [
        (format!("other: 1\nsecret_key: \"{SECRET}\n"), ":2:"),
        (format!("secret_key: {SECRET}: x\n"), ":1:"),
        (format!("secret_key: [{SECRET}\nb: 2\n"), ":"),
    ] {
        let project = project(&hosts, DEBUG_PLAY, &secrets);
        for args in [
            &["deploy", "test"][..],
            &["plan", "test"],
            &["deploy", "test", "--json", "-v"],
        ] {
            let out = project.ferry(args);
            assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
            let located = format!("secrets/test.yml{at}");
            assert!(out.stderr.contains(&located), "{args:?}: {}", out.stderr);
            assert_hidden(
                &out,
                &derived_forms(),
                &format!("{args:?} with {secrets:?}"),
            );
        }
    }
    assert!(!anyone_logged_in(&hosts), "an input error touched a host");
}

#[test]
fn a_failing_command_source_prints_neither_the_value_nor_its_stdout() {
    let hosts = TestHosts::start(1);
    let secrets = format!(
        "api_token: lit-token-51ab\n\
         db_password: {{command: \"echo {SECRET}; echo 'denied for lit-token-51ab: {SECRET}' >&2; exit 3\"}}\n"
    );
    let project = project(&hosts, DEBUG_PLAY, &secrets);
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "the command of secret `db_password` failed (exit status: 3) at ./secrets/test.yml:2:"
        ),
        "{}",
        out.stderr
    );
    // Its stderr, masked: the reason stays readable.
    assert!(
        out.stderr.contains("denied for ********: ********"),
        "{}",
        out.stderr
    );
    let mut forms = derived_forms();
    forms.push("lit-token-51ab".into());
    assert_hidden(&out, &forms, "failing command source");
    assert!(!anyone_logged_in(&hosts));
}

#[test]
fn a_secret_through_b64encode_on_a_command_line_is_refused_before_connecting() {
    let hosts = TestHosts::start(1);
    let secrets = format!("secret_key: {SECRET}\n");
    for deploy in [
        // Directly.
        "- hosts: web\n  tasks:\n    - shell: echo {{ secret_key | b64encode }} > /dev/null\n",
        // Through variables rendered lazily: `header` reads `token`, which reads the secret.
        "- hosts: web\n  vars:\n    token: \"{{ 'x=' ~ secret_key }}\"\n    header: \"{{ token | b64encode }}\"\n  tasks:\n    - command: curl -H {{ header }} http://127.0.0.1:9/\n",
        // In the environment a command is given.
        "- hosts: web\n  tasks:\n    - shell: \"true\"\n      environment:\n        TOKEN: \"{{ secret_key | upper }}\"\n",
    ] {
        let project = project(&hosts, deploy, &secrets);
        for args in [
            &["deploy", "test"][..],
            &["plan", "test", "--offline"],
            &["deploy", "test", "--json"],
        ] {
            let out = project.ferry(args);
            assert_eq!(out.status, 2, "{args:?} {deploy}: {}", out.stderr);
            assert!(
                out.stderr
                    .contains("a secret would appear on the command line")
                    && out.stderr.contains("deploy.yml:"),
                "{args:?} {deploy}: {}",
                out.stderr
            );
            assert_hidden(&out, &derived_forms(), deploy);
        }
    }
    assert!(!anyone_logged_in(&hosts), "refused after connecting");
}

#[test]
fn a_secret_derived_through_a_template_is_masked_in_every_output() {
    let hosts = TestHosts::start(2);
    let deploy = "\
- hosts: web
  vars:
    token: \"{{ 'x=' ~ secret_key }}\"
    encoded: \"{{ token | b64encode }}\"
  tasks:
    - name: Write the config
      template: { src: app.conf.j2, dest: \"{{ deploy_to }}/app.conf\", mode: \"0600\" }
    - name: Show the config but its first line
      command: sed 1d {{ deploy_to }}/app.conf
      register: config
      changed_when: false
    - debug: msg=\"{{ secret_key | b64encode | upper }}\"
    - debug: { var: encoded }
    - debug: msg=\"{{ config.stdout }}\"
    - debug: msg=\"{{ config.stdout | b64encode }}\"
    - name: \"Named {{ secret_key | upper }}\"
      debug: msg=named
";
    let project = project(&hosts, deploy, &format!("secret_key: {SECRET}\n"));
    project.file(
        "templates/app.conf.j2",
        "# app config for {{ inventory_hostname }}\nkey={{ secret_key | b64encode }}\nheader={{ encoded }}\nonly_here={{ secret_key | reverse }}\nport=8000\n",
    );
    std::fs::create_dir_all(hosts.hosts[0].dir.join("app")).unwrap();
    std::fs::create_dir_all(hosts.hosts[1].dir.join("app")).unwrap();
    let mut forms = derived_forms();
    // Computed by the template file alone, shown only by `cat` under `-v`.
    forms.push(reversed());
    let written = |host: &str| {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "# app config for {host}\nkey={}\nheader={}\nonly_here={}\nport=8000",
            b64(SECRET),
            b64(&format!("x={SECRET}")),
            reversed()
        )
    };
    // What a later step computes from the registered output at run time.
    for h in &hosts.hosts {
        let shown = written(&h.name);
        let shown = &shown[shown.find('\n').unwrap() + 1..];
        forms.push(base64::engine::general_purpose::STANDARD.encode(shown));
    }

    for args in [
        &["deploy", "test"][..],
        &["deploy", "test", "-v"],
        &["deploy", "test", "--json"],
        &["deploy", "test", "--json", "-v"],
        // (`plan` online stops at `config.stdout`: check mode registers no
        // stdout yet, issue 12 item 3.)
        &["plan", "test", "--offline"],
        &["plan", "test", "--offline", "--json"],
    ] {
        let out = project.ferry(args);
        assert_eq!(out.status, 0, "{args:?}: {}\n{}", out.stdout, out.stderr);
        assert_hidden(&out, &forms, &format!("{args:?}"));
        if args[0] == "deploy" {
            assert!(
                out.stdout.contains("********"),
                "{args:?}: nothing masked?\n{}",
                out.stdout
            );
        }
        if args.contains(&"-v") {
            // The file's lines were shown, those without a secret as they are.
            assert!(
                out.stdout.contains("port=8000"),
                "{args:?}:\n{}",
                out.stdout
            );
        }
    }
    // The hosts got the real values, not masks.
    for h in &hosts.hosts {
        let file = std::fs::read_to_string(h.dir.join("app/app.conf")).unwrap();
        assert_eq!(file.trim_end(), written(&h.name));
    }
}

#[test]
fn a_vault_value_in_a_playbook_is_a_located_error_before_connecting() {
    let hosts = TestHosts::start(1);
    let deploy = "- hosts: web\n  vars:\n    db_password: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      62313365396662343061393464336163383764373764613633653634306231386433626436623361\n  tasks:\n    - debug: msg=hello\n";
    let project = project(&hosts, deploy, "other: long-enough\n");
    for args in [&["deploy", "test"][..], &["plan", "test", "--offline"]] {
        let out = project.ferry(args);
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "this `!vault` value is encrypted with Ansible Vault, and no vault password was given"
            ) && out.stderr.contains("deploy.yml:3:18"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--vault-password-file"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("6231336539"), "{}", out.stderr);
    }
    assert!(!anyone_logged_in(&hosts));
}

#[test]
fn a_vault_value_in_an_inventory_is_a_located_error_before_connecting() {
    let hosts = TestHosts::start(1);
    let project = project(&hosts, DEBUG_PLAY, "other: long-enough\n");
    let h = &hosts.hosts[0];
    project.file(
        &format!("inventory/host_vars/{}.yml", h.name),
        "deploy_to: /tmp/unused\napi_key: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3961\n",
    );
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    let located = format!("host_vars/{}.yml:2:10", h.name);
    assert!(
        out.stderr.contains("`!vault`") && out.stderr.contains(&located),
        "{}",
        out.stderr
    );
    // A YAML inventory too, and any other tag.
    project.file(
        "inventory/test.yml",
        "web:\n  hosts:\n    host1:\n      color: !Ref blue\n",
    );
    std::fs::remove_file(project.path().join("inventory/test.ini")).unwrap();
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown YAML tag `!Ref`") && out.stderr.contains("test.yml:4:14"),
        "{}",
        out.stderr
    );
    assert!(!anyone_logged_in(&hosts));
}

#[test]
fn an_unsafe_string_is_deployed_as_written() {
    let hosts = TestHosts::start(1);
    let deploy = "- hosts: web\n  vars:\n    greeting: !unsafe '{{ not a template }}'\n  tasks:\n    - copy: { content: \"say {{ greeting }}\", dest: \"{{ deploy_to }}/greeting\" }\n";
    let project = project(&hosts, deploy, "other: long-enough\n");
    let h = &hosts.hosts[0];
    std::fs::create_dir_all(h.dir.join("app")).unwrap();
    let out = project.ferry(&["deploy", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let written = std::fs::read_to_string(h.dir.join("app/greeting")).unwrap();
    assert_eq!(written, "say {{ not a template }}");
}

#[test]
fn a_secret_derived_at_run_time_is_refused_on_that_steps_command_line() {
    let hosts = TestHosts::start(1);
    let deploy = "\
- hosts: web
  tasks:
    - command: echo hello
      register: out
      changed_when: false
    - shell: echo {{ (out.stdout ~ secret_key) | b64encode }} > /dev/null
";
    let project = project(&hosts, deploy, &format!("secret_key: {SECRET}\n"));
    let out = project.ferry(&["deploy", "test", "-v"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("a secret would appear on the command line"),
        "{}",
        out.stdout
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("hello{SECRET}"));
    let mut forms = derived_forms();
    forms.push(b64);
    assert_hidden(&out, &forms, "run-time derived secret");
}

#[test]
fn a_secret_streamed_in_two_chunks_is_masked_in_verbose_output() {
    // The host prints the secret (read from a file there, never from the
    // command line) half now and half 300 ms later: two chunks over SSH.
    let hosts = TestHosts::start(1);
    let on_host = hosts.hosts[0].dir.join("token");
    std::fs::write(&on_host, SECRET).unwrap();
    let play = format!(
        "- hosts: web\n  tasks:\n    - shell: \"head -c 6 {0}; sleep 0.3; tail -c +7 {0}; echo\"\n",
        on_host.display()
    );
    let project = project(&hosts, &play, &format!("token: {SECRET}\n"));
    let out = project.ferry(&["playbook", "deploy.yml", "-i", "inventory/test.ini", "-v"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_hidden(&out, &[SECRET.to_string()], "-v");
    assert!(out.stdout.contains("********"), "{}", out.stdout);
}
