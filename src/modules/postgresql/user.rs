//! `postgresql_user`: a role, its attributes and its password. The
//! password is compared with what the server stores (a SCRAM-SHA-256
//! verifier or an md5 hash) on the controller, so a second run is `ok`
//! without setting it again; it reaches the server only as SQL on stdin.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Login, ident, literal};
use crate::diagnostic::Diagnostic;
use crate::modules::probed::{Decision, Probed, Prober};
use crate::modules::{Action, Args};

pub const KEYS: &[&str] = &[
    "name",
    "user",
    "password",
    "state",
    "role_attr_flags",
    "encrypted",
    "no_password_changes",
    "conn_limit",
    "login_user",
    "login_db",
    "db",
    "port",
    "login_unix_socket",
];

/// The attributes `role_attr_flags` may name, with their `pg_roles` column.
const FLAGS: &[(&str, &str)] = &[
    ("SUPERUSER", "rolsuper"),
    ("CREATEROLE", "rolcreaterole"),
    ("CREATEDB", "rolcreatedb"),
    ("INHERIT", "rolinherit"),
    ("LOGIN", "rolcanlogin"),
    ("REPLICATION", "rolreplication"),
    ("BYPASSRLS", "rolbypassrls"),
];

#[derive(Debug, Clone, Serialize)]
pub struct PostgresUser {
    pub name: String,
    pub present: bool,
    /// `(FLAG, wanted)`: `CREATEDB` true, `NOSUPERUSER` false.
    pub flags: Vec<(String, bool)>,
    #[serde(skip)]
    pub password: Option<String>,
    pub login: Login,
}

