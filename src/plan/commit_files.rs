//! What the commit being deployed holds, for templates: the functions
//! `release_files(pattern)` and `release_file(path)`.
//!
//! In a dry run the new release is not on the hosts — only the controller
//! has the commit — so a playbook that predicts what a step would do (which
//! migrations are new, whether the requirements changed) reads the commit
//! here and compares it with what the host recorded, by a read-only probe.
//! The same values render in a deploy, so the prediction and the deploy
//! decide from the same facts. The commit is read lazily, once per run: a
//! playbook that never calls these costs nothing, and a thousand hosts cost
//! one tree walk and one hash per file asked for.
//!
//! They render where the plan is compiled (and for steps rendered at run
//! time in a deploy or its dry run, which know the commit too).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::{Error, ErrorKind, Value};
use sha2::{Digest, Sha256};

use crate::release::Source;
use crate::template::Templates;

/// The commit a deploy ships, read on first use.
pub struct CommitFiles {
    /// Where to open it from when it is first asked for.
    dir: PathBuf,
    rev: Option<String>,
    /// `None` outside a git repository: no commit, no files.
    source: OnceLock<Result<Option<Source>, String>>,
    /// Answers already given, by argument: every host asks the same.
    listed: Mutex<HashMap<String, Value>>,
    described: Mutex<HashMap<String, Value>>,
}

impl CommitFiles {
    /// The commit `rev` (default `HEAD`) of the repository at or above `dir`.
    pub fn new(dir: PathBuf, rev: Option<&str>) -> Arc<CommitFiles> {
        Arc::new(CommitFiles {
            dir,
            rev: rev.map(str::to_string),
            source: OnceLock::new(),
            listed: Mutex::default(),
            described: Mutex::default(),
        })
    }

    /// The commit of a tree already read (a deploy's).
    pub fn of(source: Source) -> Arc<CommitFiles> {
        let files = CommitFiles::new(PathBuf::new(), None);
        let _ = files.source.set(Ok(Some(source)));
        files
    }

    /// Makes `release_files` and `release_file` callable from templates.
    pub fn register(self: &Arc<CommitFiles>, templates: &mut Templates) {
        let files = self.clone();
        templates.add_global(
            "release_files",
            Value::from_function(move |pattern: Option<String>| {
                files.files(pattern.as_deref().unwrap_or("*"))
            }),
        );
        let files = self.clone();
        templates.add_global(
            "release_file",
            Value::from_function(move |path: String| files.file(&path)),
        );
    }

    fn source(&self) -> Result<Option<&Source>, Error> {
        self.source
            .get_or_init(
                || match Source::open(&self.dir, self.rev.as_deref(), true) {
                    Ok(source) => Ok(Some(source)),
                    Err(crate::release::TreeError::NotARepository { .. }) => Ok(None),
                    Err(err) => Err(err.to_string()),
                },
            )
            .as_ref()
            .map(Option::as_ref)
            .map_err(|message| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read the commit to deploy: {message}"),
                )
            })
    }

    /// `release_files(pattern)`: the paths of the commit's files that match
    /// a shell-style pattern (`*` and `?`; `*` also matches `/`, as Python's
    /// `fnmatch` does), sorted; none outside a git repository.
    fn files(&self, pattern: &str) -> Result<Value, Error> {
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = listed.get(pattern) {
            return Ok(value.clone());
        }
        let paths: Vec<String> = self
            .source()?
            .into_iter()
            .flat_map(|source| &source.manifest().entries)
            .filter(|entry| matches(pattern, &entry.path))
            .map(|entry| entry.path.clone())
            .collect();
        let value = Value::from(paths);
        listed.insert(pattern.to_string(), value.clone());
        Ok(value)
    }

    /// `release_file(path)`: one file of the commit — `path`, `size`,
    /// `sha256` of its content (what `sha256sum` prints for it on the host
    /// once shipped) and `git_oid` — or `none` when the commit has no such
    /// file (or there is no commit: the project is not in git).
    fn file(&self, path: &str) -> Result<Value, Error> {
        let mut described = self.described.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = described.get(path) {
            return Ok(value.clone());
        }
        let found = self
            .source()?
            .and_then(|s| Some((s, s.manifest().get(path)?)));
        let value = match found {
            None => Value::from(()),
            Some((source, entry)) => {
                let content = source.read(path).map_err(|e| {
                    Error::new(ErrorKind::InvalidOperation, format!("release_file: {e}"))
                })?;
                let sha256: String = Sha256::digest(&content)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Value::from(minijinja::value::Serde(serde_json::json!({
                    "path": entry.path,
                    "size": entry.size,
                    "sha256": sha256,
                    "git_oid": entry.oid,
                })))
            }
        };
        described.insert(path.to_string(), value.clone());
        Ok(value)
    }
}

/// Whether `path` matches `pattern`: `*` any run of characters (`/`
/// included), `?` any one character, anything else itself.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), path.chars().collect());
    // The classic two-pointer glob match, backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || c == s[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_fnmatch_does() {
        for (pattern, path) in [
            ("*", "a/b.py"),
            ("*/migrations/*.py", "notes/migrations/0001_initial.py"),
            ("*/migrations/*.py", "a/b/migrations/0002_x.py"),
            ("requirements.txt", "requirements.txt"),
            ("?.txt", "a.txt"),
            ("**", ""),
        ] {
            assert!(matches(pattern, path), "{pattern} {path}");
        }
        for (pattern, path) in [
            ("*/migrations/*.py", "notes/migrations/README"),
            ("*/migrations/*.py", "migrations/0001.py"),
            ("requirements.txt", "dev/requirements.txt"),
            ("?.txt", "ab.txt"),
        ] {
            assert!(!matches(pattern, path), "{pattern} {path}");
        }
    }

    /// A repository with one commit of `files`, and the functions on it.
    fn templates_on(files: &[(&str, &str)]) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let mut index = repo.index().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, text).unwrap();
            index.add_path(std::path::Path::new(path)).unwrap();
        }
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who = git2::Signature::now("t", "t@example.invalid").unwrap();
        repo.commit(Some("HEAD"), &who, &who, "one", &tree, &[])
            .unwrap();
        let mut templates = Templates::new();
        CommitFiles::new(dir.path().to_path_buf(), None).register(&mut templates);
        (dir, templates)
    }

    fn render(templates: &Templates, text: &str) -> String {
        let span = crate::diagnostic::Span::file_start(crate::diagnostic::Source::new("t", text));
        templates
            .render(text, &serde_json::Map::new(), &span)
            .unwrap()
    }

    #[test]
    fn a_template_reads_the_commits_files_and_hashes() {
        let (_dir, templates) = templates_on(&[
            ("requirements.txt", "Django==5.2.*\n"),
            ("notes/migrations/__init__.py", ""),
            ("notes/migrations/0001_initial.py", "x"),
            ("manage.py", "y"),
        ]);
        assert_eq!(
            render(
                &templates,
                "{{ release_files('*/migrations/*.py') | join(' ') }}"
            ),
            "notes/migrations/0001_initial.py notes/migrations/__init__.py"
        );
        assert_eq!(
            render(&templates, "{{ release_file('requirements.txt').sha256 }}"),
            // `printf 'Django==5.2.*\\n' | sha256sum`
            "3695c36941f4faa97564176476f03b46727bd9f5c9fb6635a6e2e6441735942e"
        );
        assert_eq!(
            render(&templates, "{{ release_file('nope.txt') is none }}"),
            "True"
        );
    }
}
