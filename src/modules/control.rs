//! Control modules: `fail` (stop the host with a message), `assert` (stop
//! it unless every condition holds) and `ping` (the host answers and runs
//! a shell). They change nothing, so check mode runs them as a run does.

use serde::Serialize;
use serde_json::Value;

use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::plan::Expr;
use crate::shell::Command;

pub const FAIL_KEYS: &[&str] = &["msg"];
pub const ASSERT_KEYS: &[&str] = &["that", "fail_msg", "msg", "success_msg", "quiet"];
pub const PING_KEYS: &[&str] = &["data"];

pub fn fail(args: &Args) -> Result<Action, Diagnostic> {
    let msg = args
        .string("msg")?
        .unwrap_or_else(|| "Failed as requested from task".into());
    Ok(Action::Fail { msg })
}

/// What `assert` checks, each condition evaluated on the host's variables
/// and registered results when the step runs.
#[derive(Debug, Clone, Serialize)]
pub struct Assertion {
    pub that: Vec<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_msg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_msg: Option<String>,
}

pub fn assert(args: &Args) -> Result<Action, Diagnostic> {
    let location = args.cx.at.span.to_string();
    let that: Vec<String> = match args.get("that") {
        None => return Err(args.error("module `assert` needs `that`")),
        Some(Value::Array(items)) => items.iter().map(condition).collect(),
        Some(one) => vec![condition(one)],
    };
    if that.is_empty() {
        return Err(args.error_at("that", "`that` needs at least one condition"));
    }
    let fail_msg = match args.string("fail_msg")? {
        Some(msg) => Some(msg),
        None => args.string("msg")?,
    };
    Ok(Action::Assert {
        assertion: Assertion {
            that: that
                .into_iter()
                .map(|expr| Expr {
                    expr,
                    vars: serde_json::Map::new(),
                    location: location.clone(),
                })
                .collect(),
            fail_msg,
            success_msg: args.string("success_msg")?,
        },
    })
}

/// A condition as written: YAML may have made `true` a boolean.
fn condition(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `ping`: a command the host runs, answering `pong` (or `data`).
#[derive(Debug, Clone, Serialize)]
pub struct Ping {
    pub data: String,
}

pub fn ping(args: &Args) -> Result<Action, Diagnostic> {
    let data = args.string("data")?.unwrap_or_else(|| "pong".into());
    Ok(Action::Probed {
        probed: Probed {
            probe: Command::new("echo").arg("pong"),
            module: Prober::Ping(Ping { data }),
            stdin: None,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl Ping {
    pub fn decide(&self, probe: &str) -> (Decision, serde_json::Map<String, Value>) {
        let mut out = serde_json::Map::new();
        if self.data == "crash" {
            return (Decision::Fail("boom (`data: crash`)".into()), out);
        }
        out.insert("ping".into(), Value::String(self.data.clone()));
        match probe.trim() {
            "pong" => (Decision::Ok("the host runs commands".into()), out),
            other => (
                Decision::Fail(format!("the host answered `{other}`, not `pong`")),
                out,
            ),
        }
    }
}
