//! Test support: the real `ferry` binary in scratch projects, and real
//! OpenSSH sshd hosts on loopback.

// Not every test module uses every helper.
#![allow(dead_code)]

pub mod apps;
pub mod checked;
pub mod events;
pub mod ferry;
pub mod fleet;
pub mod git;
pub mod listing;
pub mod nginx;
pub mod pebble;
pub mod sshd;
pub mod tty;

/// Runs a program to its end and returns its stdout, trimmed; panics with
/// its stderr when it fails (test setup that must work: git, chattr, ...).
pub fn succeed(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
