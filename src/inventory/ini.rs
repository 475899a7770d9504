//! The INI inventory format, read line by line as Ansible's `ini` plugin
//! reads it.
//!
//! Lines before any section are hosts of `ungrouped`. `[g]` holds host lines
//! (`name[:port] key=value ...`, split like a POSIX shell), `[g:vars]` holds
//! `key=value` lines, `[g:children]` group names. A group named only in a
//! `:children` or `:vars` section must be declared by its own `[g]` or
//! `[g:children]` somewhere in the file. Values are typed as Python literals
//! (see `python_literal`), in host lines and `:vars` sections alike.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::Value;

use super::{HelpIfNone, Inventory, python_literal, range, shlex};
use crate::diagnostic::{Diagnostic, Source, Span};

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").unwrap());
static GROUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").unwrap());

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hosts,
    Vars,
    Children,
}

/// A group used before it is declared, and where.
struct Pending {
    span: Span,
    kind: Kind,
    /// For `:children`: the groups that named it.
    parents: Vec<usize>,
}

pub(crate) fn parse(source: &Arc<Source>) -> Result<Inventory, Diagnostic> {
    let mut inventory = Inventory::new();
    let mut group = super::UNGROUPED;
    let mut kind = Kind::Hosts;
    // Keyed by group name, in the order first seen (for the first error).
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut pending_order: Vec<String> = Vec::new();

    for (index, raw) in source.text.lines().enumerate() {
        let number = index as u32 + 1;
        let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
        let line = raw.trim();
        let span = |offset: usize, len: usize| {
            Span::new(
                source.clone(),
                number,
                (indent + offset + 1) as u32,
                len as u32,
            )
        };
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }

        if let Some(caps) = SECTION.captures(line) {
            let name = &caps[1];
            kind = match caps.get(2).map(|m| m.as_str()) {
                None | Some("hosts") => Kind::Hosts,
                Some("vars") => Kind::Vars,
                Some("children") => Kind::Children,
                Some(other) => {
                    let start = line[..caps.get(2).unwrap().start()].chars().count();
                    return Err(Diagnostic::new(
                        format!("unknown section kind `{other}` in `[{name}:{other}]`"),
                        span(start, other.chars().count()),
                    )
                    .suggest(other, ["vars", "children", "hosts"])
                    .with_help_if_none(
                        "a section is `[group]`, `[group:vars]` or `[group:children]`",
                    ));
                }
            };
            if inventory.group(name).is_none() && kind == Kind::Vars && !pending.contains_key(name)
            {
                pending.insert(
                    name.to_string(),
                    Pending {
                        span: span(0, line.chars().count()),
                        kind,
                        parents: Vec::new(),
                    },
                );
                pending_order.push(name.to_string());
            }
            group = inventory.add_group(name);
            if kind != Kind::Vars
                && let Some(declared) = pending.remove(name)
                && declared.kind == Kind::Children
            {
                for parent in declared.parents {
                    inventory
                        .add_child(parent, group)
                        .map_err(|m| Diagnostic::new(m, declared.span.clone()))?;
                }
            }
            continue;
        }
        if line.starts_with('[') && !line.ends_with(']') {
            return Err(Diagnostic::new(
                format!("section header `{line}` is missing its closing `]`"),
                span(0, line.chars().count()),
            ));
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(Diagnostic::new(
                format!("malformed section header `{line}`"),
                span(0, line.chars().count()),
            )
            .with_help(
                "a section is `[group]`, `[group:vars]` or `[group:children]`, with no spaces in it",
            ));
        }

        match kind {
            Kind::Hosts => host_line(&mut inventory, group, line, &span)?,
            Kind::Vars => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(Diagnostic::new(
                        format!("expected `key=value`, found `{line}`"),
                        span(0, line.chars().count()),
                    ));
                };
                let value = typed(value.trim());
                inventory
                    .set_group_var(group, key.trim().to_string(), value)
                    .map_err(|m| Diagnostic::new(m, span(0, line.chars().count())))?;
            }
            Kind::Children => {
                let Some(caps) = GROUP_NAME.captures(line) else {
                    return Err(Diagnostic::new(
                        format!("expected a group name, found `{line}`"),
                        span(0, line.chars().count()),
                    ));
                };
                let child = &caps[1];
                match inventory.group(child) {
                    Some(c) => inventory
                        .add_child(group, c)
                        .map_err(|m| Diagnostic::new(m, span(0, child.chars().count())))?,
                    None => match pending.get_mut(child) {
                        Some(p) => p.parents.push(group),
                        None => {
                            pending.insert(
                                child.to_string(),
                                Pending {
                                    span: span(0, child.chars().count()),
                                    kind: Kind::Children,
                                    parents: vec![group],
                                },
                            );
                            pending_order.push(child.to_string());
                        }
                    },
                }
            }
        }
    }

    if let Some(name) = pending_order.iter().find(|n| pending.contains_key(*n)) {
        let p = &pending[name];
        let known = inventory.groups().collect::<Vec<_>>();
        return Err(match p.kind {
            Kind::Children => {
                let parent = &inventory.groups[*p.parents.last().unwrap()].name;
                Diagnostic::new(
                    format!("`[{parent}:children]` names group `{name}`, which is not declared"),
                    p.span.clone(),
                )
                .suggest(name, known.iter().copied().filter(|g| *g != "all"))
                .with_help_if_none(format!(
                    "declare it with a `[{name}]` section (it may be empty)"
                ))
            }
            _ => Diagnostic::new(
                format!("`[{name}:vars]` is for group `{name}`, which is not declared"),
                p.span.clone(),
            )
            .suggest(name, known.iter().copied())
            .with_help_if_none(format!(
                "declare it with a `[{name}]` section (it may be empty)"
            )),
        });
    }
    inventory.reconcile();
    Ok(inventory)
}

