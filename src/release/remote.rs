//! The server side of a release, as commands: make the release directory,
//! unpack the shipped files into it, link the unchanged ones from the
//! previous release, write its REVISION, manifest and shared links, mark
//! it, switch `current`, remove old ones, append to the history. Each
//! function only builds a [`Command`]; the executor runs it over the
//! transport.
//!
//! Every user value (paths, ids, commits) goes through [`Command::arg`];
//! the shell text around it is constant.
//!
//! # What a release holds
//!
//! Exactly the commit's tree, ferry's own files and the shared links, until
//! its build steps add theirs. [`create`] makes it empty, unpacks the files
//! that changed into it, and links the unchanged committed ones from the
//! current release ([`super::Seed`]): never anything else of that release
//! (collected static files, a virtualenv, markers), whose modification
//! times would make a build step skip work it must do.
//!
//! # Hard links
//!
//! Unchanged files cost no copy and no upload: the two releases share the
//! files' inodes. That is safe as long as nothing writes *into* an existing
//! file of the new release in place — `>>`, `>` (which truncates the same
//! inode), `open(…, "r+")`, a build tool that rewrites a file in place:
//! each would change the old release, the one `current` serves, too.
//! Writing a new file and renaming it over the old one (what `sed -i`,
//! editors, `pip`, `collectstatic` do) leaves the old release alone. A
//! build step in a playbook that must append to a shipped file breaks the
//! link first: `cp f f.new && mv f.new f`, then append.
//!
//! # Symlinks
//!
//! Nothing here writes through a symlink: the new release starts empty, so
//! `tar -x` finds no link it did not make, and the archive (a git tree) has
//! no entry below another; the seed refuses a previous release whose
//! directories became links; a shared path is linked only when no
//! directory above it in the release is a symlink; `rm -rf` removes a link,
//! never what it points at. `shared/` is the user's: a link placed there on
//! purpose (`shared/media -> /mnt/media`) is followed.

use crate::shell::Command;

use super::layout::{COMPLETE_MARKER, FAILED_MARKER, MANIFEST, REVISION, is_release_name};
use super::seed::{SEED_FILE, SEED_UNUSABLE};

/// A path in the release that would reach outside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` is not a relative path inside the release (no leading `/`, no `..`)")]
pub struct BadPath {
    pub path: String,
}

/// A release-relative path: not empty, not absolute, no `.`, `..` or empty
/// components. Returns it without a trailing `/`.
pub(crate) fn inside(path: &str) -> Result<&str, BadPath> {
    let trimmed = path.trim_end_matches('/');
    let ok = !trimmed.is_empty()
        && !trimmed.starts_with('/')
        && trimmed
            .split('/')
            .all(|part| !matches!(part, "" | "." | ".."));
    if ok {
        Ok(trimmed)
    } else {
        Err(BadPath {
            path: path.to_string(),
        })
    }
}

/// `{deploy_to}/releases/{id}`. Ids come from [`super::ReleaseId`] or from a
/// probe's listing, both plain names; anything else is a bug.
fn release_dir(deploy_to: &str, id: &str) -> String {
    assert!(is_release_name(id), "not a release name: {id:?}");
    format!("{deploy_to}/releases/{id}")
}

/// Creates `releases/<id>`, empty. Fails if the release already exists.
pub fn prepare(deploy_to: &str, id: &str) -> Command {
    prepare_with(deploy_to, id, &[])
}

/// The whole of a new release in one command: [`prepare`], unpack the
/// gzip archive on stdin ([`extract_gzip`]), and with `seed_from` (the
/// release the host serves) link the unchanged files the archive's
/// [`super::Seed`] lists, then [`link_shared`]. A release made from nothing
/// gets the shared directories in the same `mkdir` as itself (on a host's
/// first deploy they are all missing): a process less.
///
/// When the seed cannot be used, the release is removed again and the
/// command exits with [`SEED_UNUSABLE`]: send the whole tree instead.
pub fn create(
    deploy_to: &str,
    id: &str,
    seed_from: Option<&str>,
    shared_files: &[String],
    shared_dirs: &[String],
) -> Result<Command, BadPath> {
    let links = SharedLinks::new(deploy_to, id, shared_files, shared_dirs)?;
    let make_too = if seed_from.is_none() {
        links.dirs.as_slice()
    } else {
        &[]
    };
    let mut unpack = prepare_with(deploy_to, id, make_too).and(extract_gzip(deploy_to, id));
    if let Some(from) = seed_from {
        let dir = release_dir(deploy_to, id);
        unpack = unpack.and(
            Command::script("{ sh")
                .arg(format!("{dir}/{SEED_FILE}"))
                .arg(release_dir(deploy_to, from))
                .arg(&dir)
                .raw("|| { rm -rf --")
                .arg(&dir)
                .raw(&format!("; exit {SEED_UNUSABLE}; }}; }}")),
        );
    }
    Ok(links.after(unpack))
}

