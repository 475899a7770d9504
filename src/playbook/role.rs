//! Roles: a directory of `tasks/`, `handlers/`, `defaults/`, `vars/`,
//! `meta/`, `templates/` and `files/`, read into the play that names it
//! (`roles:`, `include_role`, `import_role`, `meta/main.yml` dependencies).
//!
//! Precedence is Ansible's: a role's `defaults/` are the lowest of all and
//! its `vars/` sit above the play's `vars_files`, both seen by the whole
//! play; for the role's own tasks, its `vars/`, then the `vars:` written on
//! the role entry, then the task's own vars, then the role's parameters.
//! A role named twice in a play with the same parameters runs once.

use std::path::{Path, PathBuf};

use super::Task;
use super::parse::{Included, Parser, conditions, vars_of};
use super::reader::{MapReader, bool_of, scalar_string};
use crate::diagnostic::{Diagnostic, Source};
use crate::yaml::{self, Node, Value};

/// The keys that name `include_role` and `import_role`.
pub(super) const INCLUDE_ROLE: &[&str] = &[
    "include_role",
    "import_role",
    "ansible.builtin.include_role",
    "ansible.builtin.import_role",
];

const INCLUDE_ROLE_ARGS: &[&str] = &[
    "name",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "public",
    "allow_duplicates",
    "rolespec_validate",
];

const INCLUDE_ROLE_TASK_KEYS: &[&str] = &["name", "when", "tags", "vars", "become", "become_user"];

/// Keywords Ansible accepts on a role entry that ferry does not apply to a
/// role's tasks: refused, rather than read as role parameters.
const ROLE_ENTRY_UNSUPPORTED: &[&str] = &[
    "environment",
    "delegate_to",
    "delegate_facts",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
    "check_mode",
    "diff",
    "become_method",
    "become_flags",
    "run_once",
    "any_errors_fatal",
    "collections",
    "connection",
    "debugger",
    "module_defaults",
    "port",
    "remote_user",
    "throttle",
    "timeout",
];

const META_KEYS: &[&str] = &[
    "dependencies",
    "allow_duplicates",
    "galaxy_info",
    "collections",
    "argument_specs",
];

/// The roles of the play being read.
#[derive(Default)]
pub(super) struct Roles {
    /// Roles being read now, outermost first: cycles, and `role_path`.
    stack: Vec<PathBuf>,
    /// Roles already in the play, with their parameters.
    seen: Vec<(PathBuf, String)>,
}

impl Roles {
    /// The directory of the role being read, if any.
    pub(super) fn current(&self) -> Option<&Path> {
        self.stack.last().map(PathBuf::as_path)
    }
}

/// One use of a role, however it was written.
struct RoleCall {
    name: String,
    /// Where the role was named.
    at: Node,
    params: Vec<(String, Node)>,
    /// The role entry's `vars:`.
    vars: Vec<(String, Node)>,
    when: Vec<Node>,
    tags: Vec<String>,
    escalate: Option<bool>,
    become_user: Option<String>,
    tasks_from: Option<Node>,
    vars_from: Option<Node>,
    defaults_from: Option<Node>,
    handlers_from: Option<Node>,
    /// Whether a second use with the same parameters is skipped (`roles:`
    /// and dependencies; `include_role`/`import_role` always run).
    once: bool,
}

impl RoleCall {
    fn named(name: String, at: Node) -> RoleCall {
        RoleCall {
            name,
            at,
            params: Vec::new(),
            vars: Vec::new(),
            when: Vec::new(),
            tags: Vec::new(),
            escalate: None,
            become_user: None,
            tasks_from: None,
            vars_from: None,
            defaults_from: None,
            handlers_from: None,
            once: true,
        }
    }
}

