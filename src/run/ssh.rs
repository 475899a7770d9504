//! `ferry ssh STAGE [HOST]`: an interactive shell on a host, in its
//! `current` release.
//!
//! The system's `ssh` runs it — the terminal, escapes, agent and
//! forwarding behave as users expect of ssh — but with the connection
//! ferry resolved for that host (inventory over ssh_config, as every other
//! command connects) given as explicit options over `-F /dev/null`, so that
//! ssh reads no config of its own: the same address, user, keys, jump
//! hosts, and the same known_hosts files checked the same strict way.

use std::path::{Path, PathBuf};

use super::compile_stage;
use crate::cli::{CompileArgs, SshArgs};
use crate::error::Error;
use crate::shell::quote;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{StrictHostKeyChecking, Target, Trust};

pub(super) fn ssh(dir: &Path, args: SshArgs) -> Result<(), Error> {
    let plan = compile_stage(dir, &args.stage, &CompileArgs::default(), None)?;
    let hosts: Vec<_> = plan.plays.iter().flat_map(|p| &p.hosts).collect();
    let host = match &args.host {
        Some(name) => hosts.iter().find(|h| &h.host == name).ok_or_else(|| {
            let mut names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
            names.dedup();
            Error::Input(crate::diagnostic::Diagnostic::plain(format!(
                "stage `{}` has no host `{name}`: its hosts are {}",
                args.stage,
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        })?,
        None => hosts.first().ok_or_else(|| {
            Error::Input(crate::diagnostic::Diagnostic::plain(format!(
                "stage `{}` has no host",
                args.stage
            )))
        })?,
    };
    // The release directory of the host, from any play that has one.
    let deploy_to = hosts
        .iter()
        .filter(|h| h.host == host.host)
        .find_map(|h| h.deploy_to());
    let ssh_config = SshConfig::load_user_default()
        .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    let target = crate::executor::target(host, Some(&ssh_config));
    let trust = Trust::user_default(Some(dir.join("known_hosts")).filter(|p| p.is_file()));
    let mut words = options(&target, &trust);
    words.push("-t".into());
    words.push(target.address.clone());
    words.push(remote_command(deploy_to.as_deref()));
    use std::os::unix::process::CommandExt as _;
    let err = std::process::Command::new("ssh").args(&words).exec();
    Err(Error::CannotStart(format!("cannot run `ssh`: {err}")))
}

/// The shell to start: a login shell in `current` (or, before the first
/// deploy, in `deploy_to`, saying so); the home directory without releases.
fn remote_command(deploy_to: Option<&str>) -> String {
    match deploy_to {
        Some(dir) => {
            let current = format!("{}/current", dir.trim_end_matches('/'));
            format!(
                "cd {} 2>/dev/null || {{ echo {} >&2; cd {} 2>/dev/null; }}; exec \"${{SHELL:-/bin/sh}}\" -l",
                quote(&current),
                quote(&format!("ferry: no current release in {dir}")),
                quote(dir)
            )
        }
        None => "exec \"${SHELL:-/bin/sh}\" -l".to_string(),
    }
}

/// ssh's options for `target`, checked against `trust`'s files: everything
/// ferry resolved, so that ssh needs no config (`-F /dev/null`).
fn options(target: &Target, trust: &Trust) -> Vec<String> {
    let mut o: Vec<(&str, String)> = vec![
        ("User", target.user.clone()),
        ("Port", target.port.to_string()),
    ];
    // The same files in the same order: the user's (where a learnt key is
    // written) and the project's, then the system's.
    let (files, writable) = trust.files_for(target);
    let split = writable + usize::from(trust.project.is_some());
    let (user, global) = files.split_at(split.min(files.len()));
    o.push(("UserKnownHostsFile", paths_or_none(user)));
    o.push(("GlobalKnownHostsFile", paths_or_none(global)));
    // ferry never asks: an unknown key is refused unless first use is
    // trusted, and a changed key always is (`no` is `accept-new` to ferry).
    let accept_new = trust.accept_new
        || matches!(
            target.strict_host_key_checking,
            Some(StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No)
        );
    o.push((
        "StrictHostKeyChecking",
        if accept_new { "accept-new" } else { "yes" }.into(),
    ));
    o.push(("HashKnownHosts", yes_no(target.hash_known_hosts)));
    for key in &target.identity_files {
        o.push(("IdentityFile", key.display().to_string()));
    }
    for cert in &target.certificate_files {
        o.push(("CertificateFile", cert.display().to_string()));
    }
    o.push(("IdentitiesOnly", yes_no(target.identities_only)));
    if let Some(agent) = &target.identity_agent {
        o.push(("IdentityAgent", agent.clone()));
    }
    if let Some(timeout) = target.connect_timeout {
        o.push(("ConnectTimeout", timeout.as_secs().max(1).to_string()));
    }
    if let Some(interval) = target.alive.interval {
        o.push(("ServerAliveInterval", interval.as_secs().to_string()));
    }
    if let Some(count) = target.alive.count_max {
        o.push(("ServerAliveCountMax", count.to_string()));
    }
    if let Some(command) = &target.proxy_command {
        // Already expanded by ferry: ssh must not expand it again.
        o.push(("ProxyCommand", command.replace('%', "%%")));
    } else if let Some(jump) = &target.jump {
        // The jump host as ferry resolved it, reached the same way.
        let mut hop = vec!["ssh".to_string()];
        hop.extend(options(jump, trust));
        hop.extend(["-W".to_string(), "%h:%p".to_string(), jump.address.clone()]);
        let words: Vec<String> = hop
            .iter()
            .map(|w| {
                if w == "%h:%p" {
                    w.clone()
                } else {
                    quote(w).replace('%', "%%")
                }
            })
            .collect();
        o.push(("ProxyCommand", words.join(" ")));
    }
    let mut words = vec!["-F".to_string(), "/dev/null".to_string()];
    for (key, value) in o {
        words.push("-o".into());
        words.push(format!("{key}={value}"));
    }
    words
}

fn yes_no(on: bool) -> String {
    if on { "yes" } else { "no" }.to_string()
}

/// A list of files for ssh_config (space-separated), or `none`.
fn paths_or_none(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "none".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(words: &'a [String], key: &str) -> Vec<&'a str> {
        words
            .iter()
            .filter_map(|w| w.strip_prefix(&format!("{key}=")))
            .collect()
    }

    #[test]
    fn ssh_gets_ferrys_files_and_strictness() {
        let mut target = Target::new("web1", "10.0.0.5", 2222, "deploy");
        target.identity_files = vec!["/k/id".into()];
        let trust = Trust {
            known_hosts: vec!["/home/u/.ssh/known_hosts".into()],
            project: Some("/p/known_hosts".into()),
            global: vec!["/etc/ssh/ssh_known_hosts".into()],
            accept_new: false,
        };
        let words = options(&target, &trust);
        assert_eq!(&words[..2], ["-F", "/dev/null"]);
        assert_eq!(value(&words, "Port"), ["2222"]);
        assert_eq!(value(&words, "User"), ["deploy"]);
        assert_eq!(
            value(&words, "UserKnownHostsFile"),
            ["/home/u/.ssh/known_hosts /p/known_hosts"]
        );
        assert_eq!(
            value(&words, "GlobalKnownHostsFile"),
            ["/etc/ssh/ssh_known_hosts"]
        );
        assert_eq!(value(&words, "StrictHostKeyChecking"), ["yes"]);
        assert_eq!(value(&words, "IdentityFile"), ["/k/id"]);
    }

    #[test]
    fn a_jump_host_is_reached_with_its_own_options() {
        let mut target = Target::new("web1", "10.0.0.5", 22, "deploy");
        let mut jump = Target::new("bastion", "10.0.0.1", 2200, "hop");
        jump.strict_host_key_checking = Some(StrictHostKeyChecking::AcceptNew);
        target.jump = Some(Box::new(jump));
        let trust = Trust {
            known_hosts: vec![],
            project: None,
            global: vec![],
            accept_new: false,
        };
        let words = options(&target, &trust);
        let proxy = value(&words, "ProxyCommand");
        assert_eq!(proxy.len(), 1);
        let proxy = proxy[0];
        assert!(
            proxy.starts_with("ssh -F /dev/null -o User=hop -o Port=2200"),
            "{proxy}"
        );
        assert!(
            proxy.contains("StrictHostKeyChecking=accept-new"),
            "{proxy}"
        );
        assert!(proxy.ends_with("-W %h:%p 10.0.0.1"), "{proxy}");
        assert_eq!(value(&words, "StrictHostKeyChecking"), ["yes"]);
        assert_eq!(value(&words, "UserKnownHostsFile"), ["none"]);
    }

    #[test]
    fn the_shell_starts_in_current() {
        let command = remote_command(Some("/srv/app/"));
        assert!(
            command.starts_with("cd /srv/app/current 2>/dev/null ||"),
            "{command}"
        );
        assert!(
            command.ends_with("exec \"${SHELL:-/bin/sh}\" -l"),
            "{command}"
        );
    }
}
