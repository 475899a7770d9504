//! The items of a loop: `loop:` and Ansible's `with_*` lookups, computed
//! from the rendered value before connecting, with Ansible's results.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::playbook::LoopKind;

/// Turns a loop's rendered value into its items. `dirs` are where
/// `with_fileglob` looks for relative patterns, in order. An error is a
/// message for the loop's location.
pub(crate) fn items(kind: LoopKind, value: Value, dirs: &[PathBuf]) -> Result<Vec<Value>, String> {
    match kind {
        LoopKind::Loop => match value {
            Value::Array(list) => Ok(list),
            other => Err(format!(
                "`loop` must be a list, but it is {}",
                kind_of(&other)
            )),
        },
        LoopKind::Items => Ok(flatten(listify(value), 1)),
        LoopKind::List => Ok(listify(value)),
        LoopKind::Flattened => Ok(flatten(listify(value), usize::MAX)),
        LoopKind::IndexedItems => Ok(listify(value)
            .into_iter()
            .enumerate()
            .map(|(i, item)| json!([i, item]))
            .collect()),
        LoopKind::Dict => match value {
            Value::Object(map) => Ok(map
                .into_iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect()),
            other => Err(format!(
                "`with_dict` needs a mapping, but it is {}",
                kind_of(&other)
            )),
        },
        LoopKind::Together => {
            let lists: Vec<Vec<Value>> = listify(value).into_iter().map(listify).collect();
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..longest)
                .map(|i| {
                    Value::Array(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect())
        }
        LoopKind::Nested => {
            let lists: Vec<Vec<Value>> = listify(value).into_iter().map(listify).collect();
            let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
            for list in &lists {
                combos = combos
                    .iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |x| {
                            let mut next = prefix.clone();
                            next.push(x.clone());
                            next
                        })
                    })
                    .collect();
            }
            if lists.is_empty() {
                return Ok(Vec::new());
            }
            Ok(combos.into_iter().map(Value::Array).collect())
        }
        LoopKind::Sequence => {
            let specs = listify(value);
            let mut out = Vec::new();
            for spec in specs {
                let text = match spec {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.extend(sequence(&text)?.into_iter().map(Value::String));
            }
            Ok(out)
        }
        LoopKind::Subelements => subelements(value),
        LoopKind::Fileglob => {
            let mut out = Vec::new();
            for pattern in listify(value) {
                let Value::String(pattern) = pattern else {
                    return Err("`with_fileglob` needs file patterns (strings)".into());
                };
                out.extend(fileglob(&pattern, dirs)?.into_iter().map(Value::String));
            }
            Ok(out)
        }
    }
}

/// A value as a list: a list stays, anything else is a list of itself.
fn listify(value: Value) -> Vec<Value> {
    match value {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Lists inside the list spliced in, `depth` levels deep.
fn flatten(list: Vec<Value>, depth: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for item in list {
        match item {
            Value::Array(inner) if depth > 0 => out.extend(flatten(inner, depth - 1)),
            Value::Null if depth > 0 => {}
            other => out.push(other),
        }
    }
    out
}

/// `with_subelements: [list, key]` (or `[list, key, {skip_missing: true}]`):
/// `[element, sub]` for each sub of each element's `key` (a dotted path).
/// As Ansible's lookup, the element carries everything but `key`.
fn subelements(value: Value) -> Result<Vec<Value>, String> {
    let terms = listify(value);
    let (list, path, flags) = match terms.as_slice() {
        [list, Value::String(path)] => (list, path, None),
        [list, Value::String(path), flags] => (list, path, Some(flags)),
        _ => return Err("`with_subelements` needs a list and a key: `[users, keys]`".into()),
    };
    let skip_missing = match flags {
        None => false,
        Some(Value::Object(map)) => match map.get("skip_missing") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("`skip_missing` must be true or false".into()),
        },
        Some(_) => {
            return Err("the third term of `with_subelements` must be `{skip_missing: …}`".into());
        }
    };
    let elements = match list {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map.values().cloned().collect(),
        other => {
            return Err(format!(
                "`with_subelements` needs a list of mappings, but it is {}",
                kind_of(other)
            ));
        }
    };
    let keys: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    'elements: for element in elements {
        let mut element = element;
        let mut node = &mut element;
        let mut subs = Value::Null;
        for (i, key) in keys.iter().enumerate() {
            let Value::Object(map) = node else {
                return Err(format!(
                    "`with_subelements`: an element is {}, not a mapping with `{key}`",
                    kind_of(node)
                ));
            };
            if !map.contains_key(*key) {
                if skip_missing {
                    continue 'elements;
                }
                return Err(format!(
                    "`with_subelements`: an element has no key `{key}` (add `{{skip_missing: true}}` to skip such elements)"
                ));
            }
            if i + 1 == keys.len() {
                subs = map.remove(*key).unwrap_or_default();
                break;
            }
            node = map
                .get_mut(*key)
                .unwrap_or_else(|| unreachable!("checked above"));
        }
        let Value::Array(subs) = subs else {
            return Err(format!(
                "`with_subelements`: `{path}` of an element must be a list, but it is {}",
                kind_of(&subs)
            ));
        };
        for sub in subs {
            out.push(json!([element.clone(), sub]));
        }
    }
    Ok(out)
}

