//! `ferry init` on real app directories: what it writes compiles into a
//! plan, never replaces a file, and is exactly the deploy.yml of the bundled
//! examples (which the `apps` tests deploy end to end).

use std::os::unix::fs::PermissionsExt as _;

use clap::Parser as _;

use crate::support::ferry::{Project, copy_dir, repo_root, run_ferry};
use crate::support::git::git;

/// `examples/NAME` in a directory of that name (init names the app after
/// it), without its deploy.yml, inventories and secrets.
fn bare_example(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    copy_dir(&repo_root().join("examples").join(name), &dir);
    // `secrets/` is git-ignored: a fresh clone (CI) has none.
    for generated in ["deploy.yml", "inventory", "secrets"] {
        let path = dir.join(generated);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(path).unwrap();
        }
    }
    (root, dir)
}

#[test]
fn the_examples_deploy_yml_is_what_init_writes_for_them() {
    for (name, kind) in [("django-notes", "Django"), ("flask-hello", "Flask")] {
        let (_root, dir) = bare_example(name);
        let out = run_ferry(&dir, &["init"]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(
            out.stdout.starts_with(&format!("{kind} app `{name}`")),
            "{}",
            out.stdout
        );
        let written = std::fs::read_to_string(dir.join("deploy.yml")).unwrap();
        let example =
            std::fs::read_to_string(repo_root().join("examples").join(name).join("deploy.yml"))
                .unwrap();
        assert_eq!(
            written, example,
            "examples/{name}/deploy.yml differs from `ferry init`'s"
        );
    }
}

#[test]
fn init_scaffolds_a_django_project_that_plans_and_never_overwrites() {
    let (_root, dir) = bare_example("django-notes");
    std::fs::remove_file(dir.join("Procfile")).unwrap();
    std::fs::remove_file(dir.join(".gitignore")).unwrap();
    let out = run_ferry(&dir, &["init", "--django"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("ferry plan production"),
        "{}",
        out.stdout
    );

    // A Procfile for the project's own wsgi module, secrets kept out of git.
    let procfile = std::fs::read_to_string(dir.join("Procfile")).unwrap();
    assert_eq!(
        procfile,
        "web: gunicorn --config gunicorn.conf.py notes_site.wsgi\n"
    );
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "secrets/"), "{gitignore}");
    let secrets = dir.join("secrets/production.yml");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let secrets = std::fs::read_to_string(&secrets).unwrap();
    let key = secrets
        .lines()
        .find_map(|l| l.strip_prefix("secret_key: "))
        .unwrap()
        .to_string();
    assert_eq!(key.len(), 50);
    let inventory = std::fs::read_to_string(dir.join("inventory/production.yml")).unwrap();
    assert!(
        inventory.contains("203.0.113.10"),
        "documentation addresses: {inventory}"
    );

    // It compiles: every step of every host, the secret masked.
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "ferry init"]);
    let plan = run_ferry(&dir, &["plan", "production", "--offline"]);
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    for expected in [
        "web1 (deploy@203.0.113.10)",
        "web2 (deploy@203.0.113.11)",
        "check --deploy --fail-level ERROR",
        "collectstatic --noinput",
        "/etc/nginx/sites-enabled/django-notes.conf",
        // The system's supervisor belongs to root (`become: "{{ procfile_become }}"`).
        "sudo -n -H -u root -- sh -c 'supervisorctl reread && supervisorctl update'",
    ] {
        assert!(
            plan.stdout.contains(expected),
            "no `{expected}` in\n{}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains(&key) && !plan.stderr.contains(&key));
    assert!(!plan.stderr.contains("warning"), "{}", plan.stderr);

    // Again: nothing is replaced.
    let before = std::fs::read_to_string(dir.join("deploy.yml")).unwrap();
    std::fs::write(dir.join("deploy.yml"), "# mine\n").unwrap();
    let again = run_ferry(&dir, &["init"]);
    assert_eq!(again.status, 2, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("deploy.yml, inventory/production.yml, secrets/production.yml already exist"),
        "{}",
        again.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("deploy.yml")).unwrap(),
        "# mine\n"
    );
    assert_ne!(before, "# mine\n");
}

