//! A minijinja error as a user-facing [`Diagnostic`]: what went wrong in the
//! user's words (`undefined variable `dbpass``, `unknown filter `qoute``),
//! where in the file, and a `did you mean` where a name was misspelt.

use std::ops::Range;

use minijinja::ErrorKind;
use serde_json::{Map, Value as Json};

use super::{filters, location};
use crate::diagnostic::{Diagnostic, Span};

/// A failed render and what is needed to explain it.
pub(super) struct Failure<'a> {
    pub err: &'a minijinja::Error,
    /// The template as the user wrote it.
    pub text: &'a str,
    /// How far the rendered source's byte offsets are ahead of `text`'s
    /// (expressions are evaluated inside a wrapper template).
    pub shift: isize,
    pub vars: &'a Map<String, Json>,
    /// The YAML scalar the template was written in.
    pub span: &'a Span,
}

impl Failure<'_> {
    pub(super) fn diagnostic(&self) -> Diagnostic {
        let detail = self.err.detail().unwrap_or_default();
        let range = self.range();
        if let Some(expr) = undefined_expr(detail) {
            return self.undefined(expr, range);
        }
        match self.err.kind() {
            ErrorKind::UndefinedError if detail == filters::MANDATORY => self.mandatory(range),
            ErrorKind::UndefinedError => match self.filtered_subject(range.clone()) {
                // `undefined | bool`: the filter saw an undefined value;
                // name the variable it was applied to.
                Some((_, subject)) if !subject.contains(['(', ' ', '\'', '"']) => {
                    self.undefined(subject, None)
                }
                _ => Diagnostic::new("undefined value", self.at(range)),
            },
            ErrorKind::SyntaxError => {
                Diagnostic::new(format!("invalid template: {detail}"), self.at(range))
            }
            ErrorKind::UnknownFilter => self.unknown("filter", detail, range, filters::FILTERS),
            ErrorKind::UnknownTest => self.unknown("test", detail, range, filters::TESTS),
            ErrorKind::UnknownFunction => {
                self.unknown("function", detail, range, filters::FUNCTIONS)
            }
            kind => {
                let message = match kind {
                    ErrorKind::InvalidOperation if !detail.is_empty() => detail.to_string(),
                    kind if detail.is_empty() => kind.to_string(),
                    kind => format!("{kind}: {detail}"),
                };
                // Name the filter, test, function or method that failed.
                let message = match range.as_ref().and_then(|r| callee(self.text, r.start)) {
                    Some((what, name)) if name != "mandatory" => {
                        format!("{what} `{name}`: {message}")
                    }
                    _ => message,
                };
                Diagnostic::new(message, self.at(range))
            }
        }
    }

    /// The error's byte range in `text`, if minijinja gave one.
    fn range(&self) -> Option<Range<usize>> {
        let range = self.err.range()?;
        let map = |offset: usize| {
            (offset as isize - self.shift).clamp(0, self.text.len() as isize) as usize
        };
        Some(map(range.start)..map(range.end))
    }

    /// The file span of a byte range of the template (the scalar's start
    /// when there is none).
    fn at(&self, range: Option<Range<usize>>) -> Span {
        match range {
            Some(range) => location::locate(self.span, self.text, range.start, range.end),
            None => self.span.clone(),
        }
    }

    /// `{{ dbpass }}`, `{{ user.nmae }}`, `{{ items[5] }}`.
    fn undefined(&self, expr: &str, range: Option<Range<usize>>) -> Diagnostic {
        let found = find_name(self.text, expr, range.clone())
            .or_else(|| find_name(self.text, expr, None))
            .or_else(|| {
                let last = expr.rsplit(['.', '[']).next()?.trim_end_matches(']');
                find_name(self.text, last.trim_matches(['"', '\'']), range.clone())
            });
        let span = match found {
            Some(ref at) => location::locate(self.span, self.text, at.start, at.end),
            None => self.at(range),
        };
        let Some((parent, child)) = split_path(expr) else {
            let names = self.vars.keys().map(String::as_str);
            let diagnostic =
                Diagnostic::new(format!("undefined variable `{expr}`"), span).suggest(expr, names);
            return match (&diagnostic.help, found) {
                (None, Some(at)) if guards_a_lookup(self.text, at.end) => diagnostic.with_help(
                    format!(
                        "`default` and `is defined` guard only the last lookup, so `{expr}` itself \
                         must be defined: write `({expr} | default({{}})).…` or test `{expr} is defined` first"
                    ),
                ),
                _ => diagnostic,
            };
        };
        let what = if expr.ends_with(']') {
            "item"
        } else {
            "attribute"
        };
        let diagnostic = Diagnostic::new(format!("undefined {what} `{expr}`"), span);
        match resolve(self.vars, parent) {
            Some(Json::Object(entries)) => {
                let candidates: Vec<String> = entries
                    .keys()
                    .map(|key| format!("{parent}.{key}"))
                    .collect();
                diagnostic.suggest(
                    &format!("{parent}.{child}"),
                    candidates.iter().map(String::as_str),
                )
            }
            _ => diagnostic,
        }
    }

    /// `{{ dbpass | mandatory }}`: the variable is the expression the filter
    /// is applied to, written before the filter's name.
    fn mandatory(&self, range: Option<Range<usize>>) -> Diagnostic {
        match self.filtered_subject(range.clone()) {
            Some((at, subject)) if !subject.is_empty() => Diagnostic::new(
                format!("mandatory variable `{subject}` is undefined"),
                location::locate(self.span, self.text, at.start, at.end),
            ),
            _ => Diagnostic::new("mandatory variable is undefined", self.at(range)),
        }
    }

    /// The expression a failing filter (at `range`) was applied to, and
    /// where it is: `dbpass` in `{{ dbpass | mandatory }}`.
    fn filtered_subject(&self, range: Option<Range<usize>>) -> Option<(Range<usize>, &str)> {
        let range = range?;
        let before = self.text[..range.start]
            .trim_end()
            .strip_suffix('|')?
            .trim_end();
        let open = before.rfind(['{', '(', ',']).map_or(0, |i| i + 1);
        let subject = before[open..].trim_start_matches(['{', '-', '+']).trim();
        Some((before.len() - subject.len()..before.len(), subject))
    }

    /// An unknown filter, test or function, with `did you mean`.
    fn unknown(
        &self,
        what: &str,
        detail: &str,
        range: Option<Range<usize>>,
        known: &[&str],
    ) -> Diagnostic {
        // minijinja says `filter qoute is unknown`, `test x is unknown`, `f is unknown`.
        let name = detail
            .strip_suffix(" is unknown")
            .map(|rest| rest.rsplit(' ').next().unwrap_or(rest))
            .unwrap_or(detail);
        let span = match find_name(self.text, name, range.clone()) {
            Some(at) => location::locate(self.span, self.text, at.start, at.end),
            None => self.at(range),
        };
        Diagnostic::new(format!("unknown {what} `{name}`"), span)
            .suggest(name, known.iter().copied())
    }
}

