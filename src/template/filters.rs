//! Ansible's common filters and tests, on
//! top of minijinja's builtins, behaving as Ansible's do (outputs checked
//! against Ansible's documentation and Python's standard library).

use base64::Engine as _;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value};
use serde_json::Value as Json;

use super::python;

mod data;
mod regex;

/// The detail of the error `mandatory` raises; the error mapping turns it
/// into "mandatory variable `x` is undefined", naming the expression.
pub(super) const MANDATORY: &str = "mandatory variable is undefined";

/// Every filter the environment knows, minijinja's and ferry's, for `did you mean`.
pub(super) const FILTERS: &[&str] = &[
    // minijinja builtins
    "safe",
    "escape",
    "e",
    "lower",
    "upper",
    "title",
    "capitalize",
    "replace",
    "length",
    "count",
    "dictsort",
    "items",
    "reverse",
    "trim",
    "join",
    "split",
    "lines",
    "default",
    "d",
    "round",
    "abs",
    "attr",
    "first",
    "last",
    "min",
    "max",
    "sort",
    "list",
    "string",
    "batch",
    "slice",
    "sum",
    "indent",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "groupby",
    "unique",
    "chain",
    "zip",
    "pprint",
    "format",
    "tojson",
    // ferry (Ansible's)
    "quote",
    "basename",
    "dirname",
    "splitext",
    "bool",
    "int",
    "float",
    "to_json",
    "to_nice_json",
    "from_json",
    "to_yaml",
    "to_nice_yaml",
    "regex_replace",
    "regex_search",
    "regex_findall",
    "regex_escape",
    "mandatory",
    "b64encode",
    "b64decode",
    "combine",
    "hash",
    "md5",
    "sha1",
    "checksum",
    "flatten",
    "dict2items",
    "items2dict",
    "ternary",
    "extract",
    "type_debug",
    "urlsplit",
];

/// Every test the environment knows.
pub(super) const TESTS: &[&str] = &[
    // minijinja builtins
    "undefined",
    "defined",
    "none",
    "safe",
    "escaped",
    "boolean",
    "odd",
    "even",
    "divisibleby",
    "number",
    "integer",
    "int",
    "float",
    "string",
    "sequence",
    "iterable",
    "mapping",
    "startingwith",
    "endingwith",
    "lower",
    "upper",
    "sameas",
    "eq",
    "equalto",
    "==",
    "ne",
    "!=",
    "lt",
    "lessthan",
    "<",
    "le",
    "<=",
    "gt",
    "greaterthan",
    ">",
    "ge",
    ">=",
    "in",
    "true",
    "false",
    "filter",
    "test",
    // ferry (Ansible's)
    "succeeded",
    "success",
    "successful",
    "failed",
    "failure",
    "changed",
    "change",
    "skipped",
    "skip",
    "match",
    "search",
    "regex",
    "truthy",
    "falsy",
    "contains",
];

