//! ferry as an ACME client (RFC 8555, through `instant-acme`): the account
//! kept per stage, and one order from new to certificate.
//!
//! The order does not know about hosts: it hands each http-01 challenge to
//! a [`Responder`], which puts the response on every host serving the name
//! (and takes it away again), so this file is only the protocol and the
//! errors a user can act on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, ChallengeType, Identifier,
    NewAccount, NewOrder, OrderStatus, Problem, RetryPolicy,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};

/// Why a certificate could not be obtained, in terms a user can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AcmeError {
    #[error("cannot reach the ACME server at `{url}`: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the ACME server's rate limit refuses `{names}`: {detail}")]
    RateLimited { names: String, detail: String },
    #[error(
        "the ACME server could not validate `{name}`: {detail} \
         (does `{name}` point at these hosts, and do they serve {webroot} at /.well-known/acme-challenge/?)"
    )]
    Validation {
        name: String,
        detail: String,
        webroot: String,
    },
    #[error("the ACME server refused: {0}")]
    Refused(String),
    #[error("cannot read the ACME CA bundle `{path}`: {reason}")]
    CaBundle { path: String, reason: String },
    #[error("cannot keep the ACME account in `{path}`: {reason}")]
    AccountFile { path: String, reason: String },
    #[error("ACME: {0}")]
    Other(String),
}

/// Puts an http-01 challenge response where the ACME server will fetch it.
pub trait Responder {
    /// Serves `content` at `/.well-known/acme-challenge/{token}` on every
    /// host of the name.
    fn publish(
        &self,
        token: &str,
        content: &str,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
    /// Removes it again (best effort).
    fn withdraw(&self, token: &str) -> impl std::future::Future<Output = ()> + Send;
}

/// What an issued certificate consists of.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The account file: the directory it belongs to and its credentials.
#[derive(Serialize, Deserialize)]
struct Stored {
    directory: String,
    credentials: AccountCredentials,
}

/// An account on one ACME server, restored from (or saved to) its file.
pub struct AcmeAccount {
    pub account: Account,
    directory: String,
    ca_bundle: Option<PathBuf>,
    file: PathBuf,
}

/// The account file of a stage: `.ferry/acme/<stage>/account.json`.
pub fn account_file(project_dir: &Path, stage: &str) -> PathBuf {
    let stage = if stage.is_empty() { "default" } else { stage };
    project_dir
        .join(".ferry")
        .join("acme")
        .join(stage)
        .join("account.json")
}

impl AcmeAccount {
    /// The stage's account for `directory`: restored from its file, or
    /// created (and saved with mode 0600) when there is none or it belongs
    /// to another server.
    pub async fn open(
        directory: &str,
        ca_bundle: Option<&Path>,
        email: Option<&str>,
        file: &Path,
    ) -> Result<AcmeAccount, AcmeError> {
        let stored = std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok())
            .filter(|s| s.directory == directory);
        let mut client = AcmeAccount {
            account: match stored {
                Some(stored) => Account::builder_with_http(http(ca_bundle)?)
                    .from_credentials(stored.credentials)
                    .await
                    .map_err(|e| classify(e, directory, ""))?,
                None => create(directory, ca_bundle, email, file).await?,
            },
            directory: directory.to_string(),
            ca_bundle: ca_bundle.map(Path::to_path_buf),
            file: file.to_path_buf(),
        };
        client.directory = directory.to_string();
        Ok(client)
    }

