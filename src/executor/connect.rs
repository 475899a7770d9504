//! From a host's plan to a live SSH session: the inventory's connection
//! variables over `~/.ssh/config`, over OpenSSH's defaults.

use crate::plan::HostPlan;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{ConnectOptions, Session, Target, TransportError, Trust};

/// Where to connect for `host`: the inventory's explicit user and port
/// given first (as Ansible gives them to ssh with `-o`: they win, and
/// ssh_config's `Match user` sees the user), then the options of its
/// `ansible_ssh_common_args`/`ansible_ssh_extra_args`, then ssh_config,
/// then OpenSSH's defaults. The inventory's key file is offered first
/// (`-i`). Without a config, the same options apply over an empty one.
pub fn target(host: &HostPlan, ssh_config: Option<&SshConfig>) -> Target {
    let c = &host.connection;
    let default_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let mut preset = Vec::new();
    if let Some(user) = &c.user {
        preset.push(("User".to_string(), vec![user.clone()]));
    }
    if let Some(port) = c.port {
        preset.push(("Port".to_string(), vec![port.to_string()]));
    }
    // Ansible puts `ansible_ssh_common_args`/`_extra_args` after these.
    preset.extend(c.ssh_options.iter().cloned());
    let empty = SshConfig::default();
    let config = ssh_config.unwrap_or(&empty);
    let mut target = config.target_with(&c.address, &default_user, &preset);
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

/// One line per ssh_config option that applies to some of `hosts` and that
/// ferry does not act on: where it is written and which hosts it concerns
/// (for `-v`, said once before connecting rather than ignored in silence).
pub fn ignored_options(hosts: &[&HostPlan], ssh_config: &SshConfig) -> Vec<String> {
    let mut found: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
    for host in hosts {
        for (keyword, at) in target(host, Some(ssh_config)).ignored {
            let place = at.map_or("the inventory's ssh args".to_string(), |at| at.to_string());
            let line =
                format!("ssh_config: `{keyword}` ({place}) is not supported by ferry: ignored");
            let names = found.entry(line).or_default();
            if !names.contains(&host.host) {
                names.push(host.host.clone());
            }
        }
    }
    found
        .into_iter()
        .map(|(line, hosts)| format!("{line} for {}", hosts.join(", ")))
        .collect()
}

pub async fn connect(
    host: &HostPlan,
    ssh_config: Option<&SshConfig>,
    trust: &Trust,
    options: &ConnectOptions,
) -> Result<Session, TransportError> {
    Session::connect(&target(host, ssh_config), trust, options).await
}
