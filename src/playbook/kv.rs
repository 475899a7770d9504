//! Free-form `key=value` module arguments, read as Ansible reads them:
//! `copy: src=a dest=b mode=0644`, `debug: msg="hi {{ x }}"`, and for
//! `command`/`shell` the options `chdir=`, `creates=`, `removes=`,
//! `executable=` (and Ansible's other ones) taken out of the command.
//!
//! Words are split on whitespace outside quotes and outside `{{ }}`,
//! `{% %}` and `{# #}`; a value's surrounding quotes are removed and its
//! escapes decoded. The command that remains keeps its text as written.

use crate::diagnostic::{Diagnostic, Span};
use crate::yaml::{Node, Value};

/// The options Ansible takes out of a `command`/`shell` string; any other
/// `key=value` word stays part of the command (`FOO=1 ./run`).
const COMMAND_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// One word of a free-form string: its byte range in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    start: usize,
    end: usize,
}

/// Splits `text` into words, keeping quoted text and Jinja blocks whole.
fn words(text: &str) -> Vec<Word> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let two = &bytes[i..(i + 2).min(bytes.len())];
        if quote.is_none() && depth == 0 && c.is_ascii_whitespace() {
            if let Some(s) = start.take() {
                out.push(Word { start: s, end: i });
            }
            i += 1;
            continue;
        }
        start.get_or_insert(i);
        match c {
            b'\\' => {
                i += 2;
                continue;
            }
            b'"' | b'\'' if depth == 0 => match quote {
                Some(q) if q == c => quote = None,
                None => quote = Some(c),
                Some(_) => {}
            },
            _ if two == b"{{" || two == b"{%" || two == b"{#" => {
                depth += 1;
                i += 2;
                continue;
            }
            _ if depth > 0 && (two == b"}}" || two == b"%}" || two == b"#}") => {
                depth -= 1;
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(s) = start {
        out.push(Word {
            start: s,
            end: bytes.len().max(s),
        });
    }
    for word in &mut out {
        word.end = word.end.min(text.len());
    }
    out
}

/// `key=value` of a word, when its first unescaped `=` follows a name.
fn key_value(word: &str) -> Option<(&str, &str)> {
    let mut search = 0;
    loop {
        let pos = search + word[search..].find('=')?;
        if pos > 0 && word.as_bytes()[pos - 1] == b'\\' {
            search = pos + 1;
            continue;
        }
        let key = &word[..pos];
        let is_name = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return is_name.then(|| (key, &word[pos + 1..]));
    }
}

/// A value as Ansible hands it to the module: escapes decoded, then one
/// pair of surrounding quotes removed.
fn unquote(value: &str) -> String {
    let mut decoded = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            decoded.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => decoded.push('\n'),
            Some('t') => decoded.push('\t'),
            Some('r') => decoded.push('\r'),
            Some(c @ ('\\' | '"' | '\'' | '=')) => decoded.push(c),
            Some(other) => {
                decoded.push('\\');
                decoded.push(other);
            }
            None => decoded.push('\\'),
        }
    }
    let quoted = decoded.len() >= 2
        && (decoded.starts_with('"') && decoded.ends_with('"')
            || decoded.starts_with('\'') && decoded.ends_with('\''));
    if quoted {
        decoded[1..decoded.len() - 1].to_string()
    } else {
        decoded
    }
}

/// The span of `text[range]` when `node` is a plain one-line scalar whose
/// text is on its line as written; else the node's own span.
fn span_in(node: &Node, text: &str, word: &Word) -> Span {
    let span = &node.span;
    let written = span.source.line(span.line).map(|line| {
        line.chars()
            .skip((span.col as usize).saturating_sub(1))
            .collect::<String>()
    });
    match written {
        Some(line) if line.starts_with(text) => {
            let col = span.col + text[..word.start].chars().count() as u32;
            let len = text[word.start..word.end].chars().count() as u32;
            span.moved(span.line, col, len)
        }
        _ => span.clone(),
    }
}

fn str_node(value: String, span: Span) -> Node {
    Node {
        value: Value::Str(value),
        span,
    }
}