#[test]
fn init_detects_a_flask_app_and_refuses_a_directory_it_cannot_read() {
    let project = Project::new();
    project.file("requirements.txt", "Flask==3.1\ngunicorn\n");
    project.file(
        "wsgi.py",
        "from flask import Flask\napp = Flask(__name__)\n",
    );
    let out = project.ferry(&["init"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Flask app"), "{}", out.stdout);
    let procfile = std::fs::read_to_string(project.path().join("Procfile")).unwrap();
    assert_eq!(
        procfile,
        "web: gunicorn --config gunicorn.conf.py wsgi:app\n"
    );
    let deploy = std::fs::read_to_string(project.path().join("deploy.yml")).unwrap();
    assert!(
        deploy.contains("FLASK_DEBUG") && !deploy.contains("django/"),
        "{deploy}"
    );

    let empty = Project::new();
    let out = empty.ferry(&["init"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .contains("cannot tell what app is in this directory"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--django, --flask or --procfile"),
        "{}",
        out.stderr
    );
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "wrote nothing"
    );

    let out = empty.ferry(&["init", "--procfile"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("no Procfile in this directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn tls_is_a_few_inventory_lines_away_in_what_init_writes() {
    let (_root, dir) = bare_example("flask-hello");
    let out = run_ferry(&dir, &["init"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "ferry init"]);
    // Without certificates, the step is skipped.
    let plan = run_ferry(&dir, &["plan", "production", "--offline"]);
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("skip: `when: certificates | default([])` is false"),
        "{}",
        plan.stdout
    );

    // Uncommented, as the inventory's comment says.
    let path = dir.join("inventory/production.yml");
    let inventory = std::fs::read_to_string(&path).unwrap();
    let uncommented = inventory
        .replace("    # certificates:", "    certificates:")
        .replace("    #   - [", "      - [")
        .replace("    # acme_email:", "    acme_email:");
    assert_ne!(inventory, uncommented);
    std::fs::write(&path, uncommented).unwrap();
    let plan = run_ferry(&dir, &["plan", "production", "--offline"]);
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    let text = &plan.stdout;
    let certs = text
        .find("Certificates [certs]")
        .unwrap_or_else(|| panic!("{text}"));
    let site = text.find("Write the nginx site").unwrap();
    let switch = text.find("release.switch").unwrap();
    assert!(
        site < certs && certs < switch,
        "site, certs, switch: {text}"
    );
    assert!(
        text.contains(
            "certificates example.org [example.org, www.example.org] in /etc/ssl/ferry/ \
             from https://acme-v02.api.letsencrypt.org/directory"
        ),
        "{text}"
    );
    assert!(
        text.contains("on the hosts as `root`, through sudo"),
        "{text}"
    );
    assert!(text.contains("reload web server [shell] handler"), "{text}");
}

#[test]
fn what_init_writes_sets_up_with_ferry_setup_web_and_db_hosts_apart() {
    let (_root, dir) = bare_example("django-notes");
    let out = run_ferry(&dir, &["init"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("ferry setup production"),
        "{}",
        out.stdout
    );
    let out = run_ferry(&dir, &["setup", "production", "--plan", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let steps = |host: &str| -> Vec<String> {
        plan["plays"][0]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == host)
            .unwrap_or_else(|| panic!("no {host} in {plan}"))["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["body"]["state"] != "skipped")
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Logged in as root, making the user the deploy logs in as.
    let web1 = &plan["plays"][0]["hosts"][0];
    assert_eq!(web1["connection"]["user"], "root", "{web1}");
    let (web, db) = (steps("web1"), steps("db1"));
    assert!(
        web.contains(&"Create the deploy user".to_string()),
        "{web:?}"
    );
    for step in ["The app's role", "The app's database"] {
        assert!(db.contains(&step.to_string()), "{db:?}");
        assert!(!web.contains(&step.to_string()), "{web:?}");
    }
    // One apt run per host, with what its groups need.
    let packages = |host: &str| {
        plan["plays"][0]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == host)
            .unwrap()["steps"][0]["body"]["action"]["run"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (web, db) = (packages("web1"), packages("db1"));
    assert!(web.contains("nginx") && web.contains("supervisor"), "{web}");
    assert!(!web.contains("postgresql"), "{web}");
    assert!(db.contains("postgresql") && !db.contains("nginx"), "{db}");
    // The secret password is nowhere in the plan.
    let secrets = std::fs::read_to_string(dir.join("secrets/production.yml")).unwrap();
    assert!(secrets.contains("CHANGE-ME"));
    assert!(!out.stdout.contains("CHANGE-ME"), "{}", out.stdout);
}

/// The `ferry …` commands of a workflow's shell lines (`run:` blocks,
/// `script:` items), split into words as the shell would.
fn ferry_commands(shell: &str) -> Vec<Vec<String>> {
    shell
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("ferry "))
        .map(|l| shlex::split(l).unwrap_or_else(|| panic!("does not split: {l}")))
        .collect()
}

/// Every shell line of a parsed workflow: GitHub's `run:` strings, GitLab's
/// `before_script:`/`script:` items.
fn shell_lines(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("run", serde_json::Value::String(text)) => out.push_str(&format!("{text}\n")),
                    ("script" | "before_script", serde_json::Value::Array(items)) => {
                        for item in items {
                            out.push_str(&format!("{}\n", item.as_str().unwrap_or_default()));
                        }
                    }
                    _ => shell_lines(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| shell_lines(v, out)),
        _ => {}
    }
}

#[test]
fn init_ci_writes_workflows_whose_ferry_commands_are_real_and_keep_secrets_off_command_lines() {
    let (_root, dir) = bare_example("flask-hello");
    git(&dir, &["init", "-q", "-b", "main"]);
    // With the scaffold: deploy.yml and the GitHub workflow.
    let out = run_ferry(&dir, &["init", "--ci", "github"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(dir.join("deploy.yml").is_file());
    // In a project that has deploy.yml: the workflow only.
    let out = run_ferry(&dir, &["init", "--ci", "gitlab"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains(".gitlab-ci.yml"), "{}", out.stdout);
    // Never over a file.
    let again = run_ferry(&dir, &["init", "--ci", "gitlab"]);
    assert_eq!(again.status, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );

    for (file, deploy_job) in [
        (".github/workflows/deploy.yml", "deploy"),
        (".gitlab-ci.yml", "deploy-production"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let parsed: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        let jobs = if file.starts_with(".github") {
            let push = parsed.get("on").or_else(|| parsed.get("true"));
            assert_eq!(
                push.and_then(|on| on["push"]["branches"].as_array().cloned()),
                Some(vec![serde_json::json!("main")]),
                "{file}: not on pushes to main"
            );
            &parsed["jobs"]
        } else {
            &parsed
        };
        assert!(
            jobs.get(deploy_job).is_some(),
            "{file}: no job `{deploy_job}`"
        );
        let mut shell = String::new();
        shell_lines(jobs, &mut shell);
        let commands = ferry_commands(&shell);
        assert!(
            commands
                .iter()
                .any(|c| c[1] == "deploy" && c.contains(&"--rev".to_string())),
            "{file}: no `ferry deploy --rev`: {commands:?}"
        );
        for words in &commands {
            // `ferry --version` "fails" by printing the version: real too.
            if let Err(e) = ferry::cli::Cli::try_parse_from(words)
                && e.kind() != clap::error::ErrorKind::DisplayVersion
            {
                panic!("{file}: `{}` is not a ferry command: {e}", words.join(" "));
            }
        }
        // Secrets reach files through the environment, never a command line.
        assert!(!shell.contains("secrets."), "{file}: {shell}");
        assert!(!shell.contains("echo $FERRY"), "{file}: {shell}");
    }
}
