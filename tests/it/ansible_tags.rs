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