/// [`prepare`]; a release made from nothing also makes `make_too`.
fn prepare_with(deploy_to: &str, id: &str, make_too: &[String]) -> Command {
    let dir = release_dir(deploy_to, id);
    let exists_check = Command::new("set")
        .arg("--")
        .arg(&dir)
        .raw("; if [ -e \"$1\" ]; then echo \"release $1 already exists\" >&2; exit 1; fi");
    // `releases/` too, in the same process; the check above (and the lock)
    // make sure the release itself is new.
    Command::script("{")
        .raw(exists_check.as_sent())
        .raw("; }")
        .and(Command::new("mkdir").arg("-p").arg(&dir).args(make_too))
}

/// Unpacks a tar archive from stdin into the release. GNU tar drops a
/// leading `/` and skips members with `..` by default; the options say so
/// anyway. `--unlink-first` replaces each file rather than writing into it
/// (hard links, see the module doc); ownership is the login user's.
pub fn extract(deploy_to: &str, id: &str) -> Command {
    untar(deploy_to, id, &[])
}

/// [`extract`] for a gzip-compressed archive (what `ferry deploy` sends:
/// source code shrinks several times, and tar cannot detect compression on
/// a pipe by itself).
///
/// `--ignore-zeros` reads on past the first archive's end, so an archive
/// followed by a second one (the release's own files: manifest, REVISION)
/// unpacks in one command.
pub fn extract_gzip(deploy_to: &str, id: &str) -> Command {
    untar(deploy_to, id, &["-z", "--ignore-zeros"])
}

fn untar(deploy_to: &str, id: &str, extra: &[&str]) -> Command {
    Command::new("tar")
        .args(["-x", "-f", "-", "--unlink-first", "--no-same-owner"])
        .args(extra)
        .arg("-C")
        .arg(release_dir(deploy_to, id))
}

/// Writes `REVISION` (when there is a commit) and the manifest — read from
/// stdin, never on the command line — and links the shared paths.
///
/// A shared dir missing from `shared/` is created empty; a shared file
/// missing there is created empty with mode 0600, since shared files are
/// mostly secrets (`.env`) and an empty file beats a dangling link. Either
/// way the release's own copy (the repository's `media/.gitkeep`, say) is
/// replaced by a relative link, `../../shared/<path>` (deeper for nested
/// paths), which survives moving `deploy_to`.
pub fn finish(
    deploy_to: &str,
    id: &str,
    commit: Option<&str>,
    shared_files: &[String],
    shared_dirs: &[String],
) -> Result<Command, BadPath> {
    let dir = release_dir(deploy_to, id);
    let mut cmd = Command::new("cat")
        .raw(">")
        .arg(format!("{dir}/{MANIFEST}"));
    if let Some(commit) = commit {
        cmd = cmd.and(
            Command::new("printf")
                .arg("%s\\n")
                .arg(commit)
                .raw(">")
                .arg(format!("{dir}/{REVISION}")),
        );
    }
    link_shared_after(cmd, deploy_to, id, shared_files, shared_dirs)
}

/// Links the shared paths into the release (as [`finish`] does), for a
/// release whose manifest and REVISION came inside its archive.
pub fn link_shared(
    deploy_to: &str,
    id: &str,
    shared_files: &[String],
    shared_dirs: &[String],
) -> Result<Command, BadPath> {
    link_shared_after(
        Command::script("true"),
        deploy_to,
        id,
        shared_files,
        shared_dirs,
    )
}

fn link_shared_after(
    cmd: Command,
    deploy_to: &str,
    id: &str,
    shared_files: &[String],
    shared_dirs: &[String],
) -> Result<Command, BadPath> {
    Ok(SharedLinks::new(deploy_to, id, shared_files, shared_dirs)?.after(cmd))
}

