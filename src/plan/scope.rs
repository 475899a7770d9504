//! Variables for one host, resolved lazily as Ansible resolves them.
//!
//! A variable's value may itself be a template (`app_dir: "{{ deploy_to }}/app"`).
//! Values are rendered only when a template uses them, so an inventory
//! variable that no task reads may refer to something undefined, as in
//! Ansible; a cycle (`a` uses `b` uses `a`) is an error naming the chain.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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
    Json(Arc<Value>, Span),
    /// Already final (magic variables, loop items): never rendered again.
    Final(Arc<Value>),
}

#[derive(Clone)]
pub(crate) struct Scope<'t> {
    templates: &'t Templates,
    raw: IndexMap<String, Raw>,
    /// Shared, not copied, when a task's scope is cloned from its host's:
    /// `groups` and the play's host list grow with the inventory.
    resolved: RefCell<HashMap<String, Arc<Value>>>,
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
            self.set(
                name.clone(),
                Raw::Json(Arc::new(value.clone()), span.clone()),
            );
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
            return Ok(Some(Value::clone(value)));
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
            Raw::Final(value) => Ok(Value::clone(value)),
        };
        self.resolving.borrow_mut().pop();
        let value = value?;
        self.resolved
            .borrow_mut()
            .insert(name.to_string(), Arc::new(value.clone()));
        Ok(Some(value))
    }

    /// The resolved values of the variables `texts` read (undefined ones
    /// left out: the render then names them).
    fn read_by(&self, texts: &[&str]) -> Result<Map<String, Value>, Diagnostic> {
        let mut out = Map::new();
        for text in texts.iter().filter(|t| has_template(t)) {
            for name in self.templates.variables(text) {
                if !out.contains_key(&name)
                    && let Some(value) = self.get(&name)?
                {
                    out.insert(name, value);
                }
            }
        }
        Ok(out)
    }

    /// Every variable: the resolved ones resolved, the rest as written
    /// (they are there only for `did you mean`).
    fn everything(&self) -> Map<String, Value> {
        let resolved = self.resolved.borrow();
        self.raw
            .iter()
            .map(|(name, raw)| {
                let value = match (resolved.get(name), raw) {
                    (Some(v), _) => Value::clone(v),
                    (None, Raw::Node(node)) => node.to_json(),
                    (None, Raw::Json(v, _) | Raw::Final(v)) => Value::clone(v),
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// Renders with just the variables the templates read; if that fails,
    /// again with every variable, so that the error can say `did you mean`
    /// (and a read that `variables()` missed still resolves). Errors are
    /// rare; copying every variable — `groups` grows with the inventory —
    /// for every string of every host made compiling quadratic in hosts.
    fn with_context<T>(
        &self,
        texts: &[&str],
        render: impl Fn(&Map<String, Value>) -> Result<T, Diagnostic>,
    ) -> Result<T, Diagnostic> {
        match render(&self.read_by(texts)?) {
            Ok(value) => Ok(value),
            Err(_) => render(&self.everything()),
        }
    }

    /// The resolved values of just the variables `text` reads (for run-time
    /// expressions, which carry what they need).
    pub fn needed(&self, text: &str) -> Result<Map<String, Value>, Diagnostic> {
        self.read_by(&[text])
    }

    pub fn render_str(&self, text: &str, span: &Span) -> Result<String, Diagnostic> {
        if !has_template(text) {
            return Ok(text.to_string());
        }
        self.with_context(&[text], |vars| self.templates.render(text, vars, span))
    }

    pub fn eval_bool(&self, expr: &str, span: &Span) -> Result<bool, Diagnostic> {
        let template = expression_template(expr);
        self.with_context(&[&template], |vars| {
            self.templates.eval_bool(expr, vars, span)
        })
    }

    /// Renders every string in a YAML value, each at its own location.
    pub fn render_node(&self, node: &Node) -> Result<Value, Diagnostic> {
        let mut texts = Vec::new();
        node_strings(node, &mut texts);
        self.with_context(&texts, |vars| self.templates.render_node(node, vars))
    }

    /// Renders every string in a JSON value, all located at `span`.
    pub fn render_json(&self, value: &Value, span: &Span) -> Result<Value, Diagnostic> {
        let mut texts = Vec::new();
        json_strings(value, &mut texts);
        self.with_context(&texts, |vars| self.templates.render_json(value, vars, span))
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
