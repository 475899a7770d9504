//! What a host has installed, and whether a certificate needs issuing.
//!
//! One read-only command per host prints each certificate's chain file
//! (and whether its key is there); the controller parses the leaf with
//! `x509-parser`, so hosts need no openssl. [`decide`] is pure: the renewal
//! decision for one certificate across every host that serves it.

use std::collections::BTreeSet;

use crate::modules::{Certificate, CertsSpec};
use crate::shell::{Command, quote};

const SECTION: &str = "==ferry-cert ";
const MISSING: &str = "==ferry-missing";
const NO_KEY: &str = "==ferry-nokey";

/// A certificate as found on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    Missing,
    /// The chain is there but its key is not.
    NoKey,
    /// The chain file could not be parsed.
    Unreadable(String),
    Present(Leaf),
}

/// What matters of an installed leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Seconds since the epoch.
    pub not_after: i64,
    /// Its DNS names (subject alternative names), sorted.
    pub names: BTreeSet<String>,
    /// ferry's self-signed stand-in ([`super::placeholder`]): always reissued.
    pub placeholder: bool,
}

/// The command that prints every certificate of `spec` on a host.
pub fn command(spec: &CertsSpec) -> Command {
    let mut script = String::new();
    for cert in &spec.certificates {
        let dir = spec.cert_dir(cert);
        let chain = quote(&format!("{dir}/fullchain.pem"));
        let key = quote(&format!("{dir}/privkey.pem"));
        script.push_str(&format!(
            "printf '%s\\n' {}; if [ -r {chain} ]; then cat {chain}; echo; [ -s {key} ] || echo {NO_KEY}; else echo {MISSING}; fi; ",
            quote(&format!("{SECTION}{}", cert.name)),
        ));
    }
    script.push_str("true");
    Command::script(script)
}

/// Parses the probe's output: each certificate by name.
pub fn parse(output: &str, spec: &CertsSpec) -> Vec<(String, Installed)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        if let Some(name) = line.strip_prefix(SECTION) {
            sections.push((name.to_string(), String::new()));
        } else if let Some((_, text)) = sections.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    spec.certificates
        .iter()
        .map(|cert| {
            let text = sections
                .iter()
                .find(|(n, _)| *n == cert.name)
                .map(|(_, t)| t.as_str())
                .unwrap_or(MISSING);
            (cert.name.clone(), installed(text))
        })
        .collect()
}

fn installed(text: &str) -> Installed {
    if text.lines().any(|l| l == MISSING) {
        return Installed::Missing;
    }
    let leaf = match leaf(text) {
        Ok(leaf) => leaf,
        Err(err) => return Installed::Unreadable(err),
    };
    if text.lines().any(|l| l == NO_KEY) {
        return Installed::NoKey;
    }
    Installed::Present(leaf)
}

/// The first certificate of a PEM chain: its expiry and names.
pub fn leaf(pem: &str) -> Result<Leaf, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut names = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.insert(dns.to_ascii_lowercase());
            }
        }
    }
    let placeholder = cert
        .issuer()
        .iter_common_name()
        .any(|cn| cn.as_str() == Ok(super::placeholder::ISSUER));
    Ok(Leaf {
        not_after: cert.validity().not_after.timestamp(),
        names,
        placeholder,
    })
}

/// Whether a certificate must be (re)issued, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every host has it, with these names, valid beyond the renewal window.
    Keep {
        not_after: i64,
    },
    Issue {
        reason: String,
    },
}

/// Decides for one certificate from what each host serving it has.
/// `now` is seconds since the epoch.
pub fn decide(
    cert: &Certificate,
    renew_before_days: u64,
    found: &[(String, Installed)],
    now: i64,
) -> Decision {
    let wanted: BTreeSet<String> = cert.names.iter().cloned().collect();
    let window = renew_before_days as i64 * 86_400;
    // Why, as (what with `{}` for the hosts, host): hosts that share a
    // reason are named together.
    let mut why: Vec<(String, &str)> = Vec::new();
    let mut earliest = i64::MAX;
    for (host, installed) in found {
        let host = host.as_str();
        match installed {
            Installed::Missing => why.push(("not on {}".into(), host)),
            Installed::NoKey => why.push(("its key is missing on {}".into(), host)),
            Installed::Unreadable(err) => why.push((format!("unreadable on {{}}: {err}"), host)),
            Installed::Present(leaf) if leaf.placeholder => {
                why.push(("only a placeholder on {}".into(), host));
            }
            Installed::Present(leaf) => {
                earliest = earliest.min(leaf.not_after);
                if leaf.names != wanted {
                    why.push((
                        format!(
                            "names changed on {{}}: it has {}, wanted {}",
                            list(&leaf.names),
                            list(&wanted)
                        ),
                        host,
                    ));
                } else if leaf.not_after - now <= window {
                    why.push((
                        format!(
                            "expires {} on {{}} ({}; renew_before is {renew_before_days} days)",
                            date(leaf.not_after),
                            days_left(leaf.not_after - now)
                        ),
                        host,
                    ));
                }
            }
        }
    }
    let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
    for (text, host) in why {
        match grouped.iter_mut().find(|(t, _)| *t == text) {
            Some((_, hosts)) => hosts.push(host),
            None => grouped.push((text, vec![host])),
        }
    }
    let mut reasons: Vec<String> = grouped
        .into_iter()
        .map(|(text, hosts)| {
            let named: Vec<String> = hosts.iter().take(5).map(|h| format!("`{h}`")).collect();
            let mut hosts_text = named.join(", ");
            if hosts.len() > 5 {
                hosts_text.push_str(&format!(" and {} more", hosts.len() - 5));
            }
            text.replacen("{}", &hosts_text, 1)
        })
        .collect();
    if reasons.is_empty() {
        return Decision::Keep {
            not_after: earliest,
        };
    }
    // Many hosts usually say the same thing: the first few are enough.
    let more = reasons.len().saturating_sub(3);
    reasons.truncate(3);
    if more > 0 {
        reasons.push(format!("and {more} more"));
    }
    Decision::Issue {
        reason: reasons.join("; "),
    }
}

