//! Modules that decide on the controller from a probe of the host (`git`,
//! `pip`): the probe, a read-only command, prints what the host has; the
//! module reads that and decides — nothing to do (`ok`, with the reason),
//! a command to run (`changed`), or an error — before anything changes.
//! Check mode stops after the decision, so its prediction is the run's.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::shell::Command;

/// A probed step, ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct Probed {
    /// Read-only: prints what [`Prober::decide`] reads.
    pub probe: Command,
    pub module: Prober,
    /// Fed to the probe's stdin and to the command's (`uri`'s and
    /// `get_url`'s request for curl: URL, credentials and body stay off
    /// command lines). Not shown in plans.
    #[serde(skip)]
    pub stdin: Option<String>,
    /// The task's environment and `become` user, applied to the command the
    /// decision builds at run time as to the probe at compile time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    /// The host's sudo is given a password (see
    /// `crate::shell::Command::become_user_asking`).
    #[serde(skip)]
    pub asks_password: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "module", rename_all = "lowercase")]
pub enum Prober {
    Git(super::git::Git),
    Pip(super::pip::Pip),
    Ping(super::control::Ping),
    #[serde(rename = "wait_for")]
    WaitFor(super::wait_for::WaitFor),
    Uri(super::uri::Uri),
    #[serde(rename = "get_url")]
    GetUrl(super::get_url::GetUrl),
    #[serde(rename = "authorized_key")]
    AuthorizedKey(super::authorized_key::AuthorizedKey),
    Sudoers(super::sudoers::Sudoers),
    #[serde(rename = "postgresql_user")]
    PostgresUser(super::postgresql::user::PostgresUser),
    #[serde(rename = "postgresql_db")]
    PostgresDb(super::postgresql::db::PostgresDb),
    #[serde(rename = "postgresql_set")]
    PostgresSet(super::postgresql::set::PostgresSet),
    #[serde(rename = "postgresql_pg_hba")]
    PgHba(super::postgresql::hba::PgHba),
    #[serde(rename = "postgresql_privs")]
    PostgresPrivs(super::postgresql::privs::PostgresPrivs),
    Ufw(super::ufw::Ufw),
    #[serde(rename = "django_manage")]
    DjangoManage(super::django_manage::DjangoManage),
    Unarchive(super::unarchive::Unarchive),
}

/// What a probe's output says to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Already as wanted: the reason.
    Ok(String),
    /// `what` it would do ("clone `repo` at `main` into `/srv/app`"), by
    /// running `run`.
    Change { what: String, run: Command },
    /// Cannot be done as asked: why.
    Fail(String),
    /// The probe itself made the change (see [`Prober::acts`]): what it did.
    Done(String),
}

