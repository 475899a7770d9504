//! The code a deploy ships: the git tree of one commit, read straight from
//! the repository on the controller — never a checkout, never `.git`.
//!
//! [`Source::open`] resolves the revision, refuses a dirty work tree, and
//! builds the commit's [`Manifest`]; [`Source::write_tar`] streams the whole
//! tree, or just the files a host's [`super::Delta`] says to send, as a tar
//! archive that the host unpacks inside the new release directory.
//!
//! Decisions:
//!
//! - **Dirty work tree**: a change to a tracked file, staged or not
//!   (modified, deleted, type changed, renamed, newly added to the index,
//!   conflicted), makes the work tree dirty. Untracked and ignored files do
//!   not: they are not in any commit, so they could never be shipped, and
//!   build output would otherwise block every deploy. Submodules are not
//!   looked at (they are not shipped, see below). The check applies whatever
//!   the revision, since its point is "you have changes you may think you are
//!   deploying"; a bare repository has no work tree and is never dirty.
//! - **Submodules** (gitlinks, mode `160000`) are skipped: their files are in
//!   another repository, and `git archive` does the same. They are not in the
//!   manifest; [`Source::submodules`] names them so the deploy can warn.
//! - **Paths** must be UTF-8 (so are symlink targets) and safe to unpack
//!   (see the manifest's path rules); anything else is an error naming the
//!   path, found at `open`, before any host is touched.
//! - **The archive** holds files and symlinks only, no directory entries
//!   (tar creates parent directories), in manifest order, owned by uid and
//!   gid 0 with no user or group names, mode `0644`, `0755` or `0777`
//!   (symlink), and the commit's committer time as every mtime: the same
//!   tree always gives the same bytes. Long paths and link targets use GNU
//!   long-name records. No entry lies below another entry (git trees cannot
//!   have that), so unpacking never writes through a symlink the archive
//!   just made. Each file is read whole from git before it is written.
//! - **A project in a subdirectory** (deploy.yml in `apps/shop/` of a
//!   larger repository, or ferry's own `examples/`) ships that directory's
//!   tree only, its paths relative to it — what Capistrano calls
//!   `repo_tree`: the release is the project, not the whole repository,
//!   and only changes inside it make the work tree dirty.
//! - **`.gitattributes`** is not applied: the tree ships exactly as committed
//!   (no `export-ignore`, `export-subst` or line-ending filters), so the
//!   manifest's blob ids describe the files on the host.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use git2::{ObjectType, Odb, Oid, Repository, Status, StatusOptions, Tree};

use super::manifest::{Entry, MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Manifest, check_path};

/// Git's mode for a directory in a tree.
const MODE_TREE: u32 = 0o040000;
/// Git's mode for a submodule (a commit of another repository).
const MODE_GITLINK: u32 = 0o160000;
/// How many dirty paths the error names.
const DIRTY_SHOWN: usize = 5;

/// Why the tree of a revision could not be read or archived.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("`{}` is not in a git repository: {message}", dir.display())]
    NotARepository { dir: PathBuf, message: String },
    #[error("no git revision `{rev}`: {message}")]
    UnknownRevision { rev: String, message: String },
    #[error(
        "not deploying `{rev}`: the work tree has uncommitted changes to tracked files ({}); \
         commit or stash them, or pass `--allow-dirty`",
        list_paths(.paths, *.more)
    )]
    Dirty {
        rev: String,
        /// The first few dirty paths.
        paths: Vec<String>,
        /// How many more there are.
        more: usize,
    },
    #[error("cannot deploy `{path}` from `{rev}`: {problem}")]
    BadPath {
        rev: String,
        path: String,
        problem: String,
    },
    #[error("`{path}` is not a file of commit `{commit}`")]
    NotInTree { path: String, commit: String },
    #[error("reading `{rev}` from git: {message}")]
    Git { rev: String, message: String },
    #[error("writing the archive: {0}")]
    Write(#[from] io::Error),
}

