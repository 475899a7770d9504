//! The `user` and `group` modules on a real server, as `deploy` through
//! sudo: a group and a user with a shell, groups and a password hash made,
//! changed, and removed — each run twice, each predicted by `--check`.

use super::{checked_run, project_on};
use crate::support::fleet::Fleet;

/// `openssl passwd -6 -salt ferrysalt app-pass`.
const HASH: &str = "$6$ferrysalt$bntqdrYVsM1PeLjH7Gc5H9/84cBSvLtfZqeY8Yco5Qz0D0dbF8qnibrJoV3RoAH3NmGNVRUJVKt/HE9Ekfw/21";

#[test]
fn user_and_group_make_change_and_remove_accounts_and_check_mode_predicts_it() {
    let fleet = Fleet::spec().server("web1", &[]).start();
    let project = project_on(&fleet, &["web1"]);
    let play = |tasks: &str| format!("- hosts: web\n  become: true\n  tasks:\n{tasks}");
    let account = || {
        fleet.root(
            "web1",
            "getent passwd app; id -nG app; getent shadow app | cut -d: -f2; true",
        )
    };

    let make = format!(
        "    - name: group\n      group: {{ name: app, gid: 2001 }}\n    - name: user\n      ansible.builtin.user:\n        name: app\n        uid: 2001\n        group: app\n        groups: [sudo]\n        shell: /bin/bash\n        password: \"{HASH}\"\n"
    );
    let did = checked_run(&project, "make.yml", &play(&make));
    assert_eq!(did.len(), 2, "{did:?}");
    let now = account();
    assert!(
        now.starts_with("app:x:2001:2001::/home/app:/bin/bash\napp sudo\n"),
        "{now}"
    );
    assert!(now.ends_with(&format!("{HASH}\n")), "{now}");
    assert!(fleet.root("web1", "stat -c %U /home/app").trim() == "app");

    // Another shell and one more group: only the user changes.
    let change = make
        .replace("/bin/bash", "/bin/sh")
        .replace("[sudo]", "[sudo, users]");
    let did = checked_run(&project, "change.yml", &play(&change));
    assert_eq!(did.len(), 1, "{did:?}");
    assert!(
        account().contains(":/bin/sh\napp sudo users\n"),
        "{}",
        account()
    );

    // Removed with its home; Debian's userdel takes the user's own group
    // with it, so removing the group then finds nothing to do.
    let remove = "    - name: user\n      user: { name: app, state: absent, remove: true }\n";
    let did = checked_run(&project, "remove.yml", &play(remove));
    assert_eq!(did.len(), 1, "{did:?}");
    assert_eq!(account().trim(), "");
    assert_eq!(fleet.root("web1", "ls /home").trim(), "deploy");
    let group = "    - name: group\n      group: { name: app, state: absent }\n";
    assert!(checked_run(&project, "group.yml", &play(group)).is_empty());
}
