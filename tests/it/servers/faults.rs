//! Real servers failing the ways VPSes fail, with the fleet's helpers: one
//! cut off the network (nftables drops its packets: connections hang, they
//! are not refused), one frozen mid-deploy (every process stopped), one
//! shut down. No host switches unless all can; healed, a redeploy brings
//! the whole fleet to the new release.

use crate::support::ferry::Project;
use crate::support::fleet::Fleet;
use crate::support::git::commit_all;

const PLAYBOOK: &str = r#"- hosts: web
  tasks:
    - release.upload: {}
    - name: Build
      shell: >-
        touch {{ deploy_to }}/ARRIVED;
        while [ -e {{ deploy_to }}/HOLD ]; do sleep 0.1; done
      args: { chdir: "{{ release_path }}" }
    - release.switch: {}
    - release.cleanup: {}
"#;

const ALL: &[&str] = &["web1", "web2", "web3"];

/// The release `current` names on each of `servers` ("" when none).
fn serving(fleet: &Fleet, servers: &[&str]) -> Vec<String> {
    servers
        .iter()
        .map(|name| {
            fleet
                .root(name, "readlink /home/deploy/app/current || true")
                .trim()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn deploy(project: &Project) -> crate::support::ferry::Output {
    project.ferry(&["deploy", "test"])
}

fn commit(project: &Project, version: &str) {
    project.file("app.py", &format!("VERSION = {version:?}\n"));
    commit_all(project.path(), version);
}

#[test]
fn a_server_cut_off_frozen_or_down_switches_nobody_and_a_redeploy_heals() {
    let mut fleet = Fleet::spec()
        .server("web1", &[])
        .server("web2", &[])
        .server("web3", &[])
        .start();
    let project = Project::new();
    project.file(
        "inventory/test.yml",
        &fleet.inventory(
            "deploy",
            &[("web", &["web1", "web2", "web3"])],
            "    deploy_to: /home/deploy/app\n",
        ),
    );
    project.file(
        ".ssh/known_hosts",
        &std::fs::read_to_string(&fleet.known_hosts).unwrap(),
    );
    project.file("deploy.yml", PLAYBOOK);
    project.file(".gitignore", ".ssh/\n");
    commit(&project, "v1");
    let out = deploy(&project);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let v1 = serving(&fleet, ALL);
    assert!(v1.iter().all(|r| !r.is_empty() && *r == v1[0]), "{v1:?}");

    // Cut off: the connection to web2 hangs until it times out.
    commit(&project, "v2");
    fleet.cut("web2");
    let out = deploy(&project);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(out.stdout.contains("web2"), "{}", out.stdout);
    fleet.heal();
    assert_eq!(
        serving(&fleet, ALL),
        v1,
        "a host switched with web2 cut off"
    );

    // Frozen at its build step: the others wait at the barrier until the
    // keepalives give web3 up, then nobody switches.
    fleet.root("web3", "touch /home/deploy/app/HOLD");
    let mut ferry = crate::support::ferry::spawn_ferry(project.path(), &["deploy", "test"]);
    let arrived = std::time::Instant::now();
    while fleet
        .root("web3", "ls /home/deploy/app")
        .lines()
        .all(|l| l != "ARRIVED")
    {
        assert!(
            arrived.elapsed().as_secs() < 60,
            "web3 never reached its build step"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    fleet.freeze("web3");
    let status = ferry.wait().unwrap();
    fleet.thaw("web3");
    assert!(!status.success());
    assert_eq!(serving(&fleet, ALL), v1, "a host switched with web3 frozen");
    fleet.root(
        "web3",
        "rm -f /home/deploy/app/HOLD /home/deploy/app/ARRIVED",
    );
    // The lock ferry could not release on the frozen host is named stale,
    // with the way out; `unlock` takes it.
    let out = deploy(&project);
    assert_eq!(out.status, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("web3: deploy lock held"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("the lock is stale"), "{}", out.stderr);
    let out = project.ferry(&["unlock", "test"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(serving(&fleet, ALL), v1);

    // Down (shut down cleanly): unreachable, nobody switches.
    fleet.stop("web1");
    let out = deploy(&project);
    assert_ne!(out.status, 0, "{}", out.stdout);
    assert!(out.stdout.contains("web1"), "{}", out.stdout);

    // web1 stays down; web2 and web3 healed: a redeploy without web1
    // (`--limit`) brings those two to v2, and nothing is left half done.
    let out = project.ferry(&["deploy", "test", "--limit", "web2,web3"]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let now = serving(&fleet, &["web2", "web3"]);
    assert!(now.iter().all(|r| r != &v1[0]), "{now:?}");
}
