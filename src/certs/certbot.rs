//! `mode: certbot`: for hosts that keep certbot, ferry runs its renewal and
//! reads from its report whether anything renewed, so the reload handler
//! is notified only then.
//!
//! `--no-random-sleep-on-renew` matters: without a terminal certbot sleeps
//! up to eight minutes before renewing, to spread load on the CA.

use super::Outcome;
use super::arrival::{Arrival, exec, run};
use crate::executor::Status;
use crate::modules::CertsSpec;
use crate::shell::Command;

/// `certbot renew -n --no-random-sleep-on-renew [certbot_args…]`
pub fn renew(spec: &CertsSpec) -> Command {
    Command::new("certbot")
        .args(["renew", "--non-interactive", "--no-random-sleep-on-renew"])
        .args(&spec.certbot_args)
}

/// `certbot certificates`: read-only, for a dry run.
pub fn list(spec: &CertsSpec) -> Command {
    // Only the options that say where certbot keeps its files apply here.
    let mut cmd = Command::new("certbot").arg("certificates");
    let mut args = spec.certbot_args.iter();
    while let Some(arg) = args.next() {
        if ["--config-dir", "--work-dir", "--logs-dir"].contains(&arg.as_str()) {
            if let Some(value) = args.next() {
                cmd = cmd.arg(arg).arg(value);
            }
        } else if ["--config-dir=", "--work-dir=", "--logs-dir="]
            .iter()
            .any(|p| arg.starts_with(p))
        {
            cmd = cmd.arg(arg);
        }
    }
    cmd
}

/// What `certbot renew` reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Renewal {
    /// Certificates renewed (their fullchain paths).
    pub renewed: Vec<String>,
    pub failed: Vec<String>,
    /// Not due yet.
    pub skipped: Vec<String>,
}

/// Reads certbot's summary: every certificate it handled is listed on a
/// line ending in `(success)`, `(failure)` or `(skipped)`.
pub fn parse(output: &str) -> Renewal {
    let mut renewal = Renewal::default();
    for line in output.lines().map(str::trim) {
        let path = |suffix: &str| {
            line.strip_suffix(suffix).map(|rest| {
                // `…/fullchain.pem expires on 2027-01-01 (skipped)`
                rest.split(" expires on ")
                    .next()
                    .unwrap_or(rest)
                    .trim()
                    .to_string()
            })
        };
        if let Some(p) = path("(success)") {
            renewal.renewed.push(p);
        } else if let Some(p) = path("(failure)") {
            renewal.failed.push(p);
        } else if let Some(p) = path("(skipped)") {
            renewal.skipped.push(p);
        }
    }
    renewal
}

/// `certbot certificates`: each certificate's name and days left.
pub fn parse_list(output: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in output.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("Certificate Name:") {
            name = Some(n.trim().to_string());
        } else if let Some(expiry) = line.strip_prefix("Expiry Date:")
            && let Some(n) = name.take()
        {
            out.push((n, expiry.trim().to_string()));
        }
    }
    out
}

/// `mode: certbot` on one host.
pub(super) async fn renew_on(a: &Arrival, dry_run: bool) -> Outcome {
    if dry_run {
        return match run(a, &list(&a.spec), None).await {
            Ok(text) => {
                let listed: Vec<String> = parse_list(&text)
                    .into_iter()
                    .map(|(name, expiry)| format!("`{name}` expires {expiry}"))
                    .collect();
                Outcome::new(
                    Status::Ok,
                    format!(
                        "would run `certbot renew`, which renews what is due: {}",
                        if listed.is_empty() {
                            "no certificates".to_string()
                        } else {
                            listed.join("; ")
                        }
                    ),
                )
            }
            Err(err) => Outcome::new(
                Status::Failed,
                format!("`certbot certificates` failed: {err}"),
            ),
        };
    }
    let cmd = renew(&a.spec);
    let out = exec(a, &cmd, None).await;
    let (text, ok, err) = match out {
        Ok((stdout, stderr, ok)) => (format!("{stdout}\n{stderr}"), ok, stderr),
        Err(e) => return Outcome::new(Status::Failed, e),
    };
    let renewal = parse(&text);
    if !renewal.failed.is_empty() || !ok {
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Outcome::new(
            Status::Failed,
            format!(
                "certbot could not renew {}: {}",
                if renewal.failed.is_empty() {
                    "(see its output)".to_string()
                } else {
                    renewal.failed.join(", ")
                },
                tail.join(" | ")
            ),
        );
    }
    if renewal.renewed.is_empty() {
        Outcome::new(
            Status::Ok,
            format!(
                "certbot renewed nothing ({} not due yet)",
                renewal.skipped.len()
            ),
        )
    } else {
        Outcome::new(
            Status::Changed,
            format!("certbot renewed {}", renewal.renewed.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real output of certbot 2.1.0 (Debian) renewing against pebble.
    const NOT_DUE: &str = include_str!("../../tests/fixtures/certbot/renew-notdue.txt");
    const RENEWED: &str = include_str!("../../tests/fixtures/certbot/renew-renewed.txt");
    const FAILED: &str = include_str!("../../tests/fixtures/certbot/renew-failed.txt");

    #[test]
    fn nothing_due_is_nothing_renewed() {
        let r = parse(NOT_DUE);
        assert!(r.renewed.is_empty() && r.failed.is_empty());
        assert_eq!(r.skipped, ["/etc/le/live/cb.test/fullchain.pem"]);
    }

    #[test]
    fn a_renewal_is_seen() {
        let r = parse(RENEWED);
        assert_eq!(r.renewed, ["/etc/le/live/cb.test/fullchain.pem"]);
        assert!(r.failed.is_empty() && r.skipped.is_empty());
    }

    #[test]
    fn certificates_are_listed_with_their_expiry() {
        let listed = parse_list(include_str!(
            "../../tests/fixtures/certbot/certificates.txt"
        ));
        assert_eq!(
            listed,
            [(
                "cb.test".to_string(),
                "2031-11-24 14:38:03+00:00 (VALID: 1825 days)".to_string()
            )]
        );
    }

    #[test]
    fn a_failure_is_seen() {
        let r = parse(FAILED);
        assert_eq!(r.failed, ["/etc/le/live/cb.test/fullchain.pem"]);
        assert!(r.renewed.is_empty());
    }

    #[test]
    fn renew_has_no_random_sleep() {
        let spec = crate::modules::CertsSpec {
            mode: crate::modules::CertsMode::Certbot,
            certificates: Vec::new(),
            webroot: String::new(),
            dir: String::new(),
            owner: None,
            group: None,
            renew_before_days: 30,
            directory: String::new(),
            ca_bundle: None,
            email: None,
            certbot_args: vec!["--config-dir".into(), "/etc/le".into(), "--quiet".into()],
            prepare: None,
            placeholder: true,
        };
        assert_eq!(
            renew(&spec).to_string(),
            "certbot renew --non-interactive --no-random-sleep-on-renew --config-dir /etc/le --quiet"
        );
        assert_eq!(
            list(&spec).to_string(),
            "certbot certificates --config-dir /etc/le"
        );
    }
}
