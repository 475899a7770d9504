//! The Jinja environment every playbook value is rendered with.
//!
//! Compilation renders `vars`, module arguments, `loop:` and `when:` through
//! [`Templates`] before any host is touched, so a template error is an input
//! error: a [`Diagnostic`] that names the undefined variable, unknown filter
//! or syntax error and points at its column inside the YAML file.
//!
//! The environment is minijinja's, set up the way Ansible sets up Jinja:
//! strict undefined (printing, iterating or testing the truth of an undefined
//! value is an error; `is defined` and `default` still work), no autoescape,
//! `trim_blocks`, trailing newlines kept, `none` printed as an empty string,
//! Python's string and dict methods (`.split()`, `.items()`), and Ansible's
//! common filters and tests (`filters`, `filters/regex`, `filters/data`).

mod error;
mod filters;
mod location;
mod lookup;
mod names;
mod python;
mod urlsplit;

use std::collections::BTreeSet;

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::{Map, Value as Json};

use crate::diagnostic::{Diagnostic, Span};
use crate::yaml::{self, Node};

/// Ansible's `omit`: a module argument whose value renders to exactly this
/// string is left out of the arguments ([`Templates::render_json`]).
pub const OMIT: &str = "__omit_place_holder__ferry__";

/// The variable the native-value wrapper assigns; never visible to users.
const NATIVE: &str = "__ferry_native__";

/// The Jinja environment ferry renders every playbook value with: strict
/// undefined, no autoescape, Ansible's common filters.
pub struct Templates {
    env: Environment<'static>,
    /// [`Templates::variables`] by template text: every host renders the
    /// same strings of the playbook, and parsing one costs more than the
    /// lookup (a compile asks for each string of each host, twice when it
    /// tracks secrets).
    variables: std::sync::Mutex<std::collections::HashMap<String, BTreeSet<String>>>,
    /// Texts whose filters and tests are all known ([`Templates::check_names`]).
    checked: std::sync::Mutex<std::collections::HashSet<(String, bool)>>,
}

impl Default for Templates {
    fn default() -> Templates {
        Templates::new()
    }
}

impl Templates {
    pub fn new() -> Templates {
        Templates::for_project(None)
    }