/// Every global function the environment knows.
pub(super) const FUNCTIONS: &[&str] = &[
    "range",
    "dict",
    "debug",
    "namespace",
    "lookup",
    "query",
    "q",
];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("quote", quote);
    env.add_filter("urlsplit", super::urlsplit::urlsplit);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("splitext", splitext);
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("to_json", |v: Value, kwargs: Kwargs| {
        to_json(defined(v)?, kwargs, None, false)
    });
    env.add_filter("to_nice_json", |v: Value, kwargs: Kwargs| {
        to_json(defined(v)?, kwargs, Some(4), true)
    });
    env.add_filter("from_json", data::from_json);
    env.add_filter("to_yaml", |v: Value| {
        Ok::<_, Error>(python::yaml(&json(&v)?, false))
    });
    env.add_filter("to_nice_yaml", |v: Value| {
        Ok::<_, Error>(python::yaml(&json(&v)?, true))
    });
    env.add_filter("regex_replace", regex::regex_replace);
    env.add_filter("regex_search", regex::regex_search);
    env.add_filter("regex_findall", regex::regex_findall);
    env.add_filter("regex_escape", |s: String| ::regex::escape(&s));
    env.add_filter("mandatory", mandatory);
    env.add_filter("b64encode", |s: String| {
        base64::engine::general_purpose::STANDARD.encode(s)
    });
    env.add_filter("b64decode", b64decode);
    env.add_filter("combine", data::combine);
    env.add_filter("hash", data::hash);
    env.add_filter("md5", |s: String| data::hash(s, Some("md5".into())));
    env.add_filter("sha1", |s: String| data::hash(s, None));
    env.add_filter("checksum", |s: String| data::hash(s, None));
    env.add_filter("flatten", data::flatten);
    env.add_filter("dict2items", data::dict2items);
    env.add_filter("items2dict", data::items2dict);
    env.add_filter("ternary", ternary);
    env.add_filter("extract", extract);
    env.add_filter("type_debug", type_debug);

    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, |v: Value| {
            result_field(&v, "succeeded").map(|failed| !failed)
        });
    }
    for name in ["failed", "failure"] {
        env.add_test(name, |v: Value| result_field(&v, "failed"));
    }
    for name in ["changed", "change"] {
        env.add_test(name, |v: Value| result_field(&v, "changed"));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, |v: Value| result_field(&v, "skipped"));
    }
    env.add_test("match", |s: String, p: String, k: Kwargs| {
        regex::regex_test(&s, &p, k, true)
    });
    env.add_test("search", |s: String, p: String, k: Kwargs| {
        regex::regex_test(&s, &p, k, false)
    });
    env.add_test("regex", regex::regex_test_kind);
    env.add_test("truthy", |v: Value| v.is_true());
    env.add_test("falsy", |v: Value| !v.is_true());
    env.add_test("contains", |seq: Value, item: Value| {
        Ok::<_, Error>(seq.try_iter()?.any(|x| x == item))
    });
}

pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A template value as JSON.
pub(super) fn json(value: &Value) -> Result<Json, Error> {
    serde_json::to_value(value).map_err(|err| invalid(format!("cannot convert to JSON: {err}")))
}

/// `to_json(indent=None, sort_keys=False)`; `to_nice_json` defaults to 4 and sorted.
fn to_json(
    value: Value,
    kwargs: Kwargs,
    indent: Option<usize>,
    sort_keys: bool,
) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.or(indent);
    let sort_keys = kwargs
        .get::<Option<bool>>("sort_keys")?
        .unwrap_or(sort_keys);
    kwargs.assert_all_used()?;
    Ok(python::dumps(&json(&value)?, indent, sort_keys))
}

/// Python's `shlex.quote`, as Ansible's `quote` is.
pub(super) fn quote(value: String) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if value.is_empty() {
        "''".to_string()
    } else if value.chars().all(safe) {
        value
    } else {
        format!("'{}'", value.replace('\'', "'\"'\"'"))
    }
}

/// Python's `os.path.basename`: everything after the last `/`.
fn basename(path: String) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// Python's `os.path.dirname` (`posixpath`): the head, trailing slashes
/// dropped unless it is all slashes.
fn dirname(path: String) -> String {
    let head = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

/// Python's `os.path.splitext`: `(root, ext)`; a leading dot is no extension.
fn splitext(path: String) -> Value {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let name = &path[name_start..];
    let dot = name
        .rfind('.')
        .filter(|&i| name[..i].chars().any(|c| c != '.'));
    let (root, ext) = match dot {
        Some(i) => path.split_at(name_start + i),
        None => (path.as_str(), ""),
    };
    Value::from(vec![Value::from(root), Value::from(ext)])
}

/// Filters that take any value receive an undefined one even in strict
/// mode; in Ansible `undefined | bool` is an error, so it is one here too.
fn defined(value: Value) -> Result<Value, Error> {
    if value.is_undefined() {
        Err(Error::from(minijinja::ErrorKind::UndefinedError))
    } else {
        Ok(value)
    }
}

/// Ansible's `bool`: `yes`, `on`, `1`, `true` (any case) and 1 are true.
fn to_bool(value: Value) -> Result<bool, Error> {
    let value = defined(value)?;
    Ok(match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => f64::try_from(value).is_ok_and(|x| x == 1.0),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim().to_lowercase();
            matches!(s.as_str(), "yes" | "on" | "1" | "true")
        }
        _ => false,
    })
}

