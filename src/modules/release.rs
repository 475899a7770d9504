//! The release lifecycle steps (`release.upload`, `release.switch`,
//! `release.cleanup`). Their names and arguments are fixed here so playbooks
//! can be written and checked now; `ferry deploy` carries them out.

use serde::Serialize;

use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &["deploy_to", "keep_releases", "shared_files", "shared_dirs"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStep {
    /// A new release directory with the tree of `--rev` and the shared links.
    Upload,
    /// The barrier: every host prepared, then `current` switched atomically.
    Switch,
    /// Removes old releases, keeping the newest `keep_releases`.
    Cleanup,
}

pub fn release(module: &str, args: &Args) -> Result<Action, Diagnostic> {
    let step = match module {
        "release.upload" => ReleaseStep::Upload,
        "release.switch" => ReleaseStep::Switch,
        _ => ReleaseStep::Cleanup,
    };
    Ok(Action::Release {
        step,
        args: args.map.clone(),
    })
}
