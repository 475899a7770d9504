//! The release's paths checked against the commit's tree on the controller,
//! before any host is touched: a shared path that the commit would put
//! outside the release, or a name ferry keeps for itself, is a located
//! input error (exit 2), not a half-made release on some hosts — or a link
//! and a replaced file somewhere else on them.
//!
//! `shared_files: [config/app.ini]` with `config -> /etc/app` committed
//! would make the host link, and first remove, `/etc/app/app.ini`. The
//! commands on the host refuse that too (see [`super::remote`]); this finds
//! it at compile time, with the step's location.

use super::layout::OWN_NAMES;
use super::remote::inside;
use super::{MODE_SYMLINK, Source};
use crate::diagnostic::Diagnostic;
use crate::modules::{Action, ReleaseStep};
use crate::plan::{Body, Plan};

/// Refuses a plan whose `release.upload` steps name a shared path that is
/// not inside the release, or lies below a file or symlink of the commit;
/// and a commit that has one of ferry's own names at its top.
pub fn check_release_paths(plan: &Plan, source: &Source) -> Result<(), Diagnostic> {
    let short = &source.commit()[..source.commit().len().min(7)];
    check_own_names(source, short)?;
    let mut seen = std::collections::HashSet::new();
    for step in plan
        .plays
        .iter()
        .flat_map(|play| &play.hosts)
        .flat_map(|host| &host.steps)
    {
        let Body::Ready {
            action:
                Action::Release {
                    step: ReleaseStep::Upload,
                    args,
                },
        } = &step.body
        else {
            continue;
        };
        for key in ["shared_files", "shared_dirs"] {
            for path in args[key].as_array().into_iter().flatten() {
                let Some(path) = path.as_str() else { continue };
                if !seen.insert((step.location.as_str(), key, path)) {
                    continue;
                }
                check_shared(source, short, key, path)
                    .map_err(|why| Diagnostic::plain(format!("{}: {why}", step.location)))?;
            }
        }
    }
    Ok(())
}

/// Refuses a commit with one of ferry's own names at its top: a committed
/// `.ferry-complete` would mark a release complete before its build ran.
fn check_own_names(source: &Source, short: &str) -> Result<(), Diagnostic> {
    let top = |path: &str| path.split('/').next().unwrap_or(path).to_string();
    let own = source
        .manifest()
        .entries
        .iter()
        .map(|e| top(&e.path))
        .find(|name| OWN_NAMES.contains(&name.as_str()));
    match own {
        Some(own) => Err(Diagnostic::plain(format!(
            "commit {short} has `{own}` at the top of the project: ferry writes that name into every release itself"
        ))
        .with_help(format!("remove `{own}` from the repository, or move it"))),
        None => Ok(()),
    }
}

/// Why `path`, listed under `key`, cannot be linked in a release of the
/// commit `short`.
fn check_shared(source: &Source, short: &str, key: &str, path: &str) -> Result<(), String> {
    let path = inside(path).map_err(|bad| format!("`{key}` entry {bad}"))?;
    for (slash, _) in path.match_indices('/') {
        let above = &path[..slash];
        let Some(entry) = source.manifest().get(above) else {
            continue;
        };
        let what = if entry.mode == MODE_SYMLINK {
            match source.symlink_target(above) {
                Some(target) => format!("a symlink to `{target}`"),
                None => "a symlink".to_string(),
            }
        } else {
            "a file".to_string()
        };
        return Err(format!(
            "`{key}` entry `{path}` lies below `{above}`, which commit {short} has as {what}: \
             a shared path is linked only inside the release, never through a symlink or a file"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A committed repository: `config -> /etc/app`, `settings` a file,
    /// `app/main.py`, and `extra` (name, content) files.
    fn source(extra: &[(&str, &str)]) -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let write = |path: &str, content: &str| {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, content).unwrap();
        };
        write("app/main.py", "print('hi')\n");
        write("settings", "a file\n");
        for (path, content) in extra {
            write(path, content);
        }
        std::os::unix::fs::symlink("/etc/app", dir.path().join("config")).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let me = git2::Signature::now("ferry", "ferry@example.invalid").unwrap();
        repo.commit(Some("HEAD"), &me, &me, "one", &tree, &[])
            .unwrap();
        let source = Source::open(dir.path(), None, true).unwrap();
        (dir, source)
    }

    #[test]
    fn shared_paths_below_a_committed_symlink_or_file_are_refused() {
        let (_dir, source) = source(&[]);
        let err = check_shared(&source, "abc1234", "shared_files", "config/app.ini").unwrap_err();
        assert_eq!(
            err,
            "`shared_files` entry `config/app.ini` lies below `config`, which commit abc1234 has as \
             a symlink to `/etc/app`: a shared path is linked only inside the release, never \
             through a symlink or a file"
        );
        let err = check_shared(&source, "abc1234", "shared_dirs", "settings/cache/").unwrap_err();
        assert!(
            err.contains("below `settings`, which commit abc1234 has as a file"),
            "{err}"
        );
        let err = check_shared(&source, "abc1234", "shared_dirs", "../up").unwrap_err();
        assert!(
            err.starts_with("`shared_dirs` entry `../up` is not a relative path"),
            "{err}"
        );
        // The symlink itself may be shared (the link replaces it), and so
        // may paths beside it, below directories, or not committed at all.
        for fine in [
            "config",
            "app/media",
            "app/main.py",
            "configs/x",
            "new/dir/x",
        ] {
            assert_eq!(
                check_shared(&source, "abc1234", "shared_files", fine),
                Ok(()),
                "{fine}"
            );
        }
    }

    #[test]
    fn a_commit_with_ferrys_own_names_at_its_top_is_refused() {
        let (_dir, clean) = source(&[("app/REVISION", "deep is fine\n")]);
        assert!(check_own_names(&clean, "abc1234").is_ok());
        for own in [".ferry-complete", "REVISION", ".ferry-migrations/x"] {
            let (_dir, source) = source(&[(own, "x\n")]);
            let err = check_own_names(&source, "abc1234").unwrap_err().to_string();
            let name = own.split('/').next().unwrap();
            assert!(err.contains(&format!("has `{name}` at the top")), "{err}");
        }
    }
}
