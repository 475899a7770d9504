//! The PostgreSQL modules (`postgresql_user`, `postgresql_db`,
//! `postgresql_set`, `postgresql_pg_hba`, `postgresql_privs`), run through `psql` on the
//! host as the database superuser: no Python driver needed there. A step
//! that runs as root reaches `psql` as `login_user` (default `postgres`)
//! through `runuser`, so `become: true` is enough; one that becomes
//! `postgres`, as Ansible's playbooks do, runs it directly.
//!
//! Every probe reads the catalog; the module decides on the controller;
//! the change is SQL on stdin (a password never on a command line).

pub mod db;
pub mod hba;
pub mod privs;
pub mod set;
pub mod user;

use super::Args;
use crate::diagnostic::Diagnostic;
use crate::shell::quote;

/// How the host reaches the server: as whom, in which database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Login {
    pub user: String,
    pub db: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
}

impl Login {
    pub(crate) fn from_args(args: &Args) -> Result<Login, Diagnostic> {
        if args.get("login_host").is_some() || args.get("login_password").is_some() {
            return Err(args.error(
                "ferry's PostgreSQL modules run `psql` on the host over its unix socket: `login_host` and `login_password` are not supported",
            ));
        }
        Ok(Login {
            user: args
                .string("login_user")?
                .unwrap_or_else(|| "postgres".into()),
            db: match args.string("login_db")? {
                Some(db) => db,
                None => args.string("db")?.unwrap_or_else(|| "postgres".into()),
            },
            port: args.string("port")?,
            socket: args.string("login_unix_socket")?,
        })
    }

    /// Shell text defining `psql_run`: psql as `self.user`, with `-X` (no
    /// ~/.psqlrc), stopping at the first error, unaligned tuples only.
    pub fn function(&self) -> String {
        let mut opts = format!("-X -q -At -v ON_ERROR_STOP=1 -d {}", quote(&self.db));
        if let Some(port) = &self.port {
            opts.push_str(&format!(" -p {}", quote(port)));
        }
        if let Some(socket) = &self.socket {
            opts.push_str(&format!(" -h {}", quote(socket)));
        }
        format!(
            "pg_user={user}\n\
             psql_run() {{ if [ \"$(id -u)\" = 0 ] && [ \"$pg_user\" != root ]; then (cd / && runuser -u \"$pg_user\" -- psql {opts} \"$@\"); else (cd / && psql -U \"$pg_user\" {opts} \"$@\"); fi; }}\n",
            user = quote(&self.user),
        )
    }
}

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL identifier, quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A probe: the SQL through a pipe (the channel's stdin may hold the
/// change's SQL, which the probe must not run).
pub fn probe(title: &str, login: &Login, sql: &str) -> crate::shell::Command {
    crate::shell::Command::script(format!(
        "# {title}\n{MISSING}{}printf '%s\\n' {} | psql_run",
        login.function(),
        quote(sql)
    ))
}

/// A probe's first words: PostgreSQL not installed (yet) is an answer.
pub const MISSING: &str = "command -v psql >/dev/null || { echo psql=missing; exit 0; }\n";

/// Whether the probe found no PostgreSQL on the host.
pub fn missing(probe: &str) -> bool {
    probe.lines().any(|l| l == "psql=missing")
}

/// The first row a catalog probe printed (`a|b|c`), if it found one.
pub fn row(probe: &str) -> Option<Vec<&str>> {
    probe
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.split('|').collect())
}

/// On a host without PostgreSQL: an object that must be there is a change
/// an earlier step makes possible ([`not_yet`]); one that must not be is
/// already so.
pub fn without_postgresql(
    present: bool,
    what: &str,
    run: crate::shell::Command,
) -> super::probed::Decision {
    if present {
        not_yet(what, run)
    } else {
        super::probed::Decision::Ok("PostgreSQL is not installed".into())
    }
}

/// Check mode on a host where an earlier step would install PostgreSQL:
/// the change it would then make. In a run, the change itself says
/// PostgreSQL is missing if no step installed it.
pub fn not_yet(what: &str, run: crate::shell::Command) -> super::probed::Decision {
    super::probed::Decision::Change {
        what: format!("{what} (PostgreSQL is not installed yet: an earlier step must install it)"),
        run,
    }
}

/// A change: the SQL on the step's stdin (or given here when it holds no
/// secret).
pub fn change(title: &str, login: &Login, sql: Option<&str>) -> crate::shell::Command {
    let feed = match sql {
        Some(sql) => format!("printf '%s\\n' {} | psql_run", quote(sql)),
        None => "psql_run".to_string(),
    };
    crate::shell::Command::script(format!(
        "# {title}\nset -e\ncommand -v psql >/dev/null || {{ echo 'psql is not installed on this host (the PostgreSQL client)' >&2; exit 1; }}\n{}{feed}",
        login.function()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers_double_their_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
