//! Test support: the real `ferry` binary in scratch projects, and real
//! OpenSSH sshd hosts on loopback.

// Not every test module uses every helper.
#![allow(dead_code)]

pub mod apps;
pub mod ferry;
pub mod pebble;
pub mod sshd;