fn list_paths(paths: &[String], more: usize) -> String {
    let shown: Vec<String> = paths.iter().map(|path| format!("`{path}`")).collect();
    match more {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Where `dir` lies inside the repository's work tree, when that is not
/// its top.
fn project_subdir(repo: &Repository, dir: &Path) -> Option<PathBuf> {
    let top = repo.workdir()?.canonicalize().ok()?;
    let dir = dir.canonicalize().ok()?;
    let relative = dir.strip_prefix(&top).ok()?;
    (!relative.as_os_str().is_empty()).then(|| relative.to_path_buf())
}

/// The tree of a revision in the repository at (or above) a directory.
///
/// It keeps the repository's path, not an open handle, so that it is `Send`
/// and `Sync`: hosts deployed in parallel can share one `Source`, and each
/// [`Source::write_tar`] opens the repository for itself (well under a
/// millisecond; git objects never change, so every call sees the same tree).
#[derive(Debug, Clone)]
pub struct Source {
    /// The repository's git directory.
    git_dir: PathBuf,
    rev: String,
    commit: String,
    time: u64,
    manifest: Manifest,
    submodules: Vec<String>,
}

impl Source {
    /// The tree of `rev` (default `HEAD`: a tag, branch, full or short
    /// commit id, or any other revision git understands) in the repository
    /// at or above `dir`. Refuses a dirty work tree unless `allow_dirty`;
    /// see the module doc for what counts as dirty.
    pub fn open(dir: &Path, rev: Option<&str>, allow_dirty: bool) -> Result<Source, TreeError> {
        let repo = Repository::discover(dir).map_err(|err| TreeError::NotARepository {
            dir: dir.to_path_buf(),
            message: err.message().to_string(),
        })?;
        let rev = rev.unwrap_or("HEAD").to_string();
        let commit = repo
            .revparse_single(&rev)
            .and_then(|object| object.peel_to_commit())
            .map_err(|err| TreeError::UnknownRevision {
                rev: rev.clone(),
                message: err.message().to_string(),
            })?;
        let subdir = project_subdir(&repo, dir);
        if !allow_dirty {
            check_clean(&repo, &rev, subdir.as_deref())?;
        }
        let git = |err: git2::Error| TreeError::Git {
            rev: rev.clone(),
            message: err.message().to_string(),
        };
        let (mut entries, submodules) = {
            let mut tree = commit.tree().map_err(git)?;
            if let Some(subdir) = &subdir {
                tree = tree
                    .get_path(subdir)
                    .and_then(|entry| entry.to_object(&repo))
                    .and_then(|object| object.peel_to_tree())
                    .map_err(|err| TreeError::Git {
                        rev: rev.clone(),
                        message: format!(
                            "the project's directory `{}` is not in that commit: {}",
                            subdir.display(),
                            err.message()
                        ),
                    })?;
            }
            let mut walk = Walk {
                repo: &repo,
                odb: repo.odb().map_err(git)?,
                rev: &rev,
                entries: Vec::new(),
                submodules: Vec::new(),
            };
            walk.tree(&tree, "")?;
            (walk.entries, walk.submodules)
        };
        // Git orders a directory as if its name ended in `/`, which a
        // depth-first walk turns into path order; sorting makes sure.
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        check_no_path_below_a_file(&entries, &rev)?;
        let time = u64::try_from(commit.time().seconds()).unwrap_or(0);
        let id = commit.id().to_string();
        drop(commit);
        Ok(Source {
            git_dir: repo.path().to_path_buf(),
            rev,
            commit: id,
            time,
            manifest: Manifest { entries },
            submodules,
        })
    }

    /// The commit's full id, hex.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// The revision as asked for (`HEAD` when none was).
    pub fn rev(&self) -> &str {
        &self.rev
    }

    /// Every file of the commit, sorted by path.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The target of the symlink at `path`, when the commit has one there.
    pub fn symlink_target(&self, path: &str) -> Option<String> {
        self.manifest.get(path).filter(|e| e.mode == MODE_SYMLINK)?;
        let target = self.read(path).ok()?;
        Some(String::from_utf8_lossy(&target).into_owned())
    }

    /// The content of one file of the commit (a symlink's target for a
    /// symlink): for what a playbook reads of the commit on the controller,
    /// where a dry run has it and the hosts do not.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, TreeError> {
        let entry = self
            .manifest
            .get(path)
            .ok_or_else(|| TreeError::NotInTree {
                path: path.to_string(),
                commit: self.commit.clone(),
            })?;
        let git = |err: git2::Error| TreeError::Git {
            rev: self.rev.clone(),
            message: format!("`{path}`: {}", err.message()),
        };
        let repo = Repository::open(&self.git_dir).map_err(git)?;
        let blob = Oid::from_str(&entry.oid)
            .and_then(|oid| repo.find_blob(oid))
            .map_err(git)?;
        Ok(blob.content().to_vec())
    }

    /// Paths of the submodules the tree has, which are not shipped.
    pub fn submodules(&self) -> &[String] {
        &self.submodules
    }

    /// Streams into `out` a tar archive of the given paths (every file when
    /// `None`), as the module doc describes, and returns the bytes written.
    /// A path that is not a file of the commit is an error, before anything
    /// is written. Headers go out in 512-byte writes: give a buffered `out`
    /// when small writes are costly.
    pub fn write_tar(
        &self,
        paths: Option<&[String]>,
        out: &mut dyn Write,
    ) -> Result<u64, TreeError> {
        let selected: Vec<&Entry> = match paths {
            None => self.manifest.entries.iter().collect(),
            Some(paths) => {
                if let Some(missing) = paths.iter().find(|p| self.manifest.get(p).is_none()) {
                    return Err(TreeError::NotInTree {
                        path: missing.clone(),
                        commit: self.commit.clone(),
                    });
                }
                let wanted: HashSet<&str> = paths.iter().map(String::as_str).collect();
                self.manifest
                    .entries
                    .iter()
                    .filter(|entry| wanted.contains(entry.path.as_str()))
                    .collect()
            }
        };
        let repo = Repository::open(&self.git_dir).map_err(|err| TreeError::Git {
            rev: self.rev.clone(),
            message: format!("opening `{}`: {}", self.git_dir.display(), err.message()),
        })?;
        let mut counted = Counted { out, bytes: 0 };
        let mut builder = tar::Builder::new(&mut counted);
        for entry in selected {
            let blob = Oid::from_str(&entry.oid)
                .and_then(|oid| repo.find_blob(oid))
                .map_err(|err| TreeError::Git {
                    rev: self.rev.clone(),
                    message: format!("`{}`: {}", entry.path, err.message()),
                })?;
            let mut header = tar::Header::new_gnu();
            header.set_mtime(self.time);
            header.set_uid(0);
            header.set_gid(0);
            if entry.mode == MODE_SYMLINK {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                // Checked at `open`: UTF-8, no NUL.
                let target = String::from_utf8_lossy(blob.content());
                // The target exactly as git has it; `append_link` would
                // tidy it (`a/./b` to `a/b`), so it is only for targets too
                // long for the header, which it writes raw in a GNU record.
                if header.set_link_name_literal(target.as_bytes()).is_ok() {
                    builder.append_data(&mut header, &entry.path, io::empty())?;
                } else {
                    builder.append_link(&mut header, &entry.path, target.as_ref())?;
                }
            } else {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if entry.mode == MODE_EXECUTABLE {
                    0o755
                } else {
                    0o644
                });
                header.set_size(blob.size() as u64);
                builder.append_data(&mut header, &entry.path, blob.content())?;
            }
        }
        builder.into_inner()?;
        Ok(counted.bytes)
    }
}

