//! Facts (`gather_facts`, on by default): gathered in one round trip per
//! host before compiling, only for plays whose templates read a fact,
//! shared by the plays of a run; and Ansible's magic variables.

use serde_json::Value;

use crate::support::ferry::{Project, assert_changed_nothing, step_ends};
use crate::support::sshd::TestHosts;

/// What this machine is, as the facts of a loopback sshd host must say.
fn local(command: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const TWO_PLAYS: &str = r#"- hosts: web
  tasks:
    - file: {path: "{{ deploy_to }}", state: directory}
    - name: write what the host is
      copy:
        dest: "{{ deploy_to }}/facts.txt"
        content: |
          {{ ansible_hostname }} {{ ansible_facts['os_family'] }} {{ ansible_facts.system }}
          {{ ansible_user_id }} {{ ansible_user_dir }} {{ ansible_processor_vcpus }}
          {{ hostvars['host2']['ansible_facts']['kernel'] }} {{ groups['web'] | length }} {{ group_names }}
- hosts: web
  gather_facts: false
  tasks:
    - name: "facts gathered once serve every play: {{ ansible_kernel }}"
      command: "true"
      changed_when: false
- hosts: web
  tasks:
    - name: a play that reads no fact has the facts gathered for another
      command: "true"
      changed_when: false
"#;

#[test]
fn facts_are_gathered_before_the_run_and_templates_read_them() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file("site.yml", TWO_PLAYS);
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];

    // The plan connects to gather (read-only) and says it did, per play.
    let started = std::time::Instant::now();
    let out = project.ferry(&[&args[..], &["--plan", "--json"]].concat());
    let gathering = started.elapsed();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    project.file("none.yml", "- hosts: web\n  tasks: [{command: 'true'}]\n");
    let started = std::time::Instant::now();
    let none = project.ferry(&["playbook", "none.yml", "-i", "inventory/test.ini", "--plan"]);
    assert_eq!(none.status, 0, "{}\n{}", none.stdout, none.stderr);
    eprintln!(
        "plan of 2 hosts: {gathering:?} with a gather, {:?} without",
        started.elapsed()
    );
    let plan: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let gathered: Vec<_> = plan["plays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["facts_gathered"].as_bool().unwrap_or(false))
        .collect();
    // The second play gathers no facts; the third reads none, but has
    // the facts the run gathered for the first (each host once a run).
    assert_eq!(gathered, [true, false, true]);
    let kernel = local("uname -r");
    let text = crate::support::ferry::run_ferry(project.path(), &[&args[..], &["--plan"]].concat());
    assert!(
        text.stdout.contains("facts gathered"),
        "the plan does not say facts were gathered:\n{}",
        text.stdout
    );
    // A play with `gather_facts: false` does not gather, but sees the
    // facts the run gathered for another play, as in Ansible.
    assert!(
        plan["plays"][1]["hosts"][0]["steps"][0]["name"]
            .as_str()
            .unwrap()
            .ends_with(&kernel),
        "{}",
        plan["plays"][1]
    );

    let (out, events) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let mut predicted: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, s)| s == "changed")
        .collect();
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let mut changed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, s)| s == "changed")
        .collect();
    // Hosts run in parallel: the order of their events varies.
    predicted.sort();
    changed.sort();
    assert_eq!(predicted, changed);
    assert_eq!(changed.len(), 4, "{changed:?}");
    let user = local("id -un");
    let expected = format!(
        "{} {} Linux\n{user} {} {}\n{kernel} 2 ['web']\n",
        local("uname -n").split('.').next().unwrap(),
        local(". /etc/os-release; [ \"$ID\" = debian ] && echo Debian || echo \"$ID\""),
        local("getent passwd \"$(id -un)\" | cut -d: -f6"),
        local("grep -c ^processor /proc/cpuinfo"),
    );
    for h in &hosts.hosts {
        let written = std::fs::read_to_string(h.dir.join("app/facts.txt")).unwrap();
        assert_eq!(written, expected, "{}", h.name);
    }
    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);
}

