//! The filters and tests a template names, found without rendering it.
//!
//! minijinja looks a filter up only when it is applied, so an unknown one
//! in a branch not taken, or in a `when:` that waits for a registered
//! result, would pass the compile and fail on the host after earlier steps
//! ran. Jinja (and so Ansible) knows every name when it compiles the
//! template; this scan gives ferry the same: every `| name` and
//! `is [not] name` of a template's expressions, with its byte range.

use std::ops::Range;

use minijinja::{Environment, ErrorKind};

use super::filters::{FILTERS, TESTS};
use crate::diagnostic::{Diagnostic, Span};

/// Ansible's result tests that Ansible 2.9 removed as filters.
const REMOVED_FILTERS: &[&str] = &[
    "success",
    "succeeded",
    "successful",
    "failed",
    "failure",
    "changed",
    "change",
    "skipped",
    "skip",
];

/// An error at the first filter or test of `text` that `env` does not know.
pub(super) fn check(
    env: &Environment,
    text: &str,
    in_expr: bool,
    span: &Span,
) -> Result<(), Diagnostic> {
    for (kind, name, range) in used(text, in_expr) {
        if kind == Kind::Filter && REMOVED_FILTERS.contains(&name) {
            let at = super::location::locate(span, text, range.start, range.end);
            return Err(Diagnostic::new(
                format!("`{name}` is no filter: Ansible 2.9 made the result filters tests"),
                at,
            )
            .with_help(format!("write `RESULT is {name}` for `RESULT | {name}`")));
        }
        if !knows(env, kind, name) {
            let (what, known) = match kind {
                Kind::Filter => ("filter", FILTERS),
                Kind::Test => ("test", TESTS),
            };
            let at = super::location::locate(span, text, range.start, range.end);
            return Err(Diagnostic::new(format!("unknown {what} `{name}`"), at)
                .suggest(name, known.iter().copied()));
        }
    }
    Ok(())
}

/// Whether `env` has filter or test `name`: listed, or applied without an
/// "unknown" error (a builtin the lists may lack).
fn knows(env: &Environment, kind: Kind, name: &str) -> bool {
    let listed = match kind {
        Kind::Filter => FILTERS,
        Kind::Test => TESTS,
    };
    if listed.contains(&name) {
        return true;
    }
    if name.contains('.') {
        return false;
    }
    let (expr, unknown) = match kind {
        Kind::Filter => (format!("none | {name}"), ErrorKind::UnknownFilter),
        Kind::Test => (format!("none is {name}"), ErrorKind::UnknownTest),
    };
    match env.compile_expression(&expr) {
        Ok(compiled) => !matches!(compiled.eval(()), Err(e) if e.kind() == unknown),
        Err(_) => false,
    }
}

/// What a name is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Filter,
    Test,
}

/// Every filter and test `text` names, in order. `in_expr`: the whole text
/// is one expression (a `when:`), not a template with `{{ }}` and `{% %}`.
pub(super) fn used(text: &str, in_expr: bool) -> Vec<(Kind, &str, Range<usize>)> {
    let mut out = Vec::new();
    if in_expr {
        scan_expr(text, 0, text.len(), &mut out);
        return out;
    }
    let mut at = 0;
    while let Some(open) = find_open(text, at) {
        let start = open + 2;
        let (close_tag, is_comment) = match &text[open..open + 2] {
            "{{" => ("}}", false),
            "{%" => ("%}", false),
            _ => ("#}", true),
        };
        let end = find_close(text, start, close_tag).unwrap_or(text.len());
        if !is_comment {
            let block = &text[start..end];
            let body = block.trim_start_matches(['-', '+']).trim_start();
            if !is_comment && close_tag == "%}" && body.starts_with("raw") {
                // `{% raw %}` … `{% endraw %}`: nothing inside is Jinja.
                at = text[end..]
                    .find("endraw")
                    .map_or(text.len(), |i| end + i + "endraw".len());
                continue;
            }
            scan_expr(text, start, end, &mut out);
        }
        at = (end + 2).min(text.len());
    }
    out
}

fn find_open(text: &str, from: usize) -> Option<usize> {
    let rest = text.get(from..)?;
    let bytes = rest.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'{' | b'%' | b'#'))
        .map(|i| from + i)
}

