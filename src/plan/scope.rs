//! Variables for one host, resolved lazily as Ansible resolves them.
//!
//! A variable's value may itself be a template (`app_dir: "{{ deploy_to }}/app"`).
//! Values are rendered only when a template uses them, so an inventory
//! variable that no task reads may refer to something undefined, as in
//! Ansible; a cycle (`a` uses `b` uses `a`) is an error naming the chain.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Span};
use crate::template::Templates;
use crate::yaml::{self, Node};

/// A variable as written, before rendering.
#[derive(Debug, Clone)]
pub(crate) enum Raw {
    /// From YAML we parsed: strings inside keep their own locations.
    Node(Node),
    /// From JSON-shaped sources (the inventory, `-e`): located at `span`.
    Json(Value, Span),
    /// Already final (magic variables, loop items): never rendered again.
    Final(Value),
}

#[derive(Clone)]
pub(crate) struct Scope<'t> {
    templates: &'t Templates,
    raw: IndexMap<String, Raw>,
    resolved: RefCell<HashMap<String, Value>>,
    resolving: RefCell<Vec<String>>,
    /// Names registered by earlier tasks: known only at run time.
    registered: HashSet<String>,
}

impl<'t> Scope<'t> {
    pub fn new(templates: &'t Templates) -> Scope<'t> {
        Scope {
            templates,
            raw: IndexMap::new(),
            resolved: RefCell::default(),
            resolving: RefCell::default(),
            registered: HashSet::new(),
        }
    }

    /// Sets a variable, overriding any earlier (lower-precedence) value.
    pub fn set(&mut self, name: impl Into<String>, raw: Raw) {
        self.raw.insert(name.into(), raw);
        // Anything resolved so far may have used the old value.
        self.resolved.get_mut().clear();
    }

    pub fn set_nodes(&mut self, vars: &[(String, Node)]) {
        for (name, node) in vars {
            self.set(name.clone(), Raw::Node(node.clone()));
        }
    }

    pub fn set_json(&mut self, vars: &Map<String, Value>, span: &Span) {
        for (name, value) in vars {
            self.set(name.clone(), Raw::Json(value.clone(), span.clone()));
        }
    }

    /// Marks `name` as a result registered at run time.
    pub fn register(&mut self, name: &str) {
        self.registered.insert(name.to_string());
        self.raw.shift_remove(name);
        self.resolved.get_mut().remove(name);
    }

    /// The first registered result a template reads, if any: such a template
    /// can only be rendered at run time.
    pub fn runtime_dependency(&self, text: &str) -> Option<String> {
        if self.registered.is_empty() || !has_template(text) {
            return None;
        }
        let mut names: Vec<String> = self.templates.variables(text).into_iter().collect();
        names.sort();
        names.into_iter().find(|n| self.registered.contains(n))
    }

    /// The resolved value of a variable, if it is defined.
    pub fn get(&self, name: &str) -> Result<Option<Value>, Diagnostic> {
        if let Some(value) = self.resolved.borrow().get(name) {
            return Ok(Some(value.clone()));
        }
        let Some(raw) = self.raw.get(name) else {
            return Ok(None);
        };
        {
            let mut resolving = self.resolving.borrow_mut();
            if let Some(start) = resolving.iter().position(|n| n == name) {
                let chain = [&resolving[start..], &[name.to_string()]]
                    .concat()
                    .join(" → ");
                let span = match raw {
                    Raw::Node(node) => Some(node.span.clone()),
                    Raw::Json(_, span) => Some(span.clone()),
                    Raw::Final(_) => None,
                };
                resolving.clear();
                let message = format!("variable `{name}` refers to itself: {chain}");
                return Err(match span {
                    Some(span) => Diagnostic::new(message, span),
                    None => Diagnostic::plain(message),
                });
            }
            resolving.push(name.to_string());
        }
        let value = match raw {
            Raw::Node(node) => self.render_node(node),
            Raw::Json(value, span) => self.render_json(value, span),
            Raw::Final(value) => Ok(value.clone()),
        };
        self.resolving.borrow_mut().pop();
        let value = value?;
        self.resolved
            .borrow_mut()
            .insert(name.to_string(), value.clone());
        Ok(Some(value))
    }

    /// The variables a template sees: those it reads resolved, the rest as
    /// written (they are there only for `did you mean`).
    pub fn context(&self, text: &str) -> Result<Map<String, Value>, Diagnostic> {
        self.context_for(std::iter::once(text))
    }

    fn context_for<'a>(
        &self,
        texts: impl Iterator<Item = &'a str>,
    ) -> Result<Map<String, Value>, Diagnostic> {
        for text in texts.filter(|t| has_template(t)) {
            for name in self.templates.variables(text) {
                self.get(&name)?;
            }
        }
        let resolved = self.resolved.borrow();
        Ok(self
            .raw
            .iter()
            .map(|(name, raw)| {
                let value = match (resolved.get(name), raw) {
                    (Some(v), _) => v.clone(),
                    (None, Raw::Node(node)) => node.to_json(),
                    (None, Raw::Json(v, _) | Raw::Final(v)) => v.clone(),
                };
                (name.clone(), value)
            })
            .collect())
    }