impl Parser<'_> {
    /// A play's `roles:` list.
    pub(super) fn roles(
        &mut self,
        node: &Node,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        let Value::Seq(entries) = &node.value else {
            return Err(node.type_error("`roles`", "a list of roles"));
        };
        let mut tasks = Vec::new();
        for entry in entries {
            let call = role_entry(entry)?;
            tasks.extend(self.role(call, included)?);
        }
        Ok(tasks)
    }

    /// `include_role:` or `import_role:` in a task list. ferry reads both
    /// before connecting, as `import_role` is read.
    pub(super) fn include_role(
        &mut self,
        key: &Node,
        args: &Node,
        mut map: MapReader<'_>,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        let what = format!("`{}`", key.as_str().unwrap_or("include_role"));
        let mut form = MapReader::new(args, &what)?;
        let name_node = form
            .take("name")
            .ok_or_else(|| args.error(format!("{what} needs `name:`, the role to run")))?;
        let mut call = RoleCall::named(scalar_string(name_node, "name")?, name_node.clone());
        call.once = false;
        call.tasks_from = form.take("tasks_from").cloned();
        call.vars_from = form.take("vars_from").cloned();
        call.defaults_from = form.take("defaults_from").cloned();
        call.handlers_from = form.take("handlers_from").cloned();
        for flag in ["public", "allow_duplicates", "rolespec_validate"] {
            if let Some(value) = form.take(flag) {
                bool_of(value, flag)?;
            }
        }
        if let Some(apply) = form.take("apply") {
            return Err(apply
                .error(format!("`apply` on {what} is not supported"))
                .with_help("set the keywords on the role's tasks, or on the include itself"));
        }
        form.finish(&what, INCLUDE_ROLE_ARGS)?;
        for looped in ["loop", "with_items"] {
            if let Some(node) = map.take(looped) {
                return Err(node
                    .error(format!("a `{looped}` over {what} is not supported"))
                    .with_help("loop inside the role's tasks instead"));
            }
        }
        map.string("name")?;
        call.when = conditions(map.take("when"));
        call.tags = map.strings("tags")?;
        // An include's `vars:` are the role's parameters.
        call.params = map
            .take("vars")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default();
        call.escalate = map.bool("become")?;
        call.become_user = map.string("become_user")?;
        map.finish(&format!("an {what} task"), INCLUDE_ROLE_TASK_KEYS)?;
        self.role(call, included)
    }

    /// Reads one role (its dependencies first) and returns its tasks; its
    /// handlers, defaults and vars go to `included`.
    fn role(&mut self, call: RoleCall, included: &mut Included) -> Result<Vec<Task>, Diagnostic> {
        let name = self.static_path(&call.name, &call.at)?;
        let dir = self.find_role(&name, &call.at)?;
        let identity = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if let Some(start) = self
            .roles
            .stack
            .iter()
            .position(|d| d.canonicalize().unwrap_or_else(|_| d.clone()) == identity)
        {
            let chain: Vec<String> = self.roles.stack[start..]
                .iter()
                .chain([&dir])
                .map(|d| role_name(d))
                .collect();
            return Err(call
                .at
                .error(format!("role dependency cycle: {}", chain.join(" → "))));
        }
        let meta = read_yaml(&dir, "meta", None)?;
        let mut allow_duplicates = false;
        let mut dependencies = Vec::new();
        if let Some(meta) = meta.as_ref().filter(|m| !m.is_null()) {
            let mut map = MapReader::new(meta, "a role's `meta/main.yml`")?;
            if let Some(flag) = map.take("allow_duplicates") {
                allow_duplicates = bool_of(flag, "allow_duplicates")?;
            }
            if let Some(deps) = map.take("dependencies") {
                let Value::Seq(items) = &deps.value else {
                    return Err(deps.type_error("`dependencies`", "a list of roles"));
                };
                for item in items {
                    dependencies.push(role_entry(item)?);
                }
            }
            for ignored in ["galaxy_info", "collections", "argument_specs"] {
                map.take(ignored);
            }
            map.finish("a role's `meta/main.yml`", META_KEYS)?;
        }
        let params_key = format!(
            "{:?}{:?}",
            call.params
                .iter()
                .map(|(k, v)| (k, v.to_json()))
                .collect::<Vec<_>>(),
            call.vars
                .iter()
                .map(|(k, v)| (k, v.to_json()))
                .collect::<Vec<_>>()
        );
        if call.once
            && !allow_duplicates
            && self
                .roles
                .seen
                .iter()
                .any(|(d, p)| *d == identity && *p == params_key)
        {
            return Ok(Vec::new());
        }
        self.roles.stack.push(dir.clone());
        let result = self.role_body(&call, &dir, dependencies, included);
        self.roles.stack.pop();
        if call.once {
            self.roles.seen.push((identity, params_key));
        }
        result
    }

    fn role_body(
        &mut self,
        call: &RoleCall,
        dir: &Path,
        dependencies: Vec<RoleCall>,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        let mut tasks = Vec::new();
        for dependency in dependencies {
            tasks.extend(self.role(dependency, included)?);
        }
        let defaults = read_vars(dir, "defaults", call.defaults_from.as_ref())?;
        let vars = read_vars(dir, "vars", call.vars_from.as_ref())?;
        let mut inner = Included::default();
        let mut own = match read_yaml(dir, "tasks", call.tasks_from.as_ref())? {
            Some(root) if !root.is_null() => self.tasks(&root, &mut inner)?,
            _ => Vec::new(),
        };
        let mut handlers = match read_yaml(dir, "handlers", call.handlers_from.as_ref())? {
            Some(root) if !root.is_null() => self.tasks(&root, &mut inner)?,
            _ => Vec::new(),
        };
        handlers.append(&mut inner.handlers);
        // Absolute, as Ansible's `role_path` is.
        let absolute = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let role_path = Node {
            value: Value::Str(absolute.to_string_lossy().into_owned()),
            span: call.at.span.clone(),
        };
        let name = Node {
            value: Value::Str(role_name(dir)),
            span: call.at.span.clone(),
        };
        let front: Vec<(String, Node)> = [
            ("role_path".to_string(), role_path),
            ("role_name".to_string(), name),
        ]
        .into_iter()
        .chain(vars.iter().cloned())
        .chain(call.vars.iter().cloned())
        .collect();
        for task in own.iter_mut().chain(handlers.iter_mut()) {
            if task.role_dir.is_none() {
                task.role_dir = Some(dir.to_path_buf());
            }
            task.vars.splice(0..0, front.iter().cloned());
            task.params.splice(0..0, call.params.iter().cloned());
        }
        tasks.append(&mut own);
        for task in tasks.iter_mut() {
            task.when.splice(0..0, call.when.iter().cloned());
            task.tags.extend(call.tags.iter().cloned());
        }
        for task in tasks.iter_mut().chain(handlers.iter_mut()) {
            if task.escalate_if.is_none() {
                task.escalate = task.escalate.or(call.escalate);
            }
            if task.become_user.is_none() {
                task.become_user.clone_from(&call.become_user);
            }
        }
        included.defaults.extend(defaults);
        included.defaults.append(&mut inner.defaults);
        included.role_vars.extend(vars);
        included.role_vars.append(&mut inner.role_vars);
        included.handlers.extend(handlers);
        Ok(tasks)
    }

    /// The directory of the role `name`: `roles/` beside the playbook, then
    /// `roles_path`, then a path beside the playbook.
    fn find_role(&self, name: &str, at: &Node) -> Result<PathBuf, Diagnostic> {
        if !name.contains('/') && name.matches('.').count() >= 2 {
            return Err(at
                .error(format!(
                    "role `{name}` is from a collection: ferry does not read Ansible collections"
                ))
                .with_help("copy the role into roles/ beside the playbook, for example with `ansible-galaxy role install -p roles`"));
        }
        let candidates = self.library.role_dirs(name);
        if let Some(dir) = candidates.iter().find(|dir| is_role(dir)) {
            return Ok(dir.clone());
        }
        let looked: Vec<String> = candidates
            .iter()
            .map(|d| format!("`{}`", d.display()))
            .collect();
        let names = self.library.role_names();
        Err(at
            .error(format!("no role named `{name}`"))
            .with_help(format!("looked in {}", looked.join(", ")))
            .suggest(name, names.iter().map(String::as_str)))
    }
}

