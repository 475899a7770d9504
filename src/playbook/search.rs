//! Where a file named by a relative path in a playbook is found, as Ansible
//! looks: beside the file that names it, then in the role it belongs to,
//! then beside the playbook.

use std::path::{Path, PathBuf};

use super::parse::Parser;
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

impl Parser<'_> {
    /// The directories a relative path written at `at` is looked up in,
    /// in order. `sub` is the role (and playbook) subdirectory for the kind
    /// of file: `tasks` for includes, `vars` for `include_vars`.
    pub(super) fn search_dirs(&self, at: &Node, sub: &str) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(dir) = at.span.source.path.parent() {
            dirs.push(dir.to_path_buf());
        }
        if let Some(role) = self.roles.current() {
            dirs.push(role.join(sub));
            dirs.push(role.to_path_buf());
        }
        let root = self
            .library
            .root()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if sub != "tasks" {
            dirs.push(root.join(sub));
        }
        dirs.push(root);
        let mut unique = Vec::new();
        for dir in dirs {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        unique
    }

    /// The first existing file `name` in [`Parser::search_dirs`].
    pub(super) fn file_beside(&self, name: &str, at: &Node, sub: &str) -> Option<PathBuf> {
        self.search_dirs(at, sub)
            .into_iter()
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    }

    /// A file name as written, with `{{ role_path }}` and `{{ playbook_dir }}`
    /// put in: those are known while reading. Any other template in a file
    /// name is an error, since ferry reads every include before connecting.
    pub(super) fn static_path(&self, name: &str, at: &Node) -> Result<String, Diagnostic> {
        if !name.contains("{{") && !name.contains("{%") {
            return Ok(name.to_string());
        }
        let root = self
            .library
            .root()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        let mut text = name.to_string();
        for (var, value) in [
            ("role_path", self.roles.current().map(Path::to_path_buf)),
            ("playbook_dir", Some(root)),
        ] {
            if let Some(value) = value {
                for written in [format!("{{{{ {var} }}}}"), format!("{{{{{var}}}}}")] {
                    text = text.replace(&written, &value.to_string_lossy());
                }
            }
        }
        if text.contains("{{") || text.contains("{%") {
            return Err(at
                .error(format!(
                    "the file name `{name}` is a template: ferry reads every include before connecting, so it cannot depend on a host's variables"
                ))
                .with_help("name the file literally, or include each candidate with a `when:`"));
        }
        Ok(text)
    }
}
