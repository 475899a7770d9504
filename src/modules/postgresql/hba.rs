//! `postgresql_pg_hba`: one rule of `pg_hba.conf`, found by its type,
//! databases, users and source, added or its method and options set, or
//! removed. Without `dest`, the file is the running server's own (`SHOW
//! hba_file`), so a playbook need not know the PostgreSQL version. The
//! server reads the file on reload: notify a handler that reloads it.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Login;
use crate::diagnostic::Diagnostic;
use crate::modules::probed::{Decision, Probed, Prober};
use crate::modules::{Action, Args};
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "dest",
    "contype",
    "databases",
    "users",
    "source",
    "address",
    "src",
    "netmask",
    "method",
    "options",
    "state",
    "create",
    "login_user",
    "login_db",
    "db",
    "port",
    "login_unix_socket",
];

const TYPES: &[&str] = &[
    "local",
    "host",
    "hostssl",
    "hostnossl",
    "hostgssenc",
    "hostnogssenc",
];

#[derive(Debug, Clone, Serialize)]
pub struct PgHba {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// `type database user [address]`: what identifies the rule.
    pub key: Vec<String>,
    /// `method [options]`.
    pub auth: Vec<String>,
    pub present: bool,
    pub login: Login,
}

/// `127.8.0.1` → `127.8.0.1/32`: the same source, as PostgreSQL reads it.
fn normalize_source(source: &str) -> String {
    if source.contains('/') || !source.chars().any(|c| c == '.' || c == ':') {
        return source.to_string();
    }
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => format!("{source}/32"),
        Ok(std::net::IpAddr::V6(_)) => format!("{source}/128"),
        Err(_) => source.to_string(),
    }
}

