//! `uri`: an HTTP request made from the host (with `curl`), and its answer
//! registered as Ansible's `uri` result (`status`, `json`, `content`, the
//! headers). The whole request — URL, headers, credentials, body — reaches
//! curl as a config on its stdin, never on a command line.
//!
//! `GET`, `HEAD` and `OPTIONS` only read: they run in check mode too and
//! report `ok` when the status is one of `status_code`. Any other method
//! changes something on the server: check mode says it would send it, and
//! the run reports `changed`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::Command;

pub const KEYS: &[&str] = &[
    "url",
    "method",
    "body",
    "body_format",
    "headers",
    "status_code",
    "return_content",
    "timeout",
    "validate_certs",
    "follow_redirects",
    "url_username",
    "url_password",
    "user",
    "password",
    "force_basic_auth",
];

/// Separates the response's fields from its body in the probe's output.
const BODY: &str = "__ferry_body__";

/// The request, run by `curl -K -` with its config on stdin.
const REQUEST: &str = r#"# uri: send the request on stdin with curl
command -v curl >/dev/null 2>&1 || { echo "uri needs curl on the host" >&2; exit 1; }
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
curl -sS -K - -o "$out/body" -D "$out/headers" -w 'status=%{http_code}\nurl=%{url_effective}\nredirects=%{num_redirects}\nelapsed=%{time_total}\n' 2>"$out/err"
echo "curl=$?"
sed 's/^/error=/' "$out/err"
tr -d '\r' < "$out/headers" | sed -n 's/^\([A-Za-z0-9-]*\): */header:\1=/p'
echo __ferry_body__
cat "$out/body" 2>/dev/null
"#;

#[derive(Debug, Clone, Serialize)]
pub struct Uri {
    pub url: String,
    pub method: String,
    pub status_code: Vec<u16>,
    pub return_content: bool,
}

pub fn uri(args: &Args) -> Result<Action, Diagnostic> {
    let url = args.required("url", "uri")?;
    let method = args
        .string("method")?
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    let status_code: Vec<u16> = match args.get("status_code") {
        None => Some(vec![200]),
        Some(Value::Array(items)) => items.iter().map(status).collect::<Option<_>>(),
        Some(one) => status(one).map(|s| vec![s]),
    }
    .ok_or_else(|| {
        args.error_at(
            "status_code",
            "`status_code` must be a status or a list of them",
        )
    })?;
    let mut config = vec![
        format!("url = {}", curl_quote(&url)),
        format!("request = {}", curl_quote(&method)),
    ];
    let timeout = match args.get("timeout") {
        None => 30,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| args.error_at("timeout", "`timeout` must be a number of seconds"))?,
    };
    config.push(format!("max-time = {timeout}"));
    if !bool_arg(args, "validate_certs", true)? {
        config.push("insecure".into());
    }
    let follow = match args.string("follow_redirects")?.as_deref() {
        None | Some("safe") => ["GET", "HEAD", "OPTIONS"].contains(&method.as_str()),
        Some("all" | "yes" | "true" | "urllib2") => true,
        Some("none" | "no" | "false") => false,
        Some(other) => {
            return Err(args.error_at(
                "follow_redirects",
                format!("`follow_redirects` must be `all`, `safe` or `none`, not `{other}`"),
            ));
        }
    };
    if follow {
        config.push("location".into());
    }
    let mut headers: Vec<(String, String)> = match args.get("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect(),
        Some(_) => return Err(args.error_at("headers", "`headers` must be a mapping")),
    };
    let user = args.string("url_username")?.or(args.string("user")?);
    let password = args.string("url_password")?.or(args.string("password")?);
    if let Some(user) = user {
        config.push(format!(
            "user = {}",
            curl_quote(&format!("{user}:{}", password.unwrap_or_default()))
        ));
    }
    let format = args.string("body_format")?.unwrap_or_else(|| "raw".into());
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if let Some(body) = args.get("body") {
        let (text, kind) = match format.as_str() {
            "json" => (
                match body {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                "application/json",
            ),
            "form-urlencoded" => {
                let Value::Object(map) = body else {
                    return Err(args.error_at(
                        "body",
                        "`body_format: form-urlencoded` needs a mapping `body`",
                    ));
                };
                let pairs: Vec<String> = map
                    .iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        format!("{}={}", form_encode(k), form_encode(&v))
                    })
                    .collect();
                (pairs.join("&"), "application/x-www-form-urlencoded")
            }
            "raw" => (
                body.as_str()
                    .map_or_else(|| body.to_string(), str::to_string),
                "",
            ),
            other => {
                return Err(args.error_at(
                    "body_format",
                    format!(
                        "`body_format` must be `raw`, `json` or `form-urlencoded`, not `{other}`"
                    ),
                ));
            }
        };
        if !has_type && !kind.is_empty() {
            headers.push(("Content-Type".into(), kind.into()));
        }
        config.push(format!("data-binary = {}", curl_quote(&text)));
    }
    for (name, value) in &headers {
        config.push(format!(
            "header = {}",
            curl_quote(&format!("{name}: {value}"))
        ));
    }
    let spec = Uri {
        url,
        method,
        status_code,
        return_content: bool_arg(args, "return_content", false)?,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: Command::script(REQUEST),
            stdin: Some(config.join("\n") + "\n"),
            module: Prober::Uri(spec),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

fn status(value: &Value) -> Option<u16> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .and_then(|n| u16::try_from(n).ok())
}

