//! `postgresql_privs`: privileges granted (or revoked) on databases,
//! schemas, tables and sequences. Whether the grant would change anything
//! is asked of PostgreSQL itself: the probe runs it in a transaction that
//! it rolls back, reading the objects' ACLs before and after — the ACLs as
//! PostgreSQL keeps them, whatever the privileges' spelling or overlap.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Login, ident, literal};
use crate::diagnostic::Diagnostic;
use crate::modules::probed::{Decision, Probed, Prober};
use crate::modules::{Action, Args};

pub const KEYS: &[&str] = &[
    "database",
    "db",
    "login_db",
    "roles",
    "role",
    "privs",
    "priv",
    "type",
    "objs",
    "obj",
    "schema",
    "state",
    "grant_option",
    "login_user",
    "port",
    "login_unix_socket",
];

const PRIVILEGES: &[&str] = &[
    "ALL",
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "USAGE",
    "CREATE",
    "CONNECT",
    "TEMPORARY",
    "TEMP",
    "EXECUTE",
];

#[derive(Debug, Clone, Serialize)]
pub struct PostgresPrivs {
    /// `GRANT …` or `REVOKE …`.
    pub sql: String,
    /// The ACLs it may change, as one text.
    #[serde(skip)]
    pub acl_query: String,
    pub login: Login,
}

fn one_of_list(args: &Args, keys: &[&str]) -> Result<Vec<String>, Diagnostic> {
    for key in keys {
        let list = args.list(key)?;
        if !list.is_empty() {
            return Ok(list);
        }
    }
    Ok(Vec::new())
}

