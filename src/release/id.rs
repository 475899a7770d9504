//! The release id, chosen once on the controller for every host, so that all
//! hosts of one deploy name their release the same.

use std::path::Path;

use crate::diagnostic::Diagnostic;

/// A release id and the commit it deploys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReleaseId {
    /// `20261124101500-1a2b3c4`: sorts by time, names the commit.
    pub id: String,
    /// The full commit id, when the project is a git repository.
    pub commit: Option<String>,
}

/// The id of a release of `rev` (default `HEAD`) made now.
///
/// Outside a git repository there is no commit: the id is the timestamp
/// alone, and only `--rev` is an error there.
pub fn release_id(project_dir: &Path, rev: Option<&str>) -> Result<ReleaseId, Diagnostic> {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%d%H%M%S").to_string();
    let repo = match git2::Repository::discover(project_dir) {
        Ok(repo) => repo,
        Err(_) if rev.is_none() => {
            return Ok(ReleaseId {
                id: stamp,
                commit: None,
            });
        }
        Err(err) => {
            return Err(Diagnostic::plain(format!(
                "`--rev` needs a git repository, but `{}` is not in one: {}",
                project_dir.display(),
                err.message()
            )));
        }
    };
    let wanted = rev.unwrap_or("HEAD");
    let commit = repo
        .revparse_single(wanted)
        .and_then(|object| object.peel_to_commit())
        .map_err(|err| {
            Diagnostic::plain(format!("no git revision `{wanted}`: {}", err.message()))
        })?;
    let full = commit.id().to_string();
    Ok(ReleaseId {
        id: format!("{stamp}-{}", &full[..7]),
        commit: Some(full),
    })
}
