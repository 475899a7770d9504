//! `ferry playbook -t/--tags` and `--skip-tags` select the tasks
//! ansible-playbook selects (`always`, `never`, `all`, `tagged`,
//! `untagged`, tags on blocks, roles and includes), compared with a real
//! ansible-playbook run on the same playbook.

use serde_json::Value;

use crate::support::ferry::Project;

const PLAYBOOK: &str = r#"- hosts: web
  gather_facts: false
  roles:
    - role: r
      tags: [role]
  tasks:
    - debug: msg=untagged
    - debug: msg=web
      tags: web
    - debug: msg=always
      tags: [always]
    - debug: msg=never
      tags: [never]
    - debug: msg=never-debug
      tags: [never, debug]
    - block:
        - debug: msg=in-block
      tags: [blk]
    - set_fact: fact=set
      tags: [fact]
    - debug: msg="fact={{ fact | default('unset') }}"
      tags: [always]
"#;

fn ansible(project: &Project, flags: &[&str]) -> Vec<String> {
    let ansible = crate::inventory_ansible::Ansible::get();
    let inventory = project.path().join("ansible.ini");
    std::fs::write(&inventory, "[web]\nweb1 ansible_connection=local\n").unwrap();
    let playbook = project.path().join("site.yml");
    let mut args = vec!["-i", inventory.to_str().unwrap()];
    args.extend(flags);
    args.push(playbook.to_str().unwrap());
    let output = ansible
        .command("ansible-playbook", &args)
        .output()
        .expect("run ansible-playbook");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ansible-playbook failed:\n{stdout}"
    );
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"msg\": "))
        .map(|quoted| serde_json::from_str::<String>(quoted).expect("a JSON string"))
        .collect()
}

fn ferry(project: &Project, flags: &[&str]) -> Vec<String> {
    let mut args = vec![
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
    ];
    args.extend(flags);
    let out = project.ferry(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    plan["plays"][0]["hosts"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["body"]["action"]["msg"].as_str().map(String::from))
        .collect()
}

#[test]
fn tags_and_skip_tags_select_the_tasks_ansible_runs() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    project.file("site.yml", PLAYBOOK);
    project.file("roles/r/tasks/main.yml", "- debug: msg=role\n");
    let cases: &[&[&str]] = &[
        &[],
        &["--tags", "web"],
        &["-t", "debug,fact"],
        &["--tags", "tagged"],
        &["--tags", "untagged"],
        &["--tags", "role", "--tags", "blk"],
        &["--skip-tags", "web,always"],
        &["--skip-tags", "all"],
        &["--tags", "all", "--skip-tags", "role"],
    ];
    for flags in cases {
        let expected = ansible(&project, flags);
        assert_eq!(ferry(&project, flags), expected, "{flags:?}");
    }
    // The default run leaves out `never` and keeps the rest.
    assert!(!ansible(&project, &[]).contains(&"never".to_string()));
}

/// `--list-hosts`, `--list-tasks` and `--list-tags` print what
/// ansible-playbook prints, in its layout (hosts in inventory order, where
/// Ansible's order varies), and `--syntax-check` names the playbook.
#[test]
fn list_flags_print_what_ansible_playbook_prints() {
    let project = Project::new();
    project.file(
        "inventory/test.ini",
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.2\n[db]\ndb1 ansible_host=127.0.0.3\n",
    );
    project.file("site.yml", PLAYBOOK);
    project.file("roles/r/tasks/main.yml", "- debug: msg=role\n");
    let flags = [
        "--list-hosts",
        "--list-tasks",
        "--list-tags",
        "-t",
        "web,always,role",
    ];
    let mut args = vec!["playbook", "site.yml", "-i", "inventory/test.ini"];
    args.extend(flags);
    let out = project.ferry(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let inventory = project.path().join("inventory/test.ini");
    let mut ansible_args = vec!["-i", inventory.to_str().unwrap()];
    ansible_args.extend(flags);
    let ansible = crate::inventory_ansible::Ansible::get();
    let playbook = project.path().join("site.yml");
    ansible_args.push(playbook.to_str().unwrap());
    let output = ansible
        .command("ansible-playbook", &ansible_args)
        .output()
        .unwrap();
    let expected =
        String::from_utf8_lossy(&output.stdout).replace(playbook.to_str().unwrap(), "site.yml");
    let hosts = |text: &str| {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("      web"))
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    let rest = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("      web"))
            .map(String::from)
            .collect()
    };
    assert_eq!(hosts(&out.stdout), hosts(&expected), "{expected}");
    assert_eq!(rest(&out.stdout), rest(&expected), "{}", out.stdout);

    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--syntax-check",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "\nplaybook: site.yml\n");
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - debug: msg={{ nope }}\n",
    );
    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--syntax-check",
    ]);
    assert_eq!(out.status, 2, "{}", out.stdout);
    assert!(out.stderr.contains("site.yml:3"), "{}", out.stderr);
}