/// What linking the shared paths into a release takes: every directory in
/// one `mkdir -p` (when one is missing), the links of one directory in one
/// `ln -s`: a process each, not one per path.
struct SharedLinks {
    /// `shared/` directories and the release directories the links go in.
    dirs: Vec<String>,
    /// Shared files, created empty (mode 0600) when missing.
    files: Vec<String>,
    /// The links, each replacing what the release has at its path.
    links: Vec<String>,
    /// Link targets by the directory their links go in.
    targets: Vec<(String, Vec<String>)>,
    /// The directories above the links, inside the release: each must not
    /// be a symlink, or the links (and the removal of what is at their
    /// paths) would land wherever it points.
    above: Vec<String>,
}

impl SharedLinks {
    fn new(
        deploy_to: &str,
        id: &str,
        shared_files: &[String],
        shared_dirs: &[String],
    ) -> Result<SharedLinks, BadPath> {
        let dir = release_dir(deploy_to, id);
        let shared = format!("{deploy_to}/shared");
        let mut out = SharedLinks {
            dirs: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            targets: Vec::new(),
            above: Vec::new(),
        };
        for (path, is_dir) in shared_dirs
            .iter()
            .map(|p| (p, true))
            .chain(shared_files.iter().map(|p| (p, false)))
        {
            let path = inside(path)?;
            let source = format!("{shared}/{path}");
            if is_dir {
                out.dirs.push(source);
            } else {
                out.dirs.push(parent(&source).to_string());
                out.files.push(source);
            }
            let depth = path.split('/').count();
            let target = format!("{}shared/{path}", "../".repeat(depth + 1));
            let link = format!("{dir}/{path}");
            for (slash, _) in path.match_indices('/') {
                let above = format!("{dir}/{}", &path[..slash]);
                if !out.above.contains(&above) {
                    out.above.push(above);
                }
            }
            let link_dir = parent(&link).to_string();
            out.dirs.push(link_dir.clone());
            out.links.push(link);
            match out.targets.iter_mut().find(|(d, _)| *d == link_dir) {
                Some((_, list)) => list.push(target),
                None => out.targets.push((link_dir, vec![target])),
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.dirs.retain(|d| seen.insert(d.clone()));
        Ok(out)
    }

    /// `cmd`, then the links.
    fn after(&self, mut cmd: Command) -> Command {
        if self.links.is_empty() {
            return cmd;
        }
        if !self.above.is_empty() {
            cmd = cmd.and(
                Command::script("{ ferry_ok=1; for ferry_p in")
                    .args(&self.above)
                    .raw(concat!(
                        "; do if [ -L \"$ferry_p\" ]; then",
                        " printf 'ferry: not linking shared paths through the symlink `%s`\\n' \"$ferry_p\" >&2;",
                        " ferry_ok=; fi; done; [ -n \"$ferry_ok\" ]; }"
                    )),
            );
        }
        cmd = cmd.and(ensure_dirs(&self.dirs));
        for file in &self.files {
            cmd = cmd
                .raw("&& { [ -e")
                .arg(file)
                .raw("] || ( umask 077 && :")
                .raw(">")
                .arg(file)
                .raw("); }");
        }
        for link in &self.links {
            cmd = cmd.and(remove_if_there(link));
        }
        // `ln -s TARGET... DIR` names each link after its target's last
        // part, which is the shared path's own.
        for (link_dir, list) in &self.targets {
            cmd = cmd.and(Command::new("ln").arg("-s").args(list).arg(link_dir));
        }
        cmd
    }
}

/// `mkdir -p` of `paths`, run only when one of them is missing. Each
/// process a remote command starts costs the host a fork and an exec
/// (~1 ms of CPU): on a deploy's every step and host, the checks the shell
/// does itself add up.
fn ensure_dirs(paths: &[String]) -> Command {
    // The loop stops at the first missing one, so the test after it tells.
    let mkdir = Command::new("mkdir").arg("-p").arg("--").args(paths);
    Command::script("{ for ferry_dir in")
        .args(paths)
        .raw("; do [ -d \"$ferry_dir\" ] || break; done; [ -d \"$ferry_dir\" ] ||")
        .raw(mkdir.as_sent())
        .raw("; }")
}

/// `rm -rf` only when something (a dangling link too) is at `path`.
fn remove_if_there(path: &str) -> Command {
    Command::script("{ { [ ! -e")
        .arg(path)
        .raw("] && [ ! -L")
        .arg(path)
        .raw("]; } || rm -rf --")
        .arg(path)
        .raw("; }")
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(".", |(parent, _)| parent)
}

/// Writes `.ferry-complete`: every pre-switch step passed.
pub fn mark_complete(deploy_to: &str, id: &str) -> Command {
    mark(deploy_to, id, COMPLETE_MARKER, FAILED_MARKER)
}

/// Writes `.ferry-failed` (and drops `.ferry-complete`): never a rollback
/// target, removed by the next cleanup.
pub fn mark_failed(deploy_to: &str, id: &str) -> Command {
    mark(deploy_to, id, FAILED_MARKER, COMPLETE_MARKER)
}

/// Drops the marker `clear` and writes `set`, with the shell's own
/// redirection (no `rm` unless there is something to remove, no `touch`).
/// A symlink at `set` is removed first: the redirection would write
/// wherever it points.
fn mark(deploy_to: &str, id: &str, set: &str, clear: &str) -> Command {
    let dir = release_dir(deploy_to, id);
    let set = format!("{dir}/{set}");
    remove_if_there(&format!("{dir}/{clear}"))
        .and(
            Command::script("{ [ ! -L")
                .arg(&set)
                .raw("] || rm -f --")
                .arg(&set)
                .raw("; }"),
        )
        .and(Command::script(":").raw(">").arg(&set))
}

/// Points `current` at the release atomically: a new link `current.tmp`,
/// then `mv -T` renames it over `current` (rename(2) replaces the old link
/// in one step; `ln -sfn` unlinks and then creates, leaving a moment with
/// no `current`). Fails if the release directory is missing. The caller
/// knows what `current` was (it probed the host under the lock), so the
/// old link is not read again: a `readlink` process less.
pub fn switch(deploy_to: &str, id: &str) -> Command {
    Command::new("set")
        .arg("--")
        .arg(deploy_to)
        .arg(id)
        .arg(release_dir(deploy_to, id))
        .raw("; if [ ! -d \"$3\" ]; then echo \"no release $3\" >&2; exit 1; fi;")
        .raw(remove_if_there(&format!("{deploy_to}/current.tmp")).as_sent())
        .raw(concat!(
            " && ln -s \"releases/$2\" \"$1/current.tmp\"",
            " && mv -T \"$1/current.tmp\" \"$1/current\""
        ))
}

/// Deletes releases. Ids that are not plain release names are skipped, and
/// so is whatever `current` points at, whatever the caller asked. Goes on
/// past one that cannot be removed and exits non-zero at the end, without
/// `exit`, so that more can follow it in one command (`ferry deploy`
/// releases the lock right after).
pub fn remove(deploy_to: &str, ids: &[String]) -> Command {
    let ids = ids.iter().filter(|id| is_release_name(id));
    Command::new("set")
        .arg("--")
        .arg(deploy_to)
        .args(ids)
        .raw("; d=$1; shift; cur=;")
        .raw(&super::layout::current_id_into("\"$d/current\"", "cur"))
        .raw(concat!(
            "; ferry_rm=0; for id do if [ \"$id\" = \"$cur\" ]; then continue; fi;",
            " rm -rf -- \"$d/releases/$id\" || ferry_rm=1; done; [ \"$ferry_rm\" = 0 ]"
        ))
}

/// One line of `.ferry/history.log`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryLine {
    /// UTC RFC 3339.
    pub time: String,
    /// `user@controller-host`.
    pub user: String,
    /// `deploy`, `switch`, `rollback`.
    pub action: String,
    /// The release `current` pointed at before.
    pub from: Option<String>,
    /// The release it points at after.
    pub to: Option<String>,
    /// The commit of `to`.
    pub rev: Option<String>,
}

impl HistoryLine {
    /// Tab-separated `time user action from=… to=… rev=…`, tabs and
    /// newlines inside values replaced by spaces so it stays one line.
    pub fn to_line(&self) -> String {
        let clean = |value: &str| value.replace(['\t', '\n', '\r'], " ");
        let opt = |value: &Option<String>| clean(value.as_deref().unwrap_or("-"));
        format!(
            "{}\t{}\t{}\tfrom={}\tto={}\trev={}",
            clean(&self.time),
            clean(&self.user),
            clean(&self.action),
            opt(&self.from),
            opt(&self.to),
            opt(&self.rev)
        )
    }