    /// Templates whose `{% include "nginx/tls.conf.j2" %}` finds the
    /// project's `templates/NAME` first, then ferry's built-in one — the
    /// same lookup as the `template` module's `src`.
    pub fn for_project(project_dir: Option<&std::path::Path>) -> Templates {
        let mut env = Environment::new();
        let dir = project_dir.map(|d| d.join("templates"));
        env.set_loader(move |name| {
            if name.contains("..") || name.starts_with('/') {
                return Ok(None);
            }
            if let Some(path) = dir.as_ref().map(|d| d.join(name)).filter(|p| p.is_file()) {
                return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}: {e}", path.display()),
                    )
                });
            }
            Ok(crate::playbook::built_in_template(name).map(str::to_string))
        });
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // Ranges in errors (the column of an undefined variable) need debug info.
        env.set_debug(true);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_formatter(|out, state, value| {
            // Ansible's finalize: `{{ none }}` prints nothing, not `none`.
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_global("omit", OMIT);
        filters::register(&mut env);
        lookup::register(&mut env, project_dir.map(std::path::Path::to_path_buf));
        Templates {
            env,
            variables: std::sync::Mutex::default(),
            checked: std::sync::Mutex::default(),
        }
    }

    /// Adds a global function or value (`release_files`, see
    /// `crate::plan::CommitFiles`).
    pub(crate) fn add_global(&mut self, name: &'static str, value: Value) {
        self.env.add_global(name, value);
    }

    /// Renders a template string written at `span` (the YAML scalar's span)
    /// with `vars`. A string without `{{`, `{%` or `{#` is returned as is.
    pub fn render(
        &self,
        text: &str,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Result<String, Diagnostic> {
        if !is_template(text) {
            return Ok(text.to_string());
        }
        self.check_names(text, false, span)?;
        let fail = |err: minijinja::Error| self.diagnostic(err, text, 0, vars, span);
        let template = self.env().template_from_str(text).map_err(fail)?;
        self.with_context(&template, vars, |context| template.render(context))
            .map_err(fail)
    }

    /// Like [`render`](Self::render), but when the whole string is a single
    /// `{{ expr }}`, returns the expression's native value (list, dict, int,
    /// bool) as Ansible does for `loop: "{{ items }}"`.
    pub fn render_value(
        &self,
        text: &str,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Result<Json, Diagnostic> {
        match single_expression(text) {
            Some((offset, expr)) => {
                self.check_names(text, false, span)?;
                self.eval(text, offset, expr, vars, span)
            }
            None => self.render(text, vars, span).map(Json::String),
        }
    }

    /// Evaluates a bare Jinja expression (`when:`, `changed_when:`,
    /// `failed_when:`) to a bool with Ansible's truthiness: a string that
    /// reads as false (`false`, `no`, `off`, `0`, empty) is false, so
    /// `-e migrate=false` is false; other values follow Python.
    pub fn eval_bool(
        &self,
        expr: &str,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Result<bool, Diagnostic> {
        if expr.trim().is_empty() {
            return Err(Diagnostic::new("empty condition", span.clone()));
        }
        // `when: "{{ x }}"` is not the documented form, but Ansible accepts it.
        if is_template(expr) {
            return Ok(truthy(&self.render_value(expr, vars, span)?));
        }
        self.check_names(expr, true, span)?;
        Ok(truthy(&self.eval(expr, 0, expr, vars, span)?))
    }

    /// Renders every string inside a JSON value recursively (mapping keys
    /// too), for module arguments. A mapping entry whose value is `omit`
    /// (`mode: "{{ mode | default(omit) }}"`) is left out.
    ///
    /// `span` is where the whole value was written: an error in one of its
    /// strings points at that string when it can be found in the lines
    /// below. [`render_node`](Self::render_node) knows each string's place.
    pub fn render_json(
        &self,
        value: &Json,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Result<Json, Diagnostic> {
        Ok(match value {
            // Locating a string in its file is a search through the file:
            // only templates need a location (for their errors).
            Json::String(text) if !is_template(text) => Json::String(text.clone()),
            Json::String(text) => {
                self.render_value(text, vars, &location::find_scalar(span, text))?
            }
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.render_json(item, vars, span))
                    .filter(|item| !matches!(item, Ok(Json::String(s)) if s == OMIT))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(entries) => {
                let mut rendered = Map::new();
                for (key, value) in entries {
                    let value = self.render_json(value, vars, span)?;
                    if value.as_str() != Some(OMIT) {
                        let key = match is_template(key) {
                            true => self.render(key, vars, &location::find_scalar(span, key))?,
                            false => key.clone(),
                        };
                        rendered.insert(key, value);
                    }
                }
                Json::Object(rendered)
            }
            other => other.clone(),
        })
    }

    /// Like [`render_json`](Self::render_json) for a parsed YAML node, each
    /// string rendered with its own span.
    pub fn render_node(&self, node: &Node, vars: &Map<String, Json>) -> Result<Json, Diagnostic> {
        Ok(match &node.value {
            yaml::Value::Str(text) => self.render_value(text, vars, &node.span)?,
            yaml::Value::Seq(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.render_node(item, vars))
                    .filter(|item| !matches!(item, Ok(Json::String(s)) if s == OMIT))
                    .collect::<Result<_, _>>()?,
            ),
            yaml::Value::Map(entries) => {
                let mut rendered = Map::new();
                for (key, value) in entries {
                    let value = self.render_node(value, vars)?;
                    if value.as_str() != Some(OMIT) {
                        let key = match key.as_str() {
                            Some(text) => self.render(text, vars, &key.span)?,
                            None => key.scalar_string().unwrap_or_default(),
                        };
                        rendered.insert(key, value);
                    }
                }
                Json::Object(rendered)
            }
            _ => node.to_json(),
        })
    }

    /// An error at the first filter or test that `text` (a template, or
    /// one expression when `in_expr`) names and ferry does not have: found
    /// when the template is compiled, as Jinja finds it, whether or not
    /// rendering would reach it, and before a run-time template goes to
    /// the host.
    pub fn check_names(&self, text: &str, in_expr: bool, span: &Span) -> Result<(), Diagnostic> {
        let key = (text.to_string(), in_expr);
        if self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return Ok(());
        }
        names::check(&self.env, text, in_expr, span)?;
        self.checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
        Ok(())
    }

    /// The top-level variables a template needs (`user` for `{{ user.name }}`),
    /// to check before connecting. Globals (`omit`, `lookup`, `range`) are left
    /// out; a template with a syntax error needs nothing ([`render`](Self::render)
    /// reports the error).
    pub fn variables(&self, text: &str) -> BTreeSet<String> {
        if !is_template(text) {
            return BTreeSet::new();
        }
        let cache = |f: &mut dyn FnMut(&mut std::collections::HashMap<_, _>)| {
            // A poisoned cache only means another thread panicked: the map is fine.
            f(&mut self.variables.lock().unwrap_or_else(|e| e.into_inner()));
        };
        let mut found = None;
        cache(&mut |map| found = map.get(text).cloned());
        if let Some(names) = found {
            return names;
        }
        let names = self.variables_through_includes(text, &mut BTreeSet::new());
        cache(&mut |map| {
            map.insert(text.to_string(), names.clone());
        });
        names
    }

    /// [`variables`](Self::variables) of `text` and of the templates it
    /// includes by a literal name (`{% include "nginx/tls.conf.j2" %}`),
    /// each once.
    fn variables_through_includes(
        &self,
        text: &str,
        seen: &mut BTreeSet<String>,
    ) -> BTreeSet<String> {
        if !is_template(text) {
            return BTreeSet::new();
        }
        let Ok(template) = self.env().template_from_str(text) else {
            return BTreeSet::new();
        };
        let mut names: BTreeSet<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| self.env.globals().all(|(global, _)| global != name))
            .collect();
        for included in included_names(text) {
            if seen.insert(included.clone())
                && let Ok(inner) = self.env.get_template(&included)
            {
                names.extend(self.variables_through_includes(inner.source(), seen));
            }
        }
        names
    }

    /// The environment with its `'source` lifetime shortened to a borrow:
    /// templates made here live only for the call that made them.
    fn env(&self) -> &Environment<'_> {
        &self.env
    }

    /// Evaluates `expr`, found at byte `offset` of `text`, to a native value.
    ///
    /// The expression runs inside a template (`{% set %}`), not through
    /// minijinja's `compile_expression`, because only templates carry the
    /// byte ranges that locate an error.
    fn eval(
        &self,
        text: &str,
        offset: usize,
        expr: &str,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Result<Json, Diagnostic> {
        let prefix = format!("{{% set {NATIVE} = (");
        // Printing an undefined result makes strict mode name its origin.
        let wrapper = format!(
            "{prefix}{expr}) %}}{{% if {NATIVE} is undefined %}}{{{{ {NATIVE} }}}}{{% endif %}}"
        );
        let shift = prefix.len() as isize - offset as isize;
        let fail = |err: minijinja::Error| self.diagnostic(err, text, shift, vars, span);
        let template = self.env().template_from_str(&wrapper).map_err(fail)?;
        let captured = self
            .with_context(&template, vars, |context| template.render_captured(context))
            .map_err(fail)?;
        let value = captured.state().lookup(NATIVE).unwrap_or_default();
        serde_json::to_value(&value).map_err(|err| {
            Diagnostic::new(
                format!("template value cannot be used as data: {err}"),
                span.clone(),
            )
        })
    }

    /// Runs a template with a context of only the variables it names, so
    /// that a large `hostvars` is not converted for every string. Should
    /// minijinja's list of names ever miss one, the run is retried with all
    /// variables rather than failing with a wrong "undefined".
    fn with_context<T>(
        &self,
        template: &minijinja::Template<'_, '_>,
        vars: &Map<String, Json>,
        run: impl Fn(Value) -> Result<T, minijinja::Error>,
    ) -> Result<T, minijinja::Error> {
        let mut names = template.undeclared_variables(false);
        if !included_names(template.source()).is_empty() {
            names.extend(self.variables(template.source()));
        }
        match run(self.context(&names, vars)) {
            Err(err)
                if error::undefined_root(&err)
                    .is_some_and(|root| vars.contains_key(root) && !names.contains(root)) =>
            {
                run(Value::from(Serde(vars)))
            }
            result => result,
        }
    }

    /// The context of the variables in `names`.
    fn context(
        &self,
        names: &std::collections::HashSet<String>,
        vars: &Map<String, Json>,
    ) -> Value {
        let context: std::collections::BTreeMap<&str, Value> = names
            .iter()
            .filter_map(|name| Some((name.as_str(), Value::from(Serde(vars.get(name)?)))))
            .collect();
        Value::from(context)
    }

    fn diagnostic(
        &self,
        err: minijinja::Error,
        text: &str,
        shift: isize,
        vars: &Map<String, Json>,
        span: &Span,
    ) -> Diagnostic {
        error::Failure {
            err: &err,
            text,
            shift,
            vars,
            span,
        }
        .diagnostic()
    }
}

