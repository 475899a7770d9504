//! ssh_config, evaluated for a host as OpenSSH evaluates it (`ssh -G`):
//! the user's `~/.ssh/config`, then the system-wide `/etc/ssh/ssh_config`;
//! each option's first value wins; `Host` patterns (wildcards, `!`) and
//! `Match` blocks (`host`, `originalhost`, `user`, `localuser`, `exec`,
//! `all`, `canonical`, `final`) decide which lines apply; `Include`s are
//! read in place. Options ferry does not act on are collected per host
//! ([`HostConfig::ignored`]) so that `-v` can name them, never dropped in
//! silence. Parsing is in `parse`, evaluation in `evaluate`.

mod evaluate;
mod parse;
mod pattern;
mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use parse::Location;

use self::evaluate::{Options, Query, evaluate};
use self::parse::Entry;
use self::tokens::Tokens;
use super::{Alive, StrictHostKeyChecking, Target, TransportError};

/// The system-wide client config OpenSSH reads after the user's.
pub const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// Parsed ssh_config files, in the order they are read.
#[derive(Debug, Clone)]
pub struct SshConfig {
    files: Vec<Vec<Entry>>,
    home: String,
    local_user: String,
}

impl Default for SshConfig {
    /// No files: OpenSSH's defaults, for this user.
    fn default() -> SshConfig {
        SshConfig {
            files: Vec::new(),
            home: std::env::var("HOME").unwrap_or_default(),
            local_user: local_user(),
        }
    }
}