#[test]
fn a_host_unreachable_while_gathering_fails_the_run_before_any_host_changes() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    let inventory = std::fs::read_to_string(project.path().join("inventory/test.ini")).unwrap();
    // A second host on a port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    project.file(
        "inventory/test.ini",
        &format!("{inventory}gone ansible_host=127.0.0.1 ansible_port={port}\n"),
    );
    project.file(
        "inventory/host_vars/gone.yml",
        "deploy_to: /nonexistent/gone\n",
    );
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - copy: {dest: \"{{ deploy_to }}/marker\", content: \"{{ ansible_system }}\"}\n",
    );
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini"]);
    // As a deploy reports an unreachable host: exit status 1, named.
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("gone"),
        "the unreachable host is not named:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !hosts.hosts[0].dir.join("app/marker").exists(),
        "a host changed although another could not be gathered"
    );
}

/// `--plan` gathers only when a template reads a fact: a playbook that
/// reads none plans without connecting (its only host does not exist).
#[test]
fn a_playbook_that_reads_no_fact_plans_without_connecting() {
    let project = Project::new();
    project.file(
        "inventory/test.ini",
        "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=1\n",
    );
    project.file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - debug: msg=\"{{ inventory_hostname }} {{ ansible_version.major }} {{ playbook_dir | length > 0 }} {{ ansible_play_batch }} {{ hostvars.web1.ansible_port }}\"\n",
    );
    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(plan["plays"][0].get("facts_gathered"), None);
    assert_eq!(
        plan["plays"][0]["hosts"][0]["steps"][0]["body"]["action"]["msg"],
        "web1 2 True ['web1'] 1"
    );
}

/// The magic variables, as a real ansible-playbook prints them for the
/// same playbook and inventory.
#[test]
fn magic_variables_are_ansibles() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1\n");
    project.file(
        "roles/greeter/tasks/main.yml",
        "- debug: msg=\"role {{ role_name }} {{ role_path | basename }}\"\n",
    );
    project.file(
        "site.yml",
        r#"- hosts: web
  gather_facts: false
  roles: [greeter]
  tasks:
    - debug:
        msg: "{{ inventory_hostname }} {{ inventory_hostname_short }} {{ group_names }} {{ groups.web }} {{ play_hosts }} {{ ansible_play_hosts }} {{ ansible_play_batch }} {{ ansible_play_hosts_all }}"
    - debug:
        msg: "{{ hostvars['web1'].inventory_hostname }} {{ hostvars.web1.group_names }} {{ playbook_dir | basename }} {{ ansible_version.major }}"
"#,
    );
    let ansible = crate::ansible_lang::ansible_messages(&project, "site.yml");
    let ferry = crate::ansible_lang::ferry_messages(&project, "site.yml");
    assert_eq!(ferry, ansible);
    assert_eq!(ferry.len(), 3, "{ferry:?}");
}

/// A `setup` task makes a play gather (whatever its `gather_facts`), and
/// the plan says so; offline, the fact it reads is an error at its line.
#[test]
fn a_setup_task_gathers_the_facts_its_play_reads() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        "- hosts: web\n  gather_facts: false\n  gather_subset: [min]\n  tasks:\n    - setup: {gather_subset: [network]}\n    - debug: msg=\"{{ ansible_facts.system }} {{ ansible_architecture }}\"\n",
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let out = project.ferry(&[&args[..], &["--plan", "--json"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(plan["plays"][0]["facts_gathered"], true);
    assert_eq!(
        plan["plays"][0]["hosts"][0]["steps"][0]["body"]["action"]["msg"],
        format!("Linux {}", local("uname -m"))
    );
    let out = project.ferry(&[&args[..], &["--syntax-check"]].concat());
    assert_eq!(out.status, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: fact `ansible_architecture` is not known: `--syntax-check` connects to no host, so gathers no facts at ./site.yml:6:"
        ),
        "{}",
        out.stderr
    );
}
