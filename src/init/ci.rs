//! `ferry init --ci github|gitlab`: a CI workflow that runs `ferry deploy`
//! on every push to main — the second way to deploy on push, for teams that
//! have CI (the first is `ferry remote add`). The SSH key, the hosts'
//! known_hosts lines and the stage's secrets come from the CI's secrets, and
//! are written to files, never put on a command line.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

const GITHUB: &str = include_str!("github.yml.in");
const GITLAB: &str = include_str!("gitlab-ci.yml.in");

/// The CI services ferry writes a workflow for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// GitHub Actions: `.github/workflows/deploy.yml`.
    Github,
    /// GitLab CI: `.gitlab-ci.yml`.
    Gitlab,
}

/// The workflow for `ci` that deploys `stage` of the project in `dir`: its
/// path (at the top of the repository, where the CI reads it) and text.
pub fn workflow(dir: &Path, ci: Ci, stage: &str) -> Result<(PathBuf, String), Diagnostic> {
    let (top, subdir) = repository_top(dir);
    let (path, template) = match ci {
        Ci::Github => (top.join(".github/workflows/deploy.yml"), GITHUB),
        Ci::Gitlab => (top.join(".gitlab-ci.yml"), GITLAB),
    };
    if path.exists() {
        return Err(Diagnostic::plain(format!(
            "{} already exists: `ferry init` never overwrites a file",
            path.display()
        ))
        .with_help("move it aside to have it written anew, or add the deploy job to it by hand"));
    }
    let text = template
        .replace("@stage@", stage)
        .replace("@version@", env!("FERRY_VERSION"))
        .replace("@dir@", if subdir.is_empty() { "." } else { &subdir });
    Ok((path, text))
}

/// The top of the git repository holding `dir`, and `dir` inside it (empty
/// at the top); `dir` itself when it is in no repository.
fn repository_top(dir: &Path) -> (PathBuf, String) {
    let found = git2::Repository::discover(dir).ok().and_then(|repo| {
        let top = repo.workdir()?.canonicalize().ok()?;
        let inside = dir.canonicalize().ok()?;
        let subdir = inside
            .strip_prefix(&top)
            .ok()?
            .to_string_lossy()
            .into_owned();
        Some((top, subdir))
    });
    found.unwrap_or_else(|| (dir.to_path_buf(), String::new()))
}

/// Writes the workflow, refusing (as [`workflow`] did) to replace a file.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(text.as_bytes())
}