/// Refuses a tree (sorted by path) that has a path twice, or a path below
/// a file or symlink: git never writes one, but a crafted tree can hold
/// `config` both as a symlink and as a directory, and unpacking it would
/// write through the link.
fn check_no_path_below_a_file(entries: &[Entry], rev: &str) -> Result<(), TreeError> {
    let mut files: HashSet<&str> = HashSet::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path.as_str();
        let above = path
            .match_indices('/')
            .map(|(slash, _)| &path[..slash])
            .find(|above| files.contains(above));
        let problem = match above {
            Some(above) => format!("it lies below `{above}`, which is a file or symlink"),
            None if !files.insert(path) => "the tree has it twice".to_string(),
            None => continue,
        };
        return Err(TreeError::BadPath {
            rev: rev.to_string(),
            path: path.to_string(),
            problem,
        });
    }
    Ok(())
}

/// Refuses a work tree with changes to tracked files.
fn check_clean(repo: &Repository, rev: &str, subdir: Option<&Path>) -> Result<(), TreeError> {
    if repo.is_bare() {
        return Ok(());
    }
    let mut options = StatusOptions::new();
    // Only the project's directory ships: changes elsewhere do not count.
    if let Some(subdir) = subdir {
        options.pathspec(subdir).disable_pathspec_match(true);
    }
    options
        .include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut options))
        .map_err(|err| TreeError::Git {
            rev: rev.to_string(),
            message: format!("reading the work tree's status: {}", err.message()),
        })?;
    let untracked = Status::WT_NEW | Status::IGNORED;
    let dirty: Vec<String> = statuses
        .iter()
        .filter(|status| {
            let status = status.status();
            !status.is_empty() && !untracked.contains(status)
        })
        .map(|status| String::from_utf8_lossy(status.path_bytes()).into_owned())
        .collect();
    if dirty.is_empty() {
        return Ok(());
    }
    Err(TreeError::Dirty {
        rev: rev.to_string(),
        more: dirty.len().saturating_sub(DIRTY_SHOWN),
        paths: dirty.into_iter().take(DIRTY_SHOWN).collect(),
    })
}

