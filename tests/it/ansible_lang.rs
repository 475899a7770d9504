//! Ansible's playbook language as Ansible reads it: roles, includes by
//! path, `with_*` loops, free-form `key=value` arguments. Plans are checked
//! offline (`ferry playbook --plan --json`); each feature also runs on real
//! sshd hosts, twice, the second run changing nothing.

use serde_json::Value;

use crate::support::ferry::{Project, assert_changed_nothing, step_ends};
use crate::support::sshd::TestHosts;

const INVENTORY: &str = "[web]\nweb1 ansible_host=127.0.0.1\n";

/// The planned steps of the first host of the first play: `(name, step)`.
fn planned(project: &Project, playbook: &str) -> Vec<(String, Value)> {
    let out = project.ferry(&[
        "playbook",
        playbook,
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    plan["plays"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|play| {
            let host = &play["hosts"][0];
            host["steps"]
                .as_array()
                .unwrap()
                .iter()
                .chain(host["handlers"].as_array().into_iter().flatten())
                .cloned()
                .collect::<Vec<_>>()
        })
        .map(|step| (step["name"].as_str().unwrap().to_string(), step))
        .collect()
}

fn names(steps: &[(String, Value)]) -> Vec<&str> {
    steps.iter().map(|(n, _)| n.as_str()).collect()
}

/// A role with every part, used by the plan and the live tests.
fn web_role(project: &Project) {
    project
        .file(
            "roles/web/tasks/main.yml",
            "- name: config\n  template: {src: site.conf.j2, dest: \"{{ web_root }}/site.conf\", mode: \"0640\"}\n  notify: reload web\n- name: page\n  copy: {src: index.html, dest: \"{{ web_root }}/index.html\"}\n- include_tasks: marker.yml\n",
        )
        .file(
            "roles/web/tasks/marker.yml",
            "- name: marker for port {{ web_port }}\n  command: touch {{ web_root }}/marker\n  args: {creates: \"{{ web_root }}/marker\"}\n",
        )
        .file(
            "roles/web/handlers/main.yml",
            "- name: reload web\n  command: touch {{ web_root }}/reloaded\n",
        )
        .file("roles/web/defaults/main.yml", "web_port: 80\nweb_greeting: hello\n")
        .file("roles/web/vars/main.yml", "web_conf_name: site.conf\n")
        .file(
            "roles/web/templates/site.conf.j2",
            "listen {{ web_port }}\n# {{ web_greeting }} from {{ web_conf_name }}\n",
        )
        .file("roles/web/files/index.html", "<h1>role file</h1>\n")
        .file("roles/web/meta/main.yml", "galaxy_info: {author: test}\ndependencies:\n  - role: base\n")
        .file(
            "roles/base/tasks/main.yml",
            "- name: base dir\n  file: {path: \"{{ web_root }}\", state: directory}\n",
        );
}

#[test]
fn roles_are_read_with_ansibles_precedence_order_and_dependencies() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    // The scenario measured with ansible-playbook 2.x (see README): the
    // role's vars/ beat play vars; the role entry's `vars:` beat the role's
    // vars/ inside the role only; parameters beat task vars; defaults and
    // vars/ are seen by the whole play, parameters are not.
    project
        .file("roles/r/vars/main.yml", "a: role_vars\nb: role_vars\n")
        .file("roles/r/defaults/main.yml", "c: defaults\nd: defaults\n")
        .file(
            "roles/r/tasks/main.yml",
            "- name: in role a={{ a }} b={{ b }} c={{ c }} d={{ d }}\n  command: 'true'\n- name: task vars a={{ a }} d={{ d }}\n  command: 'true'\n  vars: {a: task, d: task}\n",
        )
        .file(
            "roles/dep/tasks/main.yml",
            "- name: dep runs once\n  command: 'true'\n",
        )
        .file("roles/r/meta/main.yml", "dependencies: [dep]\n")
        .file(
            "site.yml",
            "- hosts: web\n  vars: {c: play, b: play}\n  pre_tasks:\n    - name: pre\n      command: 'true'\n  roles:\n    - dep\n    - role: r\n      vars: {a: entry_vars}\n      d: param\n  tasks:\n    - name: after a={{ a }} b={{ b }} c={{ c }} d={{ d }}\n      command: 'true'\n  post_tasks:\n    - name: post\n      command: 'true'\n",
        );
    let steps = planned(&project, "site.yml");
    assert_eq!(
        names(&steps),
        [
            "pre",
            "dep runs once",
            "in role a=entry_vars b=role_vars c=play d=param",
            "task vars a=task d=param",
            "after a=role_vars b=role_vars c=play d=defaults",
            "post",
        ]
    );
}

#[test]
fn a_roles_files_templates_handlers_and_includes_are_found_beside_it() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    web_role(&project);
    // A file of the same name beside the playbook must not be the one used.
    project
        .file("files/index.html", "<h1>playbook file</h1>\n")
        .file(
            "site.yml",
            "- hosts: web\n  vars: {web_root: /srv/www}\n  roles:\n    - {role: web, web_port: 8080}\n",
        );
    let steps = planned(&project, "site.yml");
    assert_eq!(
        names(&steps),
        [
            "base dir",
            "config",
            "page",
            "marker for port 8080",
            "reload web"
        ]
    );
    let upload = |name: &str| {
        let step = &steps.iter().find(|(n, _)| n == name).unwrap().1;
        step["body"]["action"]["upload"]["from"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        upload("config").ends_with("roles/web/templates/site.conf.j2"),
        "{}",
        upload("config")
    );
    assert!(
        upload("page").ends_with("roles/web/files/index.html"),
        "{}",
        upload("page")
    );
}

#[test]
fn roles_path_of_ansible_cfg_is_searched_after_the_projects_roles() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    project
        .file("ansible.cfg", "[defaults]\nroles_path = ./shared:./more\n")
        .file(
            "more/common/tasks/main.yml",
            "- name: common from roles_path\n  command: 'true'\n",
        )
        .file(
            "shared/common/tasks/main.yml",
            "- name: common from the first roles_path entry\n  command: 'true'\n",
        )
        .file(
            "roles/local/tasks/main.yml",
            "- name: local role\n  command: 'true'\n",
        )
        .file(
            "site.yml",
            "- hosts: web\n  roles: [local, common]\n  tasks:\n    - include_role: {name: common}\n      vars: {x: 1}\n    - import_role: {name: local, tasks_from: other}\n",
        )
        .file(
            "roles/local/tasks/other.yml",
            "- name: local tasks_from other\n  command: 'true'\n",
        );
    let steps = planned(&project, "site.yml");
    assert_eq!(
        names(&steps),
        [
            "local role",
            "common from the first roles_path entry",
            "common from the first roles_path entry",
            "local tasks_from other",
        ]
    );
}

