//! `postgresql_set`: a server setting through `ALTER SYSTEM` (kept in
//! `postgresql.auto.conf`), then a reload. A setting that only a restart
//! applies (`listen_addresses`) reports `restart_required`, for a handler
//! to restart the server; until then the probe reads the value written to
//! `postgresql.auto.conf`, so a second run is `ok`, not a second change.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Login, literal};
use crate::diagnostic::Diagnostic;
use crate::modules::probed::{Decision, Probed, Prober};
use crate::modules::{Action, Args};

pub const KEYS: &[&str] = &[
    "name",
    "value",
    "reset",
    "login_user",
    "login_db",
    "db",
    "port",
    "login_unix_socket",
];

#[derive(Debug, Clone, Serialize)]
pub struct PostgresSet {
    pub name: String,
    /// `None`: `reset` (back to postgresql.conf's value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub login: Login,
}

pub fn postgresql_set(args: &Args) -> Result<Action, Diagnostic> {
    let name = args.required("name", "postgresql_set")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(args.error_at("name", format!("`{name}` is not a setting's name")));
    }
    let reset = args.flag("reset")?.unwrap_or(false);
    let value = args.string("value")?;
    let value = match (value, reset) {
        (Some(_), true) => {
            return Err(args.error("give `postgresql_set` `value` or `reset`, not both"));
        }
        (None, false) => {
            return Err(args.error("module `postgresql_set` needs `value` (or `reset: true`)"));
        }
        (value, _) => value,
    };
    let module = PostgresSet {
        name,
        value,
        login: Login::from_args(args)?,
    };
    let name = literal(&module.name);
    let probe = super::probe(
        &format!("postgresql_set: read `{}`", module.name),
        &module.login,
        &format!(
            "SELECT setting, context, pending_restart, coalesce((SELECT setting FROM pg_file_settings WHERE name = {name} AND sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1), '<none>') FROM pg_settings WHERE name = {name};"
        ),
    );
    Ok(Action::Probed {
        probed: Probed {
            probe,
            stdin: None,
            module: Prober::PostgresSet(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl PostgresSet {
    pub fn describe(&self) -> String {
        match &self.value {
            Some(value) => format!("PostgreSQL setting `{} = {value}`", self.name),
            None => format!("PostgreSQL setting `{}` reset", self.name),
        }
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("name".into(), json!(self.name));
        if super::missing(probe) {
            fields.insert("restart_required".into(), json!(true));
            return (super::not_yet(&self.describe(), self.change()), fields);
        }
        let Some(row) = probe.lines().find(|l| !l.trim().is_empty()) else {
            return (
                Decision::Fail(format!("PostgreSQL has no setting `{}`", self.name)),
                fields,
            );
        };
        let row: Vec<&str> = row.split('|').collect();
        let field = |i: usize| row.get(i).copied().unwrap_or_default();
        let (setting, context, pending, written) = (field(0), field(1), field(2), field(3));
        let restart = context == "postmaster";
        fields.insert("prev_val_pretty".into(), json!(setting));
        fields.insert("context".into(), json!(context));
        if let Some(value) = &self.value {
            fields.insert("value_pretty".into(), json!(value));
        }
        let already = match &self.value {
            Some(value) => written == value || (written == "<none>" && setting == value),
            None => written == "<none>",
        };
        if already {
            fields.insert("restart_required".into(), json!(pending == "t"));
            let why = match &self.value {
                Some(value) if pending == "t" => format!(
                    "`{}` is set to `{value}` (a restart of PostgreSQL applies it)",
                    self.name
                ),
                Some(value) => format!("`{}` is `{value}`", self.name),
                None => format!("`{}` is not set by ALTER SYSTEM", self.name),
            };
            return (Decision::Ok(why), fields);
        }
        fields.insert("restart_required".into(), json!(restart));
        let then = if restart {
            " (a restart of PostgreSQL applies it)"
        } else {
            ""
        };
        let what = match &self.value {
            Some(value) => format!("set `{}` to `{value}`, now `{setting}`{then}", self.name),
            None => format!("reset `{}`{then}", self.name),
        };
        (
            Decision::Change {
                what,
                run: self.change(),
            },
            fields,
        )
    }

    /// `ALTER SYSTEM`, then a reload.
    fn change(&self) -> crate::shell::Command {
        let sql = match &self.value {
            Some(value) => format!(
                "ALTER SYSTEM SET {} = {};\nSELECT pg_reload_conf();",
                self.name,
                literal(value)
            ),
            None => format!(
                "ALTER SYSTEM RESET {};\nSELECT pg_reload_conf();",
                self.name
            ),
        };
        super::change(
            &format!("postgresql_set: {}", self.describe()),
            &self.login,
            Some(&sql),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(value: &str) -> PostgresSet {
        PostgresSet {
            name: "listen_addresses".into(),
            value: Some(value.into()),
            login: Login {
                user: "postgres".into(),
                db: "postgres".into(),
                port: None,
                socket: None,
            },
        }
    }

    #[test]
    fn a_value_written_but_not_yet_applied_is_ok_and_says_a_restart_applies_it() {
        // `setting|context|pending_restart|postgresql.auto.conf's value`
        let (decision, fields) = set("203.0.113.5").decide("localhost|postmaster|t|203.0.113.5\n");
        let Decision::Ok(why) = decision else {
            panic!("ok")
        };
        assert!(why.contains("a restart of PostgreSQL applies it"), "{why}");
        assert_eq!(fields["restart_required"], json!(true));
        let (decision, fields) = set("203.0.113.6").decide("localhost|postmaster|t|203.0.113.5\n");
        assert!(matches!(decision, Decision::Change { .. }));
        assert_eq!(fields["restart_required"], json!(true));
        assert_eq!(fields["prev_val_pretty"], json!("localhost"));
        assert_eq!(fields["value_pretty"], json!("203.0.113.6"));
        let (decision, _) = set("localhost").decide("localhost|postmaster|f|<none>\n");
        assert!(matches!(decision, Decision::Ok(_)));
        let (decision, _) = set("x").decide("");
        assert!(matches!(decision, Decision::Fail(_)));
    }
}
