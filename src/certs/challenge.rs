//! http-01 challenge responses: written to the webroot of **every** host
//! that serves a name, over their SSH sessions, and removed again — so it
//! does not matter which of them the ACME server's request reaches.

use std::sync::Arc;

use futures::future::join_all;

use super::acme;
use super::arrival::{Arrival, run};
use crate::shell::Command;

/// `{webroot}/.well-known/acme-challenge/{token}`
pub fn challenge_path(webroot: &str, token: &str) -> String {
    format!(
        "{}/.well-known/acme-challenge/{token}",
        webroot.trim_end_matches('/')
    )
}

/// Writes a challenge response (public by design: it is served over HTTP)
/// readable by the web server. The content arrives on stdin.
pub fn write_challenge(webroot: &str, token: &str) -> Command {
    let path = challenge_path(webroot, token);
    let dir = format!(
        "{}/.well-known/acme-challenge",
        webroot.trim_end_matches('/')
    );
    Command::new("mkdir")
        .args(["-p", &dir])
        .and(Command::script("cat >").arg(&path))
        .and(Command::new("chmod").args(["644", &path]))
}

pub fn remove_challenge(webroot: &str, token: &str) -> Command {
    Command::new("rm").args(["-f", &challenge_path(webroot, token)])
}

/// The hosts' webroot, for an error message: the directory when they all
/// use one, else the variable that sets it.
pub(super) fn webroots(hosts: &[&Arc<Arrival>]) -> String {
    let first = hosts.first().map(|h| h.spec.webroot.as_str()).unwrap_or("");
    if hosts.iter().all(|h| h.spec.webroot == first) {
        format!("`{first}`")
    } else {
        "their `certs_webroot`".to_string()
    }
}

/// Challenge responses on the webroot of every host of a name.
pub(super) struct Webroots<'a> {
    pub hosts: &'a [&'a Arc<Arrival>],
}

impl acme::Responder for Webroots<'_> {
    async fn publish(&self, token: &str, content: &str) -> Result<(), String> {
        let writes = self.hosts.iter().map(|h| async move {
            let cmd = write_challenge(&h.spec.webroot, token);
            run(h, &cmd, Some(content.as_bytes().to_vec()))
                .await
                .map_err(|e| format!("`{}`: {e}", h.host))
        });
        let failed: Vec<String> = join_all(writes)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            self.withdraw(token).await;
            Err(failed.join("; "))
        }
    }

    async fn withdraw(&self, token: &str) {
        join_all(self.hosts.iter().map(|h| async move {
            let _ = run(h, &remove_challenge(&h.spec.webroot, token), None).await;
        }))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_live_under_the_webroot() {
        assert_eq!(
            challenge_path("/var/www/acme/", "tok"),
            "/var/www/acme/.well-known/acme-challenge/tok"
        );
    }
}
