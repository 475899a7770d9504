//! The app every tool deploys, in a git repository: 150 Python modules, 40
//! static files, 8 SQL migrations and a `manage.py` whose `migrate` (SQLite
//! in the shared `db/`) and `collectstatic` (hashed copies and a manifest)
//! do real work — ~200 files, ~2 MB. Also what a host must hold afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

const MODULES: usize = 150;
const STATIC: usize = 40;
const MIGRATIONS: usize = 8;

const MANAGE_PY: &str = r#"#!/usr/bin/env python3
"""A stand-in for Django's manage.py: `migrate` and `collectstatic`.

The database skips fsync (`synchronous = off`): on a shared test machine a
synced commit costs a disk's whim, which would drown what the benchmark
compares, the deploy tools.
"""
import hashlib
import json
import os
import shutil
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def migrate():
    db = sqlite3.connect(os.path.join(HERE, "db", "app.sqlite3"))
    db.execute("pragma synchronous = off")
    db.execute("create table if not exists applied (name text primary key)")
    done = {row[0] for row in db.execute("select name from applied")}
    folder = os.path.join(HERE, "migrations")
    count = 0
    for name in sorted(os.listdir(folder)):
        if name.endswith(".sql") and name not in done:
            with open(os.path.join(folder, name)) as f:
                db.executescript("begin;\n" + f.read() + "commit;\n")
            db.execute("insert into applied values (?)", (name,))
            count += 1
    db.commit()
    print(f"applied {count} migrations")


def collectstatic():
    source = os.path.join(HERE, "static")
    target = os.path.join(HERE, "staticfiles")
    os.makedirs(target, exist_ok=True)
    manifest = {}
    for name in sorted(os.listdir(source)):
        with open(os.path.join(source, name), "rb") as f:
            digest = hashlib.md5(f.read()).hexdigest()[:12]
        stem, ext = os.path.splitext(name)
        hashed = f"{stem}.{digest}{ext}"
        shutil.copyfile(os.path.join(source, name), os.path.join(target, hashed))
        manifest[name] = hashed
    with open(os.path.join(target, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(manifest)} static files copied")


if __name__ == "__main__":
    {"migrate": migrate, "collectstatic": collectstatic}[sys.argv[1]]()
"#;

/// The app's repository (also the ferry project it is deployed from).
pub struct App {
    pub dir: PathBuf,
}

impl App {
    /// Writes the app into `dir` (new), with ferry's `deploy.yml` from
    /// `peers`, and commits it.
    pub fn new(dir: &Path, peers: &Path) -> App {
        std::fs::create_dir_all(dir).unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        for i in 0..MODULES {
            let line = format!("VALUE_{i} = {:?}  # padding\n", "x".repeat(48));
            write(
                &format!("app/pkg{}/module{i}.py", i % 10),
                &line.repeat(160),
            );
        }
        for i in 0..STATIC {
            let ext = if i % 2 == 0 { "css" } else { "js" };
            let line = format!("/* asset {i} */ .c{i} {{ margin: {i}px; }}\n");
            write(&format!("static/asset{i}.{ext}"), &line.repeat(180));
        }
        for i in 1..=MIGRATIONS {
            let sql = format!(
                "create table t{i} (id integer primary key, name text);\n{}",
                (0..50)
                    .map(|r| format!("insert into t{i} (name) values ('row {r}');\n"))
                    .collect::<String>()
            );
            write(&format!("migrations/{i:04}_step.sql"), &sql);
        }
        write("manage.py", MANAGE_PY);
        write(
            "requirements.txt",
            "# nothing beyond the standard library\n",
        );
        write(
            "deploy.yml",
            &std::fs::read_to_string(peers.join("ferry/deploy.yml")).unwrap(),
        );
        write(
            ".gitignore",
            ".ssh/\ninventory/\n*.log\n*.err\nsteps*.yml\n",
        );
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["config", "user.email", "bench@example.org"],
            &["config", "user.name", "Bench"],
            &["add", "-A"],
            &["commit", "-q", "-m", "app"],
        ] {
            git(dir, args);
        }
        App {
            dir: dir.to_path_buf(),
        }
    }

    pub fn head(&self) -> String {
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    /// Files and bytes of the committed tree.
    pub fn size(&self) -> (usize, u64) {
        let files = git(&self.dir, &["ls-files"]);
        let bytes = files
            .lines()
            .map(|f| std::fs::metadata(self.dir.join(f)).map_or(0, |m| m.len()))
            .sum();
        (files.lines().count(), bytes)
    }

    /// Appends `VERSION = n` to one module and commits.
    pub fn change_one_file(&self, version: usize) {
        let path = self.dir.join("app/pkg0/module0.py");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("VERSION = {version}\n"));
        std::fs::write(path, text).unwrap();
        git(&self.dir, &["commit", "-q", "-am", "one file"]);
    }
}

/// Checks that `current` in `deploy_to` is a complete release of `rev`:
/// its REVISION, every module and static file, the collected static files,
/// the shared links, and (when given) the changed module's `VERSION`.
pub fn verify(deploy_to: &Path, rev: &str, version: Option<usize>) -> Result<(), String> {
    verify_in(Path::new("/"), deploy_to, rev, version)
}

/// [`verify`] on a host whose files this machine sees under `root` (a
/// server's `/proc/PID/root`): an absolute `current` link is read there.
pub fn verify_in(
    root: &Path,
    deploy_to: &Path,
    rev: &str,
    version: Option<usize>,
) -> Result<(), String> {
    let link = std::fs::read_link(deploy_to.join("current"))
        .map_err(|e| format!("{}/current: {e}", deploy_to.display()))?;
    let release = match link.strip_prefix("/") {
        Ok(inside) => root.join(inside),
        Err(_) => deploy_to.join(link),
    };
    let fail = |what: &str| Err(format!("{}: {what}", release.display()));
    let revision = std::fs::read_to_string(release.join("REVISION")).unwrap_or_default();
    if revision.lines().next() != Some(rev) {
        return fail(&format!("REVISION is {revision:?}, not {rev}"));
    }
    let count = |dir: &str| walk(&release.join(dir));
    if count("app") != MODULES || count("static") != STATIC || count("migrations") != MIGRATIONS {
        return fail("the tree is incomplete");
    }
    if !release.join("manage.py").is_file() {
        return fail("no manage.py");
    }
    let manifest = std::fs::read_to_string(release.join("staticfiles/manifest.json"));
    if manifest.map_or(true, |m| m.matches(": ").count() != STATIC) {
        return fail("collectstatic did not run");
    }
    for shared in [".env", "media", "db"] {
        if !release.join(shared).is_symlink() {
            return fail(&format!("{shared} is not a shared link"));
        }
    }
    if let Some(v) = version {
        let module =
            std::fs::read_to_string(release.join("app/pkg0/module0.py")).unwrap_or_default();
        if !module.ends_with(&format!("VERSION = {v}\n")) {
            return fail(&format!("app/pkg0/module0.py is not version {v}"));
        }
    }
    Ok(())
}

/// Whether `migrate` ran in `deploy_to` (its database exists in `shared/`).
pub fn migrated(deploy_to: &Path) -> bool {
    deploy_to.join("shared/db/app.sqlite3").is_file()
}

/// Regular files under `dir`, recursively.
fn walk(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk(&e.path()),
            Ok(t) if t.is_file() => 1,
            _ => 0,
        })
        .sum()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
