//! What a new release takes from the host's current one: the committed
//! files that did not change, by hard link — and nothing else.
//!
//! A release directory holds more than its commit's tree once its build
//! steps ran: collected static files, a virtualenv, `__pycache__`, ferry's
//! markers. Copying the whole previous release and deleting what the commit
//! lost kept all of that, and a build step that skips what looks up to date
//! (Django's `collectstatic` compares modification times; shipped files
//! carry the commit's time) then served the old release's output under the
//! new commit. So a new release starts empty: the archive brings the files
//! that changed, and [`Seed`] hard-links the files listed as unchanged by
//! the manifests' delta, path by path.
//!
//! The list travels as a short shell script, `.ferry-seed`, in its own gzip
//! member after the archive (tar reads on with `--ignore-zeros`), so that a
//! tree of any size stays in one round trip and off the command line (sshd
//! hands the whole command to the shell as one argument, at most 128 KiB).
//! The script refuses — exit status [`SEED_UNUSABLE`] — when the previous
//! release does not look as its manifest says: a directory of a kept file
//! that is a symlink or missing (it would be followed, perhaps out of
//! `deploy_to`), a kept file that is missing or became a directory. The
//! deploy then removes the half-made release and sends the whole tree. So
//! it does when a kept file was modified after the old release was shipped
//! (a build step rewrote it there): see [`Seed::script`].

use std::io::Write as _;
use std::sync::Arc;

use super::layout::{MANIFEST, OWN_NAMES};
use crate::shell::quote;
use crate::transport::Stdin;

/// The seed script's name inside the new release (removed once it ran).
pub const SEED_FILE: &str = ".ferry-seed";

/// Exit status of a release command whose seed could not be used: the
/// release directory is removed again, and the deploy sends every file.
pub const SEED_UNUSABLE: u32 = 75;

/// Most bytes of paths given to one `cp`: far below the kernel's limit on a
/// command line (2 MiB in all, here), so no system refuses it.
const CHUNK: usize = 64 * 1024;

/// The unchanged committed files a new release links from the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    from: String,
    paths: Vec<String>,
}

impl Seed {
    /// The files of `keep` (a delta's unchanged paths, in path order) that
    /// the new release takes from release `from`, without the shared paths
    /// and what lies below them (the release links those to `shared/`) and
    /// ferry's own names. `None` when that leaves nothing.
    pub fn new(from: &str, keep: &[String], shared: &[String]) -> Option<Seed> {
        let shared: Vec<&str> = shared.iter().map(|s| s.trim_end_matches('/')).collect();
        let at_or_below = |path: &str, top: &str| {
            path == top
                || path
                    .strip_prefix(top)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        let paths: Vec<String> = keep
            .iter()
            .filter(|path| !shared.iter().any(|top| at_or_below(path, top)))
            .filter(|path| {
                let first = path.split('/').next().unwrap_or_default();
                !OWN_NAMES.contains(&first)
            })
            .cloned()
            .collect();
        (!paths.is_empty()).then(|| Seed {
            from: from.to_string(),
            paths,
        })
    }

    /// The release the files are linked from.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The files linked, in path order.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The script, run as `sh .ferry-seed OLD NEW` after the archive was
    /// unpacked into `NEW`. Its tests of directories are shell builtins;
    /// its processes are one `mkdir`, and a `find` (in a subshell) and a
    /// `cp` per 64 KiB of paths.
    ///
    /// `find` looks for a kept file modified after the old release was
    /// shipped (newer than its `.ferry-manifest`, which the archive wrote
    /// with the deploy's time): a build step that rewrote a committed file
    /// there, even by renaming a new one over it, would otherwise hand its
    /// output to the new release too. A clock on the host far behind the
    /// controller's can hide such a change; a commit dated in the future
    /// only costs a full upload.
    pub fn script(&self) -> String {
        let mut dirs: Vec<&str> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for path in &self.paths {
            for (slash, _) in path.match_indices('/') {
                if seen.insert(&path[..slash]) {
                    dirs.push(&path[..slash]);
                }
            }
        }
        let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
        let mut size = 0;
        for path in &self.paths {
            if size > CHUNK {
                chunks.push(Vec::new());
                size = 0;
            }
            let word = quote(path);
            size += word.len() + 1;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push(word);
            }
        }
        let mut script = String::from(concat!(
            "# ferry: hard-link the unchanged committed files of release $1 into $2\n",
            "fail() { printf 'ferry: cannot seed from %s: %s\\n' \"$1\" \"$2\" >&2; exit 75; }\n",
            "old=$1 new=$2\n",
            "[ ! -L \"$old\" ] && cd -P -- \"$old\" 2>/dev/null || fail \"$old\" 'not a directory'\n",
        ));
        let words: Vec<String> = dirs.iter().map(|d| quote(d)).collect();
        if !words.is_empty() {
            script.push_str(&format!(
                "for d in {}; do if [ -L \"$d\" ] || [ ! -d \"$d\" ]; then fail \"$old\" \"\\`$d\\` is not a directory\"; fi; done\n",
                words.join(" ")
            ));
        }
        for chunk in &chunks {
            // `./` before each path: find has no `--`.
            let here: Vec<String> = chunk.iter().map(|w| format!("./{w}")).collect();
            script.push_str(&format!(
                "ferry_newer=$(find -P {} -prune -type f -newer {MANIFEST} -print -quit) || fail \"$old\" 'a kept file is missing'\n",
                here.join(" ")
            ));
            script.push_str(
                "[ -z \"$ferry_newer\" ] || fail \"$old\" \"\\`${ferry_newer#./}\\` changed after it was shipped\"\n",
            );
        }
        if !words.is_empty() {
            let inside: Vec<String> = words.iter().map(|w| format!("\"$new\"/{w}")).collect();
            script.push_str(&format!(
                "mkdir -p -- {} || fail \"$old\" 'cannot make directories'\n",
                inside.join(" ")
            ));
        }
        for chunk in &chunks {
            script.push_str(&format!(
                "cp -l -P --parents -t \"$new\" -- {} || fail \"$old\" 'a kept file is missing or changed type'\n",
                chunk.join(" ")
            ));
        }
        script.push_str(&format!("exec rm -f -- \"$new\"/{SEED_FILE}\n"));
        script
    }

