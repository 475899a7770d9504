//! `postgresql_db`: a database, its owner, encoding and locale. An existing
//! database whose encoding or locale differs is an error, as in Ansible:
//! changing them means a dump and a restore, not a step.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Login, ident, literal};
use crate::diagnostic::Diagnostic;
use crate::modules::probed::{Decision, Probed, Prober};
use crate::modules::{Action, Args};

pub const KEYS: &[&str] = &[
    "name",
    "owner",
    "encoding",
    "lc_collate",
    "lc_ctype",
    "template",
    "state",
    "login_user",
    "login_db",
    "db",
    "port",
    "login_unix_socket",
];

#[derive(Debug, Clone, Serialize)]
pub struct PostgresDb {
    pub name: String,
    pub present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lc_collate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lc_ctype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub login: Login,
}

pub fn postgresql_db(args: &Args) -> Result<Action, Diagnostic> {
    let present = match args.string("state")?.as_deref() {
        None | Some("present") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(args.error_at(
                "state",
                format!(
                    "`state` must be `present` or `absent`, not `{other}` (dump and restore are not supported)"
                ),
            ));
        }
    };
    let module = PostgresDb {
        name: args.required("name", "postgresql_db")?,
        present,
        owner: args.string("owner")?.filter(|o| !o.is_empty()),
        encoding: args.string("encoding")?.filter(|o| !o.is_empty()),
        lc_collate: args.string("lc_collate")?.filter(|o| !o.is_empty()),
        lc_ctype: args.string("lc_ctype")?.filter(|o| !o.is_empty()),
        template: args.string("template")?.filter(|o| !o.is_empty()),
        login: Login::from_args(args)?,
    };
    let probe = super::probe(
        &format!("postgresql_db: read database `{}`", module.name),
        &module.login,
        &format!(
            "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = {};",
            literal(&module.name)
        ),
    );
    Ok(Action::Probed {
        probed: Probed {
            probe,
            stdin: None,
            module: Prober::PostgresDb(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl PostgresDb {
    pub fn describe(&self) -> String {
        if self.present {
            format!("PostgreSQL database `{}`", self.name)
        } else {
            format!("no PostgreSQL database `{}`", self.name)
        }
    }

    fn create(&self) -> String {
        let mut sql = format!("CREATE DATABASE {}", ident(&self.name));
        if let Some(owner) = &self.owner {
            sql.push_str(&format!(" OWNER {}", ident(owner)));
        }
        if let Some(template) = &self.template {
            sql.push_str(&format!(" TEMPLATE {}", ident(template)));
        }
        for (key, value) in [
            ("ENCODING", &self.encoding),
            ("LC_COLLATE", &self.lc_collate),
            ("LC_CTYPE", &self.lc_ctype),
        ] {
            if let Some(value) = value {
                sql.push_str(&format!(" {key} {}", literal(value)));
            }
        }
        sql.push(';');
        sql
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("db".into(), json!(self.name));
        let row = super::row(probe);
        // Nothing in this SQL is secret: it is shown with the command.
        let run = |sql: String| {
            super::change(
                &format!("postgresql_db: {}", self.describe()),
                &self.login,
                Some(&sql),
            )
        };
        if super::missing(probe) {
            let what = format!("create database `{}`", self.name);
            let decision = super::without_postgresql(self.present, &what, run(self.create()));
            return (decision, fields);
        }
        let decision = match (row, self.present) {
            (None, false) => Decision::Ok(format!("database `{}` does not exist", self.name)),
            (Some(_), false) => Decision::Change {
                what: format!("drop database `{}`", self.name),
                run: run(format!("DROP DATABASE {};", ident(&self.name))),
            },
            (None, true) => {
                let sql = self.create();
                fields.insert("executed_commands".into(), json!([sql]));
                let owner = self
                    .owner
                    .as_ref()
                    .map(|o| format!(" owned by `{o}`"))
                    .unwrap_or_default();
                Decision::Change {
                    what: format!("create database `{}`{owner}", self.name),
                    run: run(sql),
                }
            }
            (Some(row), true) => {
                let field = |i: usize| row.get(i).copied().unwrap_or_default();
                let mismatch = [
                    ("encoding", &self.encoding, field(1)),
                    ("lc_collate", &self.lc_collate, field(2)),
                    ("lc_ctype", &self.lc_ctype, field(3)),
                ]
                .into_iter()
                .find(|(_, wanted, has)| {
                    wanted
                        .as_ref()
                        .is_some_and(|w| !w.eq_ignore_ascii_case(has))
                });
                match (mismatch, &self.owner) {
                    (Some((key, wanted, has)), _) => Decision::Fail(format!(
                        "database `{}` exists with {key} `{has}`, not `{}`: changing it needs a dump and a restore",
                        self.name,
                        wanted.as_deref().unwrap_or_default()
                    )),
                    (None, Some(owner)) if owner != field(0) => {
                        let sql = format!(
                            "ALTER DATABASE {} OWNER TO {};",
                            ident(&self.name),
                            ident(owner)
                        );
                        fields.insert("executed_commands".into(), json!([sql]));
                        Decision::Change {
                            what: format!(
                                "make `{owner}` the owner of database `{}` (now `{}`)",
                                self.name,
                                field(0)
                            ),
                            run: run(sql),
                        }
                    }
                    _ => Decision::Ok(format!(
                        "database `{}` exists, owned by `{}`",
                        self.name,
                        field(0)
                    )),
                }
            }
        };
        (decision, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(owner: &str, encoding: Option<&str>) -> PostgresDb {
        PostgresDb {
            name: "shop".into(),
            present: true,
            owner: Some(owner.into()),
            encoding: encoding.map(str::to_string),
            lc_collate: None,
            lc_ctype: None,
            template: None,
            login: Login {
                user: "postgres".into(),
                db: "postgres".into(),
                port: None,
                socket: None,
            },
        }
    }

    #[test]
    fn an_existing_database_changes_owner_but_never_encoding() {
        let row = "postgres|UTF8|C.UTF-8|C.UTF-8\n";
        let Decision::Change { what, run } = db("shop", Some("utf8")).decide(row).0 else {
            panic!("a change")
        };
        assert_eq!(
            what,
            "make `shop` the owner of database `shop` (now `postgres`)"
        );
        assert!(
            run.as_sent()
                .contains("ALTER DATABASE \"shop\" OWNER TO \"shop\";")
        );
        let Decision::Fail(why) = db("postgres", Some("LATIN1")).decide(row).0 else {
            panic!("a failure")
        };
        assert!(why.contains("dump and a restore"), "{why}");
        let Decision::Change { run, .. } = db("shop", Some("UTF8")).decide("").0 else {
            panic!("a change")
        };
        assert!(
            run.as_sent()
                .contains(r#"CREATE DATABASE "shop" OWNER "shop" ENCODING '"'"'UTF8'"'"';"#),
            "{}",
            run.as_sent()
        );
    }
}