/// `with_sequence`: `start=1 end=10 stride=2 format=web%02d`, `count=5`,
/// or the short form `[start-]end[/stride][:format]`.
fn sequence(spec: &str) -> Result<Vec<String>, String> {
    let (mut start, mut end, mut count, mut stride, mut format) =
        (1i64, None, None, 1i64, "%d".to_string());
    let spec = spec.trim();
    if spec.contains('=') {
        for pair in spec.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("`with_sequence`: `{pair}` is not `key=value`"));
            };
            match key {
                "start" => start = number(value)?,
                "end" => end = Some(number(value)?),
                "count" => count = Some(number(value)?),
                "stride" => stride = number(value)?,
                "format" => format = value.to_string(),
                other => {
                    return Err(format!(
                        "`with_sequence`: unknown key `{other}` (start, end, count, stride, format)"
                    ));
                }
            }
        }
    } else {
        let (range, fmt) = match spec.split_once(':') {
            Some((range, fmt)) => (range, Some(fmt)),
            None => (spec, None),
        };
        let (range, step) = match range.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (range, None),
        };
        match range.split_once('-') {
            Some((from, to)) => {
                start = number(from)?;
                end = Some(number(to)?);
            }
            None => end = Some(number(range)?),
        }
        if let Some(step) = step {
            stride = number(step)?;
        }
        if let Some(fmt) = fmt {
            format = fmt.to_string();
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => return Err("`with_sequence`: give `end` or `count`, not both".into()),
        (None, None) => return Err("`with_sequence` needs `end` or `count`".into()),
        (Some(end), None) => end,
        (None, Some(0)) => return Ok(Vec::new()),
        (None, Some(count)) => start + (count - 1) * stride,
    };
    if stride == 0 {
        return Ok(Vec::new());
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err(format!(
            "`with_sequence`: cannot go from {start} to {end} with stride {stride} (a negative stride counts down)"
        ));
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(printf(&format, i)?);
        i += stride;
    }
    Ok(out)
}

fn number(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`with_sequence`: `{text}` is not a whole number"))
}

/// Python's `format % n` for one integer: `%d`, `%5d`, `%05d`, `%x`, `%X`,
/// `%o`, `%s`, and `%%`.
fn printf(format: &str, n: i64) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut used = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit() || **d == '-') {
            spec.push(d);
            chars.next();
        }
        let zero = spec.starts_with('0');
        let left = spec.starts_with('-');
        let width: usize = spec.trim_start_matches(['0', '-']).parse().unwrap_or(0);
        let body = match chars.next() {
            Some('d' | 'i' | 's') => n.to_string(),
            Some('x') => format!("{n:x}"),
            Some('X') => format!("{n:X}"),
            Some('o') => format!("{n:o}"),
            _ => return Err(format!("`with_sequence`: unsupported format `{format}`")),
        };
        used = true;
        let pad = width.saturating_sub(body.len());
        match (left, zero) {
            (true, _) => out.push_str(&format!("{body}{}", " ".repeat(pad))),
            (false, true) => out.push_str(&format!("{}{body}", "0".repeat(pad))),
            (false, false) => out.push_str(&format!("{}{body}", " ".repeat(pad))),
        }
    }
    if !used {
        return Err(format!(
            "`with_sequence`: the format `{format}` has no `%d` for the number"
        ));
    }
    Ok(out)
}