/// `name[:port] key=value ...` in a hosts section.
fn host_line(
    inventory: &mut Inventory,
    group: usize,
    line: &str,
    span: &dyn Fn(usize, usize) -> Span,
) -> Result<(), Diagnostic> {
    let words = shlex::split(line)
        .map_err(|e| Diagnostic::new(format!("{} in host line", e.message), span(e.offset, 1)))?;
    let Some((first, rest)) = words.split_first() else {
        return Ok(());
    };
    let pattern = first.text.as_str();
    let pattern_span = |offset: usize, len: usize| span(first.offset + offset, len);
    if pattern.is_empty() {
        return Err(Diagnostic::new("empty host name", pattern_span(0, 2)));
    }
    if pattern == "---" {
        return Err(Diagnostic::new(
            "invalid host name `---`: this looks like a YAML file",
            pattern_span(0, 3),
        )
        .with_help("name the file `.yml` or `.yaml` to read it as YAML"));
    }
    let (names, port) = range::expand(pattern)
        .map_err(|e| Diagnostic::new(e.message, pattern_span(e.offset, e.len)))?;
    if pattern.ends_with(':') && port.is_none() {
        return Err(Diagnostic::new(
            format!("host `{pattern}` ends with `:` but has no port after it"),
            pattern_span(pattern.chars().count() - 1, 1),
        )
        .with_help("if this is a YAML inventory, name the file `.yml` or `.yaml`"));
    }
    let mut vars = Vec::new();
    for word in rest {
        let Some((key, value)) = word.text.split_once('=') else {
            return Err(Diagnostic::new(
                format!(
                    "expected `key=value` after the host name, found `{}`",
                    word.text
                ),
                span(word.offset, word.text.chars().count()),
            ));
        };
        vars.push((key.to_string(), typed(value)));
    }
    for name in names {
        let h = inventory.add_host(&name, group, port);
        for (key, value) in &vars {
            inventory.set_host_var(h, key.clone(), value.clone());
        }
    }
    Ok(())
}

