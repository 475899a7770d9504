//! Runs the real `ferry` binary in a directory of files written by the test,
//! with the user's environment stripped so that nothing on this machine
//! (an ~/.ssh/config, a FERRY_ variable) changes the outcome.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch project directory.
pub struct Project {
    dir: tempfile::TempDir,
}

/// What a run of `ferry` did.
#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `text` to `relative` (creating directories).
    pub fn file(&self, relative: &str, text: &str) -> &Project {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Runs `ferry ARGS` in the project directory.
    pub fn ferry(&self, args: &[&str]) -> Output {
        run_ferry(self.dir.path(), args)
    }
}

/// Runs `ferry ARGS` in `dir`.
pub fn run_ferry(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(ferry_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .expect("run ferry");
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn ferry_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferry"))
}

/// The repository's root (for examples/ and fixtures).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
