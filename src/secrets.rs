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
use crate::shell::Masker;
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
///
/// An error about the file names it with line and column but never quotes
/// its lines (the snippet other input errors show would show a secret), and
/// a failing command is never quoted with its output: see [`resolve`].
pub fn load(dir: &Path, stage: &str) -> Result<Option<Secrets>, Diagnostic> {
    let Some(path) = path(dir, stage) else {
        return Ok(None);
    };
    let source = Source::read(&path)?;
    // What errors and later templates point into: the path, not the text.
    let shown = Source::new(path.clone(), "");
    let redact = |mut err: Diagnostic| {
        if let Some(span) = &mut err.span
            && Arc::ptr_eq(&span.source, &source)
        {
            span.source = shown.clone();
        }
        err
    };
    let node = yaml::parse(&source).map_err(redact)?;
    let entries = match &node.value {
        yaml::Value::Map(entries) => entries.as_slice(),
        yaml::Value::Null => &[],
        _ => {
            return Err(redact(
                node.type_error("a secrets file", "a mapping of variables"),
            ));
        }
    };
    // Every value written in the file is known before any command runs, to
    // mask what a failing command prints.
    let mut known = Masker::new();
    let mut values = Vec::new();
    for (_, value) in entries {
        if source_of(value).is_none() {
            collect_strings(&written(value.to_json()), &mut values);
        }
    }
    values.iter().for_each(|v| known.add(v));
    let mut vars = Map::new();
    for (key, value) in entries {
        let name = key.scalar_string().unwrap_or_default();
        let value = match source_of(value) {
            None => value.to_json(),
            Some(fetch) => {
                let fetched = resolve(&name, fetch, &path, &known).map_err(redact)?;
                known.add(&fetched);
                values.push(fetched.clone());
                // Fetched text is used as it is, never templated (Ansible
                // does not template a lookup's result either).
                Value::String(yaml::never_templated(&fetched))
            }
        };
        vars.insert(name, value);
    }
    let mut warnings = warnings(&path);
    warnings.extend(too_short(&vars, &path));
    values.retain(|v| !v.is_empty());
    Ok(Some(Secrets {
        vars,
        span: Span::file_start(shown.clone()),
        values,
        warnings,
    }))
}

/// Where a value is fetched from: `{env: NAME}` or `{command: CMD}`.
enum Fetch<'a> {
    Env(&'a Node),
    Command(&'a Node),
}

fn source_of(node: &Node) -> Option<Fetch<'_>> {
    let yaml::Value::Map(entries) = &node.value else {
        return None;
    };
    let [(key, value)] = entries.as_slice() else {
        return None;
    };
    match key.as_str() {
        Some("env") => Some(Fetch::Env(value)),
        Some("command") => Some(Fetch::Command(value)),
        _ => None,
    }
}

/// How many lines of a failing command's stderr an error shows (its end,
/// where the reason usually is), each cut to [`STDERR_WIDTH`] characters.
const STDERR_LINES: usize = 5;
const STDERR_WIDTH: usize = 200;

/// Fetches the value of secret `name`. A failing command is reported with
/// the end of its stderr, every known secret value masked in it (those
/// written in the file, those fetched so far, and whatever it printed on
/// stdout); the command itself and its stdout are never shown — either may
/// hold a credential.
fn resolve(
    name: &str,
    fetch: Fetch<'_>,
    path: &Path,
    known: &Masker,
) -> Result<String, Diagnostic> {
    match fetch {
        Fetch::Env(value) => {
            let var = value.scalar_string().unwrap_or_default();
            std::env::var(&var).map_err(|_| {
                value.error(format!(
                    "environment variable `{var}` is not set (secret `{name}` reads it)"
                ))
            })
        }
        Fetch::Command(value) => {
            let command = value.scalar_string().unwrap_or_default();
            let dir = path
                .parent()
                .and_then(Path::parent)
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .current_dir(dir)
                .stdin(std::process::Stdio::inherit())
                .output()
                .map_err(|err| {
                    value.error(format!("cannot run the command of secret `{name}`: {err}"))
                })?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                let mut masker = known.clone();
                masker.add(stdout.trim());
                stdout
                    .lines()
                    .filter(|l| l.trim().len() >= crate::shell::MIN_MASKED)
                    .for_each(|l| masker.add(l.trim()));
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail = last_lines(&masker.mask(&stderr));
                let err = value.error(format!(
                    "the command of secret `{name}` failed ({})",
                    out.status
                ));
                return Err(match tail.is_empty() {
                    true => {
                        err.with_help("it printed nothing on stderr (its stdout is never shown)")
                    }
                    false => err.with_help(format!(
                        "the end of its stderr, secrets masked (its stdout is never shown):\n{tail}"
                    )),
                });
            }
            Ok(stdout.trim_end_matches(['\n', '\r']).to_string())
        }
    }
}

