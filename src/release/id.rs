//! The release id, chosen once on the controller for every host, so that all
//! hosts of one deploy name their release the same.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::release::procfile::Procfile;

/// A release id and the commit it deploys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReleaseId {
    /// `20261124101500-1a2b3c4`: sorts by time, names the commit.
    pub id: String,
    /// The full commit id, when the project is a git repository.
    pub commit: Option<String>,
    /// The process types of the project's `Procfile` at that commit (the
    /// `procfile` variable), when it has one.
    #[serde(skip)]
    pub procfile: Option<Procfile>,
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
            let procfile = std::fs::read_to_string(project_dir.join("Procfile"))
                .ok()
                .map(|text| Procfile::parse(&text));
            return Ok(ReleaseId {
                id: stamp,
                commit: None,
                procfile,
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
    let procfile = procfile_at(&repo, &commit, project_dir);
    Ok(ReleaseId {
        id: format!("{stamp}-{}", &full[..7]),
        commit: Some(full),
        procfile,
    })
}

/// The `Procfile` beside the playbook, as committed.
fn procfile_at(
    repo: &git2::Repository,
    commit: &git2::Commit,
    project_dir: &Path,
) -> Option<Procfile> {
    let workdir = repo.workdir()?.canonicalize().ok()?;
    let dir = project_dir.canonicalize().ok()?;
    let path = dir.strip_prefix(&workdir).ok()?.join("Procfile");
    let entry = commit.tree().ok()?.get_path(&path).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(Procfile::parse(&String::from_utf8_lossy(blob.content())))
}
