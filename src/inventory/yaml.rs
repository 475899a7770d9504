//! The YAML inventory format, as Ansible's `yaml` plugin reads it: a mapping
//! of group names, each with optional `hosts:` (a mapping of host names to
//! their vars, or null), `vars:` and `children:` (a mapping of groups, read
//! recursively). A group named in several places is one group; its hosts,
//! vars and children add up.
//!
//! Ansible skips an unknown key or a malformed group with a warning and
//! loses its hosts; ferry says what is wrong instead.

use std::sync::Arc;

use super::{HelpIfNone, Inventory, range};
use crate::diagnostic::{Diagnostic, Source};
use crate::yaml::{self, Node, Value};

/// A file that is not a YAML inventory; `looked_like_yaml` says whether it
/// was a YAML mapping (so the error is worth showing rather than the INI
/// reader's).
pub(crate) struct YamlError {
    pub diagnostic: Diagnostic,
    pub looked_like_yaml: bool,
}

pub(crate) fn parse(source: &Arc<Source>) -> Result<Inventory, YamlError> {
    let not_yaml = |diagnostic| YamlError {
        diagnostic,
        looked_like_yaml: false,
    };
    let root = yaml::parse(source).map_err(not_yaml)?;
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            return Err(not_yaml(root.error("empty YAML inventory")));
        }
        _ => {
            return Err(not_yaml(
                root.type_error("a YAML inventory", "a mapping of group names"),
            ));
        }
    };
    let as_yaml = |diagnostic| YamlError {
        diagnostic,
        looked_like_yaml: true,
    };
    if let Some((key, _)) = entries.iter().find(|(k, _)| k.as_str() == Some("plugin")) {
        return Err(as_yaml(
            key.error("inventory plugin configurations are not supported")
                .with_help("list the hosts and groups in an INI or YAML inventory"),
        ));
    }
    let mut inventory = Inventory::new();
    for (name, body) in last_wins(entries) {
        group(&mut inventory, name, body).map_err(as_yaml)?;
    }
    inventory.reconcile();
    Ok(inventory)
}

/// Mapping entries with duplicate keys removed, the last one winning (at
/// its own place), as PyYAML (and so Ansible) keeps them. Linear: a
/// group's `hosts:` may hold thousands of entries.
fn last_wins(entries: &[(Node, Node)]) -> Vec<(&Node, &Node)> {
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.scalar_string()).collect();
    let last: std::collections::HashMap<_, usize> =
        keys.iter().enumerate().map(|(i, key)| (key, i)).collect();
    entries
        .iter()
        .enumerate()
        .filter(|(i, _)| last[&keys[*i]] == *i)
        .map(|(_, (k, v))| (k, v))
        .collect()
}

/// Reads one group definition; returns the group's index.
fn group(inventory: &mut Inventory, name: &Node, body: &Node) -> Result<usize, Diagnostic> {
    let Some(group_name) = name.as_str() else {
        return Err(name.type_error("a group name", "a string"));
    };
    if group_name.is_empty() {
        return Err(name.error("empty group name"));
    }
    let entries = match &body.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(body
                .type_error(
                    &format!("group `{group_name}`"),
                    "a mapping with `hosts`, `vars` or `children`",
                )
                .with_help(format!(
                    "to list hosts, write them under `{group_name}:` as `hosts:` followed by one `name:` per line"
                )));
        }
    };
    let g = inventory.add_group(group_name);
    for (key, value) in last_wins(entries) {
        let Some(section) = key.as_str() else {
            return Err(key.type_error("a group key", "`hosts`, `vars` or `children`"));
        };
        if !matches!(section, "hosts" | "vars" | "children") {
            return Err(key
                .error(format!("unknown key `{section}` in group `{group_name}`"))
                .suggest(section, ["hosts", "vars", "children"])
                .with_help_if_none("a group has only `hosts`, `vars` and `children`"));
        }
        // A lone string stands for a mapping with one null entry, as in Ansible.
        let single;
        let items: &[(Node, Node)] = match &value.value {
            Value::Map(items) => items,
            Value::Null => &[],
            Value::Str(_) => {
                single = [(
                    value.clone(),
                    Node {
                        value: Value::Null,
                        span: value.span.clone(),
                    },
                )];
                &single
            }
            _ => {
                let what = match section {
                    "hosts" => "a mapping of host names (each followed by `:`)",
                    "children" => "a mapping of group names (each followed by `:`)",
                    _ => "a mapping of variable names to values",
                };
                let mut err =
                    value.type_error(&format!("`{section}` of group `{group_name}`"), what);
                if matches!(value.value, Value::Seq(_)) && section != "vars" {
                    err = err.with_help(format!(
                        "write `{section}:` entries as `name:` on their own lines, not as a `- name` list"
                    ));
                }
                return Err(err);
            }
        };
        match section {
            "vars" => {
                for (var, v) in last_wins(items) {
                    let Some(var_name) = var.scalar_string() else {
                        return Err(var.type_error("a variable name", "a string"));
                    };
                    inventory
                        .set_group_var(g, var_name, v.to_json())
                        .map_err(|m| v.error(m))?;
                }
            }
            "children" => {
                for (child_name, child_body) in last_wins(items) {
                    let c = group(inventory, child_name, child_body)?;
                    inventory.add_child(g, c).map_err(|m| child_name.error(m))?;
                }
            }
            _ => {
                for (pattern, vars) in last_wins(items) {
                    hosts(inventory, g, pattern, vars)?;
                }
            }
        }
    }
    Ok(g)
}