/// The last [`STDERR_LINES`] non-empty lines of `text`, each indented and
/// cut to [`STDERR_WIDTH`] characters.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(STDERR_LINES)..]
        .iter()
        .map(|line| {
            let cut: String = line.chars().take(STDERR_WIDTH).collect();
            let more = if cut.len() < line.len() { " …" } else { "" };
            format!("    {cut}{more}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A value as written, with `!unsafe` strings given back their text.
fn written(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(yaml::as_written(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(written).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, written(v))).collect())
        }
        other => other,
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

/// The variables whose value (or a string inside it) is too short to mask
/// ([`crate::shell::MIN_MASKED`]): named, never shown.
fn too_short(vars: &Map<String, Value>, path: &Path) -> Vec<String> {
    vars.iter()
        .filter(|(_, value)| {
            let mut strings = Vec::new();
            collect_strings(value, &mut strings);
            strings
                .iter()
                .any(|s| s.chars().count() < crate::shell::MIN_MASKED)
        })
        .map(|(name, _)| {
            format!(
                "secret `{name}` in `{}` is shorter than {} characters: it is not masked (masking it would hide every occurrence of it in the output)",
                path.display(),
                crate::shell::MIN_MASKED
            )
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> (tempfile::TempDir, Result<Option<Secrets>, Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/prod.yml"), text).unwrap();
        let loaded = load(dir.path(), "prod");
        (dir, loaded)
    }

    #[test]
    fn a_yaml_error_in_the_secrets_file_is_located_without_quoting_the_line() {
        let (_dir, loaded) = load_text("db_password: \"hunter2-x9\nother: 1\n");
        let shown = loaded.unwrap_err().to_string();
        assert!(shown.contains("secrets/prod.yml:"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let (_dir, loaded) = load_text("a: 1\nsecret_key: abc: hunter2-x9\n");
        let shown = loaded.unwrap_err().to_string();
        assert!(shown.contains("secrets/prod.yml:2:"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let (_dir, loaded) = load_text("- hunter2-x9\n");
        let shown = loaded.unwrap_err().to_string();
        assert!(shown.contains("must be a mapping"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_vault_value_in_the_secrets_file_is_an_error_that_quotes_no_line() {
        let (_dir, loaded) = load_text("pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3961\n");
        let shown = loaded.unwrap_err().to_string();
        assert!(shown.contains("secrets/prod.yml:1:5"), "{shown}");
        assert!(!shown.contains("ANSIBLE_VAULT"), "{shown}");
    }

    #[test]
    fn a_failing_command_source_shows_neither_its_stdout_nor_a_known_secret() {
        let text = "api_token: tok-lit-4471\n\
                    db_password: {command: \"echo out-pw-8812; echo 'no access for tok-lit-4471 out-pw-8812' >&2; exit 3\"}\n";
        let (_dir, loaded) = load_text(text);
        let shown = loaded.unwrap_err().to_string();
        assert!(shown.contains("secret `db_password` failed"), "{shown}");
        assert!(shown.contains("secrets/prod.yml:2:"), "{shown}");
        assert!(shown.contains("no access for ********"), "{shown}");
        assert!(!shown.contains("out-pw-8812"), "{shown}");
        assert!(!shown.contains("tok-lit-4471"), "{shown}");
        assert!(
            !shown.contains("echo"),
            "the command is not quoted: {shown}"
        );
    }

    #[test]
    fn a_failing_command_shows_only_the_last_lines_of_its_stderr() {
        let text =
            "pw: {command: \"for i in 1 2 3 4 5 6 7 8; do echo line-$i >&2; done; false\"}\n";
        let (_dir, loaded) = load_text(text);
        let shown = loaded.unwrap_err().to_string();
        assert!(
            shown.contains("line-8") && shown.contains("line-4"),
            "{shown}"
        );
        assert!(!shown.contains("line-3"), "{shown}");
    }

    #[test]
    fn fetched_values_are_masked_and_never_templated() {
        let text =
            "a: {command: \"printf '%s' 'x{{ y }}z'\"}\nb: plain-value\nc: !unsafe 'p{{ q }}'\n";
        let (_dir, loaded) = load_text(text);
        let secrets = loaded.unwrap().unwrap();
        let mut values = secrets.values.clone();
        values.sort();
        assert_eq!(values, ["plain-value", "p{{ q }}", "x{{ y }}z"]);
        let templates = crate::template::Templates::new();
        let rendered = templates
            .render_json(
                &Value::Object(secrets.vars.clone()),
                &Map::new(),
                &secrets.span,
            )
            .unwrap();
        assert_eq!(rendered["a"], "x{{ y }}z");
        assert_eq!(rendered["c"], "p{{ q }}");
    }
}
