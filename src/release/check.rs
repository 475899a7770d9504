//! The release's paths checked against the commit's tree on the controller,
//! before any host is touched: a shared path that the commit would put
//! outside the release, or a name ferry keeps for itself, is a located
//! input error (exit 2), not a half-made release on some hosts — or a link
//! and a replaced file somewhere else on them.
//!
//! `shared_files: [config/app.ini]` with `config -> /etc/app` committed
//! would make the host link, and first remove, `/etc/app/app.ini`. The
//! commands on the host refuse that too (see [`super::remote`]); this finds
//! it at compile time, with the step's location.

use super::layout::OWN_NAMES;
use super::remote::inside;
use super::{MODE_SYMLINK, Source};
use crate::diagnostic::Diagnostic;
use crate::modules::{Action, ReleaseStep};
use crate::plan::{Body, Plan};

/// Refuses a plan whose `release.upload` steps name a shared path that is
/// not inside the release, or lies below a file or symlink of the commit;
/// and a commit that has one of ferry's own names at its top.
pub fn check_release_paths(plan: &Plan, source: &Source) -> Result<(), Diagnostic> {
    let short = &source.commit()[..source.commit().len().min(7)];
    if let Some(own) = source
        .manifest()
        .entries
        .iter()
        .find_map(|e| OWN_NAMES.iter().find(|own| top(&e.path) == **own))
    {
        return Err(Diagnostic::plain(format!(
            "commit {short} has `{own}` at the top of the project: ferry writes that name into every release itself"
        ))
        .with_help(format!("remove `{own}` from the repository, or move it")));
    }
    let mut seen = std::collections::HashSet::new();
    for step in plan
        .plays
        .iter()
        .flat_map(|play| &play.hosts)
        .flat_map(|host| &host.steps)
    {
        let Body::Ready {
            action:
                Action::Release {
                    step: ReleaseStep::Upload,
                    args,
                },
        } = &step.body
        else {
            continue;
        };
        for key in ["shared_files", "shared_dirs"] {
            for path in args[key].as_array().into_iter().flatten() {
                let Some(path) = path.as_str() else { continue };
                if !seen.insert((step.location.as_str(), key, path)) {
                    continue;
                }
                check_shared(source, short, key, path)
                    .map_err(|why| Diagnostic::plain(format!("{}: {why}", step.location)))?;
            }
        }
    }
    Ok(())
}

fn top(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Why `path`, listed under `key`, cannot be linked in a release of the
/// commit `short`.
fn check_shared(source: &Source, short: &str, key: &str, path: &str) -> Result<(), String> {
    let path = inside(path).map_err(|bad| format!("`{key}` entry {bad}"))?;
    for (slash, _) in path.match_indices('/') {
        let above = &path[..slash];
        let Some(entry) = source.manifest().get(above) else {
            continue;
        };
        let what = if entry.mode == MODE_SYMLINK {
            match source.symlink_target(above) {
                Some(target) => format!("a symlink to `{target}`"),
                None => "a symlink".to_string(),
            }
        } else {
            "a file".to_string()
        };
        return Err(format!(
            "`{key}` entry `{path}` lies below `{above}`, which commit {short} has as {what}: \
             a shared path is linked only inside the release, never through a symlink or a file"
        ));
    }
    Ok(())
}