pub fn postgresql_pg_hba(args: &Args) -> Result<Action, Diagnostic> {
    let contype = args.string("contype")?.unwrap_or_else(|| "host".into());
    if !TYPES.contains(&contype.as_str()) {
        return Err(args.error_at(
            "contype",
            format!(
                "`contype` must be one of {}, not `{contype}`",
                TYPES.join(", ")
            ),
        ));
    }
    let list = |key: &str| -> Result<String, Diagnostic> {
        let items = args.list(key)?;
        Ok(if items.is_empty() {
            "all".into()
        } else {
            items.join(",")
        })
    };
    let mut key = vec![contype.clone(), list("databases")?, list("users")?];
    let source = match args.string("source")? {
        Some(s) => Some(s),
        None => match args.string("address")? {
            Some(s) => Some(s),
            None => args.string("src")?,
        },
    };
    match (contype.as_str(), source) {
        ("local", None) => {}
        ("local", Some(_)) => {
            return Err(args.error_at("source", "a `local` rule has no `source`"));
        }
        (_, None) => {
            return Err(args.error(format!(
                "a `{contype}` rule needs `source` (an address, a CIDR range, `samehost`, `samenet` or `all`)"
            )));
        }
        (_, Some(source)) => {
            key.push(match args.string("netmask")? {
                Some(mask) => format!("{source} {mask}"),
                None => normalize_source(&source),
            });
        }
    }
    let mut auth = vec![args.string("method")?.unwrap_or_else(|| "md5".into())];
    if let Some(options) = args.string("options")?.filter(|o| !o.is_empty()) {
        auth.push(options);
    }
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
    let login = Login::from_args(args)?;
    let dest = args.string("dest")?;
    let find = match &dest {
        Some(dest) => format!("f={}\n", quote(dest)),
        None => format!(
            "{}{}f=$(printf 'SHOW hba_file;\\n' | psql_run)\n[ -n \"$f\" ] || exit 1\n",
            super::MISSING,
            login.function()
        ),
    };
    let module = PgHba {
        dest,
        key,
        auth,
        present,
        login,
    };
    let probe = Command::script(format!(
        "# postgresql_pg_hba: read the rules\n{find}echo \"file=$f\"\n[ -f \"$f\" ] && sed 's/^/line=/' \"$f\"\nexit 0"
    ));
    Ok(Action::Probed {
        probed: Probed {
            probe,
            stdin: None,
            module: Prober::PgHba(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl PgHba {
    fn rule(&self) -> String {
        let mut words = self.key.clone();
        words.extend(self.auth.iter().cloned());
        words.join("\t")
    }

    pub fn describe(&self) -> String {
        if self.present {
            format!("pg_hba rule `{}`", self.rule().replace('\t', " "))
        } else {
            format!("no pg_hba rule `{}`", self.key.join(" "))
        }
    }

    /// The line's `method [options]`, the words after its key.
    fn auth_of(&self, line: &str) -> Vec<String> {
        let words: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let key_words: usize = self.key.iter().map(|k| k.split(' ').count()).sum();
        words
            .iter()
            .skip(key_words)
            .map(|w| w.to_string())
            .collect()
    }

    /// The line's `type database user [address]`, if it is a rule.
    fn key_of(&self, line: &str) -> Option<Vec<String>> {
        let words: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let kind = *words.first()?;
        let n = if kind == "local" { 3 } else { 4 };
        if words.len() <= n {
            return None;
        }
        let mut key: Vec<String> = words[..n].iter().map(|w| w.to_string()).collect();
        if kind != "local" {
            // `ADDRESS MASK` form: the mask is a fifth word.
            let mask_form = self.key.get(3).is_some_and(|k| k.contains(' '));
            if mask_form && words.len() > 5 {
                key[3] = format!("{} {}", words[3], words[4]);
            } else {
                key[3] = normalize_source(words[3]);
            }
        }
        Some(key)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        if super::missing(probe) {
            // No file to edit yet: a run without PostgreSQL fails here.
            let decision = super::without_postgresql(
                self.present,
                &format!("add `{}`", self.rule().replace('\t', " ")),
                Command::script("echo 'PostgreSQL is not installed on this host' >&2; exit 1"),
            );
            return (decision, fields);
        }
        let file = probe
            .lines()
            .find_map(|l| l.strip_prefix("file="))
            .unwrap_or_default()
            .to_string();
        fields.insert("dest".into(), json!(file));
        let lines: Vec<&str> = probe
            .lines()
            .filter_map(|l| l.strip_prefix("line="))
            .collect();
        fields.insert("pg_hba".into(), rules(&lines));
        fields.insert("msgs".into(), json!([]));
        let rule = self.rule();
        let matching: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| self.key_of(l).as_ref() == Some(&self.key))
            .map(|(i, _)| i)
            .collect();
        let wanted_auth: Vec<String> = self
            .auth
            .iter()
            .flat_map(|a| a.split_whitespace().map(str::to_string))
            .collect();
        let same = |i: &usize| self.auth_of(lines[*i]) == wanted_auth;
        let mut out: Vec<String> = Vec::new();
        let what = if self.present {
            if matching.len() == 1 && matching.iter().all(same) {
                return (
                    Decision::Ok(format!("`{file}` has `{}`", rule.replace('\t', " "))),
                    fields,
                );
            }
            // The rule where the first match was (order matters: the first
            // rule that matches a connection decides), else at the end.
            let at = matching.first().copied();
            for (i, line) in lines.iter().enumerate() {
                if Some(i) == at {
                    out.push(rule.clone());
                } else if !matching.contains(&i) {
                    out.push(line.to_string());
                }
            }
            if at.is_none() {
                out.push(rule.clone());
                format!("add `{}` to `{file}`", rule.replace('\t', " "))
            } else {
                format!("set `{}` in `{file}`", rule.replace('\t', " "))
            }
        } else {
            if matching.is_empty() {
                return (
                    Decision::Ok(format!("`{file}` has no rule for `{}`", self.key.join(" "))),
                    fields,
                );
            }
            out.extend(
                lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !matching.contains(i))
                    .map(|(_, l)| l.to_string()),
            );
            format!("remove the rule for `{}` from `{file}`", self.key.join(" "))
        };
        let mut content = out.join("\n");
        content.push('\n');
        fields.insert("pg_hba".into(), rules(&out));
        fields.insert("msgs".into(), json!([what]));
        let before = (!lines.is_empty()).then(|| format!("{}\n", lines.join("\n")));
        fields.insert(
            "diff".into(),
            json!({ "path": file, "before": before, "after": content }),
        );
        // The file keeps its owner and mode: written over, not replaced.
        let run = Command::script(format!(
            "# postgresql_pg_hba: {what}\nset -e\nf={}\n[ -f \"$f\" ] || {{ echo \"$f does not exist\" >&2; exit 1; }}\nprintf '%s' {} >\"$f\"",
            quote(&file),
            quote(&content)
        ));
        (Decision::Change { what, run }, fields)
    }
}

/// Ansible's `pg_hba` result: the file's rules as `{type, db, usr, src,
/// mask, method, options}` (comments and blank lines left out).
fn rules<S: AsRef<str>>(lines: &[S]) -> Value {
    let rules: Vec<Value> = lines
        .iter()
        .filter_map(|line| {
            let rule = line.as_ref().split('#').next().unwrap_or_default();
            let words: Vec<&str> = rule.split_whitespace().collect();
            let (kind, rest) = words.split_first()?;
            let mut fields = Map::new();
            fields.insert("type".into(), json!(kind));
            fields.insert("db".into(), json!(rest.first()?));
            fields.insert("usr".into(), json!(rest.get(1)?));
            let mut at = 2;
            if *kind != "local" {
                let src = rest.get(at)?;
                fields.insert("src".into(), json!(src));
                at += 1;
                // An address without a prefix length is followed by a netmask.
                let bare = src.parse::<std::net::IpAddr>().is_ok();
                if let Some(mask) = rest
                    .get(at)
                    .filter(|m| bare && m.parse::<std::net::IpAddr>().is_ok())
                {
                    fields.insert("mask".into(), json!(mask));
                    at += 1;
                }
            }
            fields.insert("method".into(), json!(rest.get(at)?));
            if rest.len() > at + 1 {
                fields.insert("options".into(), json!(rest[at + 1..].join(" ")));
            }
            Some(Value::Object(fields))
        })
        .collect();
    json!(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_addresses_are_the_same_source_as_their_host_range() {
        assert_eq!(normalize_source("127.8.0.1"), "127.8.0.1/32");
        assert_eq!(normalize_source("::1"), "::1/128");
        assert_eq!(normalize_source("203.0.113.0/24"), "203.0.113.0/24");
        assert_eq!(normalize_source("samenet"), "samenet");
    }
}

#[cfg(test)]
mod rule_tests {
    use super::*;

    fn hba(method: &str, present: bool) -> PgHba {
        PgHba {
            dest: None,
            key: ["host", "shop", "shop", "203.0.113.7/32"]
                .map(String::from)
                .to_vec(),
            auth: vec![method.into()],
            present,
            login: Login {
                user: "postgres".into(),
                db: "postgres".into(),
                port: None,
                socket: None,
            },
        }
    }

    const FILE: &str = "file=/etc/pg_hba.conf\nline=# comment\nline=local all postgres peer\nline=host shop shop 203.0.113.7 md5\nline=host all all 0.0.0.0/0 reject\n";

    #[test]
    fn a_rule_is_found_by_its_source_however_written_and_changed_where_it_is() {
        let d = hba("md5", true).decide(FILE).0;
        assert!(matches!(d, Decision::Ok(_)), "{d:?}");
        let Decision::Change { what, run } = hba("scram-sha-256", true).decide(FILE).0 else {
            panic!("a change")
        };
        assert_eq!(
            what,
            "set `host shop shop 203.0.113.7/32 scram-sha-256` in `/etc/pg_hba.conf`"
        );
        // In place, before the `reject` that would otherwise win.
        let sent = run.as_sent();
        let at = sent.find("host\tshop").unwrap();
        assert!(at < sent.find("reject").unwrap(), "{sent}");
        let Decision::Change { what, .. } = hba("md5", false).decide(FILE).0 else {
            panic!("a change")
        };
        assert_eq!(
            what,
            "remove the rule for `host shop shop 203.0.113.7/32` from `/etc/pg_hba.conf`"
        );
    }

    #[test]
    fn pg_hba_lists_the_rules_as_ansible_returns_them_and_the_diff_is_the_new_file() {
        let (_, fields) = hba("md5", true).decide(FILE);
        assert_eq!(
            fields["pg_hba"],
            json!([
                { "type": "local", "db": "all", "usr": "postgres", "method": "peer" },
                { "type": "host", "db": "shop", "usr": "shop", "src": "203.0.113.7", "method": "md5" },
                { "type": "host", "db": "all", "usr": "all", "src": "0.0.0.0/0", "method": "reject" },
            ])
        );
        assert!(!fields.contains_key("diff"), "no change, no diff");
        let (_, fields) = hba("md5", false).decide(FILE);
        assert_eq!(fields["pg_hba"].as_array().unwrap().len(), 2);
        assert_eq!(
            fields["diff"]["after"],
            "# comment\nlocal all postgres peer\nhost all all 0.0.0.0/0 reject\n"
        );
        assert_eq!(fields["diff"]["path"], "/etc/pg_hba.conf");
        let masked = rules(&["host all all 192.0.2.0 255.255.255.0 md5 clientcert=verify-ca"]);
        assert_eq!(masked[0]["mask"], "255.255.255.0");
        assert_eq!(masked[0]["options"], "clientcert=verify-ca");
    }
}