/// The end of a block: its closing tag outside any string literal.
fn find_close(text: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => i = skip_string(bytes, i, quote),
            _ if text[i..].starts_with(close) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The index after the string literal starting at `i`.
fn skip_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < bytes.len() && bytes[i] != quote {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// The filters and tests of the expression `text[start..end]`.
fn scan_expr<'a>(
    text: &'a str,
    start: usize,
    end: usize,
    out: &mut Vec<(Kind, &'a str, Range<usize>)>,
) {
    let bytes = text.as_bytes();
    let end = end.min(bytes.len());
    let mut i = start;
    // The previous word, to see `is` and `is not`.
    let mut previous: Option<&str> = None;
    let mut after_is = false;
    while i < end {
        let c = bytes[i];
        if c == b'\'' || c == b'"' {
            i = skip_string(bytes, i, c);
            previous = None;
            after_is = false;
        } else if c == b'|' {
            let name_start = skip_space(bytes, i + 1, end);
            let name_end = name_end(bytes, name_start, end, true);
            if name_end > name_start {
                out.push((
                    Kind::Filter,
                    &text[name_start..name_end],
                    name_start..name_end,
                ));
            }
            i = name_end.max(i + 1);
            previous = None;
            after_is = false;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let word_end = name_end(bytes, i, end, false);
            let word = &text[i..word_end];
            let after_dot = text[..i].trim_end().ends_with('.');
            if after_is && word != "not" && !after_dot {
                // A test may be a dotted name (`ansible.builtin.success`).
                let test_end = name_end(bytes, i, end, true);
                out.push((Kind::Test, &text[i..test_end], i..test_end));
                after_is = false;
                previous = None;
                i = test_end;
                continue;
            }
            after_is =
                word == "is" && !after_dot || (word == "not" && previous == Some("is") && after_is);
            previous = Some(word);
            i = word_end;
        } else if c.is_ascii_digit() {
            i = name_end(bytes, i, end, false);
            previous = None;
            after_is = false;
        } else {
            if !c.is_ascii_whitespace() {
                previous = None;
                after_is = false;
            }
            i += 1;
        }
    }
}

fn skip_space(bytes: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of an identifier at `i` (with dots when `dotted`).
fn name_end(bytes: &[u8], mut i: usize, end: usize, dotted: bool) -> usize {
    while i < end
        && (bytes[i].is_ascii_alphanumeric()
            || bytes[i] == b'_'
            || (dotted && bytes[i] == b'.' && i + 1 < end && bytes[i + 1].is_ascii_alphabetic()))
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, in_expr: bool) -> Vec<(Kind, &str)> {
        used(text, in_expr)
            .into_iter()
            .map(|(kind, name, range)| {
                assert_eq!(&text[range], name);
                (kind, name)
            })
            .collect()
    }

    #[test]
    fn filters_and_tests_are_found_outside_strings() {
        use Kind::*;
        assert_eq!(
            names(
                "a {{ x | upper | default('a|b') }} {% if y is not defined %}",
                false
            ),
            [(Filter, "upper"), (Filter, "default"), (Test, "defined")]
        );
        assert_eq!(
            names("r is success and r.stdout|ansible.builtin.quote", true),
            [(Test, "success"), (Filter, "ansible.builtin.quote")]
        );
        assert_eq!(names("x.is_file or 'is a' in y", true), []);
        assert_eq!(
            names("{# x | nope #}{% raw %}{{ x | nope }}{% endraw %}", false),
            []
        );
        assert_eq!(names("plain | text", false), []);
        assert_eq!(names("r|success", true), [(Filter, "success")]);
    }

    #[test]
    fn unknown_and_removed_names_are_errors_at_their_column() {
        let templates = crate::template::Templates::new();
        let source = crate::diagnostic::Source::new("t.yml", "when: r is sucess\n");
        let span = Span::new(source, 1, 7, 11);
        let err = check(templates.env(), "r is sucess", true, &span).unwrap_err();
        assert_eq!(err.message, "unknown test `sucess`");
        assert_eq!(
            (
                err.span.as_ref().unwrap().line,
                err.span.as_ref().unwrap().col
            ),
            (1, 12)
        );
        assert!(err.help.unwrap().contains("success"));
        let err = check(templates.env(), "r|changed", true, &span).unwrap_err();
        assert!(err.message.contains("Ansible 2.9"), "{}", err.message);
        assert_eq!(
            err.help.as_deref(),
            Some("write `RESULT is changed` for `RESULT | changed`")
        );
        for fine in [
            "x | default('a') | map('upper') | list",
            "x is defined and y is not none",
        ] {
            check(templates.env(), fine, true, &span).unwrap();
        }
    }
}
