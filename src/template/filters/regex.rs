//! Ansible's regular-expression filters and tests, in Python's syntax
//! (`\1` back-references, `ignorecase=true`) on Rust's `regex` engine.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, Value};

use super::invalid;

/// A compiled Python-style pattern; `(?i)`/`(?m)` from Ansible's flags.
fn pattern(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|err| {
            let reason = err.to_string();
            let reason = reason
                .lines()
                .last()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            invalid(format!("invalid regular expression `{pattern}`: {reason}"))
        })
}

fn flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    Ok((ignorecase, multiline))
}

/// Python's replacement syntax (`\1`, `\g<1>`, `\g<name>`) in Rust's (`${1}`).
fn replacement(python: &str) -> String {
    let mut out = String::new();
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    chars.next();
                    let name: String = chars.by_ref().skip(1).take_while(|&c| c != '>').collect();
                    out.push_str(&format!("${{{name}}}"));
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

pub(super) fn regex_replace(
    value: String,
    pat: String,
    repl: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let (ignorecase, multiline) = flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let re = pattern(&pat, ignorecase, multiline)?;
    let repl = replacement(&repl.unwrap_or_default());
    Ok(re.replacen(&value, count, repl.as_str()).into_owned())
}

/// Ansible's `regex_search`: the match, or the listed groups (`'\\1'`,
/// `'\\g<name>'`) as a list; none when nothing matches.
pub(super) fn regex_search(
    value: String,
    pat: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let (ignorecase, multiline) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = pattern(&pat, ignorecase, multiline)?;
    let Some(found) = re.captures(&value) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(found.get(0).map_or("", |m| m.as_str())));
    }
    let mut items = Vec::new();
    for group in groups.iter() {
        let group = group.trim_start_matches('\\');
        let text = match group.strip_prefix("g<").and_then(|g| g.strip_suffix('>')) {
            Some(name) => found.name(name),
            None => group.parse::<usize>().ok().and_then(|i| found.get(i)),
        };
        items.push(Value::from(text.map(|m| m.as_str())));
    }
    Ok(Value::from(items))
}

pub(super) fn regex_findall(value: String, pat: String, kwargs: Kwargs) -> Result<Value, Error> {
    let (ignorecase, multiline) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = pattern(&pat, ignorecase, multiline)?;
    // Python's findall: the whole match, the one group, or a tuple of groups.
    let items: Vec<Value> = re
        .captures_iter(&value)
        .map(|caps| match caps.len() {
            1 => Value::from(caps.get(0).map_or("", |m| m.as_str())),
            2 => Value::from(caps.get(1).map_or("", |m| m.as_str())),
            _ => Value::from(
                (1..caps.len())
                    .map(|i| Value::from(caps.get(i).map_or("", |m| m.as_str())))
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    Ok(Value::from(items))
}

pub(super) fn regex_test(
    value: &str,
    pat: &str,
    kwargs: Kwargs,
    anchored: bool,
) -> Result<bool, Error> {
    let (ignorecase, multiline) = flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let re = pattern(pat, ignorecase, multiline)?;
    Ok(match re.find(value) {
        // Python's `re.match`: the leftmost match starts at 0 if any does.
        Some(m) if anchored => m.start() == 0,
        Some(_) => true,
        None => false,
    })
}

/// Ansible's `regex` test: `match_type='search'` (default) or `'match'`.
pub(super) fn regex_test_kind(value: String, pat: String, kwargs: Kwargs) -> Result<bool, Error> {
    let kind = kwargs
        .get::<Option<String>>("match_type")?
        .unwrap_or_else(|| "search".into());
    regex_test(&value, &pat, kwargs, kind == "match")
}
