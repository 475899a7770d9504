//! `wait_for`: waits, on the host, until a TCP port opens or closes, or a
//! file appears (optionally with a line matching `search_regex`) or goes
//! away — or fails after `timeout` seconds. It only looks, so check mode
//! waits as the run does.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::probed::{Decision, Probed, Prober, fields};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::Command;

pub const KEYS: &[&str] = &[
    "host",
    "port",
    "path",
    "state",
    "timeout",
    "delay",
    "sleep",
    "search_regex",
    "connect_timeout",
    "msg",
];

#[derive(Debug, Clone, Serialize)]
pub struct WaitFor {
    /// What is waited for, in words ("port 8000 on 127.0.0.1 to open").
    pub what: String,
    /// What holds once it is done ("port 8000 on 127.0.0.1 is open").
    pub done: String,
    pub timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub state: String,
}

fn seconds(args: &Args, key: &str, default: u64) -> Result<u64, Diagnostic> {
    match args.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| args.error_at(key, format!("`{key}` must be a number of seconds"))),
    }
}

pub fn wait_for(args: &Args) -> Result<Action, Diagnostic> {
    let host = args.string("host")?.unwrap_or_else(|| "127.0.0.1".into());
    let port = match args.get("port") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| args.error_at("port", "`port` must be a port number"))?,
        ),
    };
    let path = args.string("path")?;
    let regex = args.string("search_regex")?;
    let state = args.string("state")?.unwrap_or_else(|| "started".into());
    let up = match state.as_str() {
        "started" | "present" => true,
        "stopped" | "absent" => false,
        other => {
            return Err(args.error_at(
                "state",
                format!(
                    "`state` must be `started`, `present`, `stopped` or `absent`, not `{other}`"
                ),
            ));
        }
    };
    let timeout = seconds(args, "timeout", 300)?;
    let connect = seconds(args, "connect_timeout", 5)?;
    // The test, as a shell command that succeeds when the thing is there.
    let (test, what, done) = match (port, &path, &regex) {
        (Some(_), Some(_), _) => {
            return Err(args.error("give `wait_for` `port` or `path`, not both"));
        }
        (Some(_), None, Some(_)) => {
            return Err(args.error_at(
                "search_regex",
                "`search_regex` with `port` (reading what a socket sends) is not supported: ferry reads files only",
            ));
        }
        (Some(port), None, None) => {
            let connect = Command::new("timeout")
                .arg(connect.max(1).to_string())
                .args(["bash", "-c", "exec 3<>\"/dev/tcp/$0/$1\""])
                .arg(&host)
                .arg(port.to_string())
                .raw("2>/dev/null");
            let (verb, adj) = if up {
                ("open", "open")
            } else {
                ("close", "closed")
            };
            (
                connect,
                format!("port {port} on {host} to {verb}"),
                format!("port {port} on {host} is {adj}"),
            )
        }
        (None, Some(path), None) => (
            Command::new("test").args(["-e", path]),
            format!("`{path}` to {}", if up { "appear" } else { "go away" }),
            format!("`{path}` {}", if up { "exists" } else { "does not exist" }),
        ),
        (None, Some(path), Some(regex)) if up => (
            Command::new("grep")
                .args(["-qE", "--", regex, path])
                .raw("2>/dev/null"),
            format!("a line matching `{regex}` in `{path}`"),
            format!("`{path}` has a line matching `{regex}`"),
        ),
        (None, Some(_), Some(_)) => {
            return Err(args.error_at(
                "search_regex",
                "`search_regex` waits for a line to appear: use it with `state: present`",
            ));
        }
        (None, None, _) => {
            let delay = seconds(args, "delay", 0)?;
            return Ok(probed(
                WaitFor {
                    what: format!("{delay}s"),
                    done: format!("waited {delay}s"),
                    timeout,
                    msg: None,
                    port: None,
                    path: None,
                    state,
                },
                Command::new("sleep")
                    .arg(delay.to_string())
                    .raw("&& echo result=ok elapsed=")
                    .arg(delay.to_string()),
            ));
        }
    };
    let wanted = if up { "" } else { "! " };
    let script = format!(
        "# wait_for: {what}\ndelay={} pause={} timeout={timeout}\n\
         sleep \"$delay\"; start=$(date +%s)\n\
         while :; do\n  \
           if {wanted}{test}; then echo result=ok; break; fi\n  \
           if [ $(( $(date +%s) - start )) -ge \"$timeout\" ]; then echo result=timeout; break; fi\n  \
           sleep \"$pause\"\n\
         done\necho elapsed=$(( $(date +%s) - start ))\n",
        seconds(args, "delay", 0)?,
        seconds(args, "sleep", 1)?.max(1),
    );
    Ok(probed(
        WaitFor {
            what,
            done,
            timeout,
            msg: args.string("msg")?,
            port,
            path,
            state,
        },
        Command::script(script),
    ))
}

fn probed(wait: WaitFor, probe: Command) -> Action {
    Action::Probed {
        probed: Probed {
            probe,
            module: Prober::WaitFor(wait),
            stdin: None,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    }
}

impl WaitFor {
    pub fn describe(&self) -> String {
        format!("wait_for: {} (at most {}s)", self.what, self.timeout)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let found = fields(probe);
        let elapsed: u64 = found
            .get("elapsed")
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or_default();
        let mut out = Map::new();
        out.insert("elapsed".into(), json!(elapsed));
        out.insert("state".into(), json!(self.state));
        if let Some(port) = self.port {
            out.insert("port".into(), json!(port));
        }
        if let Some(path) = &self.path {
            out.insert("path".into(), json!(path));
        }
        let decision = match found.get("result").map(|r| r.split_whitespace().next()) {
            Some(Some("ok")) => Decision::Ok(self.done.clone()),
            Some(Some("timeout")) => Decision::Fail(match &self.msg {
                Some(msg) => msg.clone(),
                None => format!(
                    "timed out after {}s waiting for {}",
                    self.timeout, self.what
                ),
            }),
            _ => Decision::Fail(format!(
                "could not read the wait's output: `{}`",
                probe.trim()
            )),
        };
        (decision, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait() -> WaitFor {
        WaitFor {
            what: "port 8000 on 127.0.0.1 to open".into(),
            done: "port 8000 on 127.0.0.1 is open".into(),
            timeout: 3,
            msg: None,
            port: Some(8000),
            path: None,
            state: "started".into(),
        }
    }

    #[test]
    fn the_probe_says_done_or_timed_out() {
        let (ok, out) = wait().decide("result=ok\nelapsed=2\n");
        assert_eq!(ok, Decision::Ok("port 8000 on 127.0.0.1 is open".into()));
        assert_eq!(out["elapsed"], 2);
        assert_eq!(
            wait().decide("result=timeout\nelapsed=3\n").0,
            Decision::Fail("timed out after 3s waiting for port 8000 on 127.0.0.1 to open".into())
        );
        let mut told = wait();
        told.msg = Some("app down".into());
        assert_eq!(
            told.decide("result=timeout\n").0,
            Decision::Fail("app down".into())
        );
        assert!(matches!(wait().decide("").0, Decision::Fail(_)));
    }
}
