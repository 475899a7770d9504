//! A YAML document as a tree of located nodes.
//!
//! Playbooks, inventories and vars files are parsed into [`Node`]s first, so
//! that every later error — an unknown key, a wrong type, an undefined
//! variable inside a value — can point at the exact line and column.
//!
//! Scalars are typed as Ansible (PyYAML, YAML 1.1) types them, because existing
//! playbooks and inventories rely on it: `yes`/`no`/`on`/`off` are booleans,
//! `0644` is the octal integer 420, but `y` and `n` stay strings.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};

use crate::diagnostic::{Diagnostic, Source, Span};

mod tag;

pub(crate) use tag::{as_written, never_templated};

/// One YAML node and where it was written.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// The value of a [`Node`]. Mapping keys keep their order and their spans.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The YAML type as an error message names it: "a string", "a list", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document. An empty document is `Null`.
pub fn parse(source: &Arc<Source>) -> Result<Node, Diagnostic> {
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    if source.text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            span: Span::file_start(source.clone()),
        });
    }
    // A vaulted file: every value in it is a secret, and an error in it
    // names its line and column without quoting the line.
    let vaulted = crate::vault::is_revealed(&source.text);
    let unquoted = |mut err: Diagnostic| {
        if vaulted && let Some(span) = &mut err.span {
            span.source = Source::new(source.path.clone(), "");
        }
        err
    };
    let raw: RawNode = serde_saphyr::from_str_with_options(&source.text, options)
        .map_err(|err| unquoted(syntax_error(source, &err)))?;
    let node = convert(source, raw).map_err(unquoted)?;
    if vaulted {
        reveal_strings(&node);
    }
    Ok(node)
}

fn syntax_error(source: &Arc<Source>, err: &serde_saphyr::Error) -> Diagnostic {
    let message = err.without_snippet().to_string();
    // serde-saphyr appends " at line N, column M": we print our own location.
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    // Say it in the user's words, without the parser's configuration advice.
    let message = match message.strip_prefix("duplicate mapping key: ") {
        Some(rest) => {
            let key = rest
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(rest);
            format!("duplicate key `{key}` (each key may appear once in a mapping)")
        }
        None => format!("invalid YAML: {message}"),
    };
    match err.location() {
        Some(loc) => Diagnostic::new(
            message,
            Span::new(source.clone(), loc.line() as u32, loc.column() as u32, 1),
        ),
        None => Diagnostic::new(message, Span::file_start(source.clone())),
    }
}

/// What serde-saphyr gives us before spans are attached to our own tree.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(RawNode, RawNode)>),
}

/// A node as serde-saphyr gives it: with its place and its tag, if any.
type RawNode = Spanned<Tagged<Raw>>;

fn convert(source: &Arc<Source>, raw: RawNode) -> Result<Node, Diagnostic> {
    let loc = raw.referenced;
    let span = Span::new(
        source.clone(),
        loc.line() as u32,
        loc.column() as u32,
        loc.span().len() as u32,
    );
    let text = || {
        let span = loc.span();
        let start = span.byte_offset()? as usize;
        let len = span.byte_len()? as usize;
        source.text.get(start..start + len)
    };
    let Tagged(raw, tag) = raw.value;
    let unsafe_text = match tag.as_deref().map(tag::read) {
        None | Some(tag::Tag::Core) => false,
        Some(tag::Tag::Unsafe) => true,
        Some(tag::Tag::Vault) => {
            let at = loc.span().byte_offset().map(|offset| offset as usize);
            let tag_span = tag::span(source, at, tag.as_deref().unwrap_or_default(), &span);
            let Raw::Str(ciphertext) = raw else {
                return Err(Diagnostic::new(
                    "a `!vault` value must be a string",
                    tag_span,
                ));
            };
            let plain = crate::vault::open_value(&ciphertext, &tag_span)?;
            return Ok(Node {
                value: Value::Str(plain),
                span,
            });
        }
        Some(tag::Tag::Unknown(name)) => {
            let at = loc.span().byte_offset().map(|offset| offset as usize);
            return Err(tag::unknown(name, tag::span(source, at, name, &span)));
        }
    };
    let value = match raw {
        Raw::Null => Value::Null,
        // serde-saphyr also reads y/n (any case) as booleans; PyYAML does not.
        Raw::Bool(b) => match text() {
            Some(t) if !is_yaml11_bool(t) && !t.is_empty() => Value::Str(t.to_string()),
            _ => Value::Bool(b),
        },
        Raw::Int(i) => Value::Int(i),
        Raw::Float(x) => Value::Float(x),
        Raw::Str(s) if unsafe_text => Value::Str(tag::never_templated(&s)),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|i| convert(source, i))
                .collect::<Result<_, _>>()?,
        ),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((convert(source, k)?, convert(source, v)?)))
                .collect::<Result<_, Diagnostic>>()?,
        ),
    };
    Ok(Node { value, span })
}