fn list(names: &BTreeSet<String>) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `2026-12-01`
pub fn date(epoch: i64) -> String {
    jiff::Timestamp::from_second(epoch)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| epoch.to_string())
}

/// `in 12 days`, `in 5 hours`, `expired 3 days ago`
pub fn days_left(seconds: i64) -> String {
    match seconds {
        s if s < 0 => format!("expired {} days ago", -s / 86_400),
        s if s < 86_400 => format!("in {} hours", s / 3600),
        s => format!("in {} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str]) -> Certificate {
        Certificate {
            name: names[0].to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    fn present(not_after: i64, names: &[&str]) -> Installed {
        Installed::Present(Leaf {
            not_after,
            names: names.iter().map(|n| n.to_string()).collect(),
            placeholder: false,
        })
    }

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_valid_certificate_on_every_host_is_kept() {
        let c = cert(&["a.test", "www.a.test"]);
        let found = vec![
            (
                "h1".into(),
                present(NOW + 60 * DAY, &["www.a.test", "a.test"]),
            ),
            (
                "h2".into(),
                present(NOW + 50 * DAY, &["a.test", "www.a.test"]),
            ),
        ];
        assert_eq!(
            decide(&c, 30, &found, NOW),
            Decision::Keep {
                not_after: NOW + 50 * DAY
            }
        );
    }

    #[test]
    fn expiry_within_the_window_renews() {
        let c = cert(&["a.test"]);
        let found = vec![("h1".into(), present(NOW + 10 * DAY, &["a.test"]))];
        let Decision::Issue { reason } = decide(&c, 30, &found, NOW) else {
            panic!("should renew")
        };
        assert!(
            reason.contains("on `h1` (in 10 days; renew_before is 30 days)"),
            "{reason}"
        );
        assert!(matches!(decide(&c, 5, &found, NOW), Decision::Keep { .. }));
    }

    #[test]
    fn missing_on_one_host_or_changed_names_issue() {
        let c = cert(&["a.test", "b.test"]);
        let found = vec![
            ("h1".into(), present(NOW + 60 * DAY, &["a.test"])),
            ("h2".into(), Installed::Missing),
            ("h3".into(), Installed::NoKey),
        ];
        let Decision::Issue { reason } = decide(&c, 30, &found, NOW) else {
            panic!("should issue")
        };
        assert_eq!(
            reason,
            "names changed on `h1`: it has [`a.test`], wanted [`a.test`, `b.test`]; \
             not on `h2`; its key is missing on `h3`"
        );
    }

    #[test]
    fn a_placeholder_is_always_reissued() {
        let c = cert(&["a.test"]);
        let found = vec![(
            "h1".into(),
            Installed::Present(Leaf {
                not_after: NOW + 60 * DAY,
                names: ["a.test".to_string()].into(),
                placeholder: true,
            }),
        )];
        assert_eq!(
            decide(&c, 30, &found, NOW),
            Decision::Issue {
                reason: "only a placeholder on `h1`".into()
            }
        );
    }

    #[test]
    fn probe_output_is_split_by_certificate() {
        let spec = CertsSpec {
            mode: crate::modules::CertsMode::Acme,
            certificates: vec![cert(&["a.test"]), cert(&["b.test"])],
            webroot: "/w".into(),
            dir: "/etc/ssl/ferry".into(),
            owner: None,
            group: None,
            renew_before_days: 30,
            directory: "https://acme.test/dir".into(),
            ca_bundle: None,
            email: None,
            certbot_args: Vec::new(),
            prepare: None,
            placeholder: true,
        };
        let out = "==ferry-cert a.test\n==ferry-missing\n==ferry-cert b.test\nnot pem\n";
        let parsed = parse(out, &spec);
        assert_eq!(parsed[0], ("a.test".into(), Installed::Missing));
        assert!(matches!(parsed[1].1, Installed::Unreadable(_)));
        let shown = command(&spec).to_string();
        assert!(
            shown.contains("/etc/ssl/ferry/a.test/fullchain.pem"),
            "{shown}"
        );
    }

    #[test]
    fn days_are_said_in_words() {
        assert_eq!(days_left(3 * DAY + 5), "in 3 days");
        assert_eq!(days_left(7200), "in 2 hours");
        assert_eq!(days_left(-2 * DAY), "expired 2 days ago");
        assert_eq!(date(0), "1970-01-01");
    }
}
