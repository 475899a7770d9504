//! Reading a YAML mapping into a struct by hand, key by key.
//!
//! Serde's `deny_unknown_fields` says "unknown field" but cannot suggest the
//! key that was meant, and a task's module key is open-ended. [`MapReader`]
//! gives the same strictness with better errors: each key is taken once, and
//! whatever is left over is an unknown key with a `did you mean`.

use crate::diagnostic::Diagnostic;
use crate::yaml::{Node, Value};

/// The entries of one mapping, consumed as the parser asks for them.
pub struct MapReader<'a> {
    node: &'a Node,
    entries: Vec<(&'a Node, &'a Node, bool)>,
}

impl<'a> MapReader<'a> {
    /// `what` names the mapping in a type error ("a play", "a task").
    pub fn new(node: &'a Node, what: &str) -> Result<MapReader<'a>, Diagnostic> {
        match &node.value {
            Value::Map(entries) => Ok(MapReader {
                node,
                entries: entries.iter().map(|(k, v)| (k, v, false)).collect(),
            }),
            _ => Err(node.type_error(what, "a mapping")),
        }
    }

    /// The node the mapping was read from.
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// Takes the value of `key`, if present. A `null` value counts as absent.
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        self.take_entry(key)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// Takes `key` and its value, keeping the key's node for locations.
    pub fn take_entry(&mut self, key: &str) -> Option<(&'a Node, &'a Node)> {
        let entry = self
            .entries
            .iter_mut()
            .find(|(k, _, taken)| !*taken && k.as_str() == Some(key))?;
        entry.2 = true;
        Some((entry.0, entry.1))
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>, Diagnostic> {
        self.take(key).map(|v| scalar_string(v, key)).transpose()
    }

    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, Diagnostic> {
        self.take(key).map(|v| bool_of(v, key)).transpose()
    }

    pub fn uint(&mut self, key: &str) -> Result<Option<u64>, Diagnostic> {
        self.take(key).map(|v| uint_of(v, key)).transpose()
    }

    /// A string or a list of strings (`tags: web` and `tags: [web, db]`).
    pub fn strings(&mut self, key: &str) -> Result<Vec<String>, Diagnostic> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(v) => strings_of(v, key),
        }
    }

    /// The keys nobody took, in file order.
    pub fn remaining(&self) -> impl Iterator<Item = (&'a Node, &'a Node)> + '_ {
        self.entries
            .iter()
            .filter(|(_, _, taken)| !taken)
            .map(|(k, v, _)| (*k, *v))
    }

    /// Fails on the first key nobody took, suggesting one of `known`.
    pub fn finish(self, what: &str, known: &[&str]) -> Result<(), Diagnostic> {
        match self.remaining().next() {
            None => Ok(()),
            Some((key, _)) => Err(unknown_key(key, what, known)),
        }
    }
}

/// `unknown key `nmae` in a play` with a suggestion.
pub fn unknown_key(key: &Node, what: &str, known: &[&str]) -> Diagnostic {
    let name = key.scalar_string().unwrap_or_default();
    key.error(format!("unknown key `{name}` in {what}"))
        .suggest(&name, known.iter().copied())
}

pub fn scalar_string(node: &Node, key: &str) -> Result<String, Diagnostic> {
    match &node.value {
        Value::Seq(_) | Value::Map(_) | Value::Null => {
            Err(node.type_error(&format!("`{key}`"), "a string"))
        }
        _ => Ok(node.scalar_string().unwrap_or_default()),
    }
}

pub fn bool_of(node: &Node, key: &str) -> Result<bool, Diagnostic> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        _ => Err(node.type_error(&format!("`{key}`"), "true or false")),
    }
}

pub fn uint_of(node: &Node, key: &str) -> Result<u64, Diagnostic> {
    match &node.value {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        _ => Err(node.type_error(&format!("`{key}`"), "a whole number")),
    }
}

pub fn strings_of(node: &Node, key: &str) -> Result<Vec<String>, Diagnostic> {
    match &node.value {
        Value::Seq(items) => items.iter().map(|i| scalar_string(i, key)).collect(),
        _ => Ok(vec![scalar_string(node, key)?]),
    }
}