    /// Orders a certificate for `names` and sees it through: challenges
    /// published through `responder` (and withdrawn whatever happens),
    /// validation, finalization with a fresh key, the chain.
    pub async fn issue(
        &mut self,
        names: &[String],
        webroot: &str,
        email: Option<&str>,
        responder: &impl Responder,
    ) -> Result<Issued, AcmeError> {
        let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
        let joined = names.join(", ");
        let mut order = match self.account.new_order(&NewOrder::new(&ids)).await {
            Err(instant_acme::Error::Api(p)) if is(&p, "accountDoesNotExist") => {
                // The server forgot the account (a test server restarted, an
                // account deactivated): make a new one and try once more.
                self.account = create(
                    &self.directory,
                    self.ca_bundle.as_deref(),
                    email,
                    &self.file,
                )
                .await?;
                self.account.new_order(&NewOrder::new(&ids)).await
            }
            other => other,
        }
        .map_err(|e| classify(e, &self.directory, &joined))?;

        let mut tokens = Vec::new();
        let result = async {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.map_err(|e| classify(e, &self.directory, &joined))?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => {
                        return Err(AcmeError::Refused(format!(
                            "the authorization for `{}` is {other:?}",
                            authz.identifier()
                        )));
                    }
                }
                let name = authz.identifier().to_string();
                let mut challenge = authz.challenge(ChallengeType::Http01).ok_or_else(|| {
                    AcmeError::Refused(format!("no http-01 challenge offered for `{name}`"))
                })?;
                let token = challenge.token.clone();
                let content = challenge.key_authorization().as_str().to_string();
                tokens.push(token.clone());
                responder.publish(&token, &content).await.map_err(|e| {
                    AcmeError::Other(format!(
                        "cannot put the challenge for `{name}` on the hosts: {e}"
                    ))
                })?;
                challenge
                    .set_ready()
                    .await
                    .map_err(|e| validation(e, &name, webroot, &self.directory, &joined))?;
            }
            // When the order fails, its authorizations say which name failed
            // and why; the order's own error only lists them all.
            match order.poll_ready(&policy()).await {
                Ok(OrderStatus::Ready) => Ok(()),
                Ok(_) => Err(
                    validation_error(&mut order, webroot, &self.directory, &joined)
                        .await
                        .unwrap_or_else(|| {
                            AcmeError::Refused(format!("the order for `{joined}` became invalid"))
                        }),
                ),
                Err(e) => {
                    let fallback = validation(e, &joined, webroot, &self.directory, &joined);
                    Err(
                        validation_error(&mut order, webroot, &self.directory, &joined)
                            .await
                            .unwrap_or(fallback),
                    )
                }
            }
        }
        .await;
        for token in &tokens {
            responder.withdraw(token).await;
        }
        result?;
        let key_pem = order
            .finalize()
            .await
            .map_err(|e| classify(e, &self.directory, &joined))?;
        let chain_pem = order
            .poll_certificate(&policy())
            .await
            .map_err(|e| classify(e, &self.directory, &joined))?;
        Ok(Issued { chain_pem, key_pem })
    }
}

/// Polls quickly at first (a test server answers at once), for up to 90 s.
fn policy() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .backoff(1.5)
        .timeout(Duration::from_secs(90))
}

/// The challenge error of an invalid order, from its authorizations: the
/// name that failed and the ACME server's own words, which name the URL it
/// fetched. `None` when no challenge says what went wrong.
async fn validation_error(
    order: &mut instant_acme::Order,
    webroot: &str,
    directory: &str,
    names: &str,
) -> Option<AcmeError> {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let authz = match authz {
            Ok(authz) => authz,
            Err(e) => return Some(classify(e, directory, names)),
        };
        let name = authz.identifier().to_string();
        if let Some(problem) = authz.challenges.iter().find_map(|c| c.error.as_ref()) {
            if is(problem, "rateLimited") {
                return Some(AcmeError::RateLimited {
                    names: names.to_string(),
                    detail: detail(problem),
                });
            }
            return Some(AcmeError::Validation {
                name,
                detail: detail(problem),
                webroot: webroot.to_string(),
            });
        }
    }
    None
}

async fn create(
    directory: &str,
    ca_bundle: Option<&Path>,
    email: Option<&str>,
    file: &Path,
) -> Result<Account, AcmeError> {
    let contact = email.map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = Account::builder_with_http(http(ca_bundle)?)
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory.to_string(),
            None,
        )
        .await
        .map_err(|e| classify(e, directory, ""))?;
    save(
        file,
        &Stored {
            directory: directory.to_string(),
            credentials,
        },
    )?;
    Ok(account)
}

/// Writes the account file with mode 0600 (it holds the account's private
/// key), in a directory git ignores.
fn save(file: &Path, stored: &Stored) -> Result<(), AcmeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| AcmeError::AccountFile {
        path: file.display().to_string(),
        reason: e.to_string(),
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    if let Some(acme) = dir.parent() {
        let ignore = acme.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# ACME account keys: never commit them\n*\n").map_err(fail)?;
        }
    }
    let text = serde_json::to_vec_pretty(stored).map_err(|e| fail(std::io::Error::other(e)))?;
    let tmp = file.with_extension("json.tmp");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    out.write_all(&text).map_err(fail)?;
    drop(out);
    std::fs::rename(&tmp, file).map_err(fail)
}

/// An HTTPS client that trusts the system's CAs and those of `ca_bundle`.
fn http(ca_bundle: Option<&Path>) -> Result<Box<dyn instant_acme::HttpClient>, AcmeError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_bundle {
        let bad = |reason: String| AcmeError::CaBundle {
            path: path.display().to_string(),
            reason,
        };
        let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::Other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut plain = HttpConnector::new();
    plain.enforce_http(false);
    plain.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(plain);
    let client: Client<_, BodyWrapper<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}

/// `urn:ietf:params:acme:error:{kind}`
fn is(problem: &Problem, kind: &str) -> bool {
    problem
        .r#type
        .as_deref()
        .is_some_and(|t| t.rsplit(':').next() == Some(kind))
}