/// What the config says about one host; `None`/empty when it says nothing
/// (the caller's defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// HostName, `%h` expanded.
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// IdentityFile, in order, `~` and tokens expanded.
    pub identity_files: Vec<PathBuf>,
    /// CertificateFile, in order, `~` and tokens expanded.
    pub certificate_files: Vec<PathBuf>,
    /// Jump hosts, first hop first, as written (`[user@]host[:port]`).
    pub proxy_jump: Vec<String>,
    /// ProxyCommand as written (tokens expanded when connecting).
    pub proxy_command: Option<String>,
    pub identities_only: Option<bool>,
    /// IdentityAgent, expanded: a socket path, `none`, or `SSH_AUTH_SOCK`.
    pub identity_agent: Option<String>,
    pub user_known_hosts: Option<Vec<PathBuf>>,
    pub global_known_hosts: Option<Vec<PathBuf>>,
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    pub hash_known_hosts: Option<bool>,
    /// ConnectTimeout (`none`: no bound of its own).
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval` / `ServerAliveCountMax`.
    pub alive: Alive,
    /// Options that applied to the host and that ferry does not act on,
    /// as written, with where they are (`None`: given on a command line).
    pub ignored: Vec<(String, Option<Location>)>,
}

impl SshConfig {
    /// Reads one file (as `ssh -F FILE` does: no system-wide file);
    /// relative `Include`s resolve against `~/.ssh`.
    pub fn load(path: &Path) -> Result<SshConfig, TransportError> {
        SshConfig::load_files(Some(path), None)
    }

    /// Reads the user's file, then the system-wide one, each if given and
    /// present; relative `Include`s resolve against `~/.ssh` and `/etc/ssh`.
    pub fn load_files(
        user: Option<&Path>,
        system: Option<&Path>,
    ) -> Result<SshConfig, TransportError> {
        let mut config = SshConfig::default();
        let home = config.home.clone();
        if let Some(user) = user {
            let base = Path::new(&home).join(".ssh");
            config.files.push(parse::file(user, &base, &home)?);
        }
        if let Some(system) = system.filter(|p| p.exists()) {
            let base = system.parent().unwrap_or(Path::new("/etc/ssh"));
            config.files.push(parse::file(system, base, &home)?);
        }
        Ok(config)
    }

    /// `~/.ssh/config` (if present), then `/etc/ssh/ssh_config`.
    pub fn load_user_default() -> Result<SshConfig, TransportError> {
        let user = std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".ssh/config"))
            .filter(|path| path.exists());
        SshConfig::load_files(user.as_deref(), Some(Path::new(SYSTEM_CONFIG)))
    }

    /// The settings that apply to `host` (the name as given).
    pub fn host(&self, host: &str) -> HostConfig {
        self.resolve(host, &[])
    }

    /// The settings for `host` with `preset` options given first, as on
    /// ssh's command line (`-o User=x`, `-p`, …): they win over the files,
    /// and `Match user` sees them.
    pub fn resolve(&self, host: &str, preset: &[(String, Vec<String>)]) -> HostConfig {
        let query = Query {
            host,
            local_user: &self.local_user,
            home: &self.home,
            preset,
        };
        let options = evaluate(&self.files, &query);
        self.host_config(host, &options)
    }

    fn host_config(&self, host: &str, options: &Options) -> HostConfig {
        let host_name = options
            .first("hostname")
            .map(|_| evaluate::host_name(options, host));
        let user = options.first("user").map(str::to_string);
        let port = options.first("port").and_then(|p| p.parse().ok());
        let tokens = Tokens {
            home: self.home.clone(),
            host: host_name.clone().unwrap_or_else(|| host.to_string()),
            original_host: host.to_string(),
            port: port.unwrap_or(22).to_string(),
            remote_user: user.clone().unwrap_or_else(|| self.local_user.clone()),
            local_user: self.local_user.clone(),
        };
        let paths = |keyword: &str| {
            options.get(keyword).map(|files| {
                files
                    .iter()
                    .map(|f| PathBuf::from(tokens.path(f)))
                    .collect()
            })
        };
        let proxy_jump = match options.get("proxyjump") {
            Some(args) if !args.iter().any(|a| a.eq_ignore_ascii_case("none")) => args
                .iter()
                .flat_map(|a| a.split(','))
                .map(|j| j.trim().to_string())
                .filter(|j| !j.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        let seconds = |keyword: &str| {
            options
                .first(keyword)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
        };
        let identity_agent = options.first("identityagent").map(|agent| {
            if agent.eq_ignore_ascii_case("none") || agent == "SSH_AUTH_SOCK" {
                agent.to_string()
            } else {
                environment(&tokens.path(agent))
            }
        });
        HostConfig {
            identity_files: options
                .identity_files
                .iter()
                .filter(|f| !f.eq_ignore_ascii_case("none"))
                .map(|f| PathBuf::from(tokens.path(f)))
                .collect(),
            certificate_files: options
                .certificate_files
                .iter()
                .filter(|f| !f.eq_ignore_ascii_case("none"))
                .map(|f| PathBuf::from(tokens.path(f)))
                .collect(),
            proxy_jump,
            proxy_command: options
                .first("proxycommand")
                .filter(|c| !c.eq_ignore_ascii_case("none"))
                .map(str::to_string),
            identities_only: options.first("identitiesonly").and_then(flag),
            identity_agent,
            user_known_hosts: paths("userknownhostsfile"),
            global_known_hosts: paths("globalknownhostsfile"),
            strict_host_key_checking: options
                .first("stricthostkeychecking")
                .and_then(StrictHostKeyChecking::parse),
            hash_known_hosts: options.first("hashknownhosts").and_then(flag),
            connect_timeout: seconds("connecttimeout"),
            alive: Alive {
                // `0` turns keepalives off, so it is kept.
                interval: options
                    .first("serveraliveinterval")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs),
                count_max: options
                    .first("serveralivecountmax")
                    .and_then(|v| v.parse().ok()),
            },
            ignored: options.ignored.clone(),
            host_name,
            user,
            port,
        }
    }

    /// A [`Target`] for `name` from the config, with `default_user` when the
    /// config names none; each ProxyJump hop is itself resolved through the
    /// config, and the last hop is the one connected through directly.
    pub fn target(&self, name: &str, default_user: &str) -> Target {
        self.target_with(name, default_user, &[])
    }

    /// [`SshConfig::target`] with options given first, as on ssh's command
    /// line (see [`SshConfig::resolve`]).
    pub fn target_with(
        &self,
        name: &str,
        default_user: &str,
        preset: &[(String, Vec<String>)],
    ) -> Target {
        let host = self.resolve(name, preset);
        let hops = host.proxy_jump.clone();
        let mut target = self.direct_target(name, default_user, host);
        target.jump = self.jump_chain(&hops, default_user);
        target
    }

    /// `name` resolved without its ProxyJump.
    fn direct_target(&self, name: &str, default_user: &str, host: HostConfig) -> Target {
        let address = host.host_name.clone().unwrap_or_else(|| name.to_string());
        let port = host.port.unwrap_or(22);
        let user = host
            .user
            .clone()
            .unwrap_or_else(|| default_user.to_string());
        let proxy_command = host.proxy_command.as_ref().map(|command| {
            Tokens {
                home: self.home.clone(),
                host: address.clone(),
                original_host: name.to_string(),
                port: port.to_string(),
                remote_user: user.clone(),
                local_user: self.local_user.clone(),
            }
            .expand(command)
        });
        let mut target = Target::new(name, &address, port, &user);
        target.identity_files = host.identity_files;
        target.certificate_files = host.certificate_files;
        target.alive = host.alive;
        target.proxy_command = proxy_command;
        target.identities_only = host.identities_only.unwrap_or(false);
        target.identity_agent = host.identity_agent;
        target.user_known_hosts = host.user_known_hosts;
        target.global_known_hosts = host.global_known_hosts;
        target.strict_host_key_checking = host.strict_host_key_checking;
        target.hash_known_hosts = host.hash_known_hosts.unwrap_or(false);
        target.connect_timeout = host.connect_timeout;
        target.ignored = host.ignored;
        target
    }

    fn jump_chain(&self, hops: &[String], default_user: &str) -> Option<Box<Target>> {
        let mut previous: Option<Box<Target>> = None;
        for hop in hops {
            let spec = JumpSpec::parse(hop);
            // Each hop is reached through the hop before it, never through
            // its own ProxyJump (`Host *` + `ProxyJump gw` would loop), as
            // ssh does with `-J`: user and port from the spec come first.
            let mut preset = Vec::new();
            if let Some(user) = &spec.user {
                preset.push(("User".to_string(), vec![user.clone()]));
            }
            if let Some(port) = spec.port {
                preset.push(("Port".to_string(), vec![port.to_string()]));
            }
            let host = self.resolve(&spec.host, &preset);
            let mut target = self.direct_target(&spec.host, default_user, host);
            // The first hop may be reached through its own ProxyCommand (as
            // `ssh -W` reaching it would be); a later one is reached through
            // the hop before it.
            target.jump = previous.take();
            previous = Some(Box::new(target));
        }
        previous
    }
}

/// One option as `-o` gives it (`Key=Value`, `Key Value`, quoted words),
/// read as a config line is.
pub(crate) fn split_option(text: &str) -> Result<(String, Vec<String>), String> {
    match parse::split_line(text)? {
        Some((keyword, args)) if !args.is_empty() => {
            parse::validate(&keyword, &args)?;
            Ok((keyword, args))
        }
        _ => Err(format!("`{text}` is not `Key=Value`")),
    }
}

/// `yes`/`no` (and OpenSSH's `true`/`false`).
fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// `${VAR}` replaced by the variable's value (IdentityAgent allows it).
fn environment(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&std::env::var(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The local user's name, as OpenSSH's `%u` and `Match localuser` see it:
/// the password database's name for this process's user (not `$USER`).
fn local_user() -> String {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let from_passwd = uid.and_then(|uid| {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2)? == &uid.to_string()).then(|| fields[0].to_string())
        })
    });
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".to_string())
}

/// One ProxyJump hop: `[ssh://][user@]host[:port]`.
#[derive(Debug, PartialEq, Eq)]
struct JumpSpec {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

impl JumpSpec {
    fn parse(text: &str) -> JumpSpec {
        let text = text.strip_prefix("ssh://").unwrap_or(text);
        let (user, rest) = match text.rsplit_once('@') {
            Some((user, rest)) => (Some(user.to_string()), rest),
            None => (None, text),
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            match bracketed.split_once(']') {
                Some((host, tail)) => (host, tail.strip_prefix(':')),
                None => (rest, None),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        JumpSpec {
            user,
            host: host.to_string(),
            port: port.and_then(|p| p.parse().ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, SshConfig) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            text.replace("DIR", &dir.path().display().to_string()),
        )
        .unwrap();
        let config = SshConfig::load(&path).unwrap();
        (dir, config)
    }

    #[test]
    fn server_alive_settings_are_read_per_host() {
        let (_d, config) = config(
            "Host slow*\n  ServerAliveInterval 30\n  ServerAliveCountMax 6\n\
             Host *\n  ServerAliveInterval 2\n",
        );
        let slow = config.target("slow1", "u");
        assert_eq!(
            slow.alive.interval,
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(slow.alive.count_max, Some(6));
        let other = config.host("web");
        assert_eq!(
            other.alive.interval,
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(other.alive.count_max, None);
    }

    #[test]
    fn first_value_wins_and_wildcards_apply() {
        let (_d, config) = config(
            "Host web1\n  HostName 10.0.0.1\n  Port 2222\n\
             Host web*\n  User deploy\n  Port 22\n  IdentityFile /keys/web\n\
             Host *\n  User root\n  IdentityFile /keys/all\n",
        );
        let web1 = config.host("web1");
        assert_eq!(web1.host_name.as_deref(), Some("10.0.0.1"));
        assert_eq!(web1.port, Some(2222));
        assert_eq!(web1.user.as_deref(), Some("deploy"));
        assert_eq!(
            web1.identity_files,
            [PathBuf::from("/keys/web"), PathBuf::from("/keys/all")]
        );
        let db = config.host("db");
        assert_eq!(db.user.as_deref(), Some("root"));
        assert_eq!(db.host_name, None);
    }

    #[test]
    fn include_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("extra.conf"),
            "Host app\n  HostName 10.9.9.9\n",
        )
        .unwrap();
        let path = dir.path().join("config");
        let text = format!(
            "Include {}/extra.conf\nHost *\n  User nobody\n",
            dir.path().display()
        );
        std::fs::write(&path, text).unwrap();
        let config = SshConfig::load(&path).unwrap();
        assert_eq!(config.host("app").host_name.as_deref(), Some("10.9.9.9"));
        assert_eq!(config.host("app").user.as_deref(), Some("nobody"));
    }

    #[test]
    fn proxy_jump_chain_resolves_each_hop() {
        let (_d, config) = config(
            "Host app\n  HostName 10.1.0.5\n  ProxyJump admin@bastion:2200,inner\n\
             Host bastion\n  HostName 203.0.113.7\n\
             Host inner\n  HostName 10.1.0.1\n  User ops\n",
        );
        let app = config.target("app", "me");
        assert_eq!(app.address, "10.1.0.5");
        assert_eq!(app.user, "me");
        let inner = app.jump.as_deref().unwrap();
        assert_eq!(
            (inner.address.as_str(), inner.user.as_str()),
            ("10.1.0.1", "ops")
        );
        let bastion = inner.jump.as_deref().unwrap();
        assert_eq!(bastion.address, "203.0.113.7");
        assert_eq!((bastion.user.as_str(), bastion.port), ("admin", 2200));
        assert!(bastion.jump.is_none());
    }

    #[test]
    fn the_first_hop_keeps_its_proxy_command() {
        let (_d, config) = config(
            "Host app\n  ProxyJump gw,inner\n  ProxyCommand nc never\n\
             Host gw\n  ProxyCommand nc %h %p\n",
        );
        let app = config.target("app", "me");
        assert_eq!(app.proxy_command, None, "ProxyJump came first");
        let gw = app.jump.unwrap().jump.unwrap();
        assert_eq!(gw.proxy_command.as_deref(), Some("nc gw 22"));
    }

    #[test]
    fn proxy_jump_none_and_specs() {
        let (_d, config) = config("Host direct\n  ProxyJump none\nHost *\n  ProxyJump gw\n");
        assert!(config.target("direct", "me").jump.is_none());
        assert_eq!(config.target("other", "me").jump.unwrap().address, "gw");
        assert_eq!(
            JumpSpec::parse("ssh://u@[::1]:2022"),
            JumpSpec {
                user: Some("u".into()),
                host: "::1".into(),
                port: Some(2022)
            }
        );
    }

    #[test]
    fn identity_file_tokens_are_expanded() {
        let (_d, config) = config(
            "Host web1\n  HostName 10.0.0.1\n  User deploy\n  IdentityFile /keys/%h-%r-100%%\n",
        );
        assert_eq!(
            config.host("web1").identity_files,
            [PathBuf::from("/keys/10.0.0.1-deploy-100%")]
        );
    }

    #[test]
    fn a_bad_value_is_an_error_naming_its_line_even_in_a_block_that_does_not_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "Host other\n  Port 22x\n").unwrap();
        let error = SshConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.ends_with("line 2: `Port`: a port number, not `22x`"),
            "{error}"
        );
        std::fs::write(&path, "Host *\n  StrictHostKeyChecking maybe\n").unwrap();
        assert!(SshConfig::load(&path).is_err());
        assert!(split_option("ConnectTimeout=soon").is_err());
        assert!(split_option("ConnectTimeout=none").is_ok());
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let error = SshConfig::load(Path::new("/nonexistent/ferry/config")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read ssh config `/nonexistent/ferry/config`")
        );
    }
}
