//! The parts of `ansible.cfg` that decide how a playbook is read.
//!
//! Ansible takes the first of `$ANSIBLE_CONFIG`, `./ansible.cfg`,
//! `~/.ansible.cfg` and `/etc/ansible/ansible.cfg`; ferry reads the first
//! two (and an `ansible.cfg` beside the playbook), so that a project's own
//! file is honoured and a machine-wide one never changes what a project
//! means. Read here: `[defaults] roles_path`, and the vault password
//! sources (`vault_password_file`, `vault_identity_list`).

use std::path::{Path, PathBuf};

/// `roles_path` from the project's `ansible.cfg` (or `$ANSIBLE_ROLES_PATH`),
/// each entry resolved against the file's directory as Ansible resolves it,
/// followed by Ansible's default role directories.
pub(crate) fn roles_path(project_dir: Option<&Path>) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let configured = match std::env::var("ANSIBLE_ROLES_PATH") {
        Ok(value) => Some((value, std::env::current_dir().unwrap_or_default())),
        Err(_) => config_file(project_dir).and_then(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let value = ini_value(&text, "defaults", "roles_path")?;
            Some((
                value,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ))
        }),
    };
    match configured {
        Some((value, base)) => split_path_list(&value, &base, home.as_deref()),
        None => {
            let mut dirs: Vec<PathBuf> = home.iter().map(|h| h.join(".ansible/roles")).collect();
            dirs.push(PathBuf::from("/usr/share/ansible/roles"));
            dirs.push(PathBuf::from("/etc/ansible/roles"));
            dirs
        }
    }
}

/// The vault password sources `ansible.cfg` (or the environment, which
/// wins as in Ansible) names: `vault_password_file` (a path, relative to
/// the file's directory) and `vault_identity_list` (`ID@SOURCE`, comma-separated).
pub(crate) fn vault_sources(project_dir: Option<&Path>) -> crate::vault::Sources {
    let cfg = config_file(project_dir).and_then(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        Some((
            text,
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ))
    });
    let setting = |env: &str, key: &str| match std::env::var(env) {
        Ok(value) => Some((value, std::env::current_dir().unwrap_or_default())),
        Err(_) => cfg
            .as_ref()
            .and_then(|(text, base)| Some((ini_value(text, "defaults", key)?, base.clone()))),
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let files = setting("ANSIBLE_VAULT_PASSWORD_FILE", "vault_password_file")
        .filter(|(value, _)| !value.is_empty())
        .map(|(value, base)| expand(&value, &base, home.as_deref()));
    let ids = setting("ANSIBLE_VAULT_IDENTITY_LIST", "vault_identity_list")
        .map(|(value, base)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|id| match id.split_once('@') {
                    Some((name, source)) if source != "prompt" => {
                        format!(
                            "{name}@{}",
                            expand(source, &base, home.as_deref()).display()
                        )
                    }
                    _ => id.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    crate::vault::Sources {
        ids,
        files: files.into_iter().collect(),
        ask: false,
    }
}

/// The `ansible.cfg` that applies: `$ANSIBLE_CONFIG`, else the current
/// directory's, else the one beside the playbook.
fn config_file(project_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ANSIBLE_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let cwd = PathBuf::from("ansible.cfg");
    let beside = project_dir.map(|d| d.join("ansible.cfg"));
    [Some(cwd), beside]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// The value of `key` in `[section]` of an INI text, as Python's
/// configparser reads it (`=` or `:`, `#`/`;` comment lines, keys trimmed).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut found = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        if current != section {
            continue;
        }
        let Some(split) = trimmed.find(['=', ':']) else {
            continue;
        };
        if trimmed[..split].trim() == key {
            found = Some(trimmed[split + 1..].trim().to_string());
        }
    }
    found
}

/// `a:~/b:/c` → paths, `~` expanded, relative ones against `base`.
fn split_path_list(value: &str, base: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    value
        .split(':')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| expand(entry, base, home))
        .collect()
}

/// One path: `~` expanded, a relative one against `base`.
fn expand(entry: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    match (entry.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if Path::new(entry).is_absolute() => PathBuf::from(entry),
        _ => base.join(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_path_is_read_from_the_defaults_section_only() {
        let text = "[privilege_escalation]\nroles_path = /wrong\n\n[defaults]\n# roles_path = /commented\ninventory = hosts\nroles_path : ./roles:~/shared/roles:/etc/roles\n";
        assert_eq!(
            ini_value(text, "defaults", "roles_path").as_deref(),
            Some("./roles:~/shared/roles:/etc/roles")
        );
        assert_eq!(ini_value(text, "defaults", "forks"), None);
    }

    #[test]
    fn relative_entries_are_relative_to_the_config_file() {
        let dirs = split_path_list(
            "./roles:~/shared/roles:/etc/roles",
            Path::new("/srv/project"),
            Some(Path::new("/home/me")),
        );
        assert_eq!(
            dirs,
            [
                PathBuf::from("/srv/project/./roles"),
                PathBuf::from("/home/me/shared/roles"),
                PathBuf::from("/etc/roles")
            ]
        );
    }
}