fn typed(text: &str) -> Value {
    python_literal::eval(text).unwrap_or_else(|| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Result<Inventory, Diagnostic> {
        parse(&Source::new("hosts.ini", text))
    }

    fn error(text: &str) -> (String, u32, u32) {
        let err = load(text).unwrap_err();
        let span = err.span.clone().expect("a location");
        (err.message, span.line, span.col)
    }

    #[test]
    fn reads_groups_children_vars_and_ranges() {
        let inv = load(
            "loose a=5 b=True c=\"5\" d='x y' e=0644 f=yes\n\
             [web]\nweb[1:2]:2222 user=deploy\n\
             [web:vars]\nv=5\nw=a b\n\
             [prod:children]\nweb\n",
        )
        .unwrap();
        assert_eq!(inv.hosts().collect::<Vec<_>>(), ["loose", "web1", "web2"]);
        assert_eq!(
            serde_json::Value::Object(inv.host_vars("loose")),
            json!({"a": 5, "b": true, "c": 5, "d": "x y", "e": "0644", "f": "yes"})
        );
        assert_eq!(
            serde_json::Value::Object(inv.host_vars("web2")),
            json!({"ansible_port": 2222, "user": "deploy", "v": 5, "w": "a b"})
        );
        assert_eq!(inv.group_names("web1"), ["prod", "web"]);
        assert_eq!(inv.group_names("loose"), ["ungrouped"]);
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        assert_eq!(
            error("[web]\n  web[05:01]\n"),
            (
                "invalid range `[05:01]`: its start is after its end".into(),
                2,
                6
            )
        );
        assert_eq!(
            error("[web]\nweb[a:1]\n").0,
            "invalid range `[a:1]`: expected two numbers or two letters"
        );
        assert_eq!(
            error("[web:foo]\n"),
            ("unknown section kind `foo` in `[web:foo]`".into(), 1, 6)
        );
        assert_eq!(
            error("[web:childs]\n").0,
            "unknown section kind `childs` in `[web:childs]`"
        );
        assert_eq!(
            error("[web servers]\n"),
            ("malformed section header `[web servers]`".into(), 1, 1)
        );
        assert_eq!(
            error("[prod:children]\nweb\ndb\n[web]\n"),
            (
                "`[prod:children]` names group `db`, which is not declared".into(),
                3,
                1
            )
        );
        assert_eq!(
            error("[db:vars]\nx=1\n"),
            (
                "`[db:vars]` is for group `db`, which is not declared".into(),
                1,
                1
            )
        );
        assert_eq!(
            error("[web]\nweb1 port\n"),
            (
                "expected `key=value` after the host name, found `port`".into(),
                2,
                6
            )
        );
        assert_eq!(
            error("[web:vars]\njust words\n"),
            ("expected `key=value`, found `just words`".into(), 2, 1)
        );
        assert_eq!(
            error("[a:children]\nb\n[b:children]\na\n"),
            ("making `a` a child of `b` creates a loop".into(), 4, 1)
        );
        assert_eq!(
            error("all:\n  hosts:\n"),
            (
                "host `all:` ends with `:` but has no port after it".into(),
                1,
                4
            )
        );
        assert_eq!(
            error("web1:70000\n"),
            ("port `70000` is out of range".into(), 1, 6)
        );
        assert_eq!(
            error("web1 x='open\n"),
            ("no closing quotation in host line".into(), 1, 8)
        );
    }

    /// `web[1:999999999]` once aborted on a 24 GB allocation.
    #[test]
    fn a_huge_range_is_a_located_error() {
        assert_eq!(
            error("[web]\n  web[1:999999999] user=deploy\n"),
            (
                "range `[1:999999999]` makes 999999999 hosts: one name may stand for at most 100000"
                    .into(),
                2,
                6
            )
        );
    }

    #[test]
    fn empty_value_is_an_empty_string() {
        let inv = load("web1 foo=\n").unwrap();
        assert_eq!(inv.host_vars("web1")["foo"], json!(""));
    }
}
