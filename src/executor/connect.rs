//! From a host's plan to a live SSH session: the inventory's connection
//! variables over `~/.ssh/config`, over OpenSSH's defaults.

use crate::plan::HostPlan;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{ConnectOptions, Session, Target, TransportError, Trust};

/// Where to connect for `host`: ssh_config (HostName, User, Port,
/// IdentityFile, ProxyJump) first, then what the inventory says explicitly.
pub fn target(host: &HostPlan, ssh_config: Option<&SshConfig>) -> Target {
    let c = &host.connection;
    let default_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let mut target = match ssh_config {
        Some(config) => config.target(&c.address, &default_user),
        None => Target::new(&host.host, &c.address, 22, &default_user),
    };
    target.name = host.host.clone();
    if let Some(port) = c.port {
        target.port = port;
    }
    if let Some(user) = &c.user {
        target.user = user.clone();
    }
    if let Some(key) = &c.key_file {
        target.identity_files.insert(0, key.clone());
    }
    target.passphrase = c.passphrase.clone();
    target
}

pub async fn connect(
    host: &HostPlan,
    ssh_config: Option<&SshConfig>,
    trust: &Trust,
    options: &ConnectOptions,
) -> Result<Session, TransportError> {
    Session::connect(&target(host, ssh_config), trust, options).await
}
