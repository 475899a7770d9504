//! Ansible's filters over structured data: JSON in, dictionaries merged,
//! lists flattened, dictionaries to and from key/value lists, digests.

use minijinja::value::{Kwargs, Rest, Serde};
use minijinja::{Error, Value};
use serde_json::Value as Json;

use super::{invalid, json};

pub(super) fn from_json(text: String) -> Result<Value, Error> {
    let value: Json =
        serde_json::from_str(&text).map_err(|err| invalid(format!("invalid JSON: {err}")))?;
    Ok(Value::from(Serde(&value)))
}

/// Ansible's `combine(*dicts, recursive=False, list_merge='replace')`.
pub(super) fn combine(base: Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    kwargs.assert_all_used()?;
    if !["replace", "keep", "append", "prepend"].contains(&list_merge.as_str()) {
        return Err(invalid(format!("unknown list_merge `{list_merge}`")));
    }
    let mut result = json(&base)?;
    // Ansible accepts lists of dicts as arguments too.
    let mut layers = Vec::new();
    for other in others.iter() {
        match json(other)? {
            Json::Array(items) => layers.extend(items),
            value => layers.push(value),
        }
    }
    for layer in layers {
        if !result.is_object() || !layer.is_object() {
            return Err(invalid("expects dictionaries"));
        }
        merge(&mut result, layer, recursive, &list_merge);
    }
    Ok(Value::from(Serde(&result)))
}

fn merge(into: &mut Json, from: Json, recursive: bool, list_merge: &str) {
    match (into, from) {
        (Json::Object(a), Json::Object(b)) => {
            for (key, value) in b {
                match a.get_mut(&key) {
                    Some(existing) if recursive && existing.is_object() && value.is_object() => {
                        merge(existing, value, recursive, list_merge)
                    }
                    Some(existing) if existing.is_array() && value.is_array() => {
                        merge(existing, value, recursive, list_merge)
                    }
                    _ => {
                        a.insert(key, value);
                    }
                }
            }
        }
        (Json::Array(a), Json::Array(b)) => match list_merge {
            "keep" => {}
            "append" => a.extend(b),
            "prepend" => {
                let old = std::mem::replace(a, b);
                a.extend(old);
            }
            _ => *a = b,
        },
        (into, from) => *into = from,
    }
}

/// Ansible's `hash('sha1' | 'md5' | 'sha256' | 'sha512')`, hex digest.
pub(super) fn hash(data: String, kind: Option<String>) -> Result<String, Error> {
    use sha2::Digest;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(match kind.as_deref().unwrap_or("sha1") {
        "sha1" => hex(&sha1::Sha1::digest(data.as_bytes())),
        "sha224" => hex(&sha2::Sha224::digest(data.as_bytes())),
        "sha256" => hex(&sha2::Sha256::digest(data.as_bytes())),
        "sha384" => hex(&sha2::Sha384::digest(data.as_bytes())),
        "sha512" => hex(&sha2::Sha512::digest(data.as_bytes())),
        "md5" => format!("{:x}", md5::compute(data.as_bytes())),
        other => {
            return Err(invalid(format!(
                "unsupported hash type `{other}` (use md5, sha1, sha224, sha256, sha384 or sha512)"
            )));
        }
    })
}

/// Ansible's `flatten(levels=None, skip_nulls=True)`.
pub(super) fn flatten(value: Value, levels: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    let levels = levels.or(kwargs.get::<Option<usize>>("levels")?);
    kwargs.assert_all_used()?;
    fn walk(items: &Json, levels: Option<usize>, skip_nulls: bool, out: &mut Vec<Json>) {
        for item in items.as_array().into_iter().flatten() {
            match item {
                Json::Null if skip_nulls => {}
                Json::Array(_) if levels != Some(0) => {
                    walk(item, levels.map(|l| l - 1), skip_nulls, out)
                }
                other => out.push(other.clone()),
            }
        }
    }
    let mut out = Vec::new();
    walk(&json(&value)?, levels, skip_nulls, &mut out);
    Ok(Value::from(Serde(&out)))
}

/// `key_name=` and `value_name=` of `dict2items`/`items2dict` (default
/// `key` and `value`).
fn item_names(kwargs: &Kwargs) -> Result<(String, String), Error> {
    let name = |kwarg: &str, default: &str| -> Result<String, Error> {
        Ok(kwargs
            .get::<Option<String>>(kwarg)?
            .unwrap_or_else(|| default.into()))
    };
    let names = (name("key_name", "key")?, name("value_name", "value")?);
    kwargs.assert_all_used()?;
    Ok(names)
}

pub(super) fn dict2items(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = item_names(&kwargs)?;
    let Json::Object(entries) = json(&value)? else {
        return Err(invalid("expects a dictionary"));
    };
    let items: Vec<Json> = entries
        .into_iter()
        .map(|(k, v)| {
            Json::Object(
                [(key_name.clone(), Json::String(k)), (value_name.clone(), v)]
                    .into_iter()
                    .collect(),
            )
        })
        .collect();
    Ok(Value::from(Serde(&items)))
}

pub(super) fn items2dict(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = item_names(&kwargs)?;
    let mut out = serde_json::Map::new();
    for item in json(&value)?
        .as_array()
        .ok_or_else(|| invalid("expects a list"))?
    {
        let (Some(key), Some(value)) = (item.get(&key_name), item.get(&value_name)) else {
            return Err(invalid(format!(
                "every item needs `{key_name}` and `{value_name}`"
            )));
        };
        let key = match key {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(key, value.clone());
    }
    Ok(Value::from(Serde(&out)))
}
