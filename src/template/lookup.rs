//! Ansible's `lookup()` and `query()`/`q()`, evaluated on the controller
//! while the playbook compiles — before any host is touched — as Ansible
//! evaluates them on the controller.
//!
//! `lookup` joins several results with commas (a list with `wantlist=True`);
//! `query` always gives the list. `errors='strict'` (the default) makes a
//! failed lookup an error at the template's location; `warn` and `ignore`
//! give an empty result instead (ferry compiles silently, so `warn` is
//! `ignore` here). `pipe` and `lines` run their command on the controller
//! when the playbook compiles, as Ansible runs them on the controller. A
//! file a lookup reads that is vaulted is decrypted, and its text is a
//! secret (see `crate::vault`).

use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, Value};

use super::filters::invalid;

/// The lookups ferry has.
pub(super) const LOOKUPS: &[&str] = &["env", "file", "fileglob", "first_found", "lines", "pipe"];

/// Registers `lookup`, `query` and `q`; relative files are searched in
/// `dir`'s `files/`, then in `dir` (the playbook's directory).
pub(super) fn register(env: &mut minijinja::Environment<'static>, dir: Option<PathBuf>) {
    let base = dir.clone();
    env.add_function(
        "lookup",
        move |kind: String, terms: Rest<Value>, kwargs: Kwargs| {
            let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
            let items = run(base.as_deref(), &kind, &terms, &kwargs)?;
            if wantlist {
                return Ok(Value::from(items));
            }
            // One result is itself (a list stays a list); several are
            // joined with commas, as Ansible joins them.
            Ok(match items.as_slice() {
                [one] => one.clone(),
                many => Value::from(
                    many.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            })
        },
    );
    for name in ["query", "q"] {
        let base = dir.clone();
        env.add_function(
            name,
            move |kind: String, terms: Rest<Value>, kwargs: Kwargs| {
                let _ = kwargs.get::<Option<bool>>("wantlist")?;
                run(base.as_deref(), &kind, &terms, &kwargs).map(Value::from)
            },
        );
    }
}

/// The lookup's results as a list, or, with `errors='warn'`/`'ignore'`, an
/// empty list where it failed.
fn run(
    dir: Option<&Path>,
    kind: &str,
    terms: &[Value],
    kwargs: &Kwargs,
) -> Result<Vec<Value>, Error> {
    let errors = kwargs
        .get::<Option<String>>("errors")?
        .unwrap_or_else(|| "strict".into());
    if !["strict", "warn", "ignore"].contains(&errors.as_str()) {
        return Err(invalid(format!(
            "`errors` must be `strict`, `warn` or `ignore`, not `{errors}`"
        )));
    }
    let terms = flatten(terms);
    let result = match kind {
        "env" => env(&terms, kwargs),
        "file" => file(dir, &terms, kwargs),
        "pipe" => commands(&terms, false),
        "lines" => commands(&terms, true),
        "fileglob" => fileglob(dir, &terms),
        "first_found" => first_found(dir, &terms, kwargs),
        other => {
            return Err(invalid(format!(
                "unknown lookup `{other}`: ferry has {}",
                LOOKUPS
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    match result {
        Err(_) if errors != "strict" => Ok(Vec::new()),
        other => other.and_then(|items| {
            kwargs.assert_all_used()?;
            Ok(items)
        }),
    }
}

/// Terms as strings: a list term is its items (`query('file', list)`).
fn flatten(terms: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for term in terms {
        match term.try_iter() {
            Ok(items) if term.as_str().is_none() => out.extend(items.map(|v| v.to_string())),
            _ => out.push(term.to_string()),
        }
    }
    out
}

/// `env`: each variable's value, `''` (or `default=`) when unset.
fn env(terms: &[String], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let default = kwargs.get::<Option<String>>("default")?;
    Ok(terms
        .iter()
        .map(|name| {
            Value::from(
                std::env::var(name)
                    .ok()
                    .or_else(|| default.clone())
                    .unwrap_or_default(),
            )
        })
        .collect())
}

/// Where Ansible looks for a relative file: `files/NAME`, then `NAME`,
/// beside the playbook.
fn search(dir: Option<&Path>, name: &str) -> Vec<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    let dir = dir.unwrap_or(Path::new("."));
    vec![dir.join("files").join(name), dir.join(name)]
}

/// `file`: each file's text, trailing whitespace stripped (`rstrip=True`,
/// `lstrip=False` as Ansible's defaults).
fn file(dir: Option<&Path>, terms: &[String], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let rstrip = kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true);
    let lstrip = kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false);
    terms
        .iter()
        .map(|name| {
            let candidates = search(dir, name);
            let Some(path) = candidates.iter().find(|p| p.is_file()) else {
                return Err(invalid(format!(
                    "lookup `file`: no file `{name}` (looked in {})",
                    shown(&candidates)
                )));
            };
            let bytes = std::fs::read(path)
                .map_err(|e| invalid(format!("lookup `file`: cannot read `{name}`: {e}")))?;
            let bytes = crate::vault::open_file(bytes, path)
                .map_err(|e| invalid(format!("lookup `file`: {}", e.message)))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let text = if rstrip { text.trim_end() } else { &text };
            let text = if lstrip { text.trim_start() } else { text };
            Ok(Value::from(text))
        })
        .collect()
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pipe` (each command's stdout, trailing newline stripped) and `lines`
/// (each line of each command's stdout as its own item), run with `sh -c`
/// on the controller. A command that fails is an error.
fn commands(terms: &[String], split: bool) -> Result<Vec<Value>, Error> {
    let which = if split { "lines" } else { "pipe" };
    let mut out = Vec::new();
    for command in terms {
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| invalid(format!("lookup `{which}`: cannot run `sh`: {e}")))?;
        if !output.status.success() {
            return Err(invalid(format!(
                "lookup `{which}`: `{command}` failed on the controller ({})",
                output.status
            )));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        if split {
            out.extend(text.lines().map(Value::from));
        } else {
            out.push(Value::from(text.trim_end_matches('\n')));
        }
    }
    Ok(out)
}

/// `fileglob`: the files (not directories) matching each pattern's last
/// part, in `files/` beside the playbook, then beside it, as absolute
/// paths, sorted. No match is an empty list, as in Ansible.
fn fileglob(dir: Option<&Path>, terms: &[String]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for pattern in terms {
        let path = Path::new(pattern);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let glob = globset::Glob::new(&name)
            .map_err(|e| invalid(format!("lookup `fileglob`: bad pattern `{pattern}`: {e}")))?
            .compile_matcher();
        let parent = path.parent().and_then(|p| p.to_str()).unwrap_or("");
        let dirs = match parent {
            "" => search(dir, "."),
            parent => search(dir, parent),
        };
        let Some(found) = dirs.iter().find(|d| d.is_dir()) else {
            continue;
        };
        let mut matched: Vec<String> = std::fs::read_dir(found)
            .map_err(|e| {
                invalid(format!(
                    "lookup `fileglob`: cannot read `{}`: {e}",
                    found.display()
                ))
            })?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file() && glob.is_match(e.file_name()))
            .map(|e| absolute(&e.path()))
            .collect();
        matched.sort();
        out.extend(matched.into_iter().map(Value::from));
    }
    Ok(out)
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// `first_found`: the first file that exists, of the terms (or `files=`
/// in each of `paths=`), as an absolute path; none is an error unless
/// `skip=True` (then an empty list).
fn first_found(dir: Option<&Path>, terms: &[String], kwargs: &Kwargs) -> Result<Vec<Value>, Error> {
    let files = kwargs.get::<Option<Vec<String>>>("files")?;
    let paths = kwargs.get::<Option<Vec<String>>>("paths")?;
    let skip = kwargs.get::<Option<bool>>("skip")?.unwrap_or(false);
    let names: Vec<String> = match (files, paths) {
        (Some(files), Some(paths)) => paths
            .iter()
            .flat_map(|p| files.iter().map(move |f| format!("{p}/{f}")))
            .collect(),
        (Some(files), None) => files,
        _ => terms.to_vec(),
    };
    let candidates: Vec<PathBuf> = names.iter().flat_map(|n| search(dir, n)).collect();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(vec![Value::from(absolute(path))]),
        None if skip => Ok(Vec::new()),
        None => Err(invalid(format!(
            "lookup `first_found`: none of {} exists",
            shown(&candidates)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Source, Span};
    use crate::template::Templates;

    fn render(templates: &Templates, text: &str) -> Result<String, String> {
        let span = Span::file_start(Source::new("t.yml", text));
        templates
            .render(text, &serde_json::Map::new(), &span)
            .map_err(|e| e.message)
    }

    #[test]
    fn file_pipe_lines_fileglob_and_first_found_read_the_controller() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        std::fs::write(dir.path().join("files/key.pub"), "ssh-ed25519 AAAA me\n").unwrap();
        std::fs::write(dir.path().join("files/b.conf"), "").unwrap();
        std::fs::write(dir.path().join("files/a.conf"), "").unwrap();
        std::fs::write(dir.path().join("beside.txt"), "  beside  \n").unwrap();
        let t = Templates::for_project(Some(dir.path()));
        let ok = |text: &str| render(&t, text).unwrap();
        assert_eq!(ok("{{ lookup('file', 'key.pub') }}"), "ssh-ed25519 AAAA me");
        assert_eq!(ok("[{{ lookup('file', 'beside.txt') }}]"), "[  beside]");
        assert_eq!(ok("{{ lookup('pipe', 'echo one; echo two') }}"), "one\ntwo");
        assert_eq!(
            ok("{{ query('lines', 'echo one; echo two') | length }}"),
            "2"
        );
        assert_eq!(ok("{{ lookup('lines', 'echo one; echo two') }}"), "one,two");
        let files = dir.path().join("files").canonicalize().unwrap();
        assert_eq!(
            ok("{{ q('fileglob', '*.conf') | map('basename') | join(' ') }}"),
            "a.conf b.conf"
        );
        assert!(ok("{{ lookup('fileglob', '*.conf') }}").starts_with(&files.display().to_string()));
        assert_eq!(
            ok("{{ lookup('fileglob', '*.none', wantlist=True) | length }}"),
            "0"
        );
        assert!(
            ok("{{ lookup('first_found', ['missing.yml', 'b.conf']) }}").ends_with("files/b.conf")
        );
        assert_eq!(
            ok("{{ lookup('env', 'HOME', 'HOME', wantlist=True) | length }}"),
            "2"
        );
        assert_eq!(
            ok("{{ lookup('first_found', 'x', 'y', skip=True, wantlist=True) }}"),
            "[]"
        );
    }

    #[test]
    fn a_failed_lookup_is_an_error_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let t = Templates::for_project(Some(dir.path()));
        let err = render(&t, "{{ lookup('file', 'nope.txt') }}").unwrap_err();
        assert!(err.contains("lookup `file`: no file `nope.txt`"), "{err}");
        let err = render(&t, "{{ lookup('pipe', 'exit 3') }}").unwrap_err();
        assert!(err.contains("failed on the controller"), "{err}");
        assert!(render(&t, "{{ lookup('first_found', 'a', 'b') }}").is_err());
        for errors in ["ignore", "warn"] {
            let text = format!("[{{{{ lookup('file', 'nope.txt', errors='{errors}') }}}}]");
            assert_eq!(render(&t, &text).unwrap(), "[]");
        }
        let err = render(&t, "{{ lookup('file', 'x', errors='loud') }}").unwrap_err();
        assert!(err.contains("`errors` must be"), "{err}");
    }
}