/// The files (not directories) matching `pattern` in the first of `dirs`
/// that has the pattern's directory, as absolute paths in name order.
fn fileglob(pattern: &str, dirs: &[PathBuf]) -> Result<Vec<String>, String> {
    let path = Path::new(pattern);
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name.to_string_lossy().into_owned()),
        _ => return Err(format!("`with_fileglob`: `{pattern}` names no file")),
    };
    let matcher = globset::Glob::new(&name)
        .map_err(|e| format!("`with_fileglob`: bad pattern `{pattern}`: {e}"))?
        .compile_matcher();
    let base = if dir.is_absolute() {
        Some(dir.to_path_buf())
    } else {
        dirs.iter().map(|d| d.join(dir)).find(|d| d.is_dir())
    };
    let Some(base) = base else {
        return Ok(Vec::new());
    };
    let base = base.canonicalize().unwrap_or(base);
    let mut found: Vec<String> = std::fs::read_dir(&base)
        .map_err(|e| format!("`with_fileglob`: cannot read `{}`: {e}", base.display()))?
        .flatten()
        .filter(|e| e.path().is_file() && matcher.is_match(e.file_name()))
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    found.sort();
    Ok(found)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: LoopKind, value: Value) -> Value {
        Value::Array(items(kind, value, &[]).unwrap())
    }

    #[test]
    fn with_items_flattens_one_level_and_with_list_none() {
        let value = json!([1, [2, [3]], "a"]);
        assert_eq!(run(LoopKind::Items, value.clone()), json!([1, 2, [3], "a"]));
        assert_eq!(run(LoopKind::List, value.clone()), value);
        assert_eq!(run(LoopKind::Flattened, value), json!([1, 2, 3, "a"]));
        assert_eq!(run(LoopKind::Items, json!("one")), json!(["one"]));
    }

    #[test]
    fn with_dict_together_nested_and_indexed() {
        assert_eq!(
            run(LoopKind::Dict, json!({"b": 1, "a": 2})),
            json!([{"key": "b", "value": 1}, {"key": "a", "value": 2}])
        );
        assert_eq!(
            run(LoopKind::Together, json!([[1, 2, 3], ["a", "b"]])),
            json!([[1, "a"], [2, "b"], [3, null]])
        );
        assert_eq!(
            run(LoopKind::Nested, json!([["x", "y"], [1, 2]])),
            json!([["x", 1], ["x", 2], ["y", 1], ["y", 2]])
        );
        assert_eq!(
            run(LoopKind::IndexedItems, json!(["a", "b"])),
            json!([[0, "a"], [1, "b"]])
        );
        assert!(items(LoopKind::Dict, json!([1]), &[]).is_err());
    }

    #[test]
    fn with_sequence_reads_both_forms_as_ansible() {
        let seq = |s: &str| sequence(s).unwrap();
        assert_eq!(seq("start=1 end=3"), ["1", "2", "3"]);
        assert_eq!(
            seq("start=0 end=10 stride=5 format=web%02d"),
            ["web00", "web05", "web10"]
        );
        assert_eq!(seq("count=3"), ["1", "2", "3"]);
        assert_eq!(seq("start=4 count=2 stride=2"), ["4", "6"]);
        assert_eq!(seq("4-8/2"), ["4", "6", "8"]);
        assert_eq!(seq("3"), ["1", "2", "3"]);
        assert_eq!(seq("1-2:host%x"), ["host1", "host2"]);
        assert_eq!(seq("start=3 end=1 stride=-1"), ["3", "2", "1"]);
        assert_eq!(seq("count=0"), Vec::<String>::new());
        assert!(sequence("start=5 end=1").is_err());
        assert!(sequence("start=1").is_err());
        assert!(sequence("end=3 format=plain").is_err());
    }

    #[test]
    fn with_subelements_pairs_each_sub_without_the_key() {
        let users = json!([
            {"name": "alice", "keys": ["k1", "k2"]},
            {"name": "bob", "keys": []},
            {"name": "carol"}
        ]);
        assert!(items(LoopKind::Subelements, json!([users.clone(), "keys"]), &[]).is_err());
        assert_eq!(
            run(
                LoopKind::Subelements,
                json!([users, "keys", {"skip_missing": true}])
            ),
            json!([[{"name": "alice"}, "k1"], [{"name": "alice"}, "k2"]])
        );
    }

    #[test]
    fn with_fileglob_lists_matching_files_in_the_first_dir_that_has_them() {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir_all(files.join("conf.d/sub.conf")).unwrap();
        for name in ["b.conf", "a.conf", "c.txt"] {
            std::fs::write(files.join("conf.d").join(name), "").unwrap();
        }
        let dirs = [dir.path().join("missing"), files.clone()];
        let found = items(LoopKind::Fileglob, json!("conf.d/*.conf"), &dirs).unwrap();
        let base = files.canonicalize().unwrap().join("conf.d");
        assert_eq!(
            found,
            [
                json!(base.join("a.conf").to_string_lossy()),
                json!(base.join("b.conf").to_string_lossy())
            ]
        );
        assert!(
            items(LoopKind::Fileglob, json!("none/*.conf"), &dirs)
                .unwrap()
                .is_empty()
        );
    }
}
