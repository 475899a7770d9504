//! `ufw` (`community.general.ufw`): firewall rules, default policies and
//! the firewall's state. Whether a rule is already there is asked of ufw
//! itself: `ufw --dry-run RULE` says it would skip an existing rule, or
//! prints the rules it would write, compared with those it has. Policies
//! and the state are read from ufw's files, which hold what survives a
//! reboot.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "rule",
    "port",
    "to_port",
    "proto",
    "protocol",
    "from_ip",
    "from",
    "src",
    "from_port",
    "to_ip",
    "to",
    "dest",
    "direction",
    "interface",
    "if",
    "comment",
    "delete",
    "state",
    "policy",
    "default",
    "logging",
    "log",
];

/// What the probe reads on a host where ufw was just installed (Debian's
/// and Ubuntu's package defaults).
const INSTALLED: &str =
    "enabled=no\nlogging=low\npolicy_INPUT=DROP\npolicy_OUTPUT=ACCEPT\npolicy_FORWARD=DROP\n";

#[derive(Debug, Clone, Serialize)]
pub struct Ufw {
    /// `ufw` arguments of the rule (`allow proto tcp from any to any port 22`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Vec<String>>,
    /// `(direction, policy)`: `incoming`, `deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<String>,
}

fn one_of(args: &Args, keys: &[&str]) -> Result<Option<String>, Diagnostic> {
    for key in keys {
        if let Some(value) = args.string(key)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

fn choice(args: &Args, key: &str, value: &str, allowed: &[&str]) -> Result<(), Diagnostic> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(args.error_at(
            key,
            format!(
                "`{key}` must be one of {}, not `{value}`",
                allowed.join(", ")
            ),
        ))
    }
}

