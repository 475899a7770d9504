//! Modules: what each task's module compiles to.
//!
//! A module takes its arguments, already rendered for one host, and returns an
//! [`Action`]: a remote command with an optional read-only `check` that exits 0
//! when nothing needs doing (and says why), or a local or release step. The
//! same check serves idempotence and dry-run: `ferry plan` runs only checks.

mod apt;
mod apt_key;
mod apt_repository;
mod authorized_key;
mod blockinfile;
mod certs;
mod command;
mod control;
mod copy;
mod copy_tree;
mod cron;
mod debug;
mod django_manage;
pub(crate) mod edit;
mod file;
mod get_url;
mod git;
#[cfg(test)]
mod golden;
mod http;
mod lineinfile;
mod nginx;
mod package;
mod pause;
mod pip;
mod postgresql;
pub(crate) mod probed;
mod release;
mod replace;
mod service;
pub(crate) mod stat;
mod sudoers;
mod supervisorctl;
mod systemd;
mod ufw;
mod unarchive;
mod uri;
mod user;
mod wait_for;

use serde::Serialize;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::shell::Command;
use crate::yaml::{self, Node};

pub use certs::{Certificate, CertsMode, CertsSpec};
pub use command::guard;
pub use control::Assertion;
pub use copy::{BACKUP_MARK, Upload};
pub use edit::FileEdit;
pub use release::ReleaseStep;

/// Every module ferry knows, by canonical name.
pub const NAMES: &[&str] = &[
    "command",
    "shell",
    "copy",
    "template",
    "file",
    "debug",
    "service",
    "http.check",
    "nginx.reload",
    "release.upload",
    "release.switch",
    "release.cleanup",
    "certs",
    "apt",
    "systemd",
    "user",
    "group",
    "lineinfile",
    "blockinfile",
    "replace",
    "stat",
    "git",
    "pip",
    "wait_for",
    "fail",
    "assert",
    "ping",
    "uri",
    "get_url",
    "authorized_key",
    "sudoers",
    "postgresql_user",
    "postgresql_db",
    "postgresql_set",
    "postgresql_pg_hba",
    "postgresql_privs",
    "ufw",
    "package",
    "dnf",
    "yum",
    "apt_repository",
    "apt_key",
    "cron",
    "supervisorctl",
    "pause",
    "django_manage",
    "unarchive",
];

/// The canonical name of a module key: `ansible.builtin.copy` is `copy`.
pub fn canonical(name: &str) -> Option<&'static str> {
    // Ansible's own modules, and those of the collections ferry has some
    // of (`community.general.sudoers`, `ansible.posix.authorized_key`,
    // `community.postgresql.postgresql_db`): only those.
    let builtin = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."));
    let collected = [
        ("ansible.posix.", &["authorized_key"][..]),
        (
            "community.general.",
            &["sudoers", "ufw", "supervisorctl", "django_manage"][..],
        ),
        (
            "community.postgresql.",
            &[
                "postgresql_user",
                "postgresql_db",
                "postgresql_set",
                "postgresql_pg_hba",
                "postgresql_privs",
            ][..],
        ),
    ]
    .iter()
    .find_map(|(prefix, modules)| {
        name.strip_prefix(prefix)
            .filter(|module| modules.contains(module))
    });
    let short = builtin.or(collected).unwrap_or(name);
    // Ansible's newer name for the same module.
    let short = if short == "systemd_service" {
        "systemd"
    } else {
        short
    };
    NAMES.iter().copied().find(|n| *n == short)
}

/// What one step does on (or for) one host.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Runs `run` on the host unless `check` says the work is already done.
    Remote {
        #[serde(skip_serializing_if = "Option::is_none")]
        check: Option<Check>,
        run: Command,
        /// Content streamed to `run`'s stdin: never on a command line.
        #[serde(skip_serializing_if = "Option::is_none")]
        upload: Option<Upload>,
    },
    /// Shows a message; touches no host.
    Debug { msg: String },
    /// A release lifecycle step, carried out by `ferry deploy`.
    Release { step: ReleaseStep, args: Value },
    /// Certificates, obtained once for every host that serves them
    /// (`crate::certs`).
    Certs { spec: CertsSpec },
    /// A text file edited from its current content (`lineinfile`,
    /// `blockinfile`, `replace`): read, computed here, written if it differs.
    Edit { edit: FileEdit },
    /// Reads what a path is (`stat`), registered as Ansible's `stat` result.
    Stat { stat: stat::StatProbe },
    /// Probes the host, then decides here what to do (`git`, `pip`,
    /// `wait_for`, `ping`).
    Probed { probed: probed::Probed },
    /// Stops the host with a message (`fail`); touches no host.
    Fail { msg: String },
    /// Stops the host unless every condition holds (`assert`), evaluated
    /// when the step runs; touches no host.
    Assert { assertion: control::Assertion },
}

