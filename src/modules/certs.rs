//! `certs`: TLS certificates for the hosts that serve them.
//!
//! The arguments compile to a [`CertsSpec`] for each host: which
//! certificates it serves, where they live, and how they are obtained —
//! from an ACME server by ferry itself (`mode: acme`, the default), or by
//! certbot on the host (`mode: certbot`). The work happens at run time, in
//! `crate::certs`: an ACME order is shared by every host that serves its
//! names, so it cannot be one host's command.

use serde::Serialize;
use serde_json::Value;

use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &[
    "certificates",
    "mode",
    "webroot",
    "dir",
    "owner",
    "group",
    "renew_before",
    "directory",
    "ca_bundle",
    "email",
    "certbot_args",
    "prepare",
    "placeholder",
];

/// Let's Encrypt's production directory: the default ACME server.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// One host's certificates and how to get them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertsSpec {
    pub mode: CertsMode,
    pub certificates: Vec<Certificate>,
    /// The directory the web server serves `/.well-known/acme-challenge/` from.
    pub webroot: String,
    /// Certificates go to `{dir}/{name}/fullchain.pem` and `privkey.pem`.
    pub dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Renew when a certificate expires within this many days.
    pub renew_before_days: u64,
    /// The ACME directory URL.
    pub directory: String,
    /// A PEM file on the controller with CAs to trust for the ACME server's
    /// HTTPS, besides the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Extra arguments for `certbot renew` (certbot mode).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certbot_args: Vec<String>,
    /// Run on each host of a certificate before its challenges are
    /// published (only when one is about to be issued), so the web server
    /// serves what this run wrote — a new site with its challenge location —
    /// before the ACME server comes to look.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepare: Option<String>,
    /// Before the first order for a host that lacks the certificate,
    /// install a self-signed placeholder so a site naming its files loads
    /// (`crate::certs` placeholder).
    pub placeholder: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertsMode {
    Acme,
    Certbot,
}

/// One certificate: its file name and the DNS names it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub name: String,
    pub names: Vec<String>,
}

impl CertsSpec {
    /// `{dir}/{name}`: where a certificate's files live.
    pub fn cert_dir(&self, cert: &Certificate) -> String {
        format!("{}/{}", self.dir.trim_end_matches('/'), cert.name)
    }
}

pub fn certs(args: &Args) -> Result<Action, Diagnostic> {
    let mode = match args.string("mode")?.as_deref() {
        None | Some("acme") => CertsMode::Acme,
        Some("certbot") => CertsMode::Certbot,
        Some(other) => {
            return Err(args.error_at(
                "mode",
                format!("`mode` is `acme` or `certbot`, not `{other}`"),
            ));
        }
    };
    let certificates = match args.get("certificates") {
        None if mode == CertsMode::Certbot => Vec::new(),
        None => return Err(args.error("module `certs` needs `certificates`")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| certificate(args, item))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(args.error_at(
                "certificates",
                "`certificates` must be a list (of names, lists of names, or `{names: [...]}`)",
            ));
        }
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = certificates.iter().find(|c| !seen.insert(&c.name)) {
        return Err(args.error_at(
            "certificates",
            format!("two certificates are named `{}`", dup.name),
        ));
    }
    let renew_before_days = match args.get("renew_before") {
        None => 30,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(30),
        Some(Value::String(s)) if s.trim_end_matches('d').parse::<u64>().is_ok() => {
            s.trim_end_matches('d').parse().unwrap_or(30)
        }
        Some(other) => {
            return Err(args.error_at(
                "renew_before",
                format!("`renew_before` is a number of days, not {other}"),
            ));
        }
    };
    let certbot_args = match args.get("certbot_args") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Some(Value::String(s)) => shlex::split(s)
            .ok_or_else(|| args.error_at("certbot_args", "unbalanced quotes in `certbot_args`"))?,
        Some(_) => return Err(args.error_at("certbot_args", "`certbot_args` must be a list")),
    };
    let placeholder = match args.get("placeholder") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if ["true", "yes", "on"].contains(&s.trim()) => true,
        Some(Value::String(s)) if ["false", "no", "off", ""].contains(&s.trim()) => false,
        Some(other) => {
            return Err(args.error_at(
                "placeholder",
                format!("`placeholder` is true or false, not {other}"),
            ));
        }
    };
    let nonempty = |key: &str| -> Result<Option<String>, Diagnostic> {
        Ok(args.string(key)?.filter(|s| !s.trim().is_empty()))
    };
    Ok(Action::Certs {
        spec: CertsSpec {
            mode,
            certificates,
            webroot: nonempty("webroot")?.unwrap_or_else(|| "/var/www/acme".into()),
            dir: nonempty("dir")?.unwrap_or_else(|| "/etc/ssl/ferry".into()),
            owner: nonempty("owner")?,
            group: nonempty("group")?,
            renew_before_days,
            directory: nonempty("directory")?.unwrap_or_else(|| LETS_ENCRYPT.into()),
            ca_bundle: nonempty("ca_bundle")?,
            email: nonempty("email")?,
            certbot_args,
            prepare: nonempty("prepare")?,
            placeholder,
        },
    })
}

/// `example.org`, `[example.org, www.example.org]` or
/// `{names: [...], name: file-name}`.
fn certificate(args: &Args, item: &Value) -> Result<Certificate, Diagnostic> {
    let (names, name) = match item {
        Value::String(s) => (vec![s.clone()], None),
        Value::Array(list) => (strings(args, list)?, None),
        Value::Object(map) => {
            if let Some(key) = map
                .keys()
                .find(|k| !["names", "name"].contains(&k.as_str()))
            {
                return Err(args.error_at(
                    "certificates",
                    format!("unknown key `{key}` in a certificate (it takes `names` and `name`)"),
                ));
            }
            let names = match map.get("names") {
                Some(Value::Array(list)) => strings(args, list)?,
                Some(Value::String(s)) => vec![s.clone()],
                _ => {
                    return Err(args.error_at(
                        "certificates",
                        "a certificate needs `names`: a list of DNS names",
                    ));
                }
            };
            (
                names,
                map.get("name").and_then(Value::as_str).map(str::to_string),
            )
        }
        other => {
            return Err(args.error_at(
                "certificates",
                format!("a certificate is a name, a list of names or a mapping, not {other}"),
            ));
        }
    };
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    if names.is_empty() {
        return Err(args.error_at("certificates", "a certificate needs at least one name"));
    }
    for n in &names {
        if n.starts_with("*.") {
            return Err(args.error_at(
                "certificates",
                format!("`{n}`: wildcard names need the dns-01 challenge; ferry uses http-01"),
            ));
        }
        if !is_dns_name(n) {
            return Err(args.error_at("certificates", format!("`{n}` is not a DNS name")));
        }
    }
    let name = name.unwrap_or_else(|| names[0].clone());
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(args.error_at(
            "certificates",
            format!("`{name}` cannot name a certificate's directory"),
        ));
    }
    Ok(Certificate { name, names })
}

fn strings(args: &Args, list: &[Value]) -> Result<Vec<String>, Diagnostic> {
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| args.error_at("certificates", format!("`{v}` is not a DNS name")))
        })
        .collect()
}

/// Letters, digits, hyphens and dots, labels of 1–63 characters.
fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::is_dns_name;

    #[test]
    fn dns_names() {
        for ok in ["example.org", "www.example.org", "a-b.c", "localhost"] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in ["", "a..b", "-a.b", "a b", "a/b", "ex_ample.org"] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
