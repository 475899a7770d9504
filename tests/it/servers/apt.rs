//! The `apt` module on a real Debian server, as `deploy` through sudo,
//! against a repository served over HTTP on the server's own address (the
//! network stays on loopback) holding a package this test builds with
//! dpkg-deb: installed,
//! upgraded to the latest version, removed and purged — each step's second
//! run `ok`, and `--check` predicting exactly what the run then changes.

use super::{WEB, checked_run, project_on};
use crate::support::fleet::Fleet;

/// Builds `ferry-hello` at `$1` into /srv/repo and indexes the repository.
pub(super) const PUBLISH: &str = r#"set -e
mkdir -p /srv/repo && cd /srv/repo
d=$(mktemp -d)
mkdir -p "$d/DEBIAN" "$d/usr/share/ferry-hello"
printf 'Package: ferry-hello\nVersion: %s\nArchitecture: all\nMaintainer: ferry tests <t@example.invalid>\nDescription: a package for the apt tests\n' "$1" >"$d/DEBIAN/control"
echo "$1" >"$d/usr/share/ferry-hello/version"
dpkg-deb -b "$d" "ferry-hello_$1_all.deb" >/dev/null
for f in *.deb; do
  dpkg-deb -f "$f"
  echo "Filename: ./$f"
  echo "Size: $(stat -c %s "$f")"
  echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"
  echo
done >Packages
"#;

#[test]
fn apt_installs_upgrades_and_removes_a_package_and_check_mode_predicts_it() {
    let fleet = Fleet::spec().server("web1", WEB).start();
    // Only the local repository: `apt-get update` must not leave loopback.
    let address = &fleet.server("web1").address;
    fleet.root_with_input("web1", "sh -s 1.0", PUBLISH);
    fleet.root(
        "web1",
        &format!(
            "mv /etc/apt/sources.list /etc/apt/sources.list.off 2>/dev/null; rm -f /etc/apt/sources.list.d/*; \
             echo 'deb [trusted=yes] http://{address}:8080 ./' >/etc/apt/sources.list.d/local.list; \
             touch -d '2 days ago' /var/lib/apt/lists; \
             systemd-run --quiet --unit=repo python3 -m http.server --bind {address} --directory /srv/repo 8080"
        ),
    );
    let project = project_on(&fleet, &["web1"]);
    let round = |file: &str, tasks: &str| {
        checked_run(
            &project,
            file,
            &format!("- hosts: web\n  become: true\n  tasks:\n{tasks}"),
        )
    };
    let version = || {
        fleet.root(
            "web1",
            "dpkg-query -W -f='${db:Status-Status} ${Version}' ferry-hello 2>/dev/null || true",
        )
    };

    // Installed, the index refreshed first since it is two days old.
    let did = round(
        "install.yml",
        "    - name: hello\n      apt: { name: ferry-hello, update_cache: true, cache_valid_time: 3600 }\n",
    );
    assert_eq!(did.len(), 1, "{did:?}");
    assert_eq!(version(), "installed 1.0");

    // 2.0 published: `present` is satisfied by 1.0, `latest` upgrades.
    fleet.root_with_input("web1", "sh -s 2.0", PUBLISH);
    let did = round(
        "present.yml",
        "    - name: hello\n      ansible.builtin.apt: { name: [ferry-hello], state: present }\n",
    );
    assert!(did.is_empty(), "{did:?}");
    // Until the index is refreshed, 1.0 is the latest apt knows of: the
    // refresh belongs to the same task, so that `--check` sees it coming.
    let did = round(
        "latest.yml",
        "    - name: hello\n      apt: { name: ferry-hello, state: latest }\n",
    );
    assert!(did.is_empty(), "{did:?}");
    fleet.root(
        "web1",
        "touch -d '2 days ago' /var/lib/apt/periodic/update-success-stamp",
    );
    let did = round(
        "refresh.yml",
        "    - name: hello\n      apt: { name: ferry-hello, state: latest, update_cache: yes, cache_valid_time: 3600 }\n",
    );
    assert_eq!(did.len(), 1, "{did:?}");
    assert_eq!(version(), "installed 2.0");

    // Removed keeps its configuration known to dpkg; purged forgets it.
    let did = round(
        "absent.yml",
        "    - name: hello\n      apt: { name: ferry-hello, state: absent, purge: true }\n",
    );
    assert_eq!(did.len(), 1, "{did:?}");
    assert_eq!(version(), "");
}
