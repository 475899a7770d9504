//! `apt_key`, the modern way only: the key goes into its own keyring file
//! (`keyring`, by convention under `/etc/apt/keyrings`), which the
//! repository's source line names with `signed-by`. `apt-key` itself —
//! one keyring trusted for every repository — is deprecated by apt and gone
//! from Debian 13 and Ubuntu 24.04, so ferry does not use it.
//!
//! The key comes from `data` (sent over stdin, as `copy` sends content),
//! `file` (a file on the host) or `url` (downloaded by the host, as
//! `get_url` does); `state: absent` removes the keyring file.

use serde_json::{Map, Value};

use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &[
    "data",
    "file",
    "url",
    "keyring",
    "state",
    "id",
    "validate_certs",
];

pub fn apt_key(args: &Args) -> Result<Action, Diagnostic> {
    let Some(keyring) = args.string("keyring")? else {
        return Err(args.error(
            "ferry's `apt_key` needs `keyring`: a file such as `/etc/apt/keyrings/NAME.asc` (`.asc` for an armored key, `.gpg` for a binary one) that the repository's line names with `[signed-by=…]` (apt-key is deprecated, and gone from Debian 13)",
        ));
    };
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    let mut map = Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_string(), value);
    };
    let module = match state.as_str() {
        "absent" => {
            put("path", Value::String(keyring));
            put("state", Value::String("absent".into()));
            "file"
        }
        "present" => {
            put("dest", Value::String(keyring.clone()));
            put("mode", Value::String("0644".into()));
            match (
                args.string("data")?,
                args.string("file")?,
                args.string("url")?,
            ) {
                (Some(data), None, None) => {
                    put("content", Value::String(data));
                    "copy"
                }
                (None, Some(file), None) => {
                    put("src", Value::String(file));
                    put("remote_src", Value::Bool(true));
                    "copy"
                }
                (None, None, Some(url)) => {
                    put("url", Value::String(url));
                    if let Some(validate) = args.get("validate_certs") {
                        put("validate_certs", validate.clone());
                    }
                    "get_url"
                }
                _ => {
                    return Err(
                        args.error("give `apt_key` one of `data`, `file` (on the host) or `url`")
                    );
                }
            }
        }
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let map = Value::Object(map);
    let inner = Args {
        map: &map,
        cx: args.cx,
    };
    match module {
        "file" => super::file::file(&inner),
        "copy" => super::copy::copy(&inner),
        _ => super::get_url::get_url(&inner),
    }
}
