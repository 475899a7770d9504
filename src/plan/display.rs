//! The plan as a person reads it: play by play, host by host, step by step,
//! with the exact commands and uploads, secrets masked.

use std::fmt::Write;

use super::{Body, Plan, Step};
use crate::modules::{Action, ReleaseStep};
use crate::playbook::Part;

/// Renders the whole plan as text.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for play in &plan.plays {
        let _ = writeln!(
            out,
            "PLAY {} — hosts: {} ({} host{})",
            play.name,
            play.pattern,
            play.hosts.len(),
            if play.hosts.len() == 1 { "" } else { "s" }
        );
        if play.facts_gathered {
            out.push_str("  facts gathered (a template of the play reads them)\n");
        }
        for host in &play.hosts {
            let c = &host.connection;
            let user = c
                .user
                .as_deref()
                .map(|u| format!("{u}@"))
                .unwrap_or_default();
            let port = c.port.map(|p| format!(":{p}")).unwrap_or_default();
            let _ = writeln!(out, "\n  {} ({user}{}{port})", host.host, c.address);
            for (i, step) in host.steps.iter().enumerate() {
                step_text(&mut out, &format!("{:>3}.", i + 1), step, &plan.release.id);
            }
            for step in &host.handlers {
                step_text(&mut out, "  ↳", step, &plan.release.id);
            }
        }
        out.push('\n');
    }
    plan.masker.mask(&out)
}

/// When a step in a block with `rescue` or `always` runs, or what its
/// failure leads to.
fn block_text(step: &Step) -> Option<&'static str> {
    let frame = step.blocks.last()?;
    Some(match frame.part {
        Part::Rescue => "rescue: runs only when a step of its block fails",
        Part::Always => "always: runs after its block, failed or not",
        Part::Block if frame.rescue => "in a block: a failure here runs the block's rescue",
        Part::Block => "in a block: a failure here runs the block's always first",
    })
}

fn step_text(out: &mut String, number: &str, step: &Step, release: &str) {
    let item = match (&step.label, &step.item) {
        (Some(label), _) => format!(" (item={label})"),
        (None, Some(item)) => format!(" (item={})", compact(item)),
        (None, None) => String::new(),
    };
    let run_once = if step.run_once { " [run_once]" } else { "" };
    let label = if step.listen.is_empty() {
        String::new()
    } else {
        " handler".to_string()
    };
    let module = if step.name == step.module {
        String::new()
    } else {
        format!(" [{}]", step.module)
    };
    let _ = writeln!(
        out,
        "  {number} {}{item}{module}{label}{run_once}",
        step.name
    );
    let pad = "         ";
    if let Some(until) = &step.until {
        let retries = step.retries.unwrap_or(3);
        let delay = step.delay.unwrap_or(5);
        let _ = writeln!(
            out,
            "{pad}until {} (up to {retries} retries, {delay}s apart)",
            until.expr
        );
    } else if let Some(retries) = step.retries {
        let _ = writeln!(out, "{pad}retried up to {retries} times on failure");
    }
    if let Some(timeout) = step.timeout {
        let _ = writeln!(out, "{pad}timeout: {timeout}s");
    }
    for cond in &step.when {
        let _ = writeln!(out, "{pad}when (at run time): {}", cond.expr);
    }
    if let Some(section) = block_text(step) {
        let _ = writeln!(out, "{pad}{section}");
    }
    if step.no_log {
        let _ = writeln!(out, "{pad}(details hidden: no_log)");
        return;
    }
    match &step.body {
        Body::Skipped { reason } => {
            let _ = writeln!(out, "{pad}skip: {reason}");
        }
        Body::FlushHandlers => {
            let _ = writeln!(out, "{pad}the handlers notified so far run here");
        }
        Body::Deferred { reason, .. } => {
            let _ = writeln!(out, "{pad}rendered at run time: {reason}");
        }
        Body::Ready { action } => match action {
            Action::Remote { check, run, upload } => {
                if let Some(upload) = upload {
                    let _ = writeln!(
                        out,
                        "{pad}upload: {} → {} ({} bytes, sha256 {})",
                        upload.from,
                        upload.dest,
                        upload.size,
                        &upload.sha256[..12]
                    );
                }
                if let Some(check) = check {
                    let _ = writeln!(
                        out,
                        "{pad}check: {}",
                        crate::shell::summary(check.command.as_sent())
                    );
                    let _ = writeln!(out, "{pad}       (ok when {})", check.satisfied);
                }
                let _ = writeln!(out, "{pad}run:   {}", crate::shell::summary(run.as_sent()));
            }
            Action::Debug { msg } => {
                let _ = writeln!(out, "{pad}msg: {msg}");
            }
            Action::Edit { edit } => {
                let _ = writeln!(out, "{pad}{}", crate::modules::edit::describe(edit));
            }
            Action::Probed { probed } => {
                let _ = writeln!(out, "{pad}{}", probed.module.describe());
                let _ = writeln!(
                    out,
                    "{pad}probe: {}",
                    crate::shell::summary(probed.probe.as_sent())
                );
            }
            Action::Fail { msg } => {
                let _ = writeln!(out, "{pad}fail: {msg}");
            }
            Action::Assert { assertion } => {
                for cond in &assertion.that {
                    let _ = writeln!(out, "{pad}assert (at run time): {}", cond.expr);
                }
            }
            Action::Stat { stat } => {
                let _ = writeln!(out, "{pad}read: what `{}` is (stat)", stat.path);
            }
            Action::Release { step, args } => {
                let _ = writeln!(out, "{pad}{}", release_text(*step, args, release));
            }
            Action::Certs { spec } => {
                // Its commands are built at run time: say here what `become`
                // does to them.
                let sudo = step
                    .become_user
                    .as_ref()
                    .map(|u| format!("; on the hosts as `{u}`, through sudo"))
                    .unwrap_or_default();
                let _ = writeln!(out, "{pad}{}{sudo}", crate::certs::describe(spec));
            }
        },
    }
}

/// What a release step will do, in words.
fn release_text(step: ReleaseStep, args: &serde_json::Value, release: &str) -> String {
    let deploy_to = args["deploy_to"].as_str().unwrap_or("?");
    match step {
        ReleaseStep::Upload => {
            let shared: Vec<String> = ["shared_files", "shared_dirs"]
                .iter()
                .flat_map(|k| args[*k].as_array().cloned().unwrap_or_default())
                .map(|v| compact(&v))
                .collect();
            let shared = if shared.is_empty() {
                String::new()
            } else {
                format!("; link shared {}", shared.join(", "))
            };
            format!("new release {deploy_to}/releases/{release} (only changed files sent){shared}")
        }
        ReleaseStep::Switch => format!(
            "wait until every host is prepared, then switch {deploy_to}/current → releases/{release}"
        ),
        ReleaseStep::Cleanup => format!(
            "keep the newest {} complete releases in {deploy_to}/releases",
            compact(&args["keep_releases"])
        ),
    }
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
