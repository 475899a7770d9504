//! Facts on a real Debian server: what ferry's one-round-trip POSIX gather
//! reports agrees with what ansible-playbook's `setup` module gathers on
//! the same server, fact by fact; and a playbook that branches on them
//! runs, twice, the second time changing nothing.

use serde_json::Value;

use super::{checked_run, project_on};
use crate::support::fleet::Fleet;

/// The facts both must agree on exactly.
const SAME: &[&str] = &[
    "os_family",
    "distribution",
    "distribution_version",
    "distribution_major_version",
    "distribution_release",
    "hostname",
    "fqdn",
    "domain",
    "nodename",
    "default_ipv4",
    "all_ipv4_addresses",
    "architecture",
    "machine",
    "kernel",
    "kernel_version",
    "system",
    "processor_vcpus",
    "processor_cores",
    "processor_count",
    "processor_threads_per_core",
    "processor_nproc",
    "memtotal_mb",
    "service_mgr",
    "pkg_mgr",
    "python_version",
    "user_id",
    "user_uid",
    "user_gid",
    "user_dir",
    "user_shell",
    "lsb",
    "virtualization_type",
    "virtualization_role",
];

#[test]
fn ferrys_facts_agree_with_ansibles_on_a_debian_server() {
    let fleet = Fleet::spec().server("web1", &["python3"]).start();
    let project = project_on(&fleet, &["web1"]);

    // Ansible's, from its `setup` module over ssh as `deploy`.
    let ansible = crate::inventory_ansible::Ansible::get();
    let inventory = project.path().join("inventory/test.yml");
    let started = std::time::Instant::now();
    let out = ansible
        .command(
            "ansible",
            &["-i", inventory.to_str().unwrap(), "web1", "-m", "setup"],
        )
        .env(
            "ANSIBLE_SSH_ARGS",
            format!("-o UserKnownHostsFile={}", fleet.known_hosts.display()),
        )
        .output()
        .expect("run ansible");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ansible setup failed:\n{stdout}");
    eprintln!("ansible -m setup: {:?}", started.elapsed());
    let script =
        std::fs::read_to_string(crate::support::ferry::repo_root().join("src/run/facts.sh"))
            .unwrap();
    let timed = fleet.root_with_input(
        "web1",
        "s=$(date +%s%N); su deploy -c sh >/dev/null; echo $(( ($(date +%s%N) - s) / 1000000 ))",
        &script,
    );
    eprintln!("facts.sh on the server: {} ms", timed.trim());
    let theirs: Value = serde_json::from_str(&stdout[stdout.find('{').unwrap()..]).unwrap();
    let theirs = &theirs["ansible_facts"];

    // ferry's, as a template reads them in the plan (gathered, read-only).
    project.file(
        "facts.yml",
        "- hosts: web\n  tasks:\n    - debug: {msg: \"{{ ansible_facts | to_json }}\"}\n",
    );
    let started = std::time::Instant::now();
    let out = project.ferry(&[
        "playbook",
        "facts.yml",
        "-i",
        "inventory/test.yml",
        "--plan",
        "--json",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    project.file("none.yml", "- hosts: web\n  tasks: [{command: 'true'}]\n");
    let started = std::time::Instant::now();
    let none = project.ferry(&["playbook", "none.yml", "-i", "inventory/test.yml", "--plan"]);
    assert_eq!(none.status, 0, "{}\n{}", none.stdout, none.stderr);
    eprintln!(
        "ferry --plan: {elapsed:?} with a gather, {:?} without",
        started.elapsed()
    );
    let plan: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let msg = plan["plays"][0]["hosts"][0]["steps"][0]["body"]["action"]["msg"]
        .as_str()
        .unwrap();
    let ours: Value = serde_json::from_str(msg).unwrap();

    let mut differ = Vec::new();
    for name in SAME {
        if ours[name] != theirs[&format!("ansible_{name}")] {
            differ.push(format!(
                "{name}: ferry {} / ansible {}",
                ours[name],
                theirs[&format!("ansible_{name}")]
            ));
        }
    }
    assert!(differ.is_empty(), "facts differ:\n{}", differ.join("\n"));
    let missing: Vec<_> = SAME.iter().filter(|n| ours[**n].is_null()).collect();
    assert!(missing.is_empty(), "neither gathered {missing:?}");
    eprintln!(
        "agreed: {}",
        SAME.iter()
            .map(|n| format!("{n}={}", ours[*n]))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // What moves between the two gathers: close, not equal.
    // (Free memory swings with whatever else the machine runs.)
    let free = ours["memfree_mb"].as_u64().unwrap();
    assert!(free > 0 && free <= ours["memtotal_mb"].as_u64().unwrap());
    let epoch = |v: &Value| v["epoch"].as_str().unwrap().parse::<i64>().unwrap();
    assert!((epoch(&ours["date_time"]) - epoch(&theirs["ansible_date_time"])).abs() < 600);
    for key in ["tz", "tz_offset", "date", "year", "weekday"] {
        assert_eq!(
            ours["date_time"][key], theirs["ansible_date_time"][key],
            "date_time.{key}"
        );
    }
    // Ansible's interpreter discovery names `python3.11`, ferry `python3`:
    // the same interpreter.
    for key in ["version", "version_info", "type", "has_sslcontext"] {
        assert_eq!(
            ours["python"][key], theirs["ansible_python"][key],
            "python.{key}"
        );
    }
    for key in ["HOME", "USER", "LOGNAME", "SHELL"] {
        assert_eq!(ours["env"][key], theirs["ansible_env"][key], "env.{key}");
    }
    assert_eq!(
        ours["python"]["version"],
        theirs["ansible_python"]["version"]
    );

    // A playbook that branches on facts: run twice, the second changes
    // nothing; `--check` predicts the first.
    let did = checked_run(
        &project,
        "site.yml",
        "- hosts: web\n  tasks:\n    - copy:\n        dest: /home/deploy/os.txt\n        content: \"{{ ansible_distribution }} {{ ansible_distribution_major_version }} {{ ansible_default_ipv4.address | default('none') }}\\n\"\n      when: ansible_os_family == 'Debian' and ansible_service_mgr == 'systemd'\n",
    );
    assert_eq!(did.len(), 1, "{did:?}");
    assert_eq!(
        fleet.root("web1", "cat /home/deploy/os.txt"),
        format!(
            "Debian {} {}\n",
            theirs["ansible_distribution_major_version"]
                .as_str()
                .unwrap(),
            theirs["ansible_default_ipv4"]["address"]
                .as_str()
                .unwrap_or("none")
        )
    );
}
