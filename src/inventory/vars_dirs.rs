//! `group_vars/` and `host_vars/` beside the inventory file, found as
//! Ansible's `host_group_vars` plugin finds them: for a group or host NAME,
//! the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists —
//! a file, or a directory whose files (`.yml`, `.yaml`, `.json` or no
//! extension; hidden and `~` backups skipped) are read in sorted order,
//! recursively. Later files override earlier ones; empty files count as
//! nothing; anything but a mapping is an error.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Inventory;
use crate::diagnostic::{Diagnostic, Source};

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

pub(crate) fn load(inventory: &mut Inventory, dir: &Path) -> Result<(), Diagnostic> {
    let group_dir = dir.join("group_vars");
    if group_dir.is_dir() {
        for g in 0..inventory.groups.len() {
            let vars = read_vars(&group_dir, &inventory.groups[g].name, "group vars")?;
            inventory.groups[g].file_vars = vars;
        }
    }
    let host_dir = dir.join("host_vars");
    if host_dir.is_dir() {
        for h in 0..inventory.hosts.len() {
            let vars = read_vars(&host_dir, &inventory.hosts[h].name, "host vars")?;
            inventory.hosts[h].file_vars = vars;
        }
    }
    Ok(())
}

/// The merged vars of every file found for `name` in `dir`.
fn read_vars(dir: &Path, name: &str, what: &str) -> Result<Map<String, Value>, Diagnostic> {
    let mut vars = Map::new();
    // Ansible skips names like `/path/to/chroot`.
    if name.starts_with('/') {
        return Ok(vars);
    }
    for file in find(dir, name) {
        let source = Source::read(&file)?;
        let node = crate::yaml::parse(&source)?;
        match node.to_json() {
            Value::Null => {}
            Value::Object(map) => vars.extend(map),
            _ => {
                return Err(node.type_error(
                    &format!("a {what} file"),
                    "a mapping of variable names to values",
                ));
            }
        }
    }
    Ok(vars)
}

fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let candidates = std::iter::once(dir.join(name)).chain(
        EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}"))),
    );
    for path in candidates {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(&path, &mut found);
            return found;
        }
        if path.exists() {
            return vec![path];
        }
    }
    Vec::new()
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().into_owned());
        match ext {
            None if path.is_dir() => walk(&path, found),
            None => found.push(path),
            Some(ext) if EXTENSIONS.contains(&ext.as_str()) && path.is_file() => found.push(path),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_and_directories_are_found_as_ansible_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let gv = dir.path().join("group_vars");
        std::fs::create_dir_all(gv.join("web")).unwrap();
        std::fs::write(gv.join("web/b.yml"), "x: 2\n").unwrap();
        std::fs::write(gv.join("web/a.yml"), "x: 1\ny: 1\n").unwrap();
        std::fs::write(gv.join("web/c.txt"), "x: 3\n").unwrap();
        // The directory is found first, so this file is ignored.
        std::fs::write(gv.join("web.yml"), "z: 1\n").unwrap();
        let vars = read_vars(&gv, "web", "group vars").unwrap();
        assert_eq!(Value::Object(vars), json!({"x": 2, "y": 1}));
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.yml"), "- a\n- b\n").unwrap();
        let err = read_vars(dir.path(), "db", "group vars").unwrap_err();
        assert_eq!(
            err.message,
            "a group vars file must be a mapping of variable names to values, found a list"
        );
        assert_eq!(err.span.unwrap().line, 1);
    }
}
