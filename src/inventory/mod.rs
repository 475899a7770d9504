//! Ansible inventories, INI and YAML, read as Ansible reads them: the first
//! stage of the pipeline next to the playbook parser.
//!
//! An [`Inventory`] is built by a format reader (`ini`, `yaml`), reconciled
//! the way Ansible's `InventoryData.reconcile_inventory` does it (every group
//! hangs under `all`; a host in no group but `all` is `ungrouped`, and only
//! then), and completed with the `group_vars/` and `host_vars/` directories
//! beside the file (`vars_dirs`). Everything after that is a query: merged
//! host vars, host patterns (`pattern`), the `--list` JSON (`ansible_json`),
//! and connection addresses.
//!
//! Orders matter because users see them: hosts and groups keep the order in
//! which the file first names them, as Ansible's dictionaries do.

mod address;
mod ansible_json;
mod graph;
mod ini;
mod pattern;
mod python_literal;
mod range;
mod shlex;
mod vars_dirs;
mod yaml;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Source, Span};

pub use address::HostAddress;

/// A parsed inventory: hosts in file order, groups, and their variables.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: Vec<Host>,
    host_index: HashMap<String, usize>,
    /// Groups in creation order; `all` is 0 and `ungrouped` is 1, as in Ansible.
    groups: Vec<Group>,
    group_index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
struct Host {
    name: String,
    /// Vars written in the inventory file itself.
    vars: Map<String, Value>,
    /// Vars from `host_vars/`, which override `vars`.
    file_vars: Map<String, Value>,
    /// Groups that list this host directly, in the order they did.
    groups: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    vars: Map<String, Value>,
    file_vars: Map<String, Value>,
    hosts: Vec<usize>,
    children: Vec<usize>,
    parents: Vec<usize>,
    /// `ansible_group_priority`: orders groups of the same depth when merging.
    priority: i64,
    /// Longest path from `all` (computed once the inventory is complete).
    depth: usize,
}

const ALL: usize = 0;
const UNGROUPED: usize = 1;

impl Inventory {
    /// Reads an INI or YAML inventory file and the `group_vars/` and
    /// `host_vars/` directories beside it.
    ///
    /// As Ansible does: a `.ini` file (or any extension but the YAML ones) is
    /// INI; a `.yml`, `.yaml` or `.json` file, or one without extension, is
    /// read as YAML first and as INI when it is not a YAML inventory.
    pub fn load(path: &Path) -> Result<Inventory, Diagnostic> {
        let source = Source::read(path)?;
        let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
        let mut inventory = match ext.as_deref() {
            Some("toml") => {
                return Err(Diagnostic::plain(format!(
                    "cannot read `{}`: TOML inventories are not supported",
                    path.display()
                ))
                .with_help("write the inventory as INI or YAML"));
            }
            None | Some("yml" | "yaml" | "json") => match yaml::parse(&source) {
                Ok(inventory) => inventory,
                Err(yaml_error) => match ini::parse(&source) {
                    Ok(inventory) => inventory,
                    Err(ini_error) => {
                        // Report the error of the format the file was meant to be in.
                        let looks_yaml = ext.is_some() || yaml_error.looked_like_yaml;
                        return Err(if looks_yaml {
                            yaml_error.diagnostic
                        } else {
                            ini_error
                        });
                    }
                },
            },
            Some(_) => ini::parse(&source)?,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        vars_dirs::load(&mut inventory, dir)?;
        Ok(inventory)
    }

    /// Host names in inventory order.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().map(|h| h.name.as_str())
    }

    /// Whether `name` is a host of this inventory.
    pub fn has_host(&self, name: &str) -> bool {
        self.host_index.contains_key(name)
    }