/// Whether a string holds Jinja at all (the fast path skips minijinja).
fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// The expression of a string that is exactly one `{{ expr }}` (surrounding
/// whitespace allowed), and its byte offset in the string.
fn single_expression(text: &str) -> Option<(usize, &str)> {
    let trimmed = text.trim();
    let inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    if !is_one_expression(inner) {
        return None;
    }
    let mut offset = text.len() - text.trim_start().len() + 2;
    let mut expr = inner;
    // Whitespace control (`{{- x -}}`) means nothing around a lone expression.
    if let Some(rest) = expr.strip_prefix(['-', '+']) {
        expr = rest;
        offset += 1;
    }
    let expr = expr.strip_suffix(['-', '+']).unwrap_or(expr);
    Some((offset, expr))
}

/// Whether the text between `{{` and `}}` is one expression: no block
/// delimiter outside string literals and brackets (`{'a': {'b': 1}}` is one).
fn is_one_expression(inner: &str) -> bool {
    let bytes = inner.as_bytes();
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => i += 1,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' => depth += 1,
                b'{' if matches!(next, Some(b'{' | b'%' | b'#')) => return false,
                b'{' => depth += 1,
                b'}' if depth == 0 => return false,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'%' | b'#' if next == Some(b'}') => return false,
                _ => {}
            },
        }
        i += 1;
    }
    quote.is_none() && depth == 0
}

/// Ansible's truthiness for a condition's result.
fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Json::String(s) => {
            let s = s.trim().to_lowercase();
            !matches!(s.as_str(), "" | "false" | "no" | "off" | "0" | "none")
        }
        Json::Array(items) => !items.is_empty(),
        Json::Object(entries) => !entries.is_empty(),
    }
}

#[cfg(test)]
mod tests;

/// The literal names after `include` in a template's text.
fn included_names(text: &str) -> Vec<String> {
    text.match_indices("include")
        .filter_map(|(at, word)| {
            let rest = text[at + word.len()..].trim_start();
            let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
            let end = rest[1..].find(quote)?;
            Some(rest[1..1 + end].to_string())
        })
        .collect()
}
