//! `http.check`: poll a URL from the host until it answers as expected.
//!
//! The request is made on the host (curl, or python3 where curl is
//! missing), so it reaches what only the host reaches — gunicorn bound to
//! 127.0.0.1 — and one round trip covers every attempt. A failure ends with
//! the last response (status and the start of the body) on stderr, which the
//! recap shows; after `release.switch` it triggers the deploy's rollback.

use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "url", "status", "contains", "retries", "delay", "deadline", "timeout",
];

const SCRIPT: &str = include_str!("sh/http_check.sh");

pub fn check(args: &Args) -> Result<Action, Diagnostic> {
    let url = args.required("url", "http.check")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(args.error_at(
            "url",
            format!("`url` must start with http:// or https://, not `{url}`"),
        ));
    }
    let number = |key: &str, default: u64| -> Result<u64, Diagnostic> {
        match args.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| args.error_at(key, format!("`{key}` must be a whole number"))),
        }
    };
    let status = number("status", 200)?;
    let retries = number("retries", 10)?;
    let delay = number("delay", 1)?;
    let timeout = number("timeout", 5)?;
    let deadline = number("deadline", (retries + 1) * (delay + timeout))?;
    let contains = args.string("contains")?.unwrap_or_default();
    let expect = if contains.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} with `{contains}`")
    };
    let settings = format!(
        "url={} status={status} contains={} attempts={} delay={delay} deadline={deadline} timeout={timeout}\n",
        quote(&url),
        quote(&contains),
        retries + 1,
    );
    Ok(Action::Remote {
        check: None,
        run: Command::script(format!(
            "# http.check: {url} until {expect}, {} attempts {delay}s apart, {deadline}s at most\n{settings}{SCRIPT}",
            retries + 1
        )),
        upload: None,
    })
}