impl Prober {
    /// Decides from the probe's stdout; also returns the result fields
    /// Ansible registers that the probe alone tells (`before`, `after`).
    /// A change to files may add `diff`, what `--diff` shows (never
    /// registered): `{"path", "before", "after"}` for one file's text
    /// (`null` for no file), or `{"prepared": text}`.
    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        match self {
            Prober::Git(git) => git.decide(probe),
            Prober::Pip(pip) => pip.decide(probe),
            Prober::Ping(ping) => ping.decide(probe),
            Prober::WaitFor(wait) => wait.decide(probe),
            Prober::Uri(uri) => uri.decide(probe),
            Prober::GetUrl(get) => get.decide(probe),
            Prober::AuthorizedKey(key) => key.decide(probe),
            Prober::Sudoers(rule) => rule.decide(probe),
            Prober::PostgresUser(user) => user.decide(probe),
            Prober::PostgresDb(db) => db.decide(probe),
            Prober::PostgresSet(set) => set.decide(probe),
            Prober::PgHba(hba) => hba.decide(probe),
            Prober::PostgresPrivs(privs) => privs.decide(probe),
            Prober::Ufw(ufw) => ufw.decide(probe),
            Prober::DjangoManage(django) => django.decide(probe),
            Prober::Unarchive(archive) => archive.decide(probe),
        }
    }

    /// Result fields from a successful run's stdout (`after`).
    pub fn finish(&self, stdout: &str, fields: &mut Map<String, Value>) {
        match self {
            Prober::Git(git) => git.finish(stdout, fields),
            Prober::GetUrl(get) => get.finish(stdout, fields),
            Prober::DjangoManage(django) => django.finish(stdout, fields),
            _ => {}
        }
    }

    /// The directory the step makes when the probe found it missing (the
    /// clone, the virtualenv): in check mode, later steps that use it
    /// cannot probe it.
    pub fn creates(&self, probe: &str) -> Option<String> {
        match self {
            Prober::Git(git) => (!fields(probe).contains_key("exists")).then(|| git.dest.clone()),
            Prober::Pip(pip) => pip.creates(probe),
            _ => None,
        }
    }

    /// The directory this step works in, if an earlier step may create it.
    pub fn works_in(&self) -> Option<&str> {
        match self {
            Prober::Git(git) => Some(&git.dest),
            Prober::Pip(pip) => pip.virtualenv.as_deref(),
            Prober::DjangoManage(django) => Some(django.works_in()),
            _ => None,
        }
    }

    /// Check mode, when an earlier step would create [`Self::works_in`]:
    /// what this one would then do, as far as ferry can tell without it.
    pub fn after_created(&self) -> String {
        match self {
            Prober::Git(git) => format!(
                "check out `{}` of `{}` in `{}`, which an earlier step would create",
                git.version, git.repo, git.dest
            ),
            Prober::Pip(pip) => pip.after_created(),
            Prober::DjangoManage(django) => django.after_created(),
            _ => String::new(),
        }
    }

    /// When the probe itself changes something (`uri` with `POST`): what it
    /// does. Check mode then does not run it, and the run reports `changed`.
    pub fn acts(&self) -> Option<String> {
        match self {
            Prober::Uri(uri) if !uri.reads_only() => Some(uri.request()),
            _ => None,
        }
    }

    /// Check mode, for a probe that [`acts`](Self::acts): the result's
    /// fields, with what cannot be known without acting empty, so that
    /// later steps reading them render as in the run.
    pub fn unknown_fields(&self) -> Map<String, Value> {
        match self {
            Prober::Uri(uri) => uri.unknown_fields(),
            _ => Map::new(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Prober::Git(git) => git.describe(),
            Prober::Pip(pip) => pip.describe(),
            Prober::Ping(_) => "ping: the host runs a command".into(),
            Prober::WaitFor(wait) => wait.describe(),
            Prober::Uri(uri) => uri.describe(),
            Prober::GetUrl(get) => get.describe(),
            Prober::AuthorizedKey(key) => key.describe(),
            Prober::Sudoers(rule) => rule.describe(),
            Prober::PostgresUser(user) => user.describe(),
            Prober::PostgresDb(db) => db.describe(),
            Prober::PostgresSet(set) => set.describe(),
            Prober::PgHba(hba) => hba.describe(),
            Prober::PostgresPrivs(privs) => privs.describe(),
            Prober::Ufw(ufw) => ufw.describe(),
            Prober::DjangoManage(django) => django.describe(),
            Prober::Unarchive(archive) => archive.describe(),
        }
    }
}

impl Probed {
    /// The command as sent: with the task's environment, through sudo
    /// when it escalates.
    pub fn wrap(&self, run: Command) -> Command {
        let run = run.with_env(&self.env);
        match &self.become_user {
            Some(user) if self.asks_password => run.become_user_asking(user),
            Some(user) => run.become_user(user),
            None => run,
        }
    }
}

/// `key=value` lines of a probe, by key (the last one of a key wins).
pub(crate) fn fields(probe: &str) -> std::collections::HashMap<&str, &str> {
    probe.lines().filter_map(|l| l.split_once('=')).collect()
}