pub fn postgresql_user(args: &Args) -> Result<Action, Diagnostic> {
    let name = match args.string("name")? {
        Some(name) => name,
        None => args.required("user", "postgresql_user")?,
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
    let mut flags = Vec::new();
    for flag in args
        .list("role_attr_flags")?
        .iter()
        .flat_map(|f| f.split(','))
        .map(|f| f.trim().to_ascii_uppercase())
        .filter(|f| !f.is_empty())
    {
        let (name, wanted) = match flag.strip_prefix("NO") {
            Some(rest) if FLAGS.iter().any(|(f, _)| *f == rest) => (rest.to_string(), false),
            _ => (flag.clone(), true),
        };
        if !FLAGS.iter().any(|(f, _)| *f == name) {
            return Err(args.error_at(
                "role_attr_flags",
                format!(
                    "`{flag}` is not a role attribute: {} (or NO before one)",
                    FLAGS.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        flags.push((name, wanted));
    }
    let mut password = args.string("password")?.filter(|p| !p.is_empty());
    if args.flag("no_password_changes")? == Some(true) {
        password = None;
    }
    if let Some(p) = &password
        && p.contains('\n')
    {
        return Err(args.error_at("password", "a password cannot hold a line break"));
    }
    let module = PostgresUser {
        name,
        present,
        flags,
        password,
        login: Login::from_args(args)?,
    };
    let columns: Vec<&str> = FLAGS.iter().map(|(_, column)| *column).collect();
    let probe = super::probe(
        &format!("postgresql_user: read role `{}`", module.name),
        &module.login,
        &format!(
            "SELECT {}, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = {};",
            columns.join(", "),
            literal(&module.name)
        ),
    );
    Ok(Action::Probed {
        probed: Probed {
            probe,
            stdin: Some(module.sql()),
            module: Prober::PostgresUser(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl PostgresUser {
    /// The change, whatever it is: idempotent SQL (on stdin).
    fn sql(&self) -> String {
        if !self.present {
            return format!("DROP ROLE IF EXISTS {};\n", ident(&self.name));
        }
        let mut sql = format!(
            "SELECT 'CREATE ROLE {} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {})\\gexec\n",
            ident(&self.name).replace('\'', "''"),
            literal(&self.name)
        );
        let mut attrs: Vec<String> = self
            .flags
            .iter()
            .map(|(flag, on)| format!("{}{flag}", if *on { "" } else { "NO" }))
            .collect();
        if let Some(password) = &self.password {
            attrs.push(format!("PASSWORD {}", literal(password)));
        }
        if !attrs.is_empty() {
            sql.push_str(&format!(
                "ALTER ROLE {} WITH {};\n",
                ident(&self.name),
                attrs.join(" ")
            ));
        }
        sql
    }

    /// Ansible's `queries`: the statements the change runs, the password
    /// as `********` (it reaches the server only on stdin).
    fn queries(&self, exists: bool) -> Vec<String> {
        if !self.present {
            return vec![format!("DROP ROLE IF EXISTS {}", ident(&self.name))];
        }
        let mut queries = Vec::new();
        if !exists {
            queries.push(format!("CREATE ROLE {} LOGIN", ident(&self.name)));
        }
        let mut attrs: Vec<String> = self
            .flags
            .iter()
            .map(|(flag, on)| format!("{}{flag}", if *on { "" } else { "NO" }))
            .collect();
        if self.password.is_some() {
            attrs.push("PASSWORD '********'".into());
        }
        if !attrs.is_empty() {
            queries.push(format!(
                "ALTER ROLE {} WITH {}",
                ident(&self.name),
                attrs.join(" ")
            ));
        }
        queries
    }

    pub fn describe(&self) -> String {
        if self.present {
            format!("PostgreSQL role `{}`", self.name)
        } else {
            format!("no PostgreSQL role `{}`", self.name)
        }
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("user".into(), json!(self.name));
        let row = super::row(probe);
        let run = super::change(
            &format!("postgresql_user: {}", self.describe()),
            &self.login,
            None,
        );
        if super::missing(probe) {
            let what = format!("create role `{}`", self.name);
            return (super::without_postgresql(self.present, &what, run), fields);
        }
        let exists = row.is_some();
        let decision = match (row, self.present) {
            (None, false) => Decision::Ok(format!("role `{}` does not exist", self.name)),
            (Some(_), false) => Decision::Change {
                what: format!("drop role `{}`", self.name),
                run,
            },
            (None, true) => Decision::Change {
                what: format!("create role `{}`", self.name),
                run,
            },
            (Some(row), true) => {
                let mut differs = Vec::new();
                for (flag, wanted) in &self.flags {
                    let index = FLAGS.iter().position(|(f, _)| f == flag).unwrap_or(0);
                    let has = row.get(index) == Some(&"t");
                    if has != *wanted {
                        differs.push(format!("{}{flag}", if *wanted { "" } else { "NO" }));
                    }
                }
                let stored = row.get(FLAGS.len()).copied().unwrap_or_default();
                if let Some(password) = &self.password
                    && !password_matches(&self.name, password, stored)
                {
                    differs.push("its password".into());
                }
                if differs.is_empty() {
                    let mut why = format!("role `{}` exists", self.name);
                    if self.password.is_some() {
                        why.push_str(" with this password");
                    }
                    if !self.flags.is_empty() {
                        why.push_str(" and these attributes");
                    }
                    Decision::Ok(why)
                } else {
                    Decision::Change {
                        what: format!("set {} of role `{}`", differs.join(", "), self.name),
                        run,
                    }
                }
            }
        };
        let queries = match decision {
            Decision::Change { .. } => self.queries(exists),
            _ => Vec::new(),
        };
        fields.insert("queries".into(), json!(queries));
        (decision, fields)
    }
}

/// Whether `stored` (from `pg_authid.rolpassword`) is `password`'s.
fn password_matches(role: &str, password: &str, stored: &str) -> bool {
    if let Some(hash) = stored.strip_prefix("md5") {
        return format!("{:x}", md5::compute(format!("{password}{role}"))) == hash;
    }
    let Some(rest) = stored.strip_prefix("SCRAM-SHA-256$") else {
        return false;
    };
    // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (RFC 5803).
    let Some((params, keys)) = rest.split_once('$') else {
        return false;
    };
    let (Some((iterations, salt)), Some((stored_key, _))) =
        (params.split_once(':'), keys.split_once(':'))
    else {
        return false;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let (Ok(iterations), Ok(salt), Ok(stored_key)) = (
        iterations.parse::<u32>(),
        b64.decode(salt),
        b64.decode(stored_key),
    ) else {
        return false;
    };
    let salted = pbkdf2_sha256(password.as_bytes(), &salt, iterations);
    let client_key = hmac_sha256(&salted, b"Client Key");
    Sha256::digest(client_key).as_slice() == stored_key.as_slice()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 for one 32-byte block (what SCRAM-SHA-256 needs).
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac_sha256(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac_sha256(password, &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_verifiers_made_by_postgresql_match_their_password_only() {
        // Made with Python's hashlib and hmac (RFC 5802 by another hand);
        // the live test (`servers::setup`) checks against PostgreSQL itself.
        let stored = "SCRAM-SHA-256$4096:lPbKrUJMR/0VM7PCeT+3Dg==$7NlhYDwPhh0CvKA7343NBjl/dXnGFCuamFb8FEix6ZI=:Pv6+hiI+jD007bolwnvle2o9DnZSmiXs28898Gzz1gU=";
        assert!(password_matches("t", "secret", stored));
        assert!(!password_matches("t", "Secret", stored));
    }

    #[test]
    fn md5_hashes_salt_with_the_role_name() {
        let stored = format!("md5{:x}", md5::compute("secrett"));
        assert!(password_matches("t", "secret", &stored));
        assert!(!password_matches("u", "secret", &stored));
    }

    #[test]
    fn queries_are_ansibles_without_the_password() {
        let user = PostgresUser {
            name: "shop".into(),
            present: true,
            flags: vec![("CREATEDB".into(), true)],
            password: Some("s3cret".into()),
            login: Login {
                user: "postgres".into(),
                db: "postgres".into(),
                port: None,
                socket: None,
            },
        };
        let (_, fields) = user.decide("");
        assert_eq!(
            fields["queries"],
            json!([
                "CREATE ROLE \"shop\" LOGIN",
                "ALTER ROLE \"shop\" WITH CREATEDB PASSWORD '********'"
            ])
        );
        assert!(!Value::Object(fields).to_string().contains("s3cret"));
    }
}
