//! Variables for one host, resolved lazily as Ansible resolves them.
//!
//! A variable's value may itself be a template (`app_dir: "{{ deploy_to }}/app"`).
//! Values are rendered only when a template uses them, so an inventory
//! variable that no task reads may refer to something undefined, as in
//! Ansible; a cycle (`a` uses `b` uses `a`) is an error naming the chain.
//!
//! Secrets are tainted values. A variable marked secret ([`Scope::mark_secret`]:
//! the secrets file's, a play's `secrets:`) taints every variable whose
//! template reads it, directly or through other variables, and every string
//! rendered from a template that reads a tainted variable is itself a secret:
//! it is collected ([`Scope::secrets_into`]) for the masker, which masks it in
//! every output and refuses it on a command line. The reads are the names a
//! template mentions, so a branch not taken still taints: erring towards
//! masking.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Span};
use crate::shell::Masker;
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
    /// Variables that are secrets whatever their value.
    secret: HashSet<String>,
    /// Resolved variables whose templates read a secret (cleared with `resolved`).
    tainted: RefCell<HashSet<String>>,
    /// Strings rendered from secrets, not yet handed to the masker; shared
    /// by a scope and its clones (a task's, a loop item's).
    derived: Rc<RefCell<Vec<String>>>,
    /// Set when the host's facts are wanted but not known: reading one is
    /// an error that says why, and is recorded (shared by clones).
    unknown_facts: Option<Rc<super::facts::Unknown>>,
}

impl<'t> Scope<'t> {
    pub fn new(templates: &'t Templates) -> Scope<'t> {
        Scope {
            templates,
            raw: IndexMap::new(),
            resolved: RefCell::default(),
            resolving: RefCell::default(),
            registered: HashSet::new(),
            secret: HashSet::new(),
            tainted: RefCell::default(),
            derived: Rc::default(),
            unknown_facts: None,
        }
    }

    /// The host's facts are not known (not gathered yet, or never, as
    /// `unknown` says): a template that reads one fails, and `unknown`
    /// records it.
    pub fn facts_unknown(&mut self, unknown: Rc<super::facts::Unknown>) {
        self.unknown_facts = Some(unknown);
    }

    /// Marks `name` as a secret: its value, and anything rendered from it,
    /// is masked and kept off command lines.
    pub fn mark_secret(&mut self, name: &str) {
        self.secret.insert(name.to_string());
    }

    /// Hands every string rendered from a secret so far to `masker`.
    pub fn secrets_into(&self, masker: &mut Masker) {
        // A vaulted file read while compiling (an `include_vars`, a `copy`
        // source) is a secret from then on.
        crate::vault::revealed().iter().for_each(|v| masker.add(v));
        for value in self.derived.borrow_mut().drain(..) {
            masker.add_derived(&value);
        }
    }

    /// Whether a variable's value is a secret or was rendered from one.
    fn is_secret(&self, name: &str) -> bool {
        self.secret.contains(name) || self.tainted.borrow().contains(name)
    }

    /// Whether any template of a YAML node reads a secret (a `loop:` whose
    /// items are then secrets). Call after rendering the node.
    pub fn node_reads_secret(&self, node: &Node) -> bool {
        let mut texts = Vec::new();
        node_strings(node, &mut texts);
        texts.iter().any(|text| self.reads_secret(text))
    }

    /// Whether a template reads a secret; the variables it reads must be
    /// resolved already (their taint is known once they are).
    fn reads_secret(&self, text: &str) -> bool {
        has_template(text)
            && (self.secret.iter().chain(self.tainted.borrow().iter()))
                .next()
                .is_some()
            && self
                .templates
                .variables(text)
                .iter()
                .any(|n| self.is_secret(n))
    }

    /// Records the strings of a rendered value as secrets.
    fn derive(&self, value: &Value) {
        let mut strings = Vec::new();
        json_leaves(value, &mut strings);
        self.derived.borrow_mut().extend(strings);
    }

    /// After `texts` rendered to `value`: each text that read a secret is
    /// rendered alone and its output recorded as a secret (each string of a
    /// mapping is its own value: `{cmd: "{{ token }}", chdir: /srv}` makes
    /// the command a secret, not the directory). Returns whether any did.
    fn derive_from(
        &self,
        texts: &[&str],
        span: &Span,
        render_one: impl Fn(&str) -> Option<Value>,
    ) -> bool {
        let mut any = false;
        for text in texts {
            if self.reads_secret(text) {
                any = true;
                match render_one(text) {
                    Some(Value::String(rendered)) => self.derive_text(text, &rendered, span),
                    Some(value) => self.derive(&value),
                    None => {}
                }
            }
        }
        any
    }

    /// Records `rendered`, what `text` rendered to, as a secret; when it
    /// has several lines (a template file), also each line that depends on
    /// a secret, as a log shows output line by line. Those lines are found
    /// by rendering `text` again with every secret changed: a line that
    /// comes out different derives from one. When that render fails or
    /// gives other lines (a secret steered a loop or a branch), every line
    /// counts.
    fn derive_text(&self, text: &str, rendered: &str, span: &Span) {
        self.derived.borrow_mut().push(rendered.to_string());
        if !rendered.trim_end().contains('\n') {
            return;
        }
        let shadow = self.with_secrets_changed();
        let other = shadow
            .with_context(&[text], span, |vars| {
                shadow.templates.render(text, vars, span)
            })
            .ok();
        let lines = rendered.lines();
        let mut derived = self.derived.borrow_mut();
        match other {
            Some(other) if other.lines().count() == rendered.lines().count() => derived.extend(
                lines
                    .zip(other.lines())
                    .filter(|(line, changed)| line != changed)
                    .map(|(line, _)| line.to_string()),
            ),
            _ => derived.extend(lines.map(str::to_string)),
        }
    }

    /// This scope with every secret variable's value changed (each letter
    /// and digit shifted, numbers plus one): what depends on a secret
    /// renders differently in it.
    fn with_secrets_changed(&self) -> Scope<'t> {
        let mut shadow = self.clone();
        shadow.derived = Rc::default();
        for name in &self.secret {
            if let Ok(Some(value)) = self.get(name) {
                shadow.set(name.clone(), Raw::Final(Arc::new(changed(&value))));
            }
        }
        shadow
    }