/// One `hosts:` entry: a host name (maybe with ranges and a port) and its vars.
fn hosts(
    inventory: &mut Inventory,
    g: usize,
    pattern: &Node,
    vars: &Node,
) -> Result<(), Diagnostic> {
    let Some(text) = pattern.as_str() else {
        return Err(pattern
            .type_error("a host name", "a string")
            .with_help("put quotes around a host name that YAML reads as a number"));
    };
    let (names, port) = range::expand(text).map_err(|e| {
        let mut span = pattern.span.clone();
        // Point inside the name when it is written plainly on one line.
        if span.len as usize == text.chars().count() {
            span = span.moved(span.line, span.col + e.offset as u32, e.len as u32);
        }
        Diagnostic::new(e.message, span)
    })?;
    let entries = match &vars.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(vars.type_error(
                &format!("the vars of host `{text}`"),
                "a mapping of variable names to values",
            ));
        }
    };
    for name in names {
        let h = inventory.add_host(&name, g, port);
        for (var, v) in last_wins(entries) {
            let Some(var_name) = var.scalar_string() else {
                return Err(var.type_error("a variable name", "a string"));
            };
            inventory.set_host_var(h, var_name, v.to_json());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Result<Inventory, Diagnostic> {
        parse(&Source::new("inventory.yml", text)).map_err(|e| e.diagnostic)
    }

    fn error(text: &str) -> (String, u32, u32) {
        let err = load(text).unwrap_err();
        let span = err.span.clone().expect("a location");
        (err.message, span.line, span.col)
    }

    #[test]
    fn groups_nest_and_merge() {
        let inv = load(
            "all:\n  vars: {a: 1}\n  hosts:\n    solo:\n  children:\n    web:\n      hosts:\n        web[1:2]:\n          x: yes\n\
             prod:\n  children:\n    web:\n      vars: {a: 2}\n",
        )
        .unwrap();
        assert_eq!(inv.hosts().collect::<Vec<_>>(), ["solo", "web1", "web2"]);
        assert_eq!(inv.group_names("solo"), ["ungrouped"]);
        assert_eq!(inv.group_names("web1"), ["prod", "web"]);
        assert_eq!(
            serde_json::Value::Object(inv.host_vars("web2")),
            json!({"a": 2, "x": true})
        );
    }

    #[test]
    fn wrong_types_are_said_plainly() {
        assert_eq!(
            error("all:\n  children:\n    web:\n      hosts:\n        - web1\n"),
            (
                "`hosts` of group `web` must be a mapping of host names (each followed by `:`), found a list"
                    .into(),
                5,
                9
            )
        );
        assert_eq!(
            error("web:\n  host:\n    web1:\n"),
            ("unknown key `host` in group `web`".into(), 2, 3)
        );
        assert_eq!(
            error("web:\n  hosts:\n    web[3:1]:\n").0,
            "invalid range `[3:1]`: its start is after its end"
        );
        assert_eq!(error("web:\n  hosts:\n    web[3:1]:\n").2, 8);
        assert_eq!(
            error("web:\n  hosts:\n    web[1:999999999]:\n"),
            (
                "range `[1:999999999]` makes 999999999 hosts: one name may stand for at most 100000"
                    .into(),
                3,
                8
            )
        );
        assert_eq!(
            error("web:\n  hosts:\n    5:\n").0,
            "a host name must be a string, found an integer"
        );
        assert_eq!(
            error("web:\n  hosts:\n    web1: 5\n").0,
            "the vars of host `web1` must be a mapping of variable names to values, found an integer"
        );
    }
}
