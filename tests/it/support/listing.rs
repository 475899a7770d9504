//! A recursive listing of directory trees — every entry's kind, mode, size,
//! modification time and link target — to show that a command which
//! promises to change nothing (a plan, a dry run) left every byte and every
//! directory as it was. Directories are listed too: a file made and removed
//! again still moves its directory's mtime.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Every entry under some roots, by path.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing(BTreeMap<PathBuf, String>);

impl Listing {
    /// Lists `roots` (files or directories; a missing root is listed as
    /// missing), leaving out entries for which `ignore` is true (and what is
    /// under them): files the running app and daemons write on their own.
    pub fn of(roots: &[PathBuf], ignore: &dyn Fn(&Path) -> bool) -> Listing {
        let mut entries = BTreeMap::new();
        for root in roots {
            walk(root, ignore, &mut entries);
        }
        Listing(entries)
    }

    /// One line per entry that differs between `self` (before) and `after`,
    /// empty when none does.
    pub fn changes_to(&self, after: &Listing) -> Vec<String> {
        let mut changes = Vec::new();
        for (path, was) in &self.0 {
            match after.0.get(path) {
                None => changes.push(format!("removed {}: was {was}", path.display())),
                Some(now) if now != was => {
                    changes.push(format!("changed {}: {was} → {now}", path.display()))
                }
                Some(_) => {}
            }
        }
        for (path, now) in &after.0 {
            if !self.0.contains_key(path) {
                changes.push(format!("added {}: {now}", path.display()));
            }
        }
        changes
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

fn walk(path: &Path, ignore: &dyn Fn(&Path) -> bool, entries: &mut BTreeMap<PathBuf, String>) {
    if ignore(path) {
        return;
    }
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        entries.insert(path.to_path_buf(), "missing".into());
        return;
    };
    let kind = meta.file_type();
    let target = if kind.is_symlink() {
        std::fs::read_link(path)
            .map(|t| format!(" -> {}", t.display()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let size = if kind.is_dir() { 0 } else { meta.size() };
    entries.insert(
        path.to_path_buf(),
        format!(
            "mode {:o} size {size} mtime {}.{:09}{target}",
            meta.mode(),
            meta.mtime(),
            meta.mtime_nsec()
        ),
    );
    if kind.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        children.sort();
        for child in children {
            walk(&child, ignore, entries);
        }
    }
}
