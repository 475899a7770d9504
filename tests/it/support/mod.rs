//! Test support: running the real `ferry` binary in a scratch project.

pub mod ferry;