/// A string in curl's config syntax: double quotes, with `\"`, `\\`, and
/// the control characters escaped.
fn curl_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

impl Uri {
    /// Whether the request only reads: it then runs in check mode too.
    pub fn reads_only(&self) -> bool {
        ["GET", "HEAD", "OPTIONS"].contains(&self.method.as_str())
    }

    pub fn unknown_fields(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("status".into(), Value::Null);
        out.insert("url".into(), json!(self.url));
        out.insert("json".into(), json!({}));
        out.insert("content".into(), json!(""));
        out.insert("redirected".into(), json!(false));
        out
    }

    pub fn describe(&self) -> String {
        format!("uri: {} `{}` from the host", self.method, self.url)
    }

    pub fn request(&self) -> String {
        format!("send {} to `{}`", self.method, self.url)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let (head, body) = match probe.split_once(&format!("{BODY}\n")) {
            Some((head, body)) => (head, body),
            None => (probe, ""),
        };
        let mut out = Map::new();
        let mut errors = Vec::new();
        let mut curl = "";
        let mut status = 0u16;
        for line in head.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "status" => status = value.parse().unwrap_or(0),
                "url" => {
                    out.insert("url".into(), json!(value));
                }
                "redirects" => {
                    out.insert("redirected".into(), json!(value != "0"));
                }
                "elapsed" => {
                    let secs = value.parse::<f64>().unwrap_or_default();
                    out.insert("elapsed".into(), json!(secs.round() as u64));
                }
                "curl" => curl = value,
                "error" => errors.push(value),
                _ => {
                    if let Some(name) = key.strip_prefix("header:") {
                        let name = name.to_ascii_lowercase().replace('-', "_");
                        out.insert(name, json!(value));
                    }
                }
            }
        }
        out.insert("status".into(), json!(status));
        if self.return_content {
            out.insert("content".into(), json!(body));
        }
        let is_json = out
            .get("content_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.contains("json"));
        if is_json && let Ok(value) = serde_json::from_str::<Value>(body) {
            out.insert("json".into(), value);
        }
        if curl != "0" {
            let why = errors.join("; ");
            let msg = format!("could not reach `{}`: {why} (curl exit {curl})", self.url);
            out.insert("msg".into(), json!(msg));
            return (Decision::Fail(msg), out);
        }
        let answered = format!("{} `{}` answered {status}", self.method, self.url);
        if !self.status_code.contains(&status) {
            let wanted: Vec<String> = self.status_code.iter().map(u16::to_string).collect();
            let msg = format!("{answered}, not {}", wanted.join(" or "));
            return (Decision::Fail(msg), out);
        }
        (Decision::Ok(answered), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get() -> Uri {
        Uri {
            url: "http://127.0.0.1:8000/health".into(),
            method: "GET".into(),
            status_code: vec![200],
            return_content: true,
        }
    }

    #[test]
    fn the_answer_becomes_ansibles_result() {
        let probe = "status=200\nurl=http://127.0.0.1:8000/health\nredirects=0\nelapsed=0.01\ncurl=0\nheader:Content-Type=application/json\n__ferry_body__\n{\"ok\": true}";
        let (decision, out) = get().decide(probe);
        assert_eq!(
            decision,
            Decision::Ok("GET `http://127.0.0.1:8000/health` answered 200".into())
        );
        assert_eq!(out["status"], 200);
        assert_eq!(out["json"]["ok"], true);
        assert_eq!(out["content_type"], "application/json");
        assert_eq!(out["redirected"], false);
        assert_eq!(out["content"], "{\"ok\": true}");
    }

    #[test]
    fn a_wrong_status_or_no_answer_fails_saying_so() {
        let (decision, _) = get().decide("status=503\ncurl=0\n__ferry_body__\n");
        assert_eq!(
            decision,
            Decision::Fail("GET `http://127.0.0.1:8000/health` answered 503, not 200".into())
        );
        let (decision, _) =
            get().decide("status=000\ncurl=7\nerror=curl: (7) Failed to connect\n__ferry_body__\n");
        assert_eq!(
            decision,
            Decision::Fail("could not reach `http://127.0.0.1:8000/health`: curl: (7) Failed to connect (curl exit 7)".into())
        );
    }

    #[test]
    fn curl_config_strings_are_escaped() {
        assert_eq!(curl_quote("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c\\nd\"");
        assert_eq!(form_encode("a b&c=d"), "a+b%26c%3Dd");
    }
}