/// A module's string arguments as Ansible reads them. `command`/`shell`
/// keep their command (`_raw`) and lose only their options; for any
/// other module the string must be all `key=value` words, except that a
/// string without any (`debug: some text`) is left for the module.
pub(super) fn free_form_args(module: &str, args: &Node) -> Result<Node, Diagnostic> {
    let Value::Str(text) = &args.value else {
        return Ok(args.clone());
    };
    let command = matches!(module, "command" | "shell");
    let mut options: Vec<(Node, Node)> = Vec::new();
    let mut raw: Vec<Word> = Vec::new();
    for word in words(text) {
        let written = &text[word.start..word.end];
        match key_value(written) {
            Some(("warn", _)) if command => {
                return Err(Diagnostic::new(
                    format!("`warn` was removed from `{module}` in Ansible 2.14"),
                    span_in(args, text, &word),
                )
                .with_help("delete it: ferry never warns about commands"));
            }
            Some((key, value)) if !command || COMMAND_OPTIONS.contains(&key) => {
                let span = span_in(args, text, &word);
                options.push((
                    str_node(key.to_string(), span.clone()),
                    str_node(unquote(value), span),
                ));
            }
            _ => raw.push(word),
        }
    }
    if options.is_empty() {
        return Ok(args.clone());
    }
    if !command && let Some(first) = raw.first() {
        let extra = &text[first.start..raw.last().map_or(first.end, |w| w.end)];
        return Err(Diagnostic::new(
            format!("`{module}` takes `key=value` arguments, but `{extra}` is not one"),
            span_in(args, text, first),
        )
        .with_help("quote a value with spaces: `msg=\"two words\"`"));
    }
    let mut entries = Vec::new();
    if !raw.is_empty() {
        // The command as written, from its first word to its last: an
        // option written between two of its words is cut out.
        let mut command = String::new();
        let mut previous: Option<&Word> = None;
        for word in &raw {
            if let Some(p) = previous {
                let between = &text[p.end..word.start];
                let adjacent = !options_between(&raw, p, word);
                command.push_str(if adjacent { between } else { " " });
            }
            command.push_str(&text[word.start..word.end]);
            previous = Some(word);
        }
        entries.push((
            str_node("_raw".into(), args.span.clone()),
            str_node(command, args.span.clone()),
        ));
    }
    entries.extend(options);
    Ok(Node {
        value: Value::Map(entries),
        span: args.span.clone(),
    })
}

/// Whether an option word was cut out between two consecutive command words.
fn options_between(raw: &[Word], a: &Word, b: &Word) -> bool {
    raw.iter()
        .position(|w| w == a)
        .and_then(|i| raw.get(i + 1))
        .is_some_and(|next| next != b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    fn node(text: &str) -> Node {
        let source = Source::new("t.yml", format!("x: {text}\n"));
        Node {
            value: Value::Str(text.to_string()),
            span: Span::new(source, 1, 4, text.chars().count() as u32),
        }
    }

    fn pairs(module: &str, text: &str) -> Vec<(String, String)> {
        let parsed = free_form_args(module, &node(text)).unwrap();
        match parsed.value {
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_string(),
                        v.as_str().unwrap().to_string(),
                    )
                })
                .collect(),
            Value::Str(s) => vec![("(string)".into(), s)],
            _ => unreachable!(),
        }
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn words_keep_quotes_and_jinja_whole() {
        let text = r#"msg="a b" x={{ y | default('c d') }} z='q "r"' {% if a %}1{% endif %}"#;
        let split: Vec<&str> = words(text).iter().map(|w| &text[w.start..w.end]).collect();
        assert_eq!(
            split,
            [
                r#"msg="a b""#,
                "x={{ y | default('c d') }}",
                r#"z='q "r"'"#,
                "{% if a %}1{% endif %}"
            ]
        );
    }

    #[test]
    fn module_arguments_become_a_mapping_of_strings() {
        assert_eq!(
            pairs("copy", "src=a.conf dest=/etc/a.conf mode=0644"),
            kv(&[("src", "a.conf"), ("dest", "/etc/a.conf"), ("mode", "0644")])
        );
        assert_eq!(
            pairs("debug", r#"msg="value is {{ x }}""#),
            kv(&[("msg", "value is {{ x }}")])
        );
        assert_eq!(pairs("debug", "var=result"), kv(&[("var", "result")]));
        assert_eq!(
            pairs("copy", r#"content="a\nb" dest=/x"#),
            kv(&[("content", "a\nb"), ("dest", "/x")])
        );
        // No `key=value` word at all: left for the module.
        assert_eq!(
            pairs("debug", "just text"),
            kv(&[("(string)", "just text")])
        );
    }

    #[test]
    fn command_options_leave_the_command_as_written() {
        assert_eq!(
            pairs(
                "command",
                "./manage.py migrate --noinput chdir=/srv/app creates=/srv/done"
            ),
            kv(&[
                ("_raw", "./manage.py migrate --noinput"),
                ("chdir", "/srv/app"),
                ("creates", "/srv/done")
            ])
        );
        assert_eq!(
            pairs("shell", "FOO=1 ./run  >  out.log removes=/tmp/x"),
            kv(&[("_raw", "FOO=1 ./run  >  out.log"), ("removes", "/tmp/x")])
        );
        assert_eq!(
            pairs("shell", "echo 'chdir=/nowhere' executable=/bin/bash"),
            kv(&[
                ("_raw", "echo 'chdir=/nowhere'"),
                ("executable", "/bin/bash")
            ])
        );
        // Without options the string is untouched, newlines and all.
        assert_eq!(
            pairs("shell", "set -e\nFOO=1 make\n"),
            kv(&[("(string)", "set -e\nFOO=1 make\n")])
        );
    }

    #[test]
    fn extra_words_for_a_module_without_a_free_form_are_an_error_at_them() {
        let err = free_form_args("debug", &node("msg=hello world")).unwrap_err();
        assert!(
            err.message.contains("`world` is not one"),
            "{}",
            err.message
        );
        assert_eq!(err.span.unwrap().col, 4 + 10);
    }
}
