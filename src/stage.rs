//! Finding a stage's files: `ferry deploy prod` reads `deploy.yml` and
//! `inventory/prod.yml` (or `.yaml`, or `.ini`) in the project directory.
//! Also reads `-e` extra variables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, Source, Span};
use crate::yaml;

const INVENTORY_EXTENSIONS: &[&str] = &["yml", "yaml", "ini"];

/// The playbook of a project directory.
pub fn playbook_path(dir: &Path) -> Result<PathBuf, Diagnostic> {
    ["deploy.yml", "deploy.yaml"]
        .iter()
        .map(|name| join(dir, name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Diagnostic::plain(format!("no `deploy.yml` in `{}`", display_dir(dir)))
                .with_help("run `ferry init` to write one, or `cd` into your project")
        })
}

/// The inventory file of `stage`: as named in deploy.yml's `stages:` map, or
/// else `inventory/STAGE.yml` (`.yaml`, `.ini`).
pub fn inventory_path(dir: &Path, stage: &str) -> Result<PathBuf, Diagnostic> {
    let declared = declared_stages(dir)?;
    if let Some((_, node)) = declared.iter().find(|(name, _)| name == stage) {
        let Some(path) = node.as_str() else {
            return Err(
                node.type_error(&format!("stage `{stage}`"), "the path of an inventory file")
            );
        };
        let full = join(dir, path);
        if !full.is_file() {
            return Err(node.error(format!(
                "stage `{stage}` names `{path}`, which is not a file"
            )));
        }
        return Ok(full);
    }
    let inventory_dir = join(dir, "inventory");
    if let Some(found) = INVENTORY_EXTENSIONS
        .iter()
        .map(|ext| inventory_dir.join(format!("{stage}.{ext}")))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let mut stages = stages(&inventory_dir);
    stages.extend(declared.into_iter().map(|(name, _)| name));
    stages.sort();
    stages.dedup();
    let looked = INVENTORY_EXTENSIONS
        .iter()
        .map(|ext| format!("inventory/{stage}.{ext}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut diag = Diagnostic::plain(format!(
        "no inventory for stage `{stage}` (looked for {looked})"
    ));
    diag = match crate::suggestion::closest(stage, stages.iter().map(String::as_str)) {
        Some(best) => diag.with_help(format!("did you mean `{best}`?")),
        None if stages.is_empty() => {
            diag.with_help("create `inventory/STAGE.yml`, or run `ferry init`")
        }
        None => diag.with_help(format!("stages here: {}", stages.join(", "))),
    };
    Err(diag)
}

/// The `stages:` map of deploy.yml, if it is written as a mapping with one.
fn declared_stages(dir: &Path) -> Result<Vec<(String, yaml::Node)>, Diagnostic> {
    let Ok(path) = playbook_path(dir) else {
        return Ok(Vec::new());
    };
    let root = yaml::parse(&Source::read(&path)?)?;
    let yaml::Value::Map(entries) = &root.value else {
        return Ok(Vec::new());
    };
    let Some((_, stages)) = entries.iter().find(|(k, _)| k.as_str() == Some("stages")) else {
        return Ok(Vec::new());
    };
    let yaml::Value::Map(stages) = &stages.value else {
        return Err(stages.type_error("`stages`", "a mapping of stage names to inventory files"));
    };
    Ok(stages
        .iter()
        .map(|(k, v)| (k.scalar_string().unwrap_or_default(), v.clone()))
        .collect())
}

/// The stages that have an inventory file.
pub fn stages(inventory_dir: &Path) -> Vec<String> {
    let mut stages: Vec<String> = std::fs::read_dir(inventory_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let ext = path.extension()?.to_str()?;
            INVENTORY_EXTENSIONS
                .contains(&ext)
                .then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    stages.sort();
    stages.dedup();
    stages
}

/// `dir/name`, but just `name` in the current directory, so that errors
/// say `deploy.yml:3:7`, not `./deploy.yml:3:7`.
fn join(dir: &Path, name: &str) -> PathBuf {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        PathBuf::from(name)
    } else {
        dir.join(name)
    }
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        ".".to_string()
    } else {
        dir.display().to_string()
    }
}

/// One `-e` argument: `key=value ...`, `@file.yml`, or inline YAML/JSON.
pub fn extra_vars(arg: &str, dir: &Path) -> Result<(Map<String, Value>, Span), Diagnostic> {
    if let Some(file) = arg.strip_prefix('@') {
        let source = Source::read(&join(dir, file))?;
        return mapping_of(&source, "an `-e @file`");
    }
    let trimmed = arg.trim_start();
    if trimmed.starts_with('{') {
        let source = Source::new("<-e>", arg);
        return mapping_of(&source, "`-e`");
    }
    let source = Source::new("<-e>", arg);
    let words = shlex::split(arg).ok_or_else(|| {
        Diagnostic::new(
            "unbalanced quotes in `-e`",
            Span::file_start(source.clone()),
        )
    })?;
    let mut vars = Map::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(Diagnostic::new(
                format!("`-e {word}` is not `key=value`, `@file` or a YAML mapping"),
                Span::file_start(source),
            ));
        };
        vars.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok((vars, Span::file_start(source)))
}

fn mapping_of(source: &Arc<Source>, what: &str) -> Result<(Map<String, Value>, Span), Diagnostic> {
    let node = yaml::parse(source)?;
    match node.to_json() {
        Value::Object(map) => Ok((map, Span::file_start(source.clone()))),
        _ => Err(node.type_error(what, "a mapping of variables")),
    }
}
