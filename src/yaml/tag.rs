//! YAML tags: the ones ferry understands, and an error for every other.
//!
//! A tag changes what a value means. Ignoring one is never safe: a `!vault`
//! value ignored is its ciphertext deployed as the password. So YAML's own
//! tags (`!!str`, `!!int`, …) are applied by the parser, Ansible's `!unsafe`
//! (a string that is never templated) is honoured, `!vault` is decrypted
//! (with the run's vault passwords: see `crate::vault`), and any other tag is an
//! input error at its file:line:col, found before any host is touched.

use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Source, Span};

/// What a tag on a node means to ferry.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tag<'a> {
    /// One of YAML's core tags (or the non-specific `!`): already applied.
    Core,
    /// Ansible's `!unsafe`: the string is used as written, never templated.
    Unsafe,
    /// Ansible Vault ciphertext (`!vault`, or the older `!vault-encrypted`).
    Vault,
    /// Anything else, as the parser resolved it (`!vault`, `!Ref`, …).
    Unknown(&'a str),
}

/// Classifies a tag as serde-saphyr resolves it (`tag:yaml.org,2002:str`
/// for `!!str`, `!vault` for a local tag).
pub(super) fn read(tag: &str) -> Tag<'_> {
    if tag == "!" || tag.starts_with("tag:yaml.org,2002:") {
        Tag::Core
    } else if tag == "!unsafe" {
        Tag::Unsafe
    } else if tag == "!vault" || tag == "!vault-encrypted" {
        Tag::Vault
    } else {
        Tag::Unknown(tag)
    }
}

/// The error for a tag ferry does not understand, at the tagged node.
pub(super) fn unknown(tag: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        format!(
            "unknown YAML tag `{tag}`: ferry understands `!unsafe`, `!vault` and YAML's own tags (`!!str`, `!!int`, …)"
        ),
        span,
    )
}

/// Where `tag` is written: just before its node, which starts at byte
/// `node_start` (a block scalar's node starts on the line below its tag,
/// and that line is the value, which an error must not quote).
pub(super) fn span(
    source: &Arc<Source>,
    node_start: Option<usize>,
    tag: &str,
    node: &Span,
) -> Span {
    let before = node_start.and_then(|end| source.text.get(..end));
    let Some(at) = before.and_then(|text| text.rfind(tag)) else {
        return node.clone();
    };
    let text = &source.text[..at];
    let line = text.matches('\n').count() + 1;
    let col = text[text.rfind('\n').map_or(0, |n| n + 1)..]
        .chars()
        .count()
        + 1;
    Span::new(
        source.clone(),
        line as u32,
        col as u32,
        tag.chars().count() as u32,
    )
}

/// `text` written so that rendering it as a template gives `text` back:
/// every `{` becomes the expression `{{ '{' }}`, so no `{{`, `{%` or `{#`
/// of the original opens anything. Strings without Jinja stay as they are.
pub(crate) fn never_templated(text: &str) -> String {
    if !(text.contains("{{") || text.contains("{%") || text.contains("{#")) {
        return text.to_string();
    }
    text.replace('{', OPEN)
}

/// The text that [`never_templated`] was given, from what it returned
/// (every `{` of the text was replaced, so each [`OPEN`] is one `{`).
pub(crate) fn as_written(text: &str) -> String {
    text.replace(OPEN, "{")
}

/// A template expression printing `{`.
const OPEN: &str = "{{ '{' }}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_unsafe_tags_are_understood_and_others_are_not() {
        assert_eq!(read("tag:yaml.org,2002:str"), Tag::Core);
        assert_eq!(read("!"), Tag::Core);
        assert_eq!(read("!unsafe"), Tag::Unsafe);
        assert_eq!(read("!vault"), Tag::Vault);
        assert_eq!(read("!Ref"), Tag::Unknown("!Ref"));
        assert_eq!(
            read("tag:example.com,2026:x"),
            Tag::Unknown("tag:example.com,2026:x")
        );
    }

    #[test]
    fn never_templated_text_renders_back_to_itself() {
        let templates = crate::template::Templates::new();
        let source = crate::diagnostic::Source::new("t.yml", "");
        let span = Span::file_start(source);
        for text in ["{{ x }}", "a{%b%}c{#d#}", "{", "{{", "}}{{'", "plain"] {
            let escaped = never_templated(text);
            assert_eq!(as_written(&escaped), text);
            let rendered = templates
                .render(&escaped, &serde_json::Map::new(), &span)
                .unwrap();
            assert_eq!(rendered, text, "{escaped}");
        }
    }
}