    /// Reads a line written by [`HistoryLine::to_line`].
    pub fn parse(line: &str) -> Option<HistoryLine> {
        let mut parts = line.split('\t');
        let mut field = |key: &str| -> Option<Option<String>> {
            let value = parts.next()?;
            let value = if key.is_empty() {
                value
            } else {
                value.strip_prefix(key)?
            };
            Some(Some(value.to_string()).filter(|v| v != "-"))
        };
        let time = field("")??;
        let user = field("")??;
        let action = field("")??;
        Some(HistoryLine {
            time,
            user,
            action,
            from: field("from=")?,
            to: field("to=")?,
            rev: field("rev=")?,
        })
    }
}

/// Appends one line to `.ferry/history.log` (a single short `write` with
/// `O_APPEND`, so concurrent appends do not interleave).
pub fn history(deploy_to: &str, line: &HistoryLine) -> Command {
    let dir = format!("{deploy_to}/.ferry");
    ensure_dirs(std::slice::from_ref(&dir))
        .and(Command::new("printf").arg("%s\\n").arg(line.to_line()))
        .raw(">>")
        .arg(format!("{dir}/history.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_stay_inside_the_release() {
        assert_eq!(inside("media/"), Ok("media"));
        assert_eq!(inside("config/.env"), Ok("config/.env"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "/"] {
            assert!(inside(bad).is_err(), "{bad:?}");
        }
        assert!(create("/srv/app", "2", Some("1"), &[], &["../../etc".into()]).is_err());
        assert!(finish("/srv/app", "2", None, &["/etc/shadow".into()], &[]).is_err());
    }

    #[test]
    fn create_starts_empty_unpacks_then_seeds() {
        let cmd = create("/srv/my app", "2", Some("1"), &[], &[])
            .unwrap()
            .to_string();
        // Nothing of the previous release is copied: no `cp` of it at all.
        assert!(!cmd.contains("cp "), "{cmd}");
        let mkdir = cmd.find("mkdir -p '/srv/my app/releases/2'").unwrap();
        let untar = cmd.find("tar -x").unwrap();
        let seed = cmd
            .find("sh '/srv/my app/releases/2/.ferry-seed' '/srv/my app/releases/1' '/srv/my app/releases/2'")
            .unwrap();
        assert!(mkdir < untar && untar < seed, "{cmd}");
        assert!(
            cmd.ends_with("|| { rm -rf -- '/srv/my app/releases/2' ; exit 75; }; }"),
            "{cmd}"
        );
        let fresh = create("/srv/app", "2", None, &[], &[]).unwrap().to_string();
        assert!(!fresh.contains(".ferry-seed"), "{fresh}");
        assert!(
            fresh.contains("&& mkdir -p /srv/app/releases/2 &&"),
            "{fresh}"
        );
    }

    #[test]
    fn shared_links_refuse_a_symlink_above_them_in_the_release() {
        let cmd = link_shared(
            "/srv/app",
            "2",
            &["config/app.ini".into(), "config/db/x".into()],
            &["media".into()],
        )
        .unwrap()
        .to_string();
        let guard = cmd
            .find("for ferry_p in /srv/app/releases/2/config /srv/app/releases/2/config/db ; do if [ -L")
            .unwrap_or_else(|| panic!("{cmd}"));
        assert!(guard < cmd.find("mkdir").unwrap(), "{cmd}");
        assert!(guard < cmd.find("rm -rf").unwrap(), "{cmd}");
        // A top-level link has nothing above it to check.
        let top = link_shared("/srv/app", "2", &[".env".into()], &[])
            .unwrap()
            .to_string();
        assert!(!top.contains("ferry_p"), "{top}");
    }

    #[test]
    fn finish_links_shared_paths_relatively() {
        let cmd = finish(
            "/srv/app",
            "2",
            Some("abc"),
            &["config/.env".into()],
            &["media".into()],
        )
        .unwrap()
        .to_string();
        assert!(cmd.starts_with("cat > /srv/app/releases/2/.ferry-manifest"));
        // One link per directory of the release, named after the target.
        assert!(
            cmd.contains("ln -s ../../shared/media /srv/app/releases/2 "),
            "{cmd}"
        );
        assert!(
            cmd.ends_with("ln -s ../../../shared/config/.env /srv/app/releases/2/config"),
            "{cmd}"
        );
        assert!(cmd.contains("umask 077"));
        // Every directory in one mkdir, only when one is missing.
        assert_eq!(cmd.matches("mkdir").count(), 1, "{cmd}");
        assert!(cmd.contains(
            "|| mkdir -p -- /srv/app/shared/media /srv/app/releases/2 /srv/app/shared/config /srv/app/releases/2/config"
        ), "{cmd}");
    }

    #[test]
    fn links_in_one_directory_are_made_by_one_ln() {
        let cmd = link_shared(
            "/srv/app",
            "2",
            &[".env".into()],
            &["media".into(), "db".into()],
        )
        .unwrap()
        .to_string();
        assert!(
            cmd.ends_with(
                "ln -s ../../shared/media ../../shared/db ../../shared/.env /srv/app/releases/2"
            ),
            "{cmd}"
        );
    }

    #[test]
    #[should_panic(expected = "not a release name")]
    fn odd_release_ids_are_refused() {
        switch("/srv/app", "../../etc");
    }

    #[test]
    fn remove_skips_odd_ids() {
        let cmd = remove("/srv/app", &["1".into(), "..".into(), "a/b".into()]).to_string();
        assert!(cmd.starts_with("set -- /srv/app 1 ;"), "{cmd}");
    }

    #[test]
    fn history_lines_round_trip_and_stay_one_line() {
        let line = HistoryLine {
            time: "2026-11-24T10:40:00Z".into(),
            user: "alice@laptop".into(),
            action: "deploy".into(),
            from: None,
            to: Some("2".into()),
            rev: Some("abc\ndef".into()),
        };
        let text = line.to_line();
        assert!(!text.contains('\n'));
        assert_eq!(
            text,
            "2026-11-24T10:40:00Z\talice@laptop\tdeploy\tfrom=-\tto=2\trev=abc def"
        );
        let parsed = HistoryLine::parse(&text).unwrap();
        assert_eq!(parsed.from, None);
        assert_eq!(parsed.rev.as_deref(), Some("abc def"));
        assert_eq!(HistoryLine::parse("nonsense"), None);
    }
}

/// Where a release records the database migrations it knows (one name a
/// line, `app.0003_x`), written by a framework's migrate step (the built-in
/// `django/migrate` playbook does): rollback compares the lists.
pub const MIGRATIONS_FILE: &str = ".ferry-migrations";

/// Prints `RELEASE MIGRATION` for every migration every release recorded.
pub fn recorded_migrations(deploy_to: &str) -> Command {
    Command::new("cd")
        .arg(format!("{deploy_to}/releases"))
        .raw("2>/dev/null || exit 0;")
        .raw(&format!(
            "for r in *; do [ -f \"$r/{MIGRATIONS_FILE}\" ] && sed \"s|^|$r |\" \"$r/{MIGRATIONS_FILE}\"; done; true"
        ))
}

/// The migrations `from` recorded that `to` did not: what the database has
/// that the release being rolled back to does not know. `listing` is the
/// output of [`recorded_migrations`].
pub fn unknown_migrations(listing: &str, from: &str, to: &str) -> Vec<String> {
    let of = |release: &str| -> Vec<&str> {
        listing
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(r, _)| *r == release)
            .map(|(_, m)| m.trim())
            .filter(|m| !m.is_empty())
            .collect()
    };
    let known = of(to);
    of(from)
        .into_iter()
        .filter(|m| !known.contains(m))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod migration_tests {
    use super::unknown_migrations;

    #[test]
    fn migrations_of_the_newer_release_that_the_older_lacks() {
        let listing = "r1 notes.0001_initial\nr2 notes.0001_initial\nr2 notes.0002_seed\nr3 x\n";
        assert_eq!(unknown_migrations(listing, "r2", "r1"), ["notes.0002_seed"]);
        assert!(unknown_migrations(listing, "r1", "r2").is_empty());
        assert!(unknown_migrations(listing, "r9", "r1").is_empty());
    }
}