/// The call an error's range starts at: `join(...)` after a `|` is a filter,
/// after `is` a test, after `.` a method, else a function.
fn callee(text: &str, start: usize) -> Option<(&'static str, &str)> {
    // A method call's range starts at its dot.
    let (method, start) = match text[start..].strip_prefix('.') {
        Some(_) => (true, start + 1),
        None => (false, start),
    };
    let rest = &text[start..];
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let before = text[..start].trim_end();
    let what = if method || before.ends_with('.') {
        "method"
    } else if before.ends_with('|') {
        "filter"
    } else if before.ends_with(" is") || before.ends_with(" not") {
        "test"
    } else if rest[len..].starts_with('(') {
        "function"
    } else {
        return None;
    };
    Some((what, name))
}

/// Whether the name ending at `end` is looked into (`nope.x`, `nope['x']`)
/// by an expression that means to guard it with `default` or `is defined`:
/// Ansible allows that on an undefined `nope`, strict minijinja does not.
fn guards_a_lookup(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    let rest = &rest[..rest.find(['}', '%']).unwrap_or(rest.len())];
    rest.starts_with(['.', '['])
        && (rest.contains("default") || rest.contains("| d(") || rest.contains("defined"))
}

/// The variable at the root of an undefined-value error (`user` for
/// "`user.nmae` is undefined").
pub(super) fn undefined_root(err: &minijinja::Error) -> Option<&str> {
    let expr = undefined_expr(err.detail()?)?;
    expr.split(['.', '[']).next()
}