/// The problem's detail, with its kind: `connection: Fetching http://…`.
fn detail(problem: &Problem) -> String {
    let kind = problem
        .r#type
        .as_deref()
        .map(|t| t.rsplit(':').next().unwrap_or(t))
        .unwrap_or("error");
    let mut text = format!(
        "{kind}: {}",
        problem.detail.as_deref().unwrap_or("(no detail)")
    );
    for sub in &problem.subproblems {
        if let Some(d) = &sub.detail {
            text.push_str(&format!("; {d}"));
        }
    }
    text
}

/// Problems the ACME server reports when it could not fetch or match a
/// challenge response: the name does not lead to these hosts, or they do
/// not serve the webroot.
const VALIDATION_PROBLEMS: &[&str] = &[
    "unauthorized",
    "connection",
    "dns",
    "incorrectResponse",
    "tls",
    "caa",
];

/// An error while a challenge is validated: a validation failure when the
/// server says so, otherwise as [`classify`] sorts it.
fn validation(
    error: instant_acme::Error,
    name: &str,
    webroot: &str,
    directory: &str,
    names: &str,
) -> AcmeError {
    match error {
        instant_acme::Error::Api(problem)
            if VALIDATION_PROBLEMS.iter().any(|kind| is(&problem, kind)) =>
        {
            AcmeError::Validation {
                name: name.to_string(),
                detail: detail(&problem),
                webroot: webroot.to_string(),
            }
        }
        other => classify(other, directory, names),
    }
}

/// Sorts an instant-acme error into what the user can do about it.
fn classify(error: instant_acme::Error, directory: &str, names: &str) -> AcmeError {
    use instant_acme::Error as E;
    match error {
        E::Api(problem) if is(&problem, "rateLimited") => AcmeError::RateLimited {
            names: names.to_string(),
            detail: detail(&problem),
        },
        E::Api(problem) => AcmeError::Refused(detail(&problem)),
        E::Other(inner) => AcmeError::Unreachable {
            url: directory.to_string(),
            reason: chain(inner.as_ref()),
        },
        E::Hyper(inner) => AcmeError::Unreachable {
            url: directory.to_string(),
            reason: chain(&inner),
        },
        E::Timeout(_) => AcmeError::Other(format!(
            "timed out waiting for the ACME server to process the order for `{names}`"
        )),
        E::Json(e) => AcmeError::Other(format!(
            "unexpected answer from `{directory}` (is it an ACME directory URL?): {e}"
        )),
        other => AcmeError::Other(other.to_string()),
    }
}

/// An error and its causes, on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A problem document as an ACME server sends it.
    fn problem(json: &str) -> instant_acme::Error {
        instant_acme::Error::Api(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn a_rate_limit_is_named_with_the_servers_words() {
        // Let's Encrypt's answer to a new order over the duplicate limit.
        let err = classify(
            problem(
                r#"{"type":"urn:ietf:params:acme:error:rateLimited","status":429,
                "detail":"Error creating new order :: too many certificates (5) already issued for this exact set of domains in the last 168h0m0s, retry after 2026-11-25T10:00:00Z: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-hostnames"}"#,
            ),
            LE_STAGING,
            "example.org, www.example.org",
        );
        assert!(matches!(err, AcmeError::RateLimited { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "the ACME server's rate limit refuses `example.org, www.example.org`: rateLimited: "
            ),
            "{text}"
        );
        assert!(text.contains("retry after 2026-11-25T10:00:00Z"), "{text}");
    }

    #[test]
    fn a_failed_fetch_is_a_validation_error_naming_the_url() {
        let err = validation(
            problem(
                r#"{"type":"urn:ietf:params:acme:error:connection","status":400,
                "detail":"Fetching http://example.org/.well-known/acme-challenge/tok: Connection refused"}"#,
            ),
            "example.org",
            "`/var/www/acme`",
            LE_STAGING,
            "example.org",
        );
        assert_eq!(
            err.to_string(),
            "the ACME server could not validate `example.org`: connection: Fetching \
             http://example.org/.well-known/acme-challenge/tok: Connection refused \
             (does `example.org` point at these hosts, and do they serve `/var/www/acme` \
             at /.well-known/acme-challenge/?)"
        );
        // Any other refusal is the server's own words.
        let err = validation(
            problem(r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no"}"#),
            "x",
            "w",
            LE_STAGING,
            "x",
        );
        assert_eq!(
            err.to_string(),
            "the ACME server refused: rejectedIdentifier: no"
        );
    }

    #[test]
    fn a_forgotten_account_is_recognised() {
        let instant_acme::Error::Api(p) = problem(
            r#"{"type":"urn:ietf:params:acme:error:accountDoesNotExist","detail":"unknown"}"#,
        ) else {
            unreachable!()
        };
        assert!(is(&p, "accountDoesNotExist"));
        assert!(!is(&p, "rateLimited"));
    }

    const LE_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
}
