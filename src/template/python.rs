//! JSON and YAML text written the way Ansible's Python writes it, so that a
//! `{{ config | to_json }}` in a playbook gives the bytes it gives in Ansible.
//!
//! `to_json` is Python's `json.dumps`: `", "` and `": "` separators, non-ASCII
//! escaped, floats as Python prints them. `to_nice_json` adds `indent=4` and
//! sorted keys. `to_yaml` follows PyYAML's `dump` with sorted keys and
//! `default_flow_style=None` (collections of scalars inline); `to_nice_yaml`
//! is block style throughout.

use std::fmt::Write;

use serde_json::Value as Json;

/// Python's `json.dumps(value, indent=indent, sort_keys=sort)`.
pub(super) fn dumps(value: &Json, indent: Option<usize>, sort: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, sort, 0);
    out
}

fn write_json(out: &mut String, value: &Json, indent: Option<usize>, sort: bool, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(width) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    };
    let comma = if indent.is_some() { "," } else { ", " };
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&number(n)),
        Json::String(s) => write_string(out, s),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                newline(out, depth + 1);
                write_json(out, item, indent, sort, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Json::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Json::Object(entries) => {
            let mut entries: Vec<_> = entries.iter().collect();
            if sort {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                newline(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_json(out, item, indent, sort, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// A JSON string with Python's `ensure_ascii=True` escaping.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Python's `repr` prints it (`1.0`, `1e+20`, `1e-05`).
fn number(n: &serde_json::Number) -> String {
    let Some(x) = n.as_f64().filter(|_| n.is_f64()) else {
        return n.to_string();
    };
    let exponent = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if !(-4..16).contains(&exponent) {
        let text = format!("{x:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let text = x.to_string();
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// PyYAML's `dump(value, default_flow_style=None)` (`nice`: `False`, indent 4).
pub(super) fn yaml(value: &Json, nice: bool) -> String {
    let mut out = String::new();
    let indent = if nice { 4 } else { 2 };
    match value {
        Json::Array(items) if !items.is_empty() && (nice || has_collection(value)) => {
            write_block(&mut out, value, indent, nice, 0)
        }
        Json::Object(entries) if !entries.is_empty() && (nice || has_collection(value)) => {
            write_block(&mut out, value, indent, nice, 0)
        }
        Json::Array(_) | Json::Object(_) => {
            out.push_str(&flow(value));
            out.push('\n');
        }
        scalar => {
            // PyYAML ends a lone plain scalar with a document end marker.
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
            if !matches!(scalar, Json::String(s) if s.contains(['\'', '"'])) {
                out.push_str("...\n");
            }
        }
    }
    out
}

fn has_collection(value: &Json) -> bool {
    match value {
        Json::Array(items) => items.iter().any(|i| i.is_array() || i.is_object()),
        Json::Object(entries) => entries.values().any(|i| i.is_array() || i.is_object()),
        _ => false,
    }
}

fn write_block(out: &mut String, value: &Json, indent: usize, nice: bool, depth: usize) {
    let pad = " ".repeat(depth);
    let inline = |item: &Json| match item {
        Json::Array(items) => items.is_empty() || (!nice && !has_collection(item)),
        Json::Object(entries) => entries.is_empty() || (!nice && !has_collection(item)),
        _ => true,
    };
    match value {
        Json::Array(items) => {
            for item in items {
                if inline(item) {
                    let _ = writeln!(out, "{pad}- {}", flow(item));
                } else {
                    // The first entry of a nested collection shares the dash's line.
                    let _ = write!(out, "{pad}- ");
                    let mut nested = String::new();
                    write_block(&mut nested, item, indent, nice, depth + 2);
                    out.push_str(nested.trim_start());
                }
            }
        }
        Json::Object(entries) => {
            let mut entries: Vec<_> = entries.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (key, item) in entries {
                let key = yaml_scalar(&Json::String(key.clone()));
                if inline(item) {
                    let _ = writeln!(out, "{pad}{key}: {}", flow(item));
                } else {
                    let _ = writeln!(out, "{pad}{key}:");
                    let inner = if item.is_array() {
                        depth
                    } else {
                        depth + indent
                    };
                    write_block(out, item, indent, nice, inner);
                }
            }
        }
        scalar => {
            let _ = writeln!(out, "{pad}{}", yaml_scalar(scalar));
        }
    }
}

/// A collection in flow style (`[1, 2]`, `{a: 1}`) or a scalar.
fn flow(value: &Json) -> String {
    match value {
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        Json::Object(entries) => {
            let mut entries: Vec<_> = entries.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}: {}", yaml_scalar(&Json::String(k.clone())), flow(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        scalar => yaml_scalar(scalar),
    }
}

/// A scalar, single-quoted when plain text would read as something else.
fn yaml_scalar(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Json::Number(n) => number(n),
        Json::String(s) if needs_quotes(s) => format!("'{}'", s.replace('\'', "''")),
        Json::String(s) => s.clone(),
        Json::Array(_) | Json::Object(_) => flow(value),
    }
}

fn needs_quotes(s: &str) -> bool {
    let reserved = matches!(
        s.to_lowercase().as_str(),
        "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    reserved
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\n', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_as_python_writes_it() {
        let value = json!({"b": [1, 2.0, 1e20], "a": "é\"", "c": {}});
        assert_eq!(
            dumps(&value, None, false),
            r#"{"b": [1, 2.0, 1e+20], "a": "\u00e9\"", "c": {}}"#
        );
        assert_eq!(
            dumps(&json!({"b": 1, "a": [true, null]}), Some(4), true),
            "{\n    \"a\": [\n        true,\n        null\n    ],\n    \"b\": 1\n}"
        );
    }

    #[test]
    fn yaml_as_pyyaml_writes_it() {
        assert_eq!(
            yaml(&json!({"b": [1, 2], "a": "yes"}), false),
            "a: 'yes'\nb: [1, 2]\n"
        );
        assert_eq!(yaml(&json!({"a": 1}), false), "{a: 1}\n");
        assert_eq!(
            yaml(&json!({"users": [{"name": "bob", "uid": 1}]}), false),
            "users:\n- {name: bob, uid: 1}\n"
        );
        assert_eq!(yaml(&json!({"a": [1, 2]}), true), "a:\n- 1\n- 2\n");
    }
}