    /// The resolved values of just the variables `text` reads (for run-time
    /// expressions, which carry what they need).
    pub fn needed(&self, text: &str) -> Result<Map<String, Value>, Diagnostic> {
        let mut out = Map::new();
        let mut names: Vec<String> = self.templates.variables(text).into_iter().collect();
        names.sort();
        for name in names {
            if let Some(value) = self.get(&name)? {
                out.insert(name, value);
            }
        }
        Ok(out)
    }

    pub fn render_str(&self, text: &str, span: &Span) -> Result<String, Diagnostic> {
        if !has_template(text) {
            return Ok(text.to_string());
        }
        self.templates.render(text, &self.context(text)?, span)
    }

    pub fn eval_bool(&self, expr: &str, span: &Span) -> Result<bool, Diagnostic> {
        self.templates
            .eval_bool(expr, &self.context(&expression_template(expr))?, span)
    }

    /// Renders every string in a YAML value, each at its own location.
    pub fn render_node(&self, node: &Node) -> Result<Value, Diagnostic> {
        let mut texts = Vec::new();
        node_strings(node, &mut texts);
        let context = self.context_for(texts.into_iter())?;
        self.templates.render_node(node, &context)
    }

    /// Renders every string in a JSON value, all located at `span`.
    pub fn render_json(&self, value: &Value, span: &Span) -> Result<Value, Diagnostic> {
        let mut texts = Vec::new();
        json_strings(value, &mut texts);
        let context = self.context_for(texts.into_iter())?;
        self.templates.render_json(value, &context, span)
    }

    /// Names of every defined variable (for `did you mean`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.raw.keys().map(String::as_str)
    }
}

/// A bare expression (`when: x == 1`) as a template (`{{ x == 1 }}`), so
/// that the variables it reads can be found; one already in braces as is.
pub(crate) fn expression_template(expr: &str) -> String {
    if has_template(expr) {
        expr.to_string()
    } else {
        format!("{{{{ {expr} }}}}")
    }
}

/// Whether a string contains Jinja syntax at all (most values do not).
pub(crate) fn has_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Every string of a YAML node, keys included.
fn node_strings<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
    match &node.value {
        yaml::Value::Str(s) => out.push(s),
        yaml::Value::Seq(items) => items.iter().for_each(|i| node_strings(i, out)),
        yaml::Value::Map(entries) => entries.iter().for_each(|(k, v)| {
            node_strings(k, out);
            node_strings(v, out);
        }),
        _ => {}
    }
}

fn json_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| json_strings(i, out)),
        Value::Object(entries) => entries.iter().for_each(|(k, v)| {
            out.push(k);
            json_strings(v, out);
        }),
        _ => {}
    }
}

/// Whether any string inside a YAML node contains Jinja syntax that reads a
/// registered result; returns that result's name.
pub(crate) fn node_runtime_dependency(scope: &Scope, node: &Node) -> Option<String> {
    match &node.value {
        yaml::Value::Str(s) => scope.runtime_dependency(s),
        yaml::Value::Seq(items) => items.iter().find_map(|i| node_runtime_dependency(scope, i)),
        yaml::Value::Map(entries) => entries.iter().find_map(|(k, v)| {
            node_runtime_dependency(scope, k).or_else(|| node_runtime_dependency(scope, v))
        }),
        _ => None,
    }
}