impl Action {
    /// The commands of a file edit, `stat` or probed step that are sent
    /// as they are (a secret in them would show in `ps` on the host).
    pub fn sent_commands(&self) -> Vec<&Command> {
        match self {
            Action::Edit { edit } => [&edit.read, &edit.write]
                .into_iter()
                .chain(edit.fix.as_ref())
                .collect(),
            Action::Stat { stat } => vec![&stat.command],
            Action::Probed { probed } => vec![&probed.probe],
            _ => Vec::new(),
        }
    }
}

/// A read-only probe: exit 0 means the host is already as wanted.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub command: Command,
    /// Why nothing changes when the check passes ("`/srv/app` is a directory").
    pub satisfied: String,
    /// What the command does when the check fails, for check mode's "would
    /// …" ("restart `app-web:*`"); the command itself is shown without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would: Option<String>,
}

/// What a module may need besides its arguments.
pub struct Context<'a> {
    /// Where the module key was written: errors point here.
    pub at: &'a Node,
    /// The arguments as written, when they are known: an error about one
    /// argument points at its value.
    pub args: Option<&'a Node>,
    /// The directory of the playbook, for local `src:` files.
    pub project_dir: &'a std::path::Path,
    /// Renders a template's text with the host's variables.
    pub render:
        &'a dyn Fn(&std::sync::Arc<crate::diagnostic::Source>) -> Result<String, Diagnostic>,
    /// A host variable's value, for `debug: var=`.
    pub lookup: &'a dyn Fn(&str) -> Option<Value>,
}

/// The argument keys a module accepts in mapping form, checked at parse time
/// so a typo points at its own line.
pub fn arg_keys(module: &str) -> &'static [&'static str] {
    match module {
        "command" => command::COMMAND_KEYS,
        "shell" => command::SHELL_KEYS,
        "copy" => copy::COPY_KEYS,
        "template" => copy::TEMPLATE_KEYS,
        "file" => file::KEYS,
        "debug" => debug::KEYS,
        "service" => service::KEYS,
        "http.check" => http::KEYS,
        "nginx.reload" => nginx::KEYS,
        "certs" => certs::KEYS,
        "apt" => apt::KEYS,
        "systemd" => systemd::KEYS,
        "user" => user::USER_KEYS,
        "group" => user::GROUP_KEYS,
        "lineinfile" => lineinfile::KEYS,
        "blockinfile" => blockinfile::KEYS,
        "replace" => replace::KEYS,
        "stat" => stat::KEYS,
        "git" => git::KEYS,
        "pip" => pip::KEYS,
        "wait_for" => wait_for::KEYS,
        "fail" => control::FAIL_KEYS,
        "assert" => control::ASSERT_KEYS,
        "ping" => control::PING_KEYS,
        "uri" => uri::KEYS,
        "get_url" => get_url::KEYS,
        "authorized_key" => authorized_key::KEYS,
        "sudoers" => sudoers::KEYS,
        "postgresql_user" => postgresql::user::KEYS,
        "postgresql_db" => postgresql::db::KEYS,
        "postgresql_set" => postgresql::set::KEYS,
        "postgresql_pg_hba" => postgresql::hba::KEYS,
        "postgresql_privs" => postgresql::privs::KEYS,
        "ufw" => ufw::KEYS,
        "package" => package::PACKAGE_KEYS,
        "dnf" | "yum" => package::DNF_KEYS,
        "apt_repository" => apt_repository::KEYS,
        "apt_key" => apt_key::KEYS,
        "cron" => cron::KEYS,
        "supervisorctl" => supervisorctl::KEYS,
        "pause" => pause::KEYS,
        "django_manage" => django_manage::KEYS,
        "unarchive" => unarchive::KEYS,
        _ => release::KEYS,
    }
}

/// Whether the module only looks (`http.check`): it reports `ok`, never
/// `changed`, unless the task says otherwise with `changed_when`.
pub fn read_only(module: &str) -> bool {
    module == "http.check"
}

/// Whether the module takes a free-form string (`shell: echo hi`).
pub fn free_form(module: &str) -> bool {
    matches!(module, "command" | "shell" | "debug")
}