/// The expression minijinja names in "`user.nmae` is undefined".
fn undefined_expr(detail: &str) -> Option<&str> {
    let end = detail.find("` is undefined")?;
    let start = detail[..end].rfind('`')? + 1;
    Some(&detail[start..end]).filter(|expr| *expr != "(...)")
}

/// `user.nmae` → (`user`, `nmae`); `items[5]` → (`items`, `5`); a plain name → None.
fn split_path(expr: &str) -> Option<(&str, &str)> {
    let cut = expr.rfind(['.', '['])?;
    let child = expr[cut + 1..]
        .trim_end_matches(']')
        .trim_matches(['"', '\'']);
    Some((&expr[..cut], child))
}

/// The JSON value at a simple path (`a.b[0]`) in the variables, if any.
fn resolve<'v>(vars: &'v Map<String, Json>, path: &str) -> Option<&'v Json> {
    let mut parts = path
        .split(['.', '['])
        .map(|part| part.trim_end_matches(']').trim_matches(['"', '\'']));
    let mut value = vars.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Json::Object(entries) => entries.get(part)?,
            Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Where `name` occurs in `text` as a whole name (not inside a longer name,
/// after a `.`, or inside a string literal), searching `within` if given.
fn find_name(text: &str, name: &str, within: Option<Range<usize>>) -> Option<Range<usize>> {
    if name.is_empty() {
        return None;
    }
    let within = within.unwrap_or(0..text.len());
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut quote: Option<u8> = None;
    // Quotes count only inside `{{ }}` and `{% %}`: outside, `it's` is text.
    let mut in_block = !super::is_template(text);
    let mut i = 0;
    while i < text.len() {
        let b = bytes[i];
        let pair = &bytes[i..(i + 2).min(bytes.len())];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => i += 1,
            Some(_) => {}
            None if pair == b"{{" || pair == b"{%" => in_block = true,
            None if pair == b"}}" || pair == b"%}" => in_block = false,
            None if in_block && (b == b'\'' || b == b'"') => quote = Some(b),
            None if i >= within.start
                && i < within.end.max(within.start + 1)
                && text[i..].starts_with(name) =>
            {
                let end = i + name.len();
                let clean_start = i == 0 || !(is_name(bytes[i - 1]) || bytes[i - 1] == b'.');
                let clean_end = end == text.len() || !is_name(bytes[end]);
                if clean_start && clean_end {
                    return Some(i..end);
                }
            }
            None => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_names_outside_strings() {
        let text = "{{ 'yay' ~ ya ~ y }}";
        assert_eq!(find_name(text, "y", None), Some(16..17));
        assert_eq!(find_name("{{ user.nmae }}", "user.nmae", None), Some(3..12));
        assert_eq!(find_name("{{ a.x }}", "x", None), None);
    }

    #[test]
    fn reads_minijinja_undefined_details() {
        assert_eq!(
            undefined_expr("`user.nmae` is undefined"),
            Some("user.nmae")
        );
        assert_eq!(
            undefined_expr("cannot add (`x` is undefined, from line 2)"),
            Some("x")
        );
        assert_eq!(undefined_expr("`(...)` is undefined"), None);
    }
}
