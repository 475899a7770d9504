//! `~/.ssh/config`: HostName, User, Port, IdentityFile, ProxyJump and
//! Include, resolved for a host the way `ssh -G` does (first value wins,
//! wildcards and negations in `Host` lines). Parsing is `ssh2-config`'s.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ssh2_config::{ParseRule, SshConfig as Parsed};

use super::{Target, TransportError};

/// A parsed ssh config.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    parsed: Parsed,
}

/// What the config says about one host; `None`/empty when it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub host_name: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    /// Jump hosts, first hop first, as written (`[user@]host[:port]`).
    pub proxy_jump: Vec<String>,
    /// `ServerAliveInterval` / `ServerAliveCountMax`.
    pub alive: crate::transport::Alive,
}

impl SshConfig {
    /// Reads `path`; relative `Include`s resolve against `~/.ssh`.
    pub fn load(path: &Path) -> Result<SshConfig, TransportError> {
        let error = |reason: String| TransportError::SshConfig {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| error(e.to_string()))?;
        let parsed = Parsed::default()
            .parse(
                &mut BufReader::new(file),
                ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
            )
            .map_err(|e| error(e.to_string()))?;
        Ok(SshConfig { parsed })
    }

    /// Reads `~/.ssh/config`; a missing file is an empty config.
    pub fn load_user_default() -> Result<SshConfig, TransportError> {
        let Some(home) = std::env::var_os("HOME") else {
            return Ok(SshConfig::default());
        };
        let path = PathBuf::from(home).join(".ssh/config");
        if path.exists() {
            SshConfig::load(&path)
        } else {
            Ok(SshConfig::default())
        }
    }

    /// The settings that apply to `host`.
    pub fn host(&self, host: &str) -> HostConfig {
        let params = self.parsed.query(host);
        let proxy_jump = params
            .proxy_jump
            .unwrap_or_default()
            .into_iter()
            .flat_map(|jumps| {
                jumps
                    .split(',')
                    .map(|j| j.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|j| !j.is_empty())
            .collect::<Vec<_>>();
        let proxy_jump = if proxy_jump.iter().any(|j| j.eq_ignore_ascii_case("none")) {
            Vec::new()
        } else {
            proxy_jump
        };
        let local_user = std::env::var("USER").unwrap_or_default();
        let tokens = Tokens {
            home: std::env::var("HOME").unwrap_or_default(),
            host: params.host_name.clone().unwrap_or_else(|| host.to_string()),
            remote_user: params.user.clone().unwrap_or_else(|| local_user.clone()),
            local_user,
        };
        let identity_files = params
            .identity_file
            .unwrap_or_default()
            .iter()
            .map(|path| PathBuf::from(tokens.expand(&path.to_string_lossy())))
            .collect();
        let count_max = params
            .unsupported_fields
            .iter()
            .chain(&params.ignored_fields)
            .find(|(key, _)| key.eq_ignore_ascii_case("serveralivecountmax"))
            .and_then(|(_, args)| args.first()?.parse().ok());
        let alive = crate::transport::Alive {
            interval: params.server_alive_interval,
            count_max,
        };
        HostConfig {
            alive,
            host_name: params.host_name,
            user: params.user,
            port: params.port,
            identity_files,
            proxy_jump,
        }
    }

    /// A [`Target`] for `name` from the config, with `default_user` when the
    /// config names none; each ProxyJump hop is itself resolved through the
    /// config, and the last hop is the one connected through directly.
    pub fn target(&self, name: &str, default_user: &str) -> Target {
        let mut target = self.direct_target(name, default_user);
        target.jump = self.jump_chain(&self.host(name).proxy_jump, default_user);
        target
    }

    /// `name` resolved without its ProxyJump.
    fn direct_target(&self, name: &str, default_user: &str) -> Target {
        let host = self.host(name);
        Target {
            name: name.to_string(),
            address: host.host_name.unwrap_or_else(|| name.to_string()),
            port: host.port.unwrap_or(22),
            user: host.user.unwrap_or_else(|| default_user.to_string()),
            identity_files: host.identity_files,
            passphrase: None,
            jump: None,
            alive: host.alive,
        }
    }

    fn jump_chain(&self, hops: &[String], default_user: &str) -> Option<Box<Target>> {
        let mut previous: Option<Box<Target>> = None;
        for hop in hops {
            let spec = JumpSpec::parse(hop);
            // Each hop is reached through the hop before it, never through
            // its own ProxyJump (`Host *` + `ProxyJump gw` would loop).
            let mut target = self.direct_target(&spec.host, default_user);
            target.jump = previous.take();
            if let Some(user) = spec.user {
                target.user = user;
            }
            if let Some(port) = spec.port {
                target.port = port;
            }
            previous = Some(Box::new(target));
        }
        previous
    }
}

/// Values for the `%` tokens OpenSSH expands in `IdentityFile`.
struct Tokens {
    home: String,
    host: String,
    remote_user: String,
    local_user: String,
}

impl Tokens {
    /// Expands `%d` (home), `%h` (host name), `%r` (remote user), `%u`
    /// (local user) and `%%`; other tokens are left as written.
    fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('d') => out.push_str(&self.home),
                Some('h') => out.push_str(&self.host),
                Some('r') => out.push_str(&self.remote_user),
                Some('u') => out.push_str(&self.local_user),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }
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
    fn missing_file_is_an_error_naming_it() {
        let error = SshConfig::load(Path::new("/nonexistent/ferry/config")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read ssh config `/nonexistent/ferry/config`")
        );
    }
}