#[test]
fn include_tasks_import_tasks_include_vars_and_import_playbook_by_path() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    project
        .file(
            "site.yml",
            "- import_playbook: plays/first.yml\n- hosts: web\n  tasks:\n    - include_vars: vars/app.yml\n    - include_vars: {file: vars/app.yml, name: app}\n    - name: vars {{ app_name }} {{ app.app_name }}\n      command: 'true'\n      vars: {app_name: below include_vars}\n    - import_tasks: tasks/setup.yml\n    - include_tasks:\n        file: tasks/setup.yml\n      vars: {what: again}\n",
        )
        .file(
            "plays/first.yml",
            "- hosts: web\n  tasks:\n    - include_tasks: inner.yml\n",
        )
        .file(
            "plays/inner.yml",
            "- name: beside the imported playbook\n  command: 'true'\n",
        )
        .file("vars/app.yml", "app_name: shop\n")
        .file(
            "tasks/setup.yml",
            "- name: setup {{ what | default('once') }}\n  command: 'true'\n- include_tasks: nested.yml\n",
        )
        .file(
            "tasks/nested.yml",
            "- name: nested beside its includer\n  command: 'true'\n",
        );
    let steps = planned(&project, "site.yml");
    assert_eq!(
        names(&steps),
        [
            "beside the imported playbook",
            "vars shop shop",
            "setup once",
            "nested beside its includer",
            "setup again",
            "nested beside its includer",
        ]
    );
}