/// A walk over a commit's tree, collecting its files.
struct Walk<'a> {
    repo: &'a Repository,
    odb: Odb<'a>,
    rev: &'a str,
    entries: Vec<Entry>,
    submodules: Vec<String>,
}

impl Walk<'_> {
    /// Adds the files of `tree`, whose path in the commit is `prefix` (empty,
    /// or ending in `/`).
    fn tree(&mut self, tree: &Tree<'_>, prefix: &str) -> Result<(), TreeError> {
        for item in tree.iter() {
            let name = std::str::from_utf8(item.name_bytes()).map_err(|_| {
                self.bad(
                    format!("{prefix}{}", String::from_utf8_lossy(item.name_bytes())),
                    "the path is not UTF-8",
                )
            })?;
            let path = format!("{prefix}{name}");
            check_path(&path)
                .map_err(|why| self.bad(path.clone(), format!("unsafe path: {why}")))?;
            let mode = item.filemode() as u32;
            match mode {
                MODE_TREE => {
                    let subtree = self
                        .repo
                        .find_tree(item.id())
                        .map_err(|err| self.git(&path, err))?;
                    self.tree(&subtree, &format!("{path}/"))?;
                }
                MODE_GITLINK => self.submodules.push(path),
                MODE_SYMLINK => {
                    let blob = self
                        .repo
                        .find_blob(item.id())
                        .map_err(|err| self.git(&path, err))?;
                    match std::str::from_utf8(blob.content()) {
                        Ok(target) if !target.is_empty() && !target.contains('\0') => {}
                        _ => {
                            return Err(self.bad(path, "the symlink's target is not a UTF-8 path"));
                        }
                    }
                    self.push(path, mode, item.id(), blob.size() as u64);
                }
                MODE_FILE | MODE_EXECUTABLE => {
                    let (size, kind) = self
                        .odb
                        .read_header(item.id())
                        .map_err(|err| self.git(&path, err))?;
                    if kind != ObjectType::Blob {
                        return Err(self.bad(path, format!("a file that is a git {kind}")));
                    }
                    self.push(path, mode, item.id(), size as u64);
                }
                other => return Err(self.bad(path, format!("unknown git mode {other:o}"))),
            }
        }
        Ok(())
    }

    fn push(&mut self, path: String, mode: u32, oid: Oid, size: u64) {
        self.entries.push(Entry {
            path,
            mode,
            oid: oid.to_string(),
            size,
        });
    }

    fn bad(&self, path: String, problem: impl Into<String>) -> TreeError {
        TreeError::BadPath {
            rev: self.rev.to_string(),
            path,
            problem: problem.into(),
        }
    }

    fn git(&self, path: &str, err: git2::Error) -> TreeError {
        TreeError::Git {
            rev: self.rev.to_string(),
            message: format!("`{path}`: {}", err.message()),
        }
    }
}