pub fn ufw(args: &Args) -> Result<Action, Diagnostic> {
    let state = args.string("state")?;
    if let Some(state) = &state {
        choice(
            args,
            "state",
            state,
            &["enabled", "disabled", "reloaded", "reset"],
        )?;
    }
    let direction = args.string("direction")?;
    let policy = match one_of(args, &["policy", "default"])? {
        None => None,
        Some(policy) => {
            choice(args, "policy", &policy, &["allow", "deny", "reject"])?;
            let direction = direction.clone().unwrap_or_else(|| "incoming".into());
            choice(
                args,
                "direction",
                &direction,
                &["incoming", "outgoing", "routed"],
            )?;
            Some((direction, policy))
        }
    };
    let logging = one_of(args, &["logging"])?;
    if let Some(level) = &logging {
        choice(
            args,
            "logging",
            level,
            &["on", "off", "low", "medium", "high", "full"],
        )?;
    }
    let rule = match args.string("rule")? {
        None => None,
        Some(_) if policy.is_some() => {
            return Err(args.error("give `ufw` a `rule` or a `policy`, not both"));
        }
        Some(rule) => {
            choice(args, "rule", &rule, &["allow", "deny", "limit", "reject"])?;
            let mut words = Vec::new();
            if args.flag("delete")?.unwrap_or(false) {
                words.push("delete".to_string());
            }
            words.push(rule);
            if let Some(direction) = &direction {
                let d = match direction.as_str() {
                    "in" | "incoming" => "in",
                    "out" | "outgoing" => "out",
                    other => {
                        return Err(args.error_at(
                            "direction",
                            format!("a rule's `direction` is `in` or `out`, not `{other}`"),
                        ));
                    }
                };
                words.push(d.into());
            }
            if let Some(interface) = one_of(args, &["interface", "if"])? {
                words.extend(["on".into(), interface]);
            }
            if args.flag("log")?.unwrap_or(false) {
                words.push("log".into());
            }
            if let Some(proto) = one_of(args, &["proto", "protocol"])?.filter(|p| p != "any") {
                words.extend(["proto".into(), proto]);
            }
            words.push("from".into());
            words.push(one_of(args, &["from_ip", "from", "src"])?.unwrap_or_else(|| "any".into()));
            if let Some(port) = args.string("from_port")? {
                words.extend(["port".into(), port]);
            }
            words.push("to".into());
            words.push(one_of(args, &["to_ip", "to", "dest"])?.unwrap_or_else(|| "any".into()));
            if let Some(port) = one_of(args, &["port", "to_port"])? {
                words.extend(["port".into(), port]);
            }
            if let Some(comment) = args.string("comment")? {
                words.extend(["comment".into(), comment]);
            }
            Some(words)
        }
    };
    if rule.is_none() && policy.is_none() && state.is_none() && logging.is_none() {
        return Err(args.error("module `ufw` needs `rule`, `policy`, `state` or `logging`"));
    }
    let module = Ufw {
        rule,
        policy,
        state,
        logging,
    };
    let mut probe = String::from(
        "# ufw: read the firewall's state\n\
         command -v ufw >/dev/null || { echo ufw=missing; exit 0; }\n\
         echo \"enabled=$(sed -n 's/^ENABLED=//p' /etc/ufw/ufw.conf)\"\n\
         echo \"logging=$(sed -n 's/^LOGLEVEL=//p' /etc/ufw/ufw.conf)\"\n\
         sed -n 's/^DEFAULT_\\(INPUT\\|OUTPUT\\|FORWARD\\)_POLICY=\"\\{0,1\\}\\([A-Z]*\\)\"\\{0,1\\}$/policy_\\1=\\2/p' /etc/default/ufw\n",
    );
    if let Some(rule) = &module.rule {
        let words: Vec<String> = rule.iter().map(|w| quote(w)).collect();
        // Tuples of the rules ufw would have, per family (4 or 6): a rule
        // for an IPv4 source prints the IPv4 rules only.
        probe.push_str(&format!(
            "ufw --dry-run {} 2>/dev/null | awk '/^\\*filter/ {{ v = 4 }} /^:ufw6-/ {{ v = 6 }} /^### tuple ### / {{ sub(/^### tuple ### /, \"\"); print \"would\" v \"=\" $0 }} /^### END RULES ###/ {{ print \"section=\" v }} /^Skipping / {{ print \"skip=1\" }}'\n\
             sed -n 's/^### tuple ### /have4=/p' /etc/ufw/user.rules 2>/dev/null\n\
             sed -n 's/^### tuple ### /have6=/p' /etc/ufw/user6.rules 2>/dev/null\n",
            words.join(" ")
        ));
    }
    probe.push_str("exit 0");
    Ok(Action::Probed {
        probed: Probed {
            probe: Command::script(probe),
            stdin: None,
            module: Prober::Ufw(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl Ufw {
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rule) = &self.rule {
            parts.push(format!("firewall rule `ufw {}`", rule.join(" ")));
        }
        if let Some((direction, policy)) = &self.policy {
            parts.push(format!("default {direction} policy `{policy}`"));
        }
        if let Some(level) = &self.logging {
            parts.push(format!("logging `{level}`"));
        }
        if let Some(state) = &self.state {
            parts.push(format!("firewall {state}"));
        }
        parts.join(", ")
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let fields = Map::new();
        // Not installed yet (check mode, an earlier step installs it): as
        // ufw is once installed — disabled, no rules, incoming refused.
        let missing = probe.lines().any(|l| l == "ufw=missing");
        let probe = if missing { INSTALLED } else { probe };
        let value = |key: &str| {
            probe
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_default()
        };
        let mut todo: Vec<(String, Command)> = Vec::new();
        let mut ok: Vec<String> = Vec::new();
        if let Some(level) = &self.logging {
            let has = value("logging");
            let wanted = if level == "on" { "low" } else { level };
            if has == wanted || (level == "on" && has != "off" && !has.is_empty()) {
                ok.push(format!("logging is `{has}`"));
            } else {
                todo.push((
                    format!("set logging to `{level}`"),
                    Command::new("ufw").args(["logging", level]),
                ));
            }
        }
        if let Some((direction, policy)) = &self.policy {
            let key = match direction.as_str() {
                "incoming" => "policy_INPUT",
                "outgoing" => "policy_OUTPUT",
                _ => "policy_FORWARD",
            };
            let wanted = match policy.as_str() {
                "allow" => "ACCEPT",
                "deny" => "DROP",
                _ => "REJECT",
            };
            if value(key) == wanted {
                ok.push(format!("the default {direction} policy is `{policy}`"));
            } else {
                todo.push((
                    format!("make the default {direction} policy `{policy}`"),
                    Command::new("ufw").args(["default", policy, direction]),
                ));
            }
        }
        if let Some(rule) = &self.rule {
            let tuples = |key: &str| {
                let mut found: Vec<&str> = probe
                    .lines()
                    .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .collect();
                found.sort_unstable();
                found
            };
            let sections: Vec<&str> = probe
                .lines()
                .filter_map(|l| l.strip_prefix("section="))
                .collect();
            let same = probe.lines().any(|l| l == "skip=1")
                || (!sections.is_empty()
                    && sections.iter().all(|family| {
                        tuples(&format!("would{family}")) == tuples(&format!("have{family}"))
                    }));
            let text = format!("ufw {}", rule.join(" "));
            if same {
                let has = if rule.first().map(String::as_str) == Some("delete") {
                    "does not have"
                } else {
                    "has"
                };
                ok.push(format!("the firewall {has} `{text}`"));
            } else {
                todo.push((format!("run `{text}`"), Command::new("ufw").args(rule)));
            }
        }
        if let Some(state) = &self.state {
            let enabled = value("enabled") == "yes";
            match (state.as_str(), enabled) {
                ("enabled", true) => ok.push("the firewall is enabled".into()),
                ("disabled", false) => ok.push("the firewall is disabled".into()),
                ("enabled", false) => todo.push((
                    "enable the firewall".into(),
                    Command::new("ufw").args(["--force", "enable"]),
                )),
                ("disabled", true) => todo.push((
                    "disable the firewall".into(),
                    Command::new("ufw").arg("disable"),
                )),
                ("reloaded", _) => todo.push((
                    "reload the firewall".into(),
                    Command::new("ufw").arg("reload"),
                )),
                _ => todo.push((
                    "reset the firewall to ufw's defaults".into(),
                    Command::new("ufw").args(["--force", "reset"]),
                )),
            }
        }
        if missing && !todo.is_empty() {
            // A run without ufw fails saying so.
            let run = Command::script(
                "command -v ufw >/dev/null || { echo 'ufw is not installed on this host (apt: ufw)' >&2; exit 1; }",
            )
            .and(
                todo.iter()
                    .map(|(_, c)| c.clone())
                    .reduce(Command::and)
                    .expect("something to do"),
            );
            let what = todo
                .iter()
                .map(|(w, _)| w.clone())
                .collect::<Vec<_>>()
                .join(", ");
            return (
                Decision::Change {
                    what: format!(
                        "{what} (ufw is not installed yet: an earlier step must install it)"
                    ),
                    run,
                },
                fields,
            );
        }
        let mut fields = fields;
        fields.insert(
            "commands".into(),
            json!(todo.iter().map(|(w, _)| w).collect::<Vec<_>>()),
        );
        if todo.is_empty() {
            return (Decision::Ok(ok.join("; ")), fields);
        }
        let what = todo
            .iter()
            .map(|(w, _)| w.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let run = todo
            .into_iter()
            .map(|(_, c)| c)
            .reduce(Command::and)
            .expect("something to do");
        (Decision::Change { what, run }, fields)
    }
}