    /// A gzip member holding a tar archive of [`SEED_FILE`]: sent after the
    /// release's archive, unpacked by the same `tar -x`.
    pub fn archive(&self) -> std::io::Result<Vec<u8>> {
        let script = self.script();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        {
            let mut tar = tar::Builder::new(&mut gz);
            let mut header = tar::Header::new_gnu();
            header.set_size(script.len() as u64);
            header.set_mode(0o600);
            header.set_mtime(0);
            header.set_cksum();
            tar.append_data(&mut header, SEED_FILE, script.as_bytes())?;
            tar.finish()?;
        }
        gz.flush()?;
        gz.finish()
    }
}

/// A release's archive, shared by every host that needs it, then a host's
/// own seed member: one stdin, neither copied.
pub fn stdin_then(archive: Arc<Vec<u8>>, member: Vec<u8>) -> Stdin {
    use tokio::io::AsyncReadExt as _;
    Box::new(std::io::Cursor::new(Shared(archive)).chain(std::io::Cursor::new(member)))
}

/// Bytes shared between hosts, readable through a `Cursor`.
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn shared_paths_and_ferrys_own_names_are_not_seeded() {
        let keep = strings(&[
            ".ferry-migrations",
            "REVISION",
            "app.py",
            "config/app.ini",
            "config/app.ini.example",
            "media/.gitkeep",
            "mediakit/x.css",
        ]);
        let shared = strings(&["media/", "config/app.ini"]);
        let seed = Seed::new("001", &keep, &shared).unwrap();
        assert_eq!(
            seed.paths(),
            ["app.py", "config/app.ini.example", "mediakit/x.css"]
        );
        assert_eq!(seed.from(), "001");
        assert_eq!(Seed::new("001", &strings(&["media/a"]), &shared), None);
    }

    #[test]
    fn the_script_checks_every_directory_once_and_links_in_one_cp() {
        let keep = strings(&["a/b/c.py", "a/b/d.py", "a/e.py", "it's here", "z/f"]);
        let script = Seed::new("1", &keep, &[]).unwrap().script();
        assert!(
            script.contains("for d in a a/b z; do"),
            "every ancestor, once, in order:\n{script}"
        );
        assert!(script.contains("mkdir -p -- \"$new\"/a \"$new\"/a/b \"$new\"/z ||"));
        assert_eq!(script.matches("cp -l").count(), 1, "{script}");
        assert!(
            script.contains("-- a/b/c.py a/b/d.py a/e.py 'it'\"'\"'s here' z/f ||"),
            "{script}"
        );
        // Top-level files only: nothing to check, nothing to make.
        let flat = Seed::new("1", &strings(&["a", "b"]), &[]).unwrap().script();
        assert!(
            !flat.contains("for d in") && !flat.contains("mkdir"),
            "{flat}"
        );
    }

    #[test]
    fn many_paths_are_split_over_several_cps() {
        let keep: Vec<String> = (0..20_000)
            .map(|i| format!("pkg/module{i:05}.py"))
            .collect();
        let script = Seed::new("1", &keep, &[]).unwrap().script();
        let cps: Vec<&str> = script.lines().filter(|l| l.starts_with("cp ")).collect();
        assert!(cps.len() > 1, "{}", cps.len());
        assert!(cps.iter().all(|l| l.len() < CHUNK + 200));
        let linked: usize = cps.iter().map(|l| l.matches(".py").count()).sum();
        assert_eq!(linked, keep.len());
    }

    /// The script run by the system's `sh` against real directories: what
    /// it links, and what makes it refuse.
    #[test]
    fn the_script_links_kept_files_and_refuses_a_previous_release_that_differs() {
        use std::os::unix::fs::{MetadataExt as _, symlink};
        let run = |seed: &Seed, old: &std::path::Path, new: &std::path::Path| {
            let file = new.join(SEED_FILE);
            std::fs::write(&file, seed.script()).unwrap();
            std::process::Command::new("sh")
                .arg(&file)
                .arg(old)
                .arg(new)
                .output()
                .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::create_dir_all(old.join("a/b")).unwrap();
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(old.join("a/b/kept.py"), "kept").unwrap();
        std::fs::write(old.join("built.css"), "build output").unwrap();
        symlink("a/b/kept.py", old.join("link")).unwrap();
        // Shipped files carry their commit's time, older than the manifest.
        std::fs::write(old.join(MANIFEST), "").unwrap();
        let touch = |date: &str, path: &std::path::Path| {
            let status = std::process::Command::new("touch")
                .args(["-d", date])
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        };
        touch("2020-01-01", &old.join("a/b/kept.py"));
        let seed = Seed::new("old", &strings(&["a/b/kept.py", "link"]), &[]).unwrap();
        let out = run(&seed, &old, &new);
        assert!(out.status.success(), "{out:?}");
        let ino = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().ino();
        assert_eq!(ino(&old.join("a/b/kept.py")), ino(&new.join("a/b/kept.py")));
        assert_eq!(ino(&old.join("link")), ino(&new.join("link")));
        assert!(!new.join("built.css").exists());
        assert!(!new.join(SEED_FILE).exists());

        // A kept file that a build step rewrote after it was shipped.
        let rewritten = dir.path().join("rewritten");
        std::fs::create_dir_all(&rewritten).unwrap();
        touch("2020-01-01", &old.join(MANIFEST));
        touch("2021-01-01", &old.join("a/b/kept.py"));
        let out = run(&seed, &old, &rewritten);
        assert_eq!(out.status.code(), Some(SEED_UNUSABLE as i32), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("`a/b/kept.py` changed after it was shipped"),
            "{stderr}"
        );
        touch("2022-01-01", &old.join(MANIFEST));

        // A kept file's directory became a symlink out of the release: not
        // followed.
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(outside.join("b")).unwrap();
        std::fs::write(outside.join("b/kept.py"), "outside").unwrap();
        std::fs::rename(old.join("a"), dir.path().join("a-moved")).unwrap();
        symlink(&outside, old.join("a")).unwrap();
        let fresh = dir.path().join("fresh");
        std::fs::create_dir_all(&fresh).unwrap();
        let out = run(&seed, &old, &fresh);
        assert_eq!(out.status.code(), Some(SEED_UNUSABLE as i32), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("`a` is not a directory"), "{stderr}");
        assert!(!fresh.join("a/b/kept.py").exists());

        // A kept file that is gone, or a directory now.
        std::fs::remove_file(old.join("a")).unwrap();
        std::fs::create_dir_all(old.join("a/b/kept.py")).unwrap();
        let out = run(&seed, &old, &fresh);
        assert_eq!(out.status.code(), Some(SEED_UNUSABLE as i32), "{out:?}");
    }
}