#[test]
fn a_role_runs_on_hosts_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    web_role(&project);
    project.file(
        "site.yml",
        "- hosts: web\n  vars: {web_root: \"{{ deploy_to }}/www\"}\n  roles:\n    - {role: web, vars: {web_greeting: bonjour}}\n",
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let ends = step_ends(&events);
    for h in &hosts.hosts {
        let root = h.dir.join("app/www");
        assert_eq!(
            std::fs::read_to_string(root.join("site.conf")).unwrap(),
            "listen 80\n# bonjour from site.conf\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("index.html")).unwrap(),
            "<h1>role file</h1>\n"
        );
        assert!(root.join("marker").is_file());
        assert!(root.join("reloaded").is_file(), "the role's handler ran");
        assert!(ends.contains(&(h.name.clone(), "config".into(), "changed".into())));
    }

    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let ends = step_ends(&events);
    let changed: Vec<_> = ends.iter().filter(|(_, _, s)| s == "changed").collect();
    assert!(changed.is_empty(), "second run changed {changed:?}");
    assert!(
        !ends.iter().any(|(_, n, _)| n == "reload web"),
        "no handler on the second run: {ends:?}"
    );
}

#[test]
fn with_lookups_give_the_items_ansible_gives() {
    let project = Project::new();
    let fixture = crate::support::ferry::repo_root().join("tests/fixtures/ansible_lang/loops");
    crate::support::ferry::copy_dir(&fixture, project.path());
    project.file("inventory/test.ini", INVENTORY);
    let messages: Vec<String> = planned(&project, "site.yml")
        .iter()
        .map(|(_, step)| step["body"]["action"]["msg"].as_str().unwrap().to_string())
        .collect();
    let expected = std::fs::read_to_string(fixture.join("ansible-output.txt")).unwrap();
    let expected: Vec<&str> = expected.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(messages, expected);
    let labels: Vec<String> = planned(&project, "site.yml")
        .iter()
        .filter_map(|(_, step)| step["label"].as_str().map(String::from))
        .collect();
    assert_eq!(labels, ["alice", "bob", "carol"]);
}

#[test]
fn with_loops_run_on_hosts_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project
        .file("files/conf.d/a.conf", "a\n")
        .file("files/conf.d/b.conf", "b\n")
        .file("files/conf.d/skip.txt", "not a .conf\n")
        .file(
            "site.yml",
            "- hosts: web\n  vars:\n    dirs: [logs, tmp, cache]\n    env: {NAME: shop, PORT: 8000}\n  tasks:\n    - file: {path: \"{{ deploy_to }}/{{ item }}\", state: directory}\n      with_items: [conf, \"{{ dirs }}\"]\n    - copy: {src: \"{{ item }}\", dest: \"{{ deploy_to }}/conf/\"}\n      with_fileglob: conf.d/*.conf\n    - copy: {content: \"{{ item.value }}\\n\", dest: \"{{ deploy_to }}/conf/{{ item.key }}\"}\n      with_dict: \"{{ env }}\"\n    - file: {path: \"{{ deploy_to }}/{{ item }}\", state: directory}\n      with_sequence: start=1 end=2 format=worker%d\n      loop_control: {label: \"worker {{ item }}\"}\n",
        );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(step_ends(&events).iter().any(|(_, _, s)| s == "changed"));
    for h in &hosts.hosts {
        let app = h.dir.join("app");
        for dir in ["logs", "tmp", "cache", "worker1", "worker2"] {
            assert!(app.join(dir).is_dir(), "{dir} on {}", h.name);
        }
        assert_eq!(
            std::fs::read_to_string(app.join("conf/a.conf")).unwrap(),
            "a\n"
        );
        assert_eq!(
            std::fs::read_to_string(app.join("conf/b.conf")).unwrap(),
            "b\n"
        );
        assert!(!app.join("conf/skip.txt").exists());
        // As ansible-playbook does (measured): a value's template drops its
        // trailing newline.
        assert_eq!(
            std::fs::read_to_string(app.join("conf/PORT")).unwrap(),
            "8000"
        );
    }
    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);
}

