//! A stage's secrets file: `secrets/STAGE.yml`, kept out of git.
//!
//! Every variable in it is secret: its value is masked wherever ferry shows
//! text, and a step that would put it on a command line is refused. A value
//! is written as it is, or fetched when the deploy is compiled — from the
//! controller's environment (`{env: NAME}`) or from a command such as a
//! password manager's CLI (`{command: "pass show mysite/secret_key"}`) — so
//! the file itself can hold no secret at all. The variables rank just below
//! `-e`: over the inventory and the play's `vars`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Source, Span};
use crate::yaml::{self, Node};

/// The secret variables of one stage.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub vars: Map<String, Value>,
    pub span: Span,
    /// Every string in `vars`, to mask.
    pub values: Vec<String>,
    /// Things the user should fix that do not stop the deploy.
    pub warnings: Vec<String>,
}

/// `secrets/STAGE.yml` (or `.yaml`) under `dir`, if there is one.
pub fn path(dir: &Path, stage: &str) -> Option<PathBuf> {
    ["yml", "yaml"]
        .iter()
        .map(|ext| dir.join("secrets").join(format!("{stage}.{ext}")))
        .find(|p| p.is_file())
}

/// Whether git would ignore `secrets/STAGE.yml` under `dir`: then a fresh
/// clone lacks it, and a missing variable most likely belongs in it.
pub fn ignored_by_git(dir: &Path, stage: &str) -> bool {
    let Ok(repo) = git2::Repository::discover(dir) else {
        return false;
    };
    let (Some(workdir), Ok(dir)) = (repo.workdir(), dir.canonicalize()) else {
        return false;
    };
    let file = dir.join("secrets").join(format!("{stage}.yml"));
    let Ok(relative) = file.strip_prefix(workdir) else {
        return false;
    };
    repo.is_path_ignored(relative).unwrap_or(false)
}

/// Reads the stage's secrets, running the commands it names.
pub fn load(dir: &Path, stage: &str) -> Result<Option<Secrets>, Diagnostic> {
    let Some(path) = path(dir, stage) else {
        return Ok(None);
    };
    let source = Source::read(&path)?;
    let node = yaml::parse(&source)?;
    let yaml::Value::Map(entries) = &node.value else {
        if matches!(node.value, yaml::Value::Null) {
            return Ok(Some(empty(&source)));
        }
        return Err(node.type_error("a secrets file", "a mapping of variables"));
    };
    let mut vars = Map::new();
    for (key, value) in entries {
        let name = key.scalar_string().unwrap_or_default();
        vars.insert(name, resolve(value, &path)?);
    }
    let mut values = Vec::new();
    collect_strings(&Value::Object(vars.clone()), &mut values);
    Ok(Some(Secrets {
        vars,
        span: Span::file_start(source.clone()),
        values,
        warnings: warnings(&path),
    }))
}

fn empty(source: &Arc<Source>) -> Secrets {
    Secrets {
        vars: Map::new(),
        span: Span::file_start(source.clone()),
        values: Vec::new(),
        warnings: Vec::new(),
    }
}

/// A value as written, or fetched for `{env: NAME}` / `{command: CMD}`.
fn resolve(node: &Node, path: &Path) -> Result<Value, Diagnostic> {
    let yaml::Value::Map(entries) = &node.value else {
        return Ok(node.to_json());
    };
    let [(key, value)] = entries.as_slice() else {
        return Ok(node.to_json());
    };
    match key.as_str() {
        Some("env") => {
            let name = value.scalar_string().unwrap_or_default();
            std::env::var(&name).map(Value::String).map_err(|_| {
                value.error(format!(
                    "environment variable `{name}` is not set (this secret reads it)"
                ))
            })
        }
        Some("command") => {
            let command = value.scalar_string().unwrap_or_default();
            let dir = path
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .current_dir(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                })
                .stdin(std::process::Stdio::inherit())
                .output()
                .map_err(|err| value.error(format!("cannot run `{command}`: {err}")))?;
            if !out.status.success() {
                return Err(value.error(format!(
                    "`{command}` failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(Value::String(
                text.trim_end_matches(['\n', '\r']).to_string(),
            ))
        }
        _ => Ok(node.to_json()),
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// A secrets file readable by others, or committed to git, is a leak
/// waiting to happen: say so on every run.
fn warnings(path: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            warnings.push(format!(
                "`{}` can be read by other users (mode {:o}): chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            ));
        }
    }
    if let Ok(repo) = git2::Repository::discover(path.parent().unwrap_or(Path::new(".")))
        && let (Some(workdir), Ok(abs)) = (repo.workdir(), path.canonicalize())
        && let Ok(relative) = abs.strip_prefix(workdir.canonicalize().unwrap_or_default())
        && let Ok(status) = repo.status_file(relative)
        && !status.intersects(git2::Status::WT_NEW | git2::Status::IGNORED)
    {
        warnings.push(format!(
            "`{}` is committed to git: secrets belong out of the repository (add `secrets/` to .gitignore and remove it from git's history)",
            path.display()
        ));
    }
    warnings
}