/// Checks a module's argument node before rendering: right shape, known keys.
pub fn check_args(module: &str, args: &Node) -> Result<(), Diagnostic> {
    match &args.value {
        yaml::Value::Map(entries) => {
            let known = arg_keys(module);
            for (key, _) in entries {
                let name = key.scalar_string().unwrap_or_default();
                if name != "_raw" && !known.contains(&name.as_str()) {
                    return Err(key
                        .error(format!("unknown argument `{name}` for module `{module}`"))
                        .suggest(&name, known.iter().copied()));
                }
            }
            Ok(())
        }
        yaml::Value::Null => Ok(()),
        yaml::Value::Str(_) if free_form(module) => Ok(()),
        _ if free_form(module) => Err(args.type_error(
            &format!("the arguments of `{module}`"),
            "a string or a mapping",
        )),
        _ => Err(args.type_error(&format!("the arguments of `{module}`"), "a mapping")),
    }
}

/// Compiles a module call with rendered arguments (a JSON object, or
/// `{"_raw": text}` for the free form).
pub fn compile(module: &str, args: &Value, cx: &Context) -> Result<Action, Diagnostic> {
    let args = Args { map: args, cx };
    match module {
        "command" => command::command(&args),
        "shell" => command::shell(&args),
        "copy" => copy::copy(&args),
        "template" => copy::template(&args),
        "file" => file::file(&args),
        "debug" => debug::debug(&args),
        "service" => service::service(&args),
        "http.check" => http::check(&args),
        "nginx.reload" => nginx::reload(&args),
        "certs" => certs::certs(&args),
        "apt" => apt::apt(&args),
        "systemd" => systemd::systemd(&args),
        "user" => user::user(&args),
        "group" => user::group(&args),
        "lineinfile" => lineinfile::lineinfile(&args),
        "blockinfile" => blockinfile::blockinfile(&args),
        "replace" => replace::replace(&args),
        "stat" => stat::stat(&args),
        "git" => git::git(&args),
        "pip" => pip::pip(&args),
        "wait_for" => wait_for::wait_for(&args),
        "fail" => control::fail(&args),
        "assert" => control::assert(&args),
        "ping" => control::ping(&args),
        "uri" => uri::uri(&args),
        "get_url" => get_url::get_url(&args),
        "authorized_key" => authorized_key::authorized_key(&args),
        "sudoers" => sudoers::sudoers(&args),
        "postgresql_user" => postgresql::user::postgresql_user(&args),
        "postgresql_db" => postgresql::db::postgresql_db(&args),
        "postgresql_set" => postgresql::set::postgresql_set(&args),
        "postgresql_pg_hba" => postgresql::hba::postgresql_pg_hba(&args),
        "postgresql_privs" => postgresql::privs::postgresql_privs(&args),
        "ufw" => ufw::ufw(&args),
        "package" => package::package(&args),
        "dnf" => package::dnf(&args, "dnf"),
        "yum" => package::dnf(&args, "yum"),
        "apt_repository" => apt_repository::apt_repository(&args),
        "apt_key" => apt_key::apt_key(&args),
        "cron" => cron::cron(&args),
        "supervisorctl" => supervisorctl::supervisorctl(&args),
        "pause" => pause::pause(&args),
        "django_manage" => django_manage::django_manage(&args),
        "unarchive" => unarchive::unarchive(&args),
        other => release::release(other, &args),
    }
}

/// Typed access to rendered arguments, with errors at the module's location.
pub(crate) struct Args<'a> {
    map: &'a Value,
    cx: &'a Context<'a>,
}

impl Args<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn error(&self, message: impl Into<String>) -> Diagnostic {
        self.cx.at.error(message)
    }

    /// An error about argument `key`, at its value if it was written.
    fn error_at(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        let written = self.cx.args.and_then(|args| match &args.value {
            yaml::Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        });
        match written {
            Some(value) => value.error(message),
            None => self.error(message),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, Diagnostic> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(self.error_at(key, format!("argument `{key}` must be a string"))),
        }
    }

    /// A list argument as Ansible takes one: a YAML list of strings, or one
    /// comma-separated string; items trimmed, empty ones dropped.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<String>, Diagnostic> {
        let items: Vec<String> = match self.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        self.error_at(key, format!("`{v}` in `{key}` is not a name"))
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => self
                .string(key)?
                .unwrap_or_default()
                .split(',')
                .map(str::to_string)
                .collect(),
        };
        Ok(items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }

    /// A yes/no argument: YAML booleans, or Ansible's strings for them.
    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, Diagnostic> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => Ok(Some(true)),
                "no" | "false" | "off" | "0" => Ok(Some(false)),
                _ => Err(self.error_at(key, format!("`{key}` must be yes or no, not `{s}`"))),
            },
            Some(other) => {
                Err(self.error_at(key, format!("`{key}` must be yes or no, not {other}")))
            }
        }
    }

    fn required(&self, key: &str, module: &str) -> Result<String, Diagnostic> {
        self.string(key)?
            .ok_or_else(|| self.error(format!("module `{module}` needs `{key}`")))
    }

    /// A file mode: YAML `0644` arrives as the integer 420; `"0644"`,
    /// `"644"` and symbolic `"u+x"` arrive as strings.
    fn mode(&self) -> Result<Option<Mode>, Diagnostic> {
        match self.get("mode") {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(m) if m <= 0o7777 => Ok(Some(Mode::Octal(format!("{m:o}")))),
                _ => Err(self.error_at("mode", format!("`mode` {n} is not a file mode"))),
            },
            Some(Value::String(s)) if !s.is_empty() && s.chars().all(|c| c.is_digit(8)) => {
                let digits = s.trim_start_matches('0');
                Ok(Some(Mode::Octal(
                    if digits.is_empty() { "0" } else { digits }.to_string(),
                )))
            }
            Some(Value::String(s)) if is_symbolic_mode(s) => Ok(Some(Mode::Symbolic(s.clone()))),
            Some(other) => Err(self.error_at(
                "mode",
                format!(
                "`mode` {other} is not a file mode (octal like `0644`, or symbolic like `u+rwx,go-w`)"
            ),
            )),
        }
    }
}