/// Before free-form arguments were read as Ansible reads them, `chdir=`,
/// `creates=` and the like were run as words of the command: the command ran
/// in the wrong directory, every time, with its options as arguments.
#[test]
fn free_form_command_options_were_run_as_part_of_the_command() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project.file("files/app.conf", "port=8000\n").file(
        "site.yml",
        "- hosts: web\n  tasks:\n    - file: path={{ deploy_to }}/work state=directory mode=0750\n    - copy: src=app.conf dest={{ deploy_to }}/work/app.conf mode=0640\n    - name: build once\n      shell: echo \"built in $(pwd)\" >> build.log chdir={{ deploy_to }}/work creates={{ deploy_to }}/work/build.log\n    - command: touch stamp chdir={{ deploy_to }}/work removes={{ deploy_to }}/work/nothing-here\n    - debug: msg=\"hello {{ inventory_hostname }}\"\n",
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for h in &hosts.hosts {
        let work = h.dir.join("app/work");
        let log = std::fs::read_to_string(work.join("build.log")).unwrap();
        assert_eq!(log, format!("built in {}\n", work.display()));
        assert!(
            !work.join("stamp").exists(),
            "`removes` of a missing file skips"
        );
        assert_eq!(
            std::fs::read_to_string(work.join("app.conf")).unwrap(),
            "port=8000\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(work.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("app.conf"), 0o640);
        assert_eq!(mode("."), 0o750);
    }
    let debug = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "debug")
        .expect("a debug step");
    assert!(
        debug.to_string().contains("hello host"),
        "the message, not `msg=…`: {debug}"
    );

    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);
    for h in &hosts.hosts {
        let log = std::fs::read_to_string(h.dir.join("app/work/build.log")).unwrap();
        assert_eq!(
            log.lines().count(),
            1,
            "`creates` kept the second run from building"
        );
    }
}

