//! The two-phase install of a new chain and key on every host of a
//! certificate, and the commands it runs.
//!
//! Install is two-phase across hosts: every host first gets the new files
//! beside the old ones (`*.ferry-new`, the key written with umask 077 and
//! mode 0600); only when every host has both are they renamed into place,
//! key and chain in one command. A failure while staging removes the staged
//! files everywhere: each host keeps the certificate it had.

use std::sync::Arc;

use futures::future::join_all;

use super::acme::Issued;
use super::arrival::{Arrival, run};
use crate::modules::{Certificate, CertsSpec};
use crate::shell::Command;

const STAGED: &str = ".ferry-new";

fn paths(spec: &CertsSpec, cert: &Certificate) -> (String, String, String) {
    let dir = spec.cert_dir(cert);
    (
        format!("{dir}/fullchain.pem"),
        format!("{dir}/privkey.pem"),
        dir,
    )
}

/// Owner and group, for `chown`, if configured.
fn chown(spec: &CertsSpec, path: &str) -> Option<Command> {
    let who = match (&spec.owner, &spec.group) {
        (Some(o), Some(g)) => format!("{o}:{g}"),
        (Some(o), None) => o.clone(),
        (None, Some(g)) => format!(":{g}"),
        (None, None) => return None,
    };
    Some(Command::new("chown").arg(who).arg(path))
}

/// Writes the new key, from stdin, beside the old one: mode 0600 from the
/// first byte (umask 077), then owned as configured.
pub fn stage_key(spec: &CertsSpec, cert: &Certificate) -> Command {
    let (_, key, dir) = paths(spec, cert);
    let staged = format!("{key}{STAGED}");
    let mut cmd = Command::new("mkdir")
        .args(["-p", &dir])
        .and(Command::script("umask 077 && cat >").arg(&staged))
        .and(Command::new("chmod").args(["600", &staged]));
    if let Some(chown) = chown(spec, &staged) {
        cmd = cmd.and(chown);
    }
    cmd
}

/// Writes the new chain, from stdin, beside the old one.
pub fn stage_chain(spec: &CertsSpec, cert: &Certificate) -> Command {
    let (chain, _, _) = paths(spec, cert);
    let staged = format!("{chain}{STAGED}");
    let mut cmd = Command::script("cat >")
        .arg(&staged)
        .and(Command::new("chmod").args(["644", &staged]));
    if let Some(chown) = chown(spec, &staged) {
        cmd = cmd.and(chown);
    }
    cmd
}

/// Renames the staged key and chain over the old ones.
pub fn commit(spec: &CertsSpec, cert: &Certificate) -> Command {
    let (chain, key, _) = paths(spec, cert);
    Command::new("mv")
        .args(["-f", &format!("{key}{STAGED}"), &key])
        .and(Command::new("mv").args(["-f", &format!("{chain}{STAGED}"), &chain]))
}

/// Removes staged files: the old certificate stays as it was.
pub fn discard(spec: &CertsSpec, cert: &Certificate) -> Command {
    let (chain, key, _) = paths(spec, cert);
    Command::new("rm").args(["-f", &format!("{key}{STAGED}"), &format!("{chain}{STAGED}")])
}

/// Stages the new key and chain on every host, then renames them into
/// place everywhere; if any host cannot take them, none does.
pub(super) async fn everywhere(
    hosts: &[&Arc<Arrival>],
    cert: &Certificate,
    issued: &Issued,
) -> Result<(), String> {
    let staged = join_all(hosts.iter().map(|h| async move {
        run(
            h,
            &stage_key(&h.spec, cert),
            Some(issued.key_pem.clone().into_bytes()),
        )
        .await?;
        run(
            h,
            &stage_chain(&h.spec, cert),
            Some(issued.chain_pem.clone().into_bytes()),
        )
        .await
    }))
    .await;
    let failed: Vec<String> = hosts
        .iter()
        .zip(staged)
        .filter_map(|(h, r)| {
            r.err()
                .map(|e| format!("cannot write it on `{}`: {e}", h.host))
        })
        .collect();
    if !failed.is_empty() {
        join_all(
            hosts
                .iter()
                .map(|h| async move { run(h, &discard(&h.spec, cert), None).await }),
        )
        .await;
        return Err(failed.join("; "));
    }
    let committed = join_all(
        hosts
            .iter()
            .map(|h| async move { run(h, &commit(&h.spec, cert), None).await }),
    )
    .await;
    let failed: Vec<String> = hosts
        .iter()
        .zip(committed)
        .filter_map(|(h, r)| {
            r.err()
                .map(|e| format!("cannot put it in place on `{}`: {e}", h.host))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::CertsMode;

    fn spec() -> CertsSpec {
        CertsSpec {
            mode: CertsMode::Acme,
            certificates: Vec::new(),
            webroot: "/var/www/acme/".into(),
            dir: "/etc/ssl/ferry".into(),
            owner: Some("root".into()),
            group: Some("ssl-cert".into()),
            renew_before_days: 30,
            directory: String::new(),
            ca_bundle: None,
            email: None,
            certbot_args: Vec::new(),
            prepare: None,
            placeholder: true,
        }
    }

    #[test]
    fn key_is_private_from_the_first_byte() {
        let cert = Certificate {
            name: "a.test".into(),
            names: vec!["a.test".into()],
        };
        assert_eq!(
            stage_key(&spec(), &cert).to_string(),
            "mkdir -p /etc/ssl/ferry/a.test && umask 077 && cat > /etc/ssl/ferry/a.test/privkey.pem.ferry-new \
             && chmod 600 /etc/ssl/ferry/a.test/privkey.pem.ferry-new \
             && chown root:ssl-cert /etc/ssl/ferry/a.test/privkey.pem.ferry-new"
        );
        assert_eq!(
            commit(&spec(), &cert).to_string(),
            "mv -f /etc/ssl/ferry/a.test/privkey.pem.ferry-new /etc/ssl/ferry/a.test/privkey.pem \
             && mv -f /etc/ssl/ferry/a.test/fullchain.pem.ferry-new /etc/ssl/ferry/a.test/fullchain.pem"
        );
    }
}