    /// Sets a variable, overriding any earlier (lower-precedence) value.
    pub fn set(&mut self, name: impl Into<String>, raw: Raw) {
        let name = name.into();
        if vaulted(&raw) {
            self.secret.insert(name.clone());
        }
        self.raw.insert(name, raw);
        // Anything resolved so far may have used the old value.
        self.resolved.get_mut().clear();
        self.tainted.get_mut().clear();
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
        self.tainted.get_mut().remove(name);
    }

    /// Whether `name` is a result registered at run time.
    pub fn is_registered(&self, name: &str) -> bool {
        self.registered.contains(name)
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
            Raw::Node(node) => self.render_node_tracked(node),
            Raw::Json(value, span) => self.render_json_tracked(value, span),
            Raw::Final(value) => Ok((Value::clone(value), false)),
        };
        self.resolving.borrow_mut().pop();
        let (value, read_secret) = value?;
        if self.secret.contains(name) {
            self.derive(&value);
        } else if read_secret {
            self.tainted.borrow_mut().insert(name.to_string());
        }
        self.resolved
            .borrow_mut()
            .insert(name.to_string(), Arc::new(value.clone()));
        Ok(Some(value))
    }

    /// The resolved values of the variables `texts` read (undefined ones
    /// left out: the render then names them).
    fn read_by(&self, texts: &[&str], span: &Span) -> Result<Map<String, Value>, Diagnostic> {
        let mut out = Map::new();
        for text in texts.iter().filter(|t| has_template(t)) {
            let mut names: Vec<String> = self.templates.variables(text).into_iter().collect();
            // In name order: the same fact is the one reported every time.
            names.sort();
            for name in names {
                if let Some(unknown) = &self.unknown_facts
                    && !self.raw.contains_key(&name)
                    && super::facts::is_fact(&name)
                {
                    return Err(unknown.read(&name, span));
                }
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
        span: &Span,
        render: impl Fn(&Map<String, Value>) -> Result<T, Diagnostic>,
    ) -> Result<T, Diagnostic> {
        match render(&self.read_by(texts, span)?) {
            Ok(value) => Ok(value),
            Err(_) => render(&self.everything()),
        }
    }

    /// An error at a filter or test of `text` that ferry does not have
    /// (for templates rendered on the host, at run time).
    pub fn check_names(&self, text: &str, in_expr: bool, span: &Span) -> Result<(), Diagnostic> {
        self.templates.check_names(text, in_expr, span)
    }

    /// The resolved values of just the variables `text` reads (for run-time
    /// expressions, which carry what they need).
    pub fn needed(&self, text: &str, span: &Span) -> Result<Map<String, Value>, Diagnostic> {
        self.read_by(&[text], span)
    }

    pub fn render_str(&self, text: &str, span: &Span) -> Result<String, Diagnostic> {
        if !has_template(text) {
            return Ok(text.to_string());
        }
        let rendered = self.with_context(&[text], span, |vars| {
            self.templates.render(text, vars, span)
        })?;
        if self.reads_secret(text) {
            self.derive_text(text, &rendered, span);
        }
        Ok(rendered)
    }

    pub fn eval_bool(&self, expr: &str, span: &Span) -> Result<bool, Diagnostic> {
        let template = expression_template(expr);
        self.with_context(&[&template], span, |vars| {
            self.templates.eval_bool(expr, vars, span)
        })
    }

    /// Renders every string in a YAML value, each at its own location.
    pub fn render_node(&self, node: &Node) -> Result<Value, Diagnostic> {
        self.render_node_tracked(node).map(|(value, _)| value)
    }

    /// [`render_node`](Self::render_node), and whether a template read a secret.
    fn render_node_tracked(&self, node: &Node) -> Result<(Value, bool), Diagnostic> {
        let mut texts = Vec::new();
        node_strings(node, &mut texts);
        let value = self.with_context(&texts, &node.span, |vars| {
            self.templates.render_node(node, vars)
        })?;
        let secret = self.derive_from(&texts, &node.span, |text| {
            let vars = self.read_by(&[text], &node.span).ok()?;
            self.templates.render_value(text, &vars, &node.span).ok()
        });
        Ok((value, secret))
    }

    /// Renders every string in a JSON value, all located at `span`, and
    /// says whether a template read a secret.
    fn render_json_tracked(&self, value: &Value, span: &Span) -> Result<(Value, bool), Diagnostic> {
        let mut texts = Vec::new();
        json_strings(value, &mut texts);
        let rendered = self.with_context(&texts, span, |vars| {
            self.templates.render_json(value, vars, span)
        })?;
        let secret = self.derive_from(&texts, span, |text| {
            let vars = self.read_by(&[text], span).ok()?;
            self.templates.render_value(text, &vars, span).ok()
        });
        Ok((rendered, secret))
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

/// Whether a variable's value holds a text that Ansible Vault opened: the
/// variable is then a secret, as the secrets file's are.
fn vaulted(raw: &Raw) -> bool {
    if !crate::vault::any_revealed() {
        return false;
    }
    let mut texts = Vec::new();
    match raw {
        Raw::Node(node) => node_strings(node, &mut texts),
        Raw::Json(value, _) | Raw::Final(value) => json_strings(value, &mut texts),
    }
    texts.iter().any(|s| crate::vault::is_revealed(s))
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

/// `value` with every letter and digit of its strings shifted by one
/// (`z` to `a`, `9` to `0`) and its numbers plus one: a different value of
/// the same shape, so that templates still render.
fn changed(value: &Value) -> Value {
    let shift = |c: char| match c {
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        c if c.is_ascii_alphanumeric() => (c as u8 + 1) as char,
        c => c,
    };
    match value {
        Value::String(s) => {
            let shifted: String = s.chars().map(shift).collect();
            Value::String(if shifted == *s {
                format!("{s}~")
            } else {
                shifted
            })
        }
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i.wrapping_add(1)),
            (None, Some(x)) => Value::from(x + 1.0),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(changed).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), changed(v)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) => value.clone(),
    }
}

/// Every string and number of a rendered value, as the output shows them.
fn json_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| json_leaves(i, out)),
        Value::Object(entries) => entries.values().for_each(|v| json_leaves(v, out)),
        Value::Null | Value::Bool(_) => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    fn masked(scope: &Scope<'_>, text: &str) -> String {
        let mut masker = Masker::new();
        scope.secrets_into(&mut masker);
        masker.mask(text)
    }

    fn scope_with<'t>(templates: &'t Templates, vars: &str) -> Scope<'t> {
        let source = Source::new("vars.yml", vars);
        let root = yaml::parse(&source).unwrap();
        let mut scope = Scope::new(templates);
        scope.set_nodes(&crate::playbook::vars_of(&root).unwrap());
        scope.set_json(
            &serde_json::from_str(r#"{"secret_key": "hunter2-5ec"}"#).unwrap(),
            &Span::file_start(Source::new("secrets/prod.yml", "")),
        );
        scope.mark_secret("secret_key");
        scope
    }

    #[test]
    fn a_value_rendered_from_a_secret_is_a_secret() {
        let templates = Templates::new();
        let scope = scope_with(&templates, "app: web\n");
        let span = Span::file_start(Source::new("t.yml", ""));
        let b64 = scope
            .render_str("{{ secret_key | b64encode }}", &span)
            .unwrap();
        let joined = scope.render_str("{{ 'x=' ~ secret_key }}", &span).unwrap();
        let plain = scope.render_str("{{ app }}-server", &span).unwrap();
        let shown = masked(&scope, &format!("{b64} {joined} {plain}"));
        assert_eq!(shown, "******** ******** web-server");
    }

    #[test]
    fn a_variable_that_reads_a_secret_taints_what_reads_it_transitively() {
        let templates = Templates::new();
        let vars = "token: \"{{ secret_key | upper }}\"\nheader: \"Bearer {{ token }}\"\n\
                    encoded: \"{{ header | b64encode }}\"\ndir: /srv/app\n";
        let scope = scope_with(&templates, vars);
        let span = Span::file_start(Source::new("t.yml", ""));
        let command = scope
            .render_str("curl -H {{ encoded }} {{ dir }}", &span)
            .unwrap();
        let encoded = scope.get("encoded").unwrap().unwrap();
        let mut masker = Masker::new();
        scope.secrets_into(&mut masker);
        assert!(masker.reveals(encoded.as_str().unwrap()));
        assert!(masker.reveals(&command));
        assert!(!masker.reveals("/srv/app"), "{masker:?}");
    }

    #[test]
    fn only_the_strings_of_a_mapping_that_read_a_secret_are_secrets() {
        let templates = Templates::new();
        let scope = scope_with(&templates, "app: web\n");
        let node = yaml::parse(&Source::new(
            "t.yml",
            "cmd: \"echo {{ secret_key | reverse }}\"\nchdir: \"/srv/{{ app }}\"\n",
        ))
        .unwrap();
        let value = scope.render_node(&node).unwrap();
        let mut masker = Masker::new();
        scope.secrets_into(&mut masker);
        assert!(masker.reveals(value["cmd"].as_str().unwrap()));
        assert!(!masker.reveals(value["chdir"].as_str().unwrap()));
    }

    #[test]
    fn a_short_or_empty_value_derived_from_a_secret_masks_nothing() {
        let templates = Templates::new();
        let scope = scope_with(&templates, "app: web\n");
        let span = Span::file_start(Source::new("t.yml", ""));
        let length = scope
            .render_str("{{ secret_key | length }}", &span)
            .unwrap();
        let empty = scope.render_str("{{ secret_key[:0] }}", &span).unwrap();
        let flag = scope
            .render_str("{{ 'on' if secret_key else 'off' }}", &span)
            .unwrap();
        assert_eq!(
            (length.as_str(), empty.as_str(), flag.as_str()),
            ("11", "", "on")
        );
        assert_eq!(masked(&scope, "11 on a b"), "11 on a b");
    }

    #[test]
    fn the_lines_of_a_rendered_file_that_depend_on_a_secret_are_secrets_and_the_others_not() {
        let templates = Templates::new();
        let scope = scope_with(
            &templates,
            "app: web\ntoken: \"{{ secret_key | b64encode }}\"\n",
        );
        let span = Span::file_start(Source::new("t.yml", ""));
        let text = "[Service]\nUser={{ app }}\nToken={{ token }}\nHash={{ (secret_key ~ 'x') | hash('sha1') }}\nRestart=always\n";
        let file = scope.render_str(text, &span).unwrap();
        let lines: Vec<&str> = file.lines().collect();
        let mut masker = Masker::new();
        scope.secrets_into(&mut masker);
        assert!(
            masker.reveals(lines[2]) && masker.reveals(lines[3]),
            "{file}"
        );
        let shown: Vec<String> = lines.iter().map(|l| masker.mask(l)).collect();
        assert_eq!(
            shown,
            [
                "[Service]",
                "User=web",
                "********",
                "********",
                "Restart=always"
            ]
        );
        for line in [lines[0], lines[1], lines[4]] {
            assert!(!masker.reveals(line), "{line} masked");
        }
    }

    #[test]
    fn a_secret_that_steers_a_loop_makes_every_line_a_secret() {
        let templates = Templates::new();
        let scope = scope_with(&templates, "app: web\n");
        let span = Span::file_start(Source::new("t.yml", ""));
        let text = "{% if secret_key.startswith('hunter') %}mode=alpha\nlevel=high\n{% else %}mode=beta\n{% endif %}";
        let file = scope.render_str(text, &span).unwrap();
        let mut masker = Masker::new();
        scope.secrets_into(&mut masker);
        assert!(file.lines().all(|line| masker.reveals(line)), "{file}");
    }

    #[test]
    fn overriding_a_tainted_variable_clears_its_taint() {
        let templates = Templates::new();
        let mut scope = scope_with(&templates, "token: \"{{ secret_key }}-t\"\n");
        let span = Span::file_start(Source::new("t.yml", ""));
        scope.render_str("{{ token }}", &span).unwrap();
        scope.secrets_into(&mut Masker::new());
        scope.set(
            "token",
            Raw::Final(Arc::new(Value::String("public-token".into()))),
        );
        scope.render_str("{{ token }}", &span).unwrap();
        assert_eq!(masked(&scope, "public-token"), "public-token");
    }
}