/// Jinja's `int(default=0, base=10)`: `'12'` → 12, `'3.7'` → 3, junk → default.
fn to_int(
    value: Value,
    default: Option<i64>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let default = default.or(kwargs.get("default")?).unwrap_or(0);
    let base = base.or(kwargs.get("base")?);
    kwargs.assert_all_used()?;
    Ok(int_of(defined(value)?, default, base))
}

fn int_of(value: Value, default: i64, base: Option<u32>) -> Value {
    if let Some(s) = value.as_str() {
        let s = s.trim().replace('_', "");
        let base = base.unwrap_or(10);
        let parsed = match base {
            10 => s
                .parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().map(|x| x as i64)),
            16 => i64::from_str_radix(s.trim_start_matches("0x").trim_start_matches("0X"), 16).ok(),
            8 => i64::from_str_radix(s.trim_start_matches("0o").trim_start_matches("0O"), 8).ok(),
            2 => i64::from_str_radix(s.trim_start_matches("0b").trim_start_matches("0B"), 2).ok(),
            base => i64::from_str_radix(&s, base).ok(),
        };
        return Value::from(parsed.unwrap_or(default));
    }
    match value.kind() {
        ValueKind::Bool => Value::from(i64::from(value.is_true())),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(f64::try_from(value).map_or(default, |x| x.trunc() as i64)),
        },
        _ => Value::from(default),
    }
}

/// Jinja's `float(default=0.0)`.
fn to_float(value: Value, default: Option<f64>, kwargs: Kwargs) -> Result<f64, Error> {
    let default = default.or(kwargs.get("default")?).unwrap_or(0.0);
    kwargs.assert_all_used()?;
    let value = defined(value)?;
    Ok(match value.as_str() {
        Some(s) => s.trim().parse().unwrap_or(default),
        None if value.kind() == ValueKind::Bool => f64::from(u8::from(value.is_true())),
        None => f64::try_from(value).unwrap_or(default),
    })
}

/// Fails naming the variable when it is undefined (Ansible's `mandatory`).
fn mandatory(value: &Value, msg: Option<String>) -> Result<Value, Error> {
    if !value.is_undefined() {
        return Ok(value.clone());
    }
    match msg {
        Some(msg) => Err(invalid(msg)),
        None => Err(Error::new(ErrorKind::UndefinedError, MANDATORY)),
    }
}

fn b64decode(text: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|err| invalid(format!("invalid base64: {err}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("the decoded bytes are not UTF-8 text"))
}

/// `cond | ternary(a, b, none_value)`.
fn ternary(value: &Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    match none {
        Some(none) if value.is_none() => none,
        _ if value.is_true() => yes,
        _ => no,
    }
}

/// `key | extract(container, morekeys)`: `container[key]`.
fn extract(key: Value, container: Value, more: Option<Value>) -> Result<Value, Error> {
    let mut value = container.get_item(&key)?;
    if let Some(more) = more {
        let keys: Vec<Value> = if more.kind() == ValueKind::Seq {
            more.try_iter()?.collect()
        } else {
            vec![more]
        };
        for key in keys {
            value = value.get_item(&key)?;
        }
    }
    if value.is_undefined() {
        return Err(invalid(format!("no item `{key}` in the container")));
    }
    Ok(value)
}

/// Python's type name, as Ansible's `type_debug` shows it.
fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// A registered result's field for the `failed`/`changed`/... tests. A
/// result with an `rc` but no `failed` field failed when `rc` is not 0.
fn result_field(result: &Value, field: &str) -> Result<bool, Error> {
    if result.kind() != ValueKind::Map {
        let test = if field == "succeeded" {
            "succeeded"
        } else {
            field
        };
        return Err(invalid(format!(
            "the `{test}` test expects a registered result (a dictionary), found {}",
            result.kind()
        )));
    }
    let get = |name: &str| {
        result
            .get_attr(name)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
    };
    let field = if field == "succeeded" {
        "failed"
    } else {
        field
    };
    Ok(match get(field) {
        Some(value) => value.is_true(),
        None if field == "failed" => get("rc").is_some_and(|rc| rc != Value::from(0)),
        None => false,
    })
}