/// Real public roles (tests/fixtures/ansible_roles/SOURCES.md), planned as
/// they are: ferry reads their roles, dependencies, includes, loops and
/// free-form arguments, and stops — before connecting, at the task's
/// file:line:col — at the first thing it does not have yet (a module, a
/// lookup). When ferry gains one, the expected line moves on.
#[test]
fn real_roles_plan_or_stop_at_their_first_unsupported_feature() {
    let cases = [
        (
            "swap",
            "site.yml",
            "error: unknown module `mount` at ./roles/geerlingguy.swap/tasks/main.yml:3:3",
        ),
        (
            "supervisor",
            "site.yml",
            "error: the lookup loop `with_first_found` is not supported at ./roles/geerlingguy.supervisor/tasks/main.yml:4:3",
        ),
        (
            "ansistrano/my-playbook",
            "deploy.yml",
            "error: the file name `{{ ansistrano_before_setup_tasks_file | default('empty.yml') }}` is a template: ferry reads every include before connecting, so it cannot depend on a host's variables at ./roles/ansistrano.deploy/tasks/main.yml:7:22",
        ),
    ];
    let root = crate::support::ferry::repo_root().join("tests/fixtures/ansible_roles");
    for (dir, playbook, first_line) in cases {
        let project = Project::new();
        crate::support::ferry::copy_dir(&root.join(dir.split('/').next().unwrap()), project.path());
        let here = project
            .path()
            .join(dir.split_once('/').map_or("", |(_, rest)| rest));
        let out = crate::support::ferry::run_ferry(
            &here,
            &["playbook", playbook, "-i", "hosts", "--plan"],
        );
        assert_eq!(out.status, 2, "{dir}: {}\n{}", out.stdout, out.stderr);
        assert_eq!(
            out.stderr.lines().next(),
            Some(first_line),
            "{dir}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn blocks_remote_user_and_legacy_sudo_are_read_as_ansible_reads_them() {
    let project = Project::new();
    project.file(
        "inventory/test.ini",
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.1 ansible_user=ops\n",
    );
    project.file(
        "site.yml",
        "- hosts: web\n  remote_user: \"{{ deploy_user }}\"\n  vars: {deploy_user: deployer, shown: play}\n  tasks:\n    - block:\n        - name: in block {{ shown }}\n          command: 'true'\n        - name: skipped with the block\n          command: 'true'\n          when: false\n      when: inventory_hostname == 'web1'\n      vars: {shown: block}\n      become: true\n      become_user: www-data\n    - name: legacy sudo\n      command: 'true'\n      sudo: yes\n      sudo_user: postgres\n",
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
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let hosts = plan["plays"][0]["hosts"].as_array().unwrap();
    let (web1, web2) = (&hosts[0], &hosts[1]);
    // The inventory's ansible_user wins over the play's remote_user.
    assert_eq!(web1["connection"]["user"], "deployer");
    assert_eq!(web2["connection"]["user"], "ops");
    let step = |host: &Value, i: usize| host["steps"][i].clone();
    assert_eq!(step(web1, 0)["name"], "in block block");
    assert_eq!(step(web1, 0)["become_user"], "www-data");
    assert_eq!(step(web1, 1)["body"]["state"], "skipped");
    assert_eq!(step(web2, 0)["body"]["state"], "skipped");
    assert_eq!(step(web1, 2)["name"], "legacy sudo");
    assert_eq!(step(web1, 2)["become_user"], "postgres");
}

#[test]
fn a_block_with_pre_and_post_tasks_runs_on_hosts_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    // No user in the inventory: the play's remote_user is who ferry connects as.
    let mut inventory = hosts.inventory_ini("web");
    inventory = inventory.replace(&format!(" ansible_user={}", hosts.hosts[0].user), "");
    project.file("inventory/test.ini", &inventory);
    project.file(
        "site.yml",
        &format!(
            "- hosts: web\n  remote_user: {}\n  pre_tasks:\n    - file: path={{{{ deploy_to }}}} state=directory\n  tasks:\n    - block:\n        - copy: content=\"{{{{ who }}}}\\n\" dest={{{{ deploy_to }}}}/who\n        - shell: id -un > {{{{ deploy_to }}}}/user creates={{{{ deploy_to }}}}/user\n      vars: {{who: block}}\n      when: deploy_to is defined\n  post_tasks:\n    - file: path={{{{ deploy_to }}}}/done state=touch\n      when: false\n",
            hosts.hosts[0].user
        ),
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, _) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for h in &hosts.hosts {
        let app = h.dir.join("app");
        assert_eq!(std::fs::read_to_string(app.join("who")).unwrap(), "block");
        assert_eq!(
            std::fs::read_to_string(app.join("user")).unwrap().trim(),
            h.user
        );
        assert!(!app.join("done").exists());
    }
    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);

    // The play's remote_user is who ferry logs in as: another user is refused.
    let site = std::fs::read_to_string(project.path().join("site.yml")).unwrap();
    project.file(
        "site.yml",
        &site.replace(
            &format!("remote_user: {}", hosts.hosts[0].user),
            "remote_user: nobody-here",
        ),
    );
    let out = project.ferry(&args);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("nobody-here"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn includes_by_path_run_on_hosts_and_the_second_run_changes_nothing() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    project
        .file("site.yml", "- import_playbook: plays/setup.yml\n- import_playbook: plays/app.yml\n")
        .file(
            "plays/setup.yml",
            "- hosts: web\n  tasks:\n    - import_tasks: ../tasks/dirs.yml\n",
        )
        .file(
            "plays/app.yml",
            "- hosts: web\n  tasks:\n    - include_vars: ../vars/app.yml\n    - include_tasks: ../tasks/config.yml\n",
        )
        .file("vars/app.yml", "app_port: 8123\n")
        .file(
            "tasks/dirs.yml",
            "- file: path={{ deploy_to }}/etc state=directory\n",
        )
        .file(
            "tasks/config.yml",
            "- copy: content=\"port={{ app_port }}\" dest={{ deploy_to }}/etc/app.conf\n",
        );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, _) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    for h in &hosts.hosts {
        assert_eq!(
            std::fs::read_to_string(h.dir.join("app/etc/app.conf")).unwrap(),
            "port=8123"
        );
    }
    let (out, events) = project.ferry_json(&args);
    assert_changed_nothing(&out, &events);
}

/// The messages `debug` prints, in order: from `ansible-playbook` output
/// (`"msg": "…"` lines) or from ferry's plan.
pub(crate) fn ansible_messages(project: &Project, playbook: &str) -> Vec<String> {
    let ansible = crate::inventory_ansible::Ansible::get();
    let inventory = project.path().join("ansible.ini");
    std::fs::write(&inventory, "[web]\nweb1 ansible_connection=local\n").unwrap();
    let output = ansible
        .command(
            "ansible-playbook",
            &[
                "-i",
                inventory.to_str().unwrap(),
                project.path().join(playbook).to_str().unwrap(),
            ],
        )
        .env("ANSIBLE_GATHERING", "explicit")
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

pub(crate) fn ferry_messages(project: &Project, playbook: &str) -> Vec<String> {
    planned(project, playbook)
        .iter()
        .filter_map(|(_, step)| step["body"]["action"]["msg"].as_str().map(String::from))
        .collect()
}

/// ferry's plan and a real `ansible-playbook` run print the same `debug`
/// messages for roles (precedence, dependencies, parameters), every
/// `with_*` loop and free-form `debug: msg=…`.
#[test]
fn ferry_plans_the_messages_ansible_prints() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    project
        .file("roles/r/vars/main.yml", "a: role_vars\nb: role_vars\n")
        .file("roles/r/defaults/main.yml", "c: defaults\nd: defaults\n")
        .file(
            "roles/r/tasks/main.yml",
            "- debug: msg=\"in role a={{ a }} b={{ b }} c={{ c }} d={{ d }}\"\n- debug: {msg: \"task vars a={{ a }} d={{ d }}\"}\n  vars: {a: task, d: task}\n- include_tasks: more.yml\n",
        )
        .file(
            "roles/r/tasks/more.yml",
            "- debug: msg=\"included {{ role_path | basename }} {{ item }}\"\n  with_items: [1, [2, 3]]\n",
        )
        .file("roles/dep/tasks/main.yml", "- debug: msg=\"dep once\"\n")
        .file("roles/r/meta/main.yml", "dependencies: [dep]\n")
        .file(
            "site.yml",
            "- hosts: web\n  vars: {c: play, b: play}\n  pre_tasks:\n    - debug: msg=pre\n  roles:\n    - dep\n    - role: r\n      vars: {a: entry_vars}\n      d: param\n  tasks:\n    - debug: msg=\"after a={{ a }} b={{ b }} c={{ c }} d={{ d }}\"\n    - block:\n        - debug: msg=\"in block {{ x }}\"\n      vars: {x: 1}\n    - include_role: {name: dep}\n  post_tasks:\n    - debug: var=c\n",
        );
    let ansible = ansible_messages(&project, "site.yml");
    let ferry = ferry_messages(&project, "site.yml");
    // `debug: var=c` prints the variable, not a message: both skip it here.
    assert_eq!(ferry[..ferry.len() - 1], ansible[..], "ferry: {ferry:#?}");
    assert_eq!(ferry.last().map(String::as_str), Some("c = \"play\""));

    let loops = Project::new();
    let fixture = crate::support::ferry::repo_root().join("tests/fixtures/ansible_lang/loops");
    crate::support::ferry::copy_dir(&fixture, loops.path());
    loops.file("inventory/test.ini", INVENTORY);
    // with_fileglob: Ansible gives directory order, ferry name order.
    let sorted_globs = |mut messages: Vec<String>| {
        let at: Vec<usize> = (0..messages.len())
            .filter(|&i| messages[i].starts_with("glob "))
            .collect();
        let mut globs: Vec<String> = at.iter().map(|&i| messages[i].clone()).collect();
        globs.sort();
        for (i, glob) in at.into_iter().zip(globs) {
            messages[i] = glob;
        }
        messages
    };
    assert_eq!(
        ferry_messages(&loops, "site.yml"),
        sorted_globs(ansible_messages(&loops, "site.yml"))
    );
}

/// `-e` is the highest precedence, but a task's `vars:` (and so a role's
/// `vars/` and parameters, and `include_vars`) were set over it.
#[test]
fn extra_vars_were_overridden_by_task_vars_role_vars_and_include_vars() {
    let project = Project::new();
    project.file("inventory/test.ini", INVENTORY);
    project
        .file("roles/r/vars/main.yml", "a: role_vars\n")
        .file(
            "roles/r/tasks/main.yml",
            "- name: role a={{ a }} b={{ b }}\n  command: 'true'\n",
        )
        .file("more.yml", "c: include_vars\n")
        .file(
            "site.yml",
            "- hosts: web\n  roles:\n    - {role: r, b: param}\n  tasks:\n    - name: task d={{ d }}\n      command: 'true'\n      vars: {d: task}\n    - include_vars: more.yml\n    - name: after c={{ c }}\n      command: 'true'\n",
        );
    let out = project.ferry(&[
        "playbook",
        "site.yml",
        "-i",
        "inventory/test.ini",
        "--plan",
        "--json",
        "-e",
        "a=cli",
        "-e",
        "b=cli",
        "-e",
        "c=cli",
        "-e",
        "d=cli",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = plan["plays"][0]["hosts"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["role a=cli b=cli", "task d=cli", "after c=cli"]);
}