/// `u+rwx,g-w,o=`: chmod's symbolic clauses, comma-separated.
fn is_symbolic_mode(mode: &str) -> bool {
    mode.split(',').all(|clause| {
        let who_end = clause.find(|c| !"ugoa".contains(c)).unwrap_or(clause.len());
        let ops = &clause[who_end..];
        !ops.is_empty()
            && ops.starts_with(['+', '-', '='])
            && ops.chars().all(|c| "+-=rwxXst".contains(c))
    })
}

/// A file mode as `chmod` takes it; only octal modes can be checked by `stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Octal digits without leading zeros, as `stat -c %a` prints them.
    Octal(String),
    Symbolic(String),
}

impl Mode {
    fn as_chmod(&self) -> &str {
        match self {
            Mode::Octal(m) | Mode::Symbolic(m) => m,
        }
    }
}

/// Shell tests and fixes for mode and ownership, shared by `copy` and `file`.
pub(crate) struct Attributes {
    pub mode: Option<Mode>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl Attributes {
    fn read(args: &Args) -> Result<Attributes, Diagnostic> {
        Ok(Attributes {
            mode: args.mode()?,
            owner: args.string("owner")?,
            group: args.string("group")?,
        })
    }

    /// `test` extended to pass only when `path` also has these attributes,
    /// or `None` when they cannot be tested (a symbolic mode: chmod always
    /// runs).
    fn check(&self, path: &str, mut test: Command) -> Option<Command> {
        if let Some(mode) = &self.mode {
            let Mode::Octal(m) = mode else { return None };
            test = test.and(stat_is("%a", path, m));
        }
        if let Some(owner) = &self.owner {
            test = test.and(stat_is("%U", path, owner));
        }
        if let Some(group) = &self.group {
            test = test.and(stat_is("%G", path, group));
        }
        Some(test)
    }

    /// Commands that give `path` these attributes.
    fn apply(&self, path: &str, mut cmd: Command) -> Command {
        if let Some(mode) = &self.mode {
            cmd = cmd.and(Command::new("chmod").arg(mode.as_chmod()).arg(path));
        }
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => cmd.and(Command::new("chown").arg(format!("{o}:{g}")).arg(path)),
            (Some(o), None) => cmd.and(Command::new("chown").arg(o).arg(path)),
            (None, Some(g)) => cmd.and(Command::new("chgrp").arg(g).arg(path)),
            (None, None) => cmd,
        }
    }
}

/// `[ "$(stat -c FORMAT PATH)" = VALUE ]`
fn stat_is(format: &str, path: &str, value: &str) -> Command {
    output_is(&Command::new("stat").args(["-c", format, path]), value)
}

/// `[ "$(COMMAND)" = VALUE ]`: the command's output is exactly `value`.
pub(crate) fn output_is(command: &Command, value: &str) -> Command {
    Command::script(format!("[ \"$({command})\" ="))
        .arg(value)
        .raw("]")
}

#[cfg(test)]
mod tests {
    use super::is_symbolic_mode;

    #[test]
    fn symbolic_modes_are_chmod_clauses() {
        for ok in ["u+x", "u+rwx,g-w,o=", "a=r", "+x", "go-w"] {
            assert!(is_symbolic_mode(ok), "{ok}");
        }
        for bad in ["rwxr-xr-x", "u", "", "u+q", "x+u"] {
            assert!(!is_symbolic_mode(bad), "{bad}");
        }
    }
}
