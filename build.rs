//! The built-in playbooks and templates are compiled into the binary
//! (`include_dir!`), which cargo does not track: rebuild when they change.
//!
//! `ferry --version` names the commit it was built from: read from git
//! when the crate is its own work tree's top, so that a tarball unpacked
//! inside some other repository does not claim that repository's commit.
//! Outside git the version is the crate's alone, unless the packager gives
//! the commit as `FERRY_COMMIT`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=playbooks");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-env-changed=FERRY_COMMIT");
    let version = env!("CARGO_PKG_VERSION");
    let commit = std::env::var("FERRY_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    match commit {
        Some(commit) => println!(
            "cargo:rustc-env=FERRY_VERSION={version} ({})",
            commit.trim()
        ),
        None => println!("cargo:rustc-env=FERRY_VERSION={version}"),
    }
}

/// The short commit of HEAD, and the files whose change moves it (HEAD, the
/// branch's ref, packed-refs) registered for a rebuild; `None` when the
/// crate is not the top of a git work tree or git is not installed.
fn git_commit() -> Option<String> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let top = git(&dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(&dir).ok()? {
        return None;
    }
    let commit = git(&dir, &["rev-parse", "--short=12", "HEAD"])?;
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(
            &dir,
            &["rev-parse", "--path-format=absolute", "--git-path", &name],
        ) && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(commit)
}

/// `git ARGS` in `dir`: its first line, if it succeeded.
fn git(dir: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim().to_string();
    (out.status.success() && !line.is_empty()).then_some(line)
}
