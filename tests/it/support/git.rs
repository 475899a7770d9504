//! Git repositories for test projects: one committer identity, so a test
//! never depends on this machine's git configuration.

use std::path::Path;
use std::process::Command;

use super::succeed;

/// Runs `git ARGS` in `dir` as the test committer and returns its stdout,
/// trimmed; panics with git's stderr when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    succeed(command(dir).args(args))
}

/// `git` in `dir` as the test committer, for a caller that sets more
/// (an environment variable) before running it.
pub fn command(dir: &Path) -> Command {
    let mut git = Command::new("git");
    git.args([
        "-c",
        "user.name=ferry",
        "-c",
        "user.email=ferry@example.invalid",
    ])
    .current_dir(dir);
    git
}

/// Commits everything in `dir` as `message`, making `dir` a repository on
/// branch `main` first if it is not one, and returns the new commit.
pub fn commit_all(dir: &Path, message: &str) -> String {
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q", "-b", "main"]);
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}
