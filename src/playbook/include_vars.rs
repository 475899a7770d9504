//! `include_vars`: a vars file read while parsing, whose variables the
//! compiler sets for the later tasks of the play on each host where the
//! task's `when` holds.

use super::Task;
use super::parse::{Parser, conditions, vars_of};
use super::reader::{MapReader, scalar_string};
use crate::diagnostic::{Diagnostic, Source};
use crate::yaml::{self, Node, Value};

/// The keys that name `include_vars`.
pub(super) const INCLUDE_VARS: &[&str] = &["include_vars", "ansible.builtin.include_vars"];

const ARGS: &[&str] = &["file", "name"];
const TASK_KEYS: &[&str] = &["name", "when", "tags"];

impl Parser<'_> {
    pub(super) fn include_vars(
        &mut self,
        key: &Node,
        args: &Node,
        mut map: MapReader<'_>,
    ) -> Result<Task, Diagnostic> {
        if let Some(looping) = super::loops::looping(&mut map)? {
            return Err(looping
                .items
                .error("a loop over `include_vars` is not supported: ferry reads vars files before connecting")
                .with_help("include the file by its name, with a `when:` for each candidate"));
        }
        let (file, namespace) = match &args.value {
            Value::Map(_) => {
                let mut form = MapReader::new(args, "`include_vars`")?;
                if let Some(dir) = form.take("dir") {
                    return Err(dir
                        .error("`include_vars` with `dir` is not supported")
                        .with_help("name each file with `file:`"));
                }
                let file = form
                    .take("file")
                    .ok_or_else(|| args.error("`include_vars` needs `file:`"))?;
                let namespace = form.string("name")?;
                form.finish("`include_vars`", ARGS)?;
                (file, namespace)
            }
            _ => (args, None),
        };
        let written = scalar_string(file, "include_vars")?;
        let name = self.static_path(&written, file)?;
        let Some(path) = self.file_beside(&name, file, "vars") else {
            let looked: Vec<String> = self
                .search_dirs(file, "vars")
                .iter()
                .map(|d| d.join(&name).display().to_string())
                .collect();
            return Err(file
                .error(format!("no vars file `{name}` to include"))
                .with_help(format!("looked for {}", looked.join(", "))));
        };
        let root = yaml::parse(&Source::read(&path).map_err(|e| file.error(e.message))?)?;
        let vars = match (&root.value, namespace) {
            (Value::Null, None) => Vec::new(),
            (_, None) => vars_of(&root)?,
            (_, Some(namespace)) => vec![(namespace, root.clone())],
        };
        let mut task = Task::bare(key, "include_vars");
        task.name = map.string("name")?;
        task.when = conditions(map.take("when"));
        task.tags = map.strings("tags")?;
        task.include_vars = Some(vars);
        map.finish("an `include_vars` task", TASK_KEYS)?;
        Ok(task)
    }
}
