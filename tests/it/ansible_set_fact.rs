//! `set_fact`: facts known before connecting are set then (and planned
//! as Ansible prints them); facts that read a registered result are set at
//! run time, on sshd hosts, and the tasks after them read them there.

use crate::ansible_lang::{ansible_messages, ferry_messages};
use crate::support::ferry::{Project, step_ends};
use crate::support::sshd::TestHosts;

/// ferry's plan and a real ansible-playbook run print the same messages
/// for facts set from variables, a loop that builds a list, `when`,
/// `cacheable`, and Ansible's precedence (over task vars and
/// `include_vars`, under `-e`-like role parameters).
#[test]
fn ferry_plans_the_facts_ansible_sets() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    project.file("vars/v.yml", "a: from_include_vars\nc: from_include_vars\n");
    project.file(
        "site.yml",
        r#"- hosts: web
  gather_facts: false
  vars: {base: 1}
  tasks:
    - set_fact: a="{{ base + 1 }}"
    - set_fact: {flag: true}
    - set_fact:
        seen: "{{ seen | default([]) + [item] }}"
      loop: [x, y, z]
    - set_fact: {b: "{{ a | int * 10 }}", cacheable: true}
      when: flag
    - set_fact: never=1
      when: not flag
    - include_vars: vars/v.yml
    - debug: msg="a={{ a }} b={{ b }} c={{ c }} seen={{ seen | join(',') }} never={{ never | default('unset') }}"
    - debug: msg="task vars lose to facts = {{ a }}"
      vars: {a: task}
    - set_fact: a=again
    - debug: msg="a fact set again = {{ a }}"
"#,
    );
    let ansible = ansible_messages(&project, "site.yml");
    let ferry = ferry_messages(&project, "site.yml");
    assert_eq!(
        ansible,
        [
            "a=2 b=20 c=from_include_vars seen=x,y,z never=unset",
            "task vars lose to facts = 2",
            "a fact set again = again",
        ]
    );
    assert_eq!(ferry, ansible);
}

#[test]
fn facts_from_registered_results_are_set_on_hosts_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        r#"- hosts: web
  tasks:
    - file: path={{ deploy_to }} state=directory
    - command: echo hello {{ inventory_hostname }}
      register: out
      changed_when: false
      check_mode: false
    - stat: path={{ deploy_to }}
      register: st
    - set_fact:
        greeting: "{{ out.stdout }} world"
        kind: "{{ 'dir' if st.stat.isdir else 'other' }}"
    - name: a fact whose when waits for a result
      set_fact: loud="{{ greeting | upper }}"
      when: out.rc == 0
    - copy: content="{{ greeting }} {{ kind }}" dest={{ deploy_to }}/greeting
    - copy: content="{{ loud }}" dest={{ deploy_to }}/loud
"#,
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, _) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for h in &hosts.hosts {
        let read = |f: &str| std::fs::read_to_string(h.dir.join("app").join(f)).unwrap();
        assert_eq!(read("greeting"), format!("hello {} world dir", h.name));
        assert_eq!(
            read("loud"),
            format!("HELLO {} WORLD", h.name.to_uppercase())
        );
    }
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let ends = step_ends(&events);
    let changed: Vec<_> = ends.iter().filter(|(_, _, s)| s == "changed").collect();
    assert!(changed.is_empty(), "second run changed {changed:?}");
    assert!(
        ends.iter()
            .any(|(_, n, s)| n == "a fact whose when waits for a result" && s == "ok"),
        "{ends:?}"
    );
    // Check mode sets the same facts and predicts no change.
    let (out, events) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let changed: Vec<_> = step_ends(&events)
        .into_iter()
        .filter(|(_, _, s)| s != "ok")
        .collect();
    assert!(changed.is_empty(), "check mode predicted {changed:?}");
    // The plan says which facts wait for the run.
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
    assert!(
        out.stdout.contains("rendered at run time: reads `out`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("rendered at run time: reads `loud`"),
        "{}",
        out.stdout
    );
}

#[test]
fn set_fact_mistakes_are_reported_with_their_location() {
    let project = Project::new();
    project.file("inventory/test.ini", "[web]\nweb1 ansible_host=127.0.0.1\n");
    for (tasks, at, says) in [
        (
            "    - set_fact: {}\n",
            "site.yml:3:17",
            "`set_fact` sets no variable",
        ),
        (
            "    - set_fact: just words\n",
            "site.yml:3:17",
            "`set_fact` takes variables",
        ),
        (
            "    - set_fact: a=1\n      register: r\n",
            "site.yml:4:7",
            "register",
        ),
        (
            "    - command: 'true'\n      register: r\n    - set_fact: x={{ r.rc }}\n      loop: [1, 2]\n",
            "site.yml:6:13",
            "a loop over a `set_fact` set at run time",
        ),
    ] {
        project.file("site.yml", &format!("- hosts: web\n  tasks:\n{tasks}"));
        let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "--plan"]);
        assert_eq!(out.status, 2, "{tasks}\n{}\n{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(at), "{at}\n{}", out.stderr);
        assert!(out.stderr.contains(says), "{says}\n{}", out.stderr);
    }
}