/// A `roles:` or `dependencies:` entry: `nginx`, or a mapping with `role:`
/// (or `name:`), keywords, `vars:`, and any other key as a role parameter.
fn role_entry(entry: &Node) -> Result<RoleCall, Diagnostic> {
    if let Value::Str(name) = &entry.value {
        return Ok(RoleCall::named(name.clone(), entry.clone()));
    }
    let mut map = MapReader::new(entry, "a role")?;
    let name_node = map
        .take("role")
        .or_else(|| map.take("name"))
        .ok_or_else(|| entry.error("a role entry needs `role:`, the role's name"))?;
    let mut call = RoleCall::named(scalar_string(name_node, "role")?, name_node.clone());
    call.when = conditions(map.take("when"));
    call.tags = map.strings("tags")?;
    call.vars = map
        .take("vars")
        .map(vars_of)
        .transpose()?
        .unwrap_or_default();
    call.escalate = map.bool("become")?;
    call.become_user = map.string("become_user")?;
    let rest: Vec<(Node, Node)> = map
        .remaining()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in rest {
        let name = key.scalar_string().unwrap_or_default();
        if ROLE_ENTRY_UNSUPPORTED.contains(&name.as_str()) {
            return Err(key
                .error(format!(
                    "`{name}` on a role is Ansible's keyword, which ferry does not apply to a role"
                ))
                .with_help(format!(
                    "to pass a role parameter named `{name}`, put it under `vars:`; to set the keyword, set it on the role's tasks"
                )));
        }
        let pair = Node {
            value: Value::Map(vec![(key, value)]),
            span: entry.span.clone(),
        };
        call.params.extend(vars_of(&pair)?);
    }
    Ok(call)
}

/// Whether `dir` holds a role (a directory with any of a role's parts).
fn is_role(dir: &Path) -> bool {
    dir.is_dir()
        && [
            "tasks",
            "handlers",
            "defaults",
            "vars",
            "meta",
            "templates",
            "files",
        ]
        .iter()
        .any(|sub| dir.join(sub).is_dir())
}

fn role_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `dir/sub/main.yml` (or `FROM.yml` when `from` names another file), parsed;
/// `None` when the role has no such file. A `from` that names a missing
/// file is an error at `from`.
fn read_yaml(dir: &Path, sub: &str, from: Option<&Node>) -> Result<Option<Node>, Diagnostic> {
    let stem = match from {
        Some(node) => scalar_string(node, &format!("{sub}_from"))?,
        None => "main".to_string(),
    };
    let base = dir.join(sub);
    let candidates = [
        base.join(format!("{stem}.yml")),
        base.join(format!("{stem}.yaml")),
        base.join(&stem),
    ];
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(Some(yaml::parse(&Source::read(path)?)?)),
        None => match from {
            Some(node) => Err(node.error(format!(
                "role `{}` has no `{sub}/{stem}.yml`",
                role_name(dir)
            ))),
            None => Ok(None),
        },
    }
}

fn read_vars(
    dir: &Path,
    sub: &str,
    from: Option<&Node>,
) -> Result<Vec<(String, Node)>, Diagnostic> {
    match read_yaml(dir, sub, from)? {
        Some(root) if !root.is_null() => vars_of(&root),
        _ => Ok(Vec::new()),
    }
}