    /// Group names in inventory order, `all` and `ungrouped` first.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.name.as_str())
    }

    /// The variables of one host merged as Ansible merges them: `all` <
    /// other groups, shallow before deep (same depth: by
    /// `ansible_group_priority`, then by name) < the host. Inline vars of all
    /// groups come before any `group_vars/` file, and `host_vars/` files come
    /// last, as in Ansible's variable manager. Empty for an unknown host.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let Some(&h) = self.host_index.get(host) else {
            return Map::new();
        };
        let groups = self.sorted_groups_of(h);
        let mut vars = Map::new();
        let all = &self.groups[ALL];
        merge(&mut vars, &all.vars);
        merge(&mut vars, &all.file_vars);
        for &g in &groups {
            merge(&mut vars, &self.groups[g].vars);
        }
        for &g in &groups {
            merge(&mut vars, &self.groups[g].file_vars);
        }
        merge(&mut vars, &self.hosts[h].vars);
        merge(&mut vars, &self.hosts[h].file_vars);
        vars
    }

    /// Group names of a host (excluding `all`), sorted, as Ansible's `group_names`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let Some(&h) = self.host_index.get(host) else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .groups_of(h)
            .into_iter()
            .filter(|&g| g != ALL)
            .map(|g| self.groups[g].name.clone())
            .collect();
        names.sort();
        names
    }

    /// Resolves a host pattern (as in a play's `hosts:` or `--limit`) to host
    /// names in inventory order. `span` is where the pattern was written
    /// (for errors); `None` for command-line input.
    pub fn select(&self, pattern: &str, span: Option<&Span>) -> Result<Vec<String>, Diagnostic> {
        pattern::select(self, pattern, span)
    }

    /// The inventory in exactly the JSON shape of `ansible-inventory -i FILE --list`.
    pub fn to_ansible_list(&self) -> Value {
        ansible_json::list(self)
    }

    /// Where and as whom to connect to `host`, from its merged vars.
    pub fn address(&self, host: &str) -> HostAddress {
        HostAddress::from_vars(host, &self.host_vars(host))
    }
}

/// A general hint for errors that may already carry a `did you mean`.
trait HelpIfNone {
    fn with_help_if_none(self, help: impl Into<String>) -> Self;
}

impl HelpIfNone for Diagnostic {
    fn with_help_if_none(self, help: impl Into<String>) -> Diagnostic {
        if self.help.is_some() {
            self
        } else {
            self.with_help(help)
        }
    }
}

/// Ansible's default `hash_behaviour = replace`: later keys replace earlier ones whole.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_format_is_detected_as_ansible_detects_it() {
        let dir = tempfile::tempdir().unwrap();
        let no_ext = write(dir.path(), "hosts", "[web]\nweb1\n");
        let inv = Inventory::load(&no_ext).unwrap();
        assert_eq!(inv.group_names("web1"), ["web"]);
        let ini_in_yml = write(dir.path(), "a.yml", "web1\nweb2 x=1\n");
        let inv = Inventory::load(&ini_in_yml).unwrap();
        assert_eq!(inv.hosts().collect::<Vec<_>>(), ["web1", "web2"]);
        let empty = write(dir.path(), "e.yaml", "");
        assert_eq!(Inventory::load(&empty).unwrap().hosts().count(), 0);
    }

    #[test]
    fn a_yaml_error_is_reported_for_a_yaml_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "inv.yml", "web:\n  hosts:\n    - web1\n");
        let err = Inventory::load(&path).unwrap_err();
        assert!(
            err.message
                .starts_with("`hosts` of group `web` must be a mapping"),
            "{err}"
        );
        let span = err.span.unwrap();
        assert_eq!((span.line, span.col), (3, 5));
        // Without extension a YAML mapping is still reported as YAML.
        let path = write(dir.path(), "inv", "web:\n  hosts:\n    - web1\n");
        let err = Inventory::load(&path).unwrap_err();
        assert!(err.message.starts_with("`hosts` of group `web`"), "{err}");
    }

    #[test]
    fn unreadable_and_unsupported_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Inventory::load(&dir.path().join("missing.ini")).unwrap_err();
        assert!(err.message.starts_with("cannot read `"), "{err}");
        assert!(err.message.contains("missing.ini"), "{err}");
        let toml = write(dir.path(), "inv.toml", "[web]\n");
        let err = Inventory::load(&toml).unwrap_err();
        assert!(
            err.message.contains("TOML inventories are not supported"),
            "{err}"
        );
    }

    #[test]
    fn group_vars_files_override_inline_vars_of_deeper_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "hosts.ini",
            "[parent:children]\nchild\n[child]\nh1 ansible_ssh_user=old user=alias\n[child:vars]\nx=child-inline\n",
        );
        std::fs::create_dir(dir.path().join("group_vars")).unwrap();
        write(
            &dir.path().join("group_vars"),
            "parent.yml",
            "x: parent-file\nport: '2200'\n",
        );
        let inv = Inventory::load(&path).unwrap();
        assert_eq!(inv.host_vars("h1")["x"], "parent-file");
        let address = inv.address("h1");
        assert_eq!(address.user.as_deref(), Some("old"));
        assert_eq!(address.port, Some(2200));
        assert_eq!(address.address, "h1");
    }
}