/// Counts the bytes that pass through to `out`.
struct Counted<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Instant;

    use git2::{Commit, IndexAddOption, Signature, Time};

    use super::*;

    /// The committer time of every test commit.
    const TIME: i64 = 1_700_000_000;

    /// A real git repository with a work tree, in a temporary directory.
    struct Repo {
        dir: tempfile::TempDir,
        repo: Repository,
    }

    impl Repo {
        fn new() -> Repo {
            let dir = tempfile::tempdir().unwrap();
            let repo = Repository::init(dir.path()).unwrap();
            Repo { dir, repo }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, path: &str, content: &str) {
            let file = self.path().join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, content).unwrap();
        }

        fn executable(&self, path: &str, content: &str) {
            self.write(path, content);
            fs::set_permissions(self.path().join(path), fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn symlink(&self, path: &str, target: &str) {
            std::os::unix::fs::symlink(target, self.path().join(path)).unwrap();
        }

        fn signature() -> Signature<'static> {
            Signature::new("Ferry Test", "test@example.com", &Time::new(TIME, 0)).unwrap()
        }

        fn head(&self) -> Option<Commit<'_>> {
            self.repo.head().ok()?.peel_to_commit().ok()
        }

        /// Commits everything in the work tree to HEAD; returns the full id.
        fn commit(&self, message: &str) -> String {
            let mut index = self.repo.index().unwrap();
            index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
            index.update_all(["*"], None).unwrap();
            index.write().unwrap();
            let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
            self.commit_tree(Some("HEAD"), &tree, message)
        }

        fn commit_tree(&self, update: Option<&str>, tree: &Tree<'_>, message: &str) -> String {
            let parents: Vec<Commit<'_>> = self.head().into_iter().collect();
            let parents: Vec<&Commit<'_>> = parents.iter().collect();
            let signature = Repo::signature();
            self.repo
                .commit(update, &signature, &signature, message, tree, &parents)
                .unwrap()
                .to_string()
        }

        /// Commits, without touching HEAD or the work tree, the tree of
        /// HEAD with `extra` added at its root: (name, mode, blob content,
        /// or for a gitlink the commit id).
        fn commit_beside_head(&self, extra: &[(&[u8], i32, &[u8])]) -> String {
            let head = self.head().unwrap().tree().unwrap();
            let mut builder = self.repo.treebuilder(Some(&head)).unwrap();
            for (name, mode, content) in extra {
                let oid = if *mode == MODE_GITLINK as i32 {
                    Oid::from_bytes(content).unwrap()
                } else {
                    self.repo.blob(content).unwrap()
                };
                builder.insert(*name, oid, *mode).unwrap();
            }
            let tree = self.repo.find_tree(builder.write().unwrap()).unwrap();
            self.commit_tree(None, &tree, "beside")
        }
    }

    /// A repository with nested directories, an executable, a symlink and an
    /// empty file, committed.
    fn sample() -> Repo {
        let repo = Repo::new();
        repo.write("README.md", "hello\n");
        repo.write("app/main.py", "print('hi')\n");
        repo.write("app/pkg/deep/mod.py", "x = 1\n");
        repo.executable("bin/run", "#!/bin/sh\nexec app\n");
        repo.write("empty", "");
        repo.symlink("config", "app/main.py");
        repo.commit("first");
        repo
    }

    fn blob_id(content: &str) -> String {
        Oid::hash_object(ObjectType::Blob, content.as_bytes())
            .unwrap()
            .to_string()
    }

    fn tar_of(source: &Source, paths: Option<&[String]>) -> Vec<u8> {
        let mut bytes = Vec::new();
        let written = source.write_tar(paths, &mut bytes).unwrap();
        assert_eq!(written, bytes.len() as u64);
        bytes
    }

    /// An archive's entries: path to (type, mode, mtime, link target, content).
    fn read_tar(bytes: &[u8]) -> BTreeMap<String, (char, u32, u64, String, String)> {
        let mut archive = tar::Archive::new(bytes);
        let mut found = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = entry.path().unwrap().to_str().unwrap().to_string();
            let kind = match header.entry_type() {
                tar::EntryType::Regular => 'f',
                tar::EntryType::Symlink => 'l',
                other => panic!("unexpected entry {other:?} for {path}"),
            };
            let target = entry
                .link_name()
                .unwrap()
                .map(|target| target.to_str().unwrap().to_string())
                .unwrap_or_default();
            let mut content = String::new();
            entry.read_to_string(&mut content).unwrap();
            let previous = found.insert(
                path,
                (
                    kind,
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                    target,
                    content,
                ),
            );
            assert!(previous.is_none());
        }
        found
    }

    #[test]
    fn manifest_lists_every_file_with_git_modes_sizes_and_ids() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        assert_eq!(source.commit(), repo.head().unwrap().id().to_string());
        assert_eq!(source.rev(), "HEAD");
        let want = [
            ("README.md", MODE_FILE, "hello\n"),
            ("app/main.py", MODE_FILE, "print('hi')\n"),
            ("app/pkg/deep/mod.py", MODE_FILE, "x = 1\n"),
            ("bin/run", MODE_EXECUTABLE, "#!/bin/sh\nexec app\n"),
            ("config", MODE_SYMLINK, "app/main.py"),
            ("empty", MODE_FILE, ""),
        ];
        let want: Vec<Entry> = want
            .iter()
            .map(|(path, mode, content)| Entry {
                path: path.to_string(),
                mode: *mode,
                oid: blob_id(content),
                size: content.len() as u64,
            })
            .collect();
        assert_eq!(source.manifest().entries, want);
        assert!(source.submodules().is_empty());
    }

    #[test]
    fn a_source_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>(_: &T) {}
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        shared(&source);
        let bytes = std::thread::scope(|scope| {
            let one = scope.spawn(|| tar_of(&source, None));
            let two = scope.spawn(|| tar_of(&source, None));
            (one.join().unwrap(), two.join().unwrap())
        });
        assert_eq!(bytes.0, bytes.1);
    }

    #[test]
    fn a_project_in_a_subdirectory_ships_that_directory_only() {
        let repo = sample();
        let whole = Source::open(repo.path(), None, false).unwrap();
        let source = Source::open(&repo.path().join("app"), None, false).unwrap();
        let paths: Vec<&str> = source
            .manifest()
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        let expected: Vec<&str> = whole
            .manifest()
            .entries
            .iter()
            .filter_map(|e| e.path.strip_prefix("app/"))
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(paths, expected);
        assert_eq!(source.commit(), whole.commit());
    }

    #[test]
    fn outside_a_repository_is_an_error_naming_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = Source::open(dir.path(), None, false).err().unwrap();
        assert!(matches!(err, TreeError::NotARepository { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn the_manifest_survives_the_text_form() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        let text = source.manifest().to_text();
        assert!(text.starts_with("ferry-manifest 1\n100644 "));
        assert_eq!(&Manifest::parse(&text).unwrap(), source.manifest());
    }

    #[test]
    fn a_dirty_work_tree_is_refused_unless_allowed() {
        let repo = sample();
        repo.write("README.md", "edited\n");
        let err = Source::open(repo.path(), None, false).err().unwrap();
        let message = err.to_string();
        assert!(matches!(err, TreeError::Dirty { .. }), "{message}");
        assert!(message.contains("`README.md`"), "{message}");
        assert!(message.contains("`HEAD`"), "{message}");

        // Allowed, it ships the commit, not the work tree.
        let source = Source::open(repo.path(), None, true).unwrap();
        let readme = source.manifest().get("README.md").unwrap();
        assert_eq!(readme.oid, blob_id("hello\n"));
    }

    #[test]
    fn only_changes_inside_a_subdirectory_project_make_it_dirty() {
        let repo = sample();
        repo.write("README.md", "edited\n");
        assert!(Source::open(&repo.path().join("app"), None, false).is_ok());
        repo.write("app/pkg/deep/mod.py", "x = 2\n");
        let err = Source::open(&repo.path().join("app"), None, false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("`app/pkg/deep/mod.py`"), "{err}");
        assert!(!err.to_string().contains("README"), "{err}");
    }

    #[test]
    fn untracked_and_ignored_files_do_not_make_the_tree_dirty() {
        let repo = sample();
        repo.write(".gitignore", "build/\n");
        repo.commit("ignore build");
        repo.write("notes.txt", "mine\n");
        repo.write("build/out.o", "junk\n");
        let source = Source::open(repo.path(), None, false).unwrap();
        assert!(source.manifest().get("notes.txt").is_none());
    }

    #[test]
    fn staged_deleted_and_retyped_files_are_dirty_and_at_most_five_are_named() {
        let repo = sample();
        repo.write("staged-new", "x\n");
        let mut index = repo.repo.index().unwrap();
        index.add_path(Path::new("staged-new")).unwrap();
        index.write().unwrap();
        fs::remove_file(repo.path().join("empty")).unwrap();
        fs::remove_file(repo.path().join("config")).unwrap();
        repo.write("config", "now a file\n");
        fs::set_permissions(
            repo.path().join("bin/run"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        repo.write("app/main.py", "changed\n");
        repo.write("app/pkg/deep/mod.py", "changed\n");
        let message = Source::open(repo.path(), None, false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            message.contains(
                "(`app/main.py`, `app/pkg/deep/mod.py`, `bin/run`, `config`, `empty` and 1 more)"
            ),
            "{message}"
        );
    }

    #[test]
    fn revisions_resolve_as_tags_short_ids_and_branches() {
        let repo = sample();
        let first = repo.head().unwrap();
        let first_id = first.id().to_string();
        repo.repo
            .tag_lightweight("v1", first.as_object(), false)
            .unwrap();
        repo.repo
            .tag(
                "v1-annotated",
                first.as_object(),
                &Repo::signature(),
                "release 1",
                false,
            )
            .unwrap();
        repo.repo.branch("stable", &first, false).unwrap();
        repo.write("added", "later\n");
        let second = repo.commit("second");
        assert_ne!(second, first_id);

        for rev in ["v1", "v1-annotated", &first_id[..7], "stable", "HEAD~1"] {
            let source = Source::open(repo.path(), Some(rev), false).unwrap();
            assert_eq!(source.commit(), first_id, "{rev}");
            assert_eq!(source.rev(), rev);
            assert!(source.manifest().get("added").is_none(), "{rev}");
        }
        let head = Source::open(repo.path(), None, false).unwrap();
        assert_eq!(head.commit(), second);
        assert!(head.manifest().get("added").is_some());
    }

    #[test]
    fn an_unknown_revision_is_an_error_naming_it() {
        let repo = sample();
        let err = Source::open(repo.path(), Some("no-such-branch"), false)
            .err()
            .unwrap();
        assert!(matches!(err, TreeError::UnknownRevision { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("no git revision `no-such-branch`: "),
            "{err}"
        );
    }

    #[test]
    fn a_repository_without_commits_has_no_head() {
        let repo = Repo::new();
        let err = Source::open(repo.path(), None, false).err().unwrap();
        assert!(err.to_string().contains("`HEAD`"), "{err}");
    }

    #[test]
    fn the_archive_holds_exactly_the_manifest_with_modes_and_links() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        let found = read_tar(&tar_of(&source, None));
        let paths: Vec<&String> = found.keys().collect();
        let want: Vec<&String> = source.manifest().entries.iter().map(|e| &e.path).collect();
        assert_eq!(paths, want);
        let t = TIME as u64;
        let file = |mode, content: &str| ('f', mode, t, String::new(), content.to_string());
        assert_eq!(found["README.md"], file(0o644, "hello\n"));
        assert_eq!(found["app/pkg/deep/mod.py"], file(0o644, "x = 1\n"));
        assert_eq!(found["bin/run"], file(0o755, "#!/bin/sh\nexec app\n"));
        assert_eq!(found["empty"], file(0o644, ""));
        assert_eq!(
            found["config"],
            ('l', 0o777, t, "app/main.py".to_string(), String::new())
        );
    }

    #[test]
    fn system_tar_unpacks_the_archive_to_the_tree() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        let archive = repo.path().join("release.tar");
        fs::write(&archive, tar_of(&source, None)).unwrap();
        let into = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(into.path())
            .status()
            .unwrap();
        assert!(status.success());
        let at = |path: &str| into.path().join(path);
        assert_eq!(
            fs::read_to_string(at("app/pkg/deep/mod.py")).unwrap(),
            "x = 1\n"
        );
        let mode = |path: &str| fs::metadata(at(path)).unwrap().permissions().mode() & 0o111;
        assert_eq!(mode("bin/run"), 0o111);
        assert_eq!(mode("README.md"), 0);
        assert_eq!(
            fs::read_link(at("config")).unwrap(),
            Path::new("app/main.py")
        );
        assert_eq!(fs::metadata(at("empty")).unwrap().len(), 0);
        assert!(!at(".git").exists());
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes() {
        let repo = sample();
        let one = tar_of(&Source::open(repo.path(), None, false).unwrap(), None);
        let two = tar_of(&Source::open(repo.path(), None, false).unwrap(), None);
        assert_eq!(one, two);
        // Another commit of the same tree at the same time: same bytes too.
        let tree = repo.head().unwrap().tree().unwrap();
        let again = repo.commit_tree(Some("HEAD"), &tree, "again");
        let three = tar_of(
            &Source::open(repo.path(), Some(&again), false).unwrap(),
            None,
        );
        assert_eq!(one, three);
    }

    #[test]
    fn the_archive_of_some_paths_holds_only_those() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        let paths = ["config".to_string(), "bin/run".to_string()];
        let found = read_tar(&tar_of(&source, Some(&paths)));
        assert_eq!(found.keys().collect::<Vec<_>>(), ["bin/run", "config"]);
        let empty = read_tar(&tar_of(&source, Some(&[])));
        assert!(empty.is_empty());

        let mut sink = Vec::new();
        let unknown = ["app".to_string()];
        let err = source.write_tar(Some(&unknown), &mut sink).unwrap_err();
        assert!(matches!(err, TreeError::NotInTree { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("`app` is not a file of commit ")
        );
        assert!(sink.is_empty());
    }

    #[test]
    fn long_paths_and_link_targets_and_odd_names_survive() {
        let repo = sample();
        let long_dir = "d".repeat(120);
        repo.write(&format!("{long_dir}/file"), "deep\n");
        let long_target = format!("{long_dir}/file");
        repo.symlink("long-link", &long_target);
        repo.symlink("dotted", "./app/../README.md");
        repo.commit("long");
        let odd =
            repo.commit_beside_head(&[(b"new\nline \\ and\ttab", MODE_FILE as i32, b"odd\n")]);
        let source = Source::open(repo.path(), Some(&odd), false).unwrap();
        let manifest = source.manifest();
        assert_eq!(&Manifest::parse(&manifest.to_text()).unwrap(), manifest);

        let found = read_tar(&tar_of(&source, None));
        assert_eq!(found.len(), manifest.entries.len());
        assert_eq!(found[&format!("{long_dir}/file")].4, "deep\n");
        assert_eq!(found["long-link"].3, long_target);
        assert_eq!(found["dotted"].3, "./app/../README.md");
        assert_eq!(found["new\nline \\ and\ttab"].4, "odd\n");
    }

    #[test]
    fn submodules_are_skipped_and_named() {
        let repo = sample();
        let submodule = [7u8; 20];
        let with = repo.commit_beside_head(&[(b"vendor-lib", MODE_GITLINK as i32, &submodule)]);
        let source = Source::open(repo.path(), Some(&with), false).unwrap();
        assert_eq!(source.submodules(), ["vendor-lib"]);
        assert!(source.manifest().get("vendor-lib").is_none());
        assert_eq!(read_tar(&tar_of(&source, None)).len(), 6);
    }

    /// A tree object written by hand, entries as given: (mode, name, id).
    fn raw_tree(repo: &Repo, entries: &[(&str, &str, Oid)]) -> Oid {
        let mut bytes = Vec::new();
        for (mode, name, oid) in entries {
            bytes.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            bytes.extend_from_slice(oid.as_bytes());
        }
        repo.repo
            .odb()
            .unwrap()
            .write(ObjectType::Tree, &bytes)
            .unwrap()
    }

    #[test]
    fn a_crafted_tree_with_a_path_below_a_symlink_is_refused() {
        let repo = sample();
        let link = repo.repo.blob(b"/elsewhere").unwrap();
        let file = repo.repo.blob(b"through the link\n").unwrap();
        let inner = raw_tree(&repo, &[("100644", "app.ini", file)]);
        // Git sorts a directory as if its name ended in `/`: the symlink
        // `config` first, then the directory `config`.
        let root = raw_tree(
            &repo,
            &[("120000", "config", link), ("40000", "config", inner)],
        );
        let tree = repo.repo.find_tree(root).unwrap();
        let crafted = repo.commit_tree(None, &tree, "crafted");
        let err = Source::open(repo.path(), Some(&crafted), false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("`config/app.ini`") && err.contains("below `config`"),
            "{err}"
        );
        let twice = raw_tree(&repo, &[("100644", "a", file), ("100644", "a", file)]);
        let tree = repo.repo.find_tree(twice).unwrap();
        let twice = repo.commit_tree(None, &tree, "twice");
        let err = Source::open(repo.path(), Some(&twice), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn symlink_targets_are_read_from_the_commit() {
        let repo = sample();
        let source = Source::open(repo.path(), None, false).unwrap();
        assert_eq!(
            source.symlink_target("config").as_deref(),
            Some("app/main.py")
        );
        assert_eq!(source.symlink_target("README.md"), None);
        assert_eq!(source.symlink_target("nowhere"), None);
    }

    #[test]
    fn a_path_that_is_not_utf8_is_an_error_naming_it() {
        let repo = sample();
        let bad = repo.commit_beside_head(&[(b"caf\xe9", MODE_FILE as i32, b"x")]);
        let err = Source::open(repo.path(), Some(&bad), false).err().unwrap();
        assert!(matches!(err, TreeError::BadPath { .. }), "{err}");
        assert!(err.to_string().contains("`caf\u{fffd}`"), "{err}");
    }

    #[test]
    fn a_tree_of_two_thousand_files_is_read_and_archived_quickly() {
        let repo = Repo::new();
        let mut root = repo.repo.treebuilder(None).unwrap();
        for dir in 0..40 {
            let mut sub = repo.repo.treebuilder(None).unwrap();
            for file in 0..50 {
                let content = format!("dir {dir} file {file}\n").repeat(40);
                let blob = repo.repo.blob(content.as_bytes()).unwrap();
                sub.insert(format!("file{file:02}.py"), blob, MODE_FILE as i32)
                    .unwrap();
            }
            let sub = sub.write().unwrap();
            root.insert(format!("pkg{dir:02}"), sub, MODE_TREE as i32)
                .unwrap();
        }
        let tree = repo.repo.find_tree(root.write().unwrap()).unwrap();
        repo.commit_tree(Some("HEAD"), &tree, "big");
        // Checked out, as a real project is, so that `open` also pays for
        // the work tree's status.
        repo.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();

        let start = Instant::now();
        let source = Source::open(repo.path(), None, false).unwrap();
        let opened = start.elapsed();
        let mut sink = io::sink();
        let bytes = source.write_tar(None, &mut sink).unwrap();
        let total = start.elapsed();
        eprintln!(
            "2,000 files, {} KiB of tar: open {opened:?}, open + write_tar {total:?}",
            bytes / 1024
        );
        assert_eq!(source.manifest().entries.len(), 2000);
        assert_eq!(read_tar(&tar_of(&source, None)).len(), 2000);
    }
}
