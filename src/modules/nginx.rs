//! `nginx.reload`: reload nginx and return only once it serves the new
//! configuration.
//!
//! `nginx -s reload` only signals the master: it returns before the new
//! workers run, so a check right after it can reach the old configuration,
//! and it returns 0 even when the master then refuses the configuration
//! (a port it cannot bind) and keeps serving the old one. This step tests
//! the configuration, signals the master itself, and waits until new
//! workers run and every old one is shutting down; a master that keeps its
//! old workers fails the step with the end of nginx's error log.

use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &["binary", "config", "prefix", "timeout"];

const SCRIPT: &str = include_str!("sh/nginx_reload.sh");

pub fn reload(args: &Args) -> Result<Action, Diagnostic> {
    let binary = args.string("binary")?.unwrap_or_else(|| "nginx".into());
    let prefix = args.string("prefix")?.unwrap_or_default();
    let mut nginx = Command::new(&binary);
    if !prefix.is_empty() {
        nginx = nginx.arg("-p").arg(&prefix);
    }
    if let Some(config) = args.string("config")? {
        nginx = nginx.arg("-c").arg(config);
    }
    let timeout = match args.get("timeout") {
        None => 10,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|&t| t > 0)
            .ok_or_else(|| {
                args.error_at("timeout", "`timeout` must be a whole number of seconds")
            })?,
    };
    Ok(Action::Remote {
        check: None,
        run: Command::script(format!(
            "# nginx.reload: until the new workers serve, {timeout}s at most\ntimeout={timeout} prefix={}\nset -- {}\n{SCRIPT}",
            quote(&prefix),
            nginx.as_sent(),
        )),
        upload: None,
    })
}