fn reveal_strings(node: &Node) {
    match &node.value {
        Value::Str(s) => crate::vault::reveal(s),
        Value::Seq(items) => items.iter().for_each(reveal_strings),
        Value::Map(entries) => entries.iter().for_each(|(_, v)| reveal_strings(v)),
        _ => {}
    }
}

/// PyYAML's boolean spellings (its resolver is case-sensitive per form).
fn is_yaml11_bool(text: &str) -> bool {
    matches!(
        text,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }
    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Raw, E> {
        match i64::try_from(u) {
            Ok(i) => Ok(Raw::Int(i)),
            Err(_) => Ok(Raw::Float(u as f64)),
        }
    }
    fn visit_f64<E>(self, x: f64) -> Result<Raw, E> {
        Ok(Raw::Float(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

impl Node {
    /// An error pointing at this node.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message, self.span.clone())
    }

    /// An error saying this node should have been `expected`.
    pub fn type_error(&self, what: &str, expected: &str) -> Diagnostic {
        self.error(format!(
            "{what} must be {expected}, found {}",
            self.value.kind()
        ))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as Ansible would stringify it in a key or a `hosts:` field.
    pub fn scalar_string(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            Value::Null => None,
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Converts to JSON, the form variables take everywhere after parsing.
    /// Non-string keys become strings, as Ansible's JSON output shows them.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_string().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        parse(&Source::new("t.yml", text)).unwrap().to_json()
    }

    #[test]
    fn scalars_are_typed_as_ansible_types_them() {
        let v = json("a: yes\nb: 'yes'\nc: 0644\nd: y\ne: off\nf: ~\ng: 1.5\nh: '0644'\n");
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": "yes", "c": 420, "d": "y", "e": false, "f": null, "g": 1.5, "h": "0644"})
        );
    }

    #[test]
    fn merge_keys_are_applied() {
        let v = json("base: &b\n  x: 1\nitem:\n  <<: *b\n  y: 2\n");
        assert_eq!(v["item"], serde_json::json!({"y": 2, "x": 1}));
    }

    #[test]
    fn nodes_know_their_line_and_column() {
        let node = parse(&Source::new("t.yml", "top:\n  - name: x\n    shell: ls\n")).unwrap();
        let Value::Map(top) = &node.value else {
            panic!()
        };
        let Value::Seq(items) = &top[0].1.value else {
            panic!()
        };
        let Value::Map(task) = &items[0].value else {
            panic!()
        };
        assert_eq!((task[1].0.span.line, task[1].0.span.col), (3, 5));
    }

    #[test]
    fn an_unknown_tag_is_a_located_error_naming_it() {
        // No vault password in unit tests: a `!vault` value is an error at its tag.
        let text = "a: 1\npassword: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n";
        let err = parse(&Source::new("t.yml", text)).unwrap_err();
        let span = err.span.clone().unwrap();
        assert_eq!((span.line, span.col), (2, 11), "{err}");
        assert!(err.message.contains("`!vault`"), "{}", err.message);
        assert!(err.message.contains("no vault password"), "{}", err.message);
        let err = parse(&Source::new("t.yml", "- !Ref x\n")).unwrap_err();
        assert!(
            err.message.contains("unknown YAML tag `!Ref`"),
            "{}",
            err.message
        );
        let err = parse(&Source::new("t.yml", "k: !custom\n  a: 1\n")).unwrap_err();
        assert!(err.message.contains("`!custom`"), "{}", err.message);
    }

    #[test]
    fn unsafe_strings_are_never_templated_and_core_tags_apply() {
        let v = json("a: !unsafe '{{ not_a_var }}'\nb: !!str 12\nc: !unsafe plain\n");
        assert_eq!(v["b"], "12");
        assert_eq!(v["c"], "plain");
        let templates = crate::template::Templates::new();
        let span = Span::file_start(Source::new("t.yml", ""));
        let a = templates
            .render(v["a"].as_str().unwrap(), &serde_json::Map::new(), &span)
            .unwrap();
        assert_eq!(a, "{{ not_a_var }}");
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = parse(&Source::new("t.yml", "a: [1, 2\nb: 3\n")).unwrap_err();
        let span = err.span.clone().unwrap();
        assert_eq!((span.line, span.col), (2, 2));
        assert!(err.message.starts_with("invalid YAML: "), "{}", err.message);
    }
}