pub fn postgresql_privs(args: &Args) -> Result<Action, Diagnostic> {
    let login = Login::from_args(args)?;
    let database = match args.string("database")? {
        Some(db) => db,
        None => login.db.clone(),
    };
    let login = Login {
        db: database.clone(),
        ..login
    };
    let roles = one_of_list(args, &["roles", "role"])?;
    if roles.is_empty() {
        return Err(args.error("module `postgresql_privs` needs `roles`"));
    }
    let named: Vec<String> = roles
        .iter()
        .filter(|r| !r.eq_ignore_ascii_case("public"))
        .cloned()
        .collect();
    let roles: Vec<String> = roles
        .iter()
        .map(|r| {
            if r.eq_ignore_ascii_case("public") {
                "PUBLIC".to_string()
            } else {
                ident(r)
            }
        })
        .collect();
    let privs: Vec<String> = one_of_list(args, &["privs", "priv"])?
        .iter()
        .map(|p| p.to_ascii_uppercase())
        .collect();
    if privs.is_empty() {
        return Err(
            args.error("module `postgresql_privs` needs `privs` (`ALL`, `SELECT,INSERT`, …)")
        );
    }
    if let Some(p) = privs.iter().find(|p| !PRIVILEGES.contains(&p.as_str())) {
        return Err(args.error_at(
            "privs",
            format!("`{p}` is not a privilege: {}", PRIVILEGES.join(", ")),
        ));
    }
    let kind = args.string("type")?.unwrap_or_else(|| "table".into());
    let schema = args.string("schema")?.unwrap_or_else(|| "public".into());
    let objs = one_of_list(args, &["objs", "obj"])?;
    let relations = |relkind: &str, noun: &str| -> Result<(String, String), Diagnostic> {
        let all = objs.iter().any(|o| o == "ALL_IN_SCHEMA");
        if objs.is_empty() {
            return Err(args.error(format!(
                "`type: {kind}` needs `objs`: {noun} names, or `ALL_IN_SCHEMA`"
            )));
        }
        let target = if all {
            format!(
                "ALL {}S IN SCHEMA {}",
                noun.to_ascii_uppercase(),
                ident(&schema)
            )
        } else {
            format!(
                "{} {}",
                noun.to_ascii_uppercase(),
                objs.iter()
                    .map(|o| format!("{}.{}", ident(&schema), ident(o)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let only = if all {
            String::new()
        } else {
            format!(
                " AND c.relname IN ({})",
                objs.iter()
                    .map(|o| literal(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Ok((
            target,
            format!(
                "SELECT coalesce(string_agg(c.relname || ':' || coalesce(c.relacl::text, ''), ',' ORDER BY c.relname), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relkind IN ({relkind}){only}",
                literal(&schema)
            ),
        ))
    };
    let (target, acl_query) = match kind.as_str() {
        "database" => {
            let dbs = if objs.is_empty() {
                vec![database.clone()]
            } else {
                objs.clone()
            };
            (
                format!(
                    "DATABASE {}",
                    dbs.iter().map(|d| ident(d)).collect::<Vec<_>>().join(", ")
                ),
                format!(
                    "SELECT coalesce(string_agg(datname || ':' || coalesce(datacl::text, ''), ',' ORDER BY datname), '') FROM pg_database WHERE datname IN ({})",
                    dbs.iter()
                        .map(|d| literal(d))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
        "schema" => {
            let schemas = if objs.is_empty() {
                vec![schema.clone()]
            } else {
                objs.clone()
            };
            (
                format!(
                    "SCHEMA {}",
                    schemas
                        .iter()
                        .map(|s| ident(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "SELECT coalesce(string_agg(nspname || ':' || coalesce(nspacl::text, ''), ',' ORDER BY nspname), '') FROM pg_namespace WHERE nspname IN ({})",
                    schemas
                        .iter()
                        .map(|s| literal(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
        "table" => relations("'r', 'v', 'm', 'p', 'f'", "table")?,
        "sequence" => relations("'S'", "sequence")?,
        other => {
            return Err(args.error_at(
                "type",
                format!(
                    "`type` must be `table`, `sequence`, `database` or `schema` (ferry supports these), not `{other}`"
                ),
            ));
        }
    };
    let present = match args.string("state")?.as_deref() {
        None | Some("present") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let privs = privs.join(", ");
    let roles = roles.join(", ");
    let sql = if present {
        let option = if args.flag("grant_option")?.unwrap_or(false) {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        format!("GRANT {privs} ON {target} TO {roles}{option};")
    } else {
        format!("REVOKE {privs} ON {target} FROM {roles};")
    };
    let module = PostgresPrivs {
        sql,
        acl_query,
        login,
    };
    // Roles an earlier step makes may not exist yet (check mode): named,
    // instead of the grant failing on them.
    let names = if named.is_empty() {
        "ARRAY[]::text[]".to_string()
    } else {
        format!(
            "ARRAY[{}]",
            named
                .iter()
                .map(|r| literal(r))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let probe = super::probe(
        &format!("postgresql_privs: would `{}` change anything?", module.sql),
        &module.login,
        &format!(
            "SELECT coalesce(string_agg(r, ','), '') AS missing FROM unnest({names}) r WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \\gset\n\
             SELECT :'missing' = '' AS roles_exist \\gset\n\
             \\if :roles_exist\n\
             BEGIN;\nSELECT 'before=' || ({0});\n{1}\nSELECT 'after=' || ({0});\nROLLBACK;\n\
             \\else\nSELECT 'missing=' || :'missing';\n\\endif",
            module.acl_query, module.sql
        ),
    );
    Ok(Action::Probed {
        probed: Probed {
            probe,
            stdin: None,
            module: Prober::PostgresPrivs(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl PostgresPrivs {
    pub fn describe(&self) -> String {
        format!("PostgreSQL `{}`", self.sql)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("queries".into(), json!([self.sql]));
        let run = super::change(
            &format!("postgresql_privs: {}", self.sql),
            &self.login,
            Some(&self.sql),
        );
        if super::missing(probe) {
            return (super::not_yet(&format!("run `{}`", self.sql), run), fields);
        }
        let value = |key: &str| {
            probe
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        };
        if let Some(missing) = value("missing") {
            let what = format!(
                "run `{}` (role `{missing}` does not exist yet: an earlier step must create it)",
                self.sql
            );
            return (Decision::Change { what, run }, fields);
        }
        let decision = match (value("before"), value("after")) {
            (Some(before), Some(after)) if before == after => Decision::Ok(format!(
                "`{}` changes no privilege: they are already so",
                self.sql
            )),
            (Some(_), Some(_)) => Decision::Change {
                what: format!("run `{}`", self.sql),
                run,
            },
            _ => Decision::Fail(format!(
                "cannot read the privileges `{}` would change",
                self.sql
            )),
        };
        (decision, fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privs() -> PostgresPrivs {
        PostgresPrivs {
            sql: "GRANT SELECT ON ALL TABLES IN SCHEMA \"public\" TO \"ro\";".into(),
            acl_query: String::new(),
            login: Login {
                user: "postgres".into(),
                db: "shop".into(),
                port: None,
                socket: None,
            },
        }
    }

    #[test]
    fn a_grant_that_leaves_the_acls_as_they_were_is_ok() {
        let same = "before=t:{ro=r/postgres}\nafter=t:{ro=r/postgres}\n";
        assert!(matches!(privs().decide(same).0, Decision::Ok(_)));
        let more = "before=t:\nafter=t:{ro=r/postgres}\n";
        assert!(matches!(privs().decide(more).0, Decision::Change { .. }));
        assert!(matches!(privs().decide("").0, Decision::Fail(_)));
    }
}
