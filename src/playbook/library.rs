//! Finding reusable playbooks (and templates) by name: the project's
//! `playbooks/` first, then the ones built into the binary, so a project can
//! override any built-in one by writing a file of the same name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};

use crate::diagnostic::Source;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/playbooks");
static BUILT_IN_TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The text of ferry's built-in template `name` (`dotenv.j2`), used when the
/// project has no file of that name.
pub fn built_in_template(name: &str) -> Option<&'static str> {
    BUILT_IN_TEMPLATES.get_file(name)?.contents_utf8()
}

/// Where `include: NAME` and `import_playbook: NAME` look.
#[derive(Debug, Clone)]
pub struct Library {
    /// The project's own `playbooks/` directory, if it has one.
    project: Option<PathBuf>,
    /// The directory of the playbook: `roles/` and relative includes start here.
    root: Option<PathBuf>,
    /// `ansible.cfg`'s `roles_path` (or Ansible's default role directories).
    roles_path: Vec<PathBuf>,
}

impl Library {
    /// A library rooted at a project directory (the one holding deploy.yml).
    pub fn new(project_dir: Option<PathBuf>) -> Library {
        Library {
            roles_path: super::ansible_cfg::roles_path(project_dir.as_deref()),
            project: project_dir.as_ref().map(|dir| dir.join("playbooks")),
            root: project_dir,
        }
    }

    /// The directory of the playbook, if it was read from a file.
    pub(crate) fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Where a role named `name` is looked for, in order: `roles/` beside the
    /// playbook, each `roles_path` entry, then beside the playbook itself
    /// (a role named by its path).
    pub(crate) fn role_dirs(&self, name: &str) -> Vec<PathBuf> {
        let root = self.root.clone().unwrap_or_default();
        let mut dirs = vec![root.join("roles").join(name)];
        dirs.extend(self.roles_path.iter().map(|dir| dir.join(name)));
        dirs.push(root.join(name));
        dirs
    }

    /// The names of the roles found in `roles/` and on `roles_path`, for `did you mean`.
    pub(crate) fn role_names(&self) -> Vec<String> {
        let root = self.root.clone().unwrap_or_default();
        let mut names: Vec<String> = std::iter::once(root.join("roles"))
            .chain(self.roles_path.iter().cloned())
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flat_map(|entries| entries.flatten())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The source of the playbook called `name` (`django`, `python/venv`),
    /// or `None` if neither the project nor ferry has one.
    pub fn find(&self, name: &str) -> Option<std::io::Result<Arc<Source>>> {
        if name.contains("..") || name.starts_with('/') {
            return None;
        }
        if let Some(dir) = &self.project {
            for ext in ["yml", "yaml"] {
                let path = dir.join(format!("{name}.{ext}"));
                if path.is_file() {
                    return Some(std::fs::read_to_string(&path).map(|t| Source::new(path, t)));
                }
            }
        }
        let file = BUILT_IN
            .get_file(format!("{name}.yml"))
            .or_else(|| BUILT_IN.get_file(format!("{name}.yaml")))?;
        let text = file.contents_utf8().unwrap_or_default();
        Some(Ok(Source::new(format!("<built-in>/{name}.yml"), text)))
    }

    /// Every name that `find` would accept, for `did you mean`.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some(dir) = &self.project {
            collect_dir(dir, dir, &mut names);
        }
        collect_built_in(&BUILT_IN, &mut names);
        names.sort();
        names.dedup();
        names
    }
}

fn strip_ext(path: &str) -> Option<String> {
    path.strip_suffix(".yml")
        .or_else(|| path.strip_suffix(".yaml"))
        .map(str::to_string)
}

fn collect_dir(root: &std::path::Path, dir: &std::path::Path, names: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_dir(root, &path, names);
        } else if let Ok(rel) = path.strip_prefix(root)
            && let Some(name) = strip_ext(&rel.to_string_lossy())
        {
            names.push(name);
        }
    }
}

fn collect_built_in(dir: &Dir<'static>, names: &mut Vec<String>) {
    for file in dir.files() {
        if let Some(name) = strip_ext(&file.path().to_string_lossy()) {
            names.push(name);
        }
    }
    for sub in dir.dirs() {
        collect_built_in(sub, names);
    }
}
