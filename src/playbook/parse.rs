//! YAML nodes → [`Playbook`]: plays, tasks, includes and imports.

use std::path::Path;
use std::sync::Arc;

use super::include_vars::INCLUDE_VARS;
use super::reader::{MapReader, bool_of, scalar_string, uint_of, unknown_key};
use super::{Library, Play, Playbook, Rollback, Task};
use crate::diagnostic::{Diagnostic, Source};
use crate::modules;
use crate::yaml::{self, Node, Value};

const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "tasks",
    "pre_tasks",
    "roles",
    "post_tasks",
    "handlers",
    "serial",
    "max_fail_percentage",
    "become",
    "become_user",
    "become_method",
    "sudo",
    "sudo_user",
    "remote_user",
    "rollback",
    "secrets",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
];

const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "loop",
    "loop_control",
    "register",
    "notify",
    "listen",
    "run_once",
    "become",
    "become_user",
    "become_method",
    "sudo",
    "sudo_user",
    "tags",
    "changed_when",
    "failed_when",
    "creates",
    "removes",
    "timeout",
    "async",
    "poll",
    "retries",
    "delay",
    "until",
    "environment",
    "ignore_errors",
    "no_log",
    "check_mode",
    "vars",
    "args",
];

const INCLUDE_KEYS: &[&str] = &[
    "include",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
];
const INCLUDE_ALIASES: &[&str] = &[
    "include",
    "include_tasks",
    "import_tasks",
    "ansible.builtin.include_tasks",
    "ansible.builtin.import_tasks",
];
const INCLUDED_FILE_KEYS: &[&str] = &["defaults", "tasks", "handlers"];

/// Reads the playbook at `path`, splicing in every include and import.
pub fn load(path: &Path, library: &Library) -> Result<Playbook, Diagnostic> {
    parse_source(&Source::read(path)?, library)
}

/// Parses a playbook from text already read.
pub fn parse_source(source: &Arc<Source>, library: &Library) -> Result<Playbook, Diagnostic> {
    let mut parser = Parser {
        library,
        stack: Vec::new(),
        roles: super::role::Roles::default(),
        blocks: 0,
        setup: false,
    };
    let plays = parser.playbook(source)?;
    Ok(Playbook { plays })
}

pub(super) struct Parser<'a> {
    pub(super) library: &'a Library,
    /// Names being included right now, outermost first, to catch cycles.
    pub(super) stack: Vec<String>,
    /// The roles of the play being read.
    pub(super) roles: super::role::Roles,
    /// Blocks read so far: the next block's number.
    pub(super) blocks: usize,
    /// The play being read has a `setup` task: it gathers facts.
    pub(super) setup: bool,
}

/// What an included task file adds to the play that includes it.
#[derive(Default)]
pub(super) struct Included {
    pub(super) defaults: Vec<(String, Node)>,
    /// Roles' `vars/`, seen by the whole play.
    pub(super) role_vars: Vec<(String, Node)>,
    pub(super) tasks: Vec<Task>,
    pub(super) handlers: Vec<Task>,
}

impl Parser<'_> {
    fn playbook(&mut self, source: &Arc<Source>) -> Result<Vec<Play>, Diagnostic> {
        let root = yaml::parse(source)?;
        // A deploy.yml may also be a mapping: `stages:` (read by
        // `crate::stage`) and `plays:`.
        let plays_node = match &root.value {
            Value::Map(_) => {
                let mut map = MapReader::new(&root, "a playbook")?;
                map.take("stages");
                let plays = map
                    .take("plays")
                    .ok_or_else(|| root.error("a playbook written as a mapping needs `plays:`"))?;
                map.finish("a playbook", &["stages", "plays"])?;
                plays
            }
            _ => &root,
        };
        let Value::Seq(items) = &plays_node.value else {
            return Err(plays_node.type_error("a playbook", "a list of plays"));
        };
        let mut plays = Vec::new();
        for item in items {
            let mut map = MapReader::new(item, "a play")?;
            if let Some((key, name)) = map.take_entry("import_playbook") {
                map.finish("an `import_playbook`", &["import_playbook"])?;
                let name = scalar_string(name, "import_playbook")?;
                let source = self.enter(&name, key, name_node(key, item))?;
                plays.extend(self.playbook(&source)?);
                self.stack.pop();
            } else {
                plays.push(self.play(map)?);
            }
        }
        Ok(plays)
    }

    fn play(&mut self, mut map: MapReader<'_>) -> Result<Play, Diagnostic> {
        let node = map.node();
        let hosts = map
            .take("hosts")
            .ok_or_else(|| {
                node.error("a play needs `hosts:` (a host pattern such as `web` or `all`)")
            })?
            .clone();
        scalar_string(&hosts, "hosts")?;
        let name = map
            .string("name")?
            .unwrap_or_else(|| hosts.scalar_string().unwrap_or_default());
        let vars = map
            .take("vars")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default();
        let vars_files = match map.take("vars_files") {
            None => Vec::new(),
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => {
                for item in items {
                    scalar_string(item, "vars_files")?;
                }
                items.clone()
            }
            Some(n) => vec![n.clone()],
        };
        let rollback = match map.take("rollback") {
            None => Rollback::Auto,
            Some(n) => match n.as_str() {
                Some("auto") => Rollback::Auto,
                Some("manual") => Rollback::Manual,
                _ => return Err(n.error("`rollback` must be `auto` or `manual`")),
            },
        };
        // On by default, as in Ansible; the facts are gathered only when a
        // template of the play reads one.
        let gather_facts = match map.take("gather_facts") {
            Some(gather) => bool_of(gather, "gather_facts")?,
            None => true,
        };
        // ferry's set of facts is small and gathered whole in one round
        // trip: a subset would save nothing.
        map.take("gather_subset");
        map.take("gather_timeout");
        // Ansible's order: `pre_tasks`, the roles, `tasks`, `post_tasks`.
        self.roles = super::role::Roles::default();
        self.setup = false;
        let mut included = Included::default();
        let mut tasks = Vec::new();
        // Ansible flushes the handlers after `pre_tasks`, and after the
        // roles and `tasks` (the end of the play flushes after
        // `post_tasks`).
        if let Some(n) = map.take("pre_tasks") {
            tasks.extend(self.tasks(n, &mut included)?);
            tasks.push(super::meta::implicit_flush(n));
        }
        if let Some(n) = map.take("roles") {
            tasks.extend(self.roles(n, &mut included)?);
        }
        if let Some(n) = map.take("tasks") {
            tasks.extend(self.tasks(n, &mut included)?);
        }
        if let Some(n) = map.take("post_tasks") {
            tasks.push(super::meta::implicit_flush(n));
            tasks.extend(self.tasks(n, &mut included)?);
        }
        let mut handlers = match map.take("handlers") {
            Some(n) => self.tasks(n, &mut included)?,
            None => Vec::new(),
        };
        handlers.extend(included.handlers);
        check_notify(&tasks, &handlers)?;
        super::block::refuse_framed_handlers(&handlers)?;
        become_method(&mut map)?;
        // Ansible's old names for `become` and `become_user`.
        let sudo = map.bool("sudo")?;
        let sudo_user = map.string("sudo_user")?;
        let remote_user = map.take("remote_user").cloned();
        if let Some(user) = &remote_user {
            scalar_string(user, "remote_user")?;
        }
        let play = Play {
            name,
            span: node.span.clone(),
            defaults: included.defaults,
            role_vars: included.role_vars,
            vars,
            vars_files,
            serial: map.take("serial").cloned(),
            max_fail_percentage: match map.take("max_fail_percentage") {
                Some(n) => match uint_of(n, "max_fail_percentage")? {
                    p if p <= 100 => Some(p),
                    _ => return Err(n.error("`max_fail_percentage` must be between 0 and 100")),
                },
                None => None,
            },
            escalate: map.bool("become")?.or(sudo),
            become_user: map.string("become_user")?.or(sudo_user),
            remote_user,
            rollback,
            gather_facts: gather_facts || self.setup,
            secrets: match map.take("secrets") {
                None => Vec::new(),
                Some(Node {
                    value: Value::Seq(items),
                    ..
                }) => items
                    .iter()
                    .map(|i| Ok((scalar_string(i, "secrets")?, i.span.clone())))
                    .collect::<Result<_, Diagnostic>>()?,
                Some(n) => vec![(scalar_string(n, "secrets")?, n.span.clone())],
            },
            tasks: [included.tasks, tasks].concat(),
            handlers,
            hosts,
        };
        map.finish("a play", PLAY_KEYS)?;
        Ok(play)
    }

    /// A task list; includes are expanded in place, and what they bring
    /// besides tasks (defaults, handlers) goes to `included`.
    pub(super) fn tasks(
        &mut self,
        node: &Node,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        let Value::Seq(items) = &node.value else {
            return Err(node.type_error("a task list", "a list of tasks"));
        };
        let mut tasks = Vec::new();
        for item in items {
            let mut map = MapReader::new(item, "a task")?;
            if let Some(body) = map.take("block") {
                tasks.extend(self.block(body, map, included)?);
                continue;
            }
            if let Some((key, args)) = super::set_fact::SET_FACT
                .iter()
                .find_map(|k| map.take_entry(k))
            {
                tasks.push(super::set_fact::set_fact(key, args, map)?);
                continue;
            }
            // `setup` gathers the facts: ferry gathers them before the run,
            // for the whole play, so the task itself runs nothing.
            if [
                "setup",
                "ansible.builtin.setup",
                "gather_facts",
                "ansible.builtin.gather_facts",
            ]
            .iter()
            .any(|k| map.take_entry(k).is_some())
            {
                self.setup = true;
                continue;
            }
            if let Some((key, action)) = super::meta::META.iter().find_map(|k| map.take_entry(k)) {
                tasks.extend(super::meta::meta(key, action, map)?);
                continue;
            }
            let include = INCLUDE_ALIASES.iter().find_map(|k| map.take_entry(k));
            let role = super::role::INCLUDE_ROLE
                .iter()
                .find_map(|k| map.take_entry(k));
            let vars_file = INCLUDE_VARS.iter().find_map(|k| map.take_entry(k));
            match (include, role, vars_file) {
                (Some((key, name)), _, _) => tasks.extend(self.include(key, name, map, included)?),
                (None, Some((key, args)), _) => {
                    tasks.extend(self.include_role(key, args, map, included)?);
                }
                (None, None, Some((key, args))) => tasks.push(self.include_vars(key, args, map)?),
                (None, None, None) => tasks.push(task(map)?),
            }
        }
        Ok(tasks)
    }

    fn include(
        &mut self,
        key: &Node,
        name: &Node,
        mut map: MapReader<'_>,
        included: &mut Included,
    ) -> Result<Vec<Task>, Diagnostic> {
        // `include_tasks: {file: x.yml}` names the file in a mapping.
        let name = match &name.value {
            Value::Map(_) => {
                let mut form = MapReader::new(name, "an include")?;
                let file = form
                    .take("file")
                    .ok_or_else(|| name.error("an include written as a mapping needs `file:`"))?;
                if let Some(apply) = form.take("apply") {
                    return Err(apply
                        .error("`apply` on an include is not supported")
                        .with_help("put the keywords on the included tasks, or on a `block`"));
                }
                form.finish("an include", &["file"])?;
                file
            }
            _ => name,
        };
        if let Some(looping) = super::loops::looping(&mut map)? {
            return Err(looping
                .items
                .error(format!(
                    "a loop over `{}` is not supported: ferry reads includes before connecting",
                    key.as_str().unwrap_or("include")
                ))
                .with_help("loop inside the included tasks instead"));
        }
        let wanted = scalar_string(name, "include")?;
        let when = conditions(map.take("when"));
        let tags = map.strings("tags")?;
        let vars = map
            .take("vars")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default();
        // `become` on an include escalates what it brings — its handlers
        // too: a built-in playbook cannot know whether its user needs sudo.
        let escalate = map.bool("become")?;
        let become_user = map.string("become_user")?;
        map.string("name")?;
        map.finish("an `include`", INCLUDE_KEYS)?;

        let source = self.enter(&wanted, key, name)?;
        let root = yaml::parse(&source)?;
        let mut inner = Included::default();
        let mut tasks = match &root.value {
            Value::Seq(_) => self.tasks(&root, &mut inner)?,
            Value::Map(_) => {
                let mut file = MapReader::new(&root, "an included playbook")?;
                if let Some(d) = file.take("defaults") {
                    inner.defaults.extend(vars_of(d)?);
                }
                let tasks = match file.take("tasks") {
                    Some(t) => self.tasks(t, &mut inner)?,
                    None => Vec::new(),
                };
                if let Some(h) = file.take("handlers") {
                    let handlers = self.tasks(h, &mut inner)?;
                    inner.handlers.extend(handlers);
                }
                file.finish("an included playbook", INCLUDED_FILE_KEYS)?;
                [inner.tasks.drain(..).collect(), tasks].concat()
            }
            Value::Null => Vec::new(),
            _ => {
                return Err(root.type_error(
                    "an included playbook",
                    "a list of tasks or a mapping with `tasks:`",
                ));
            }
        };
        self.stack.pop();
        for task in &mut tasks {
            task.when.splice(0..0, when.iter().cloned());
            task.tags.extend(tags.iter().cloned());
            task.vars.splice(0..0, vars.iter().cloned());
        }
        tasks.splice(0..0, inner.tasks);
        for task in tasks.iter_mut().chain(inner.handlers.iter_mut()) {
            // A task's own `become: "{{ expr }}"` is its own setting too.
            if task.escalate_if.is_none() {
                task.escalate = task.escalate.or(escalate);
            }
            if task.become_user.is_none() {
                task.become_user.clone_from(&become_user);
            }
        }
        included.defaults.extend(inner.defaults);
        included.handlers.extend(inner.handlers);
        Ok(tasks)
    }

    /// Finds the playbook `name` and pushes it on the include stack: a file
    /// by its path (relative to the file that names it, then to the role
    /// and the playbook, as Ansible looks), or else a reusable playbook by
    /// name from `playbooks/` and ferry's built-in ones.
    pub(super) fn enter(
        &mut self,
        name: &str,
        key: &Node,
        at: &Node,
    ) -> Result<Arc<Source>, Diagnostic> {
        let name = &self.static_path(name, at)?;
        if let Some(path) = self.file_beside(name, at, "tasks") {
            let shown = path.to_string_lossy().into_owned();
            self.check_cycle(&shown, at)?;
            let source = Source::read(&path).map_err(|e| at.error(e.message))?;
            self.stack.push(shown);
            return Ok(source);
        }
        if has_yaml_extension(name) {
            let looked: Vec<String> = self
                .search_dirs(at, "tasks")
                .iter()
                .map(|d| d.join(name).display().to_string())
                .collect();
            let what = key.as_str().unwrap_or("include");
            return Err(at
                .error(format!("no file `{name}` to {what}"))
                .with_help(format!("looked for {}", looked.join(", "))));
        }
        self.check_cycle(name, at)?;
        self.enter_library(name, key, at)
    }

    fn check_cycle(&self, name: &str, at: &Node) -> Result<(), Diagnostic> {
        if let Some(start) = self.stack.iter().position(|n| n == name) {
            let cycle = [&self.stack[start..], &[name.to_string()]]
                .concat()
                .join(" → ");
            return Err(at.error(format!("include cycle: {cycle}")));
        }
        Ok(())
    }

    fn enter_library(
        &mut self,
        name: &str,
        key: &Node,
        at: &Node,
    ) -> Result<Arc<Source>, Diagnostic> {
        let source = match self.library.find(name) {
            Some(Ok(source)) => source,
            Some(Err(err)) => return Err(at.error(format!("cannot read playbook `{name}`: {err}"))),
            None => {
                let names = self.library.names();
                let what = key.as_str().unwrap_or("include");
                return Err(at
                    .error(format!(
                        "no playbook named `{name}` to {what} (looked in playbooks/ and ferry's built-in playbooks)"
                    ))
                    .suggest(name, names.iter().map(String::as_str)));
            }
        };
        self.stack.push(name.to_string());
        Ok(source)
    }
}

/// `become_method`: ferry escalates with sudo, so `sudo` is the only method
/// it accepts; any other is refused rather than silently run with sudo.
fn become_method(map: &mut MapReader<'_>) -> Result<(), Diagnostic> {
    if let Some(method) = map.take("become_method") {
        let name = scalar_string(method, "become_method")?;
        if name != "sudo" {
            return Err(method
                .error(format!(
                    "`become_method: {name}` is not supported: ferry escalates with sudo"
                ))
                .with_help("remove `become_method`, or set it to `sudo`"));
        }
    }
    Ok(())
}

/// Every `notify` must name a handler of the play (by its name, a `listen`
/// topic, or `role : name`): Ansible refuses a play that notifies a handler
/// it does not have, and a misspelt name would otherwise never run it.
/// Names that are templates are settled per host, and not checked here.
fn check_notify(tasks: &[Task], handlers: &[Task]) -> Result<(), Diagnostic> {
    let templated = |n: &str| n.contains("{{") || n.contains("{%");
    if handlers
        .iter()
        .any(|h| h.name.as_deref().is_some_and(templated))
    {
        return Ok(());
    }
    let mut known: Vec<String> = Vec::new();
    for handler in handlers {
        if let Some(name) = &handler.name {
            known.push(name.clone());
            if let Some(role) = handler.role_dir.as_ref().and_then(|d| d.file_name()) {
                known.push(format!("{} : {name}", role.to_string_lossy()));
            }
        }
        known.extend(handler.listen.iter().cloned());
    }
    for task in tasks.iter().chain(handlers) {
        for name in &task.notify {
            if templated(name) || known.contains(name) {
                continue;
            }
            let names: Vec<&str> = handlers.iter().filter_map(|h| h.name.as_deref()).collect();
            return Err(Diagnostic::new(
                format!("`notify` names `{name}`, but the play has no handler by that name or `listen` topic"),
                task.span.clone(),
            )
            .suggest(name, names.iter().copied()));
        }
    }
    Ok(())
}

/// The value node of an `import_playbook` entry (for error locations).
fn name_node<'a>(key: &'a Node, item: &'a Node) -> &'a Node {
    match &item.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == key.as_str())
            .map_or(key, |(_, v)| v),
        _ => key,
    }
}

pub(super) fn task(mut map: MapReader<'_>) -> Result<Task, Diagnostic> {
    let node = map.node();
    super::asynchronous::refuse_delegation(&mut map)?;
    let name = map.string("name")?;
    let when = conditions(map.take("when"));
    let looping = super::loops::looping(&mut map)?;
    become_method(&mut map)?;
    let sudo = map.bool("sudo")?;
    let sudo_user = map.string("sudo_user")?;
    let (escalate, escalate_if) = match map.take("become") {
        Some(node) if matches!(node.value, crate::yaml::Value::Str(_)) => {
            (None, Some(node.clone()))
        }
        Some(node) => (Some(bool_of(node, "become")?), None),
        None => (sudo, None),
    };
    let mut task = Task {
        name,
        when,
        looping,
        register: map.string("register")?,
        notify: map.strings("notify")?,
        listen: map.strings("listen")?,
        run_once: map.bool("run_once")?.unwrap_or(false),
        escalate,
        escalate_if,
        become_user: map.string("become_user")?.or(sudo_user),
        tags: map.strings("tags")?,
        changed_when: map.take("changed_when").cloned(),
        failed_when: map.take("failed_when").cloned(),
        creates: map.take("creates").cloned(),
        removes: map.take("removes").cloned(),
        timeout: super::asynchronous::timeout(&mut map)?,
        retries: map.uint("retries")?,
        delay: map.uint("delay")?,
        until: map.take("until").cloned(),
        environment: map
            .take("environment")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default(),
        ignore_errors: map.bool("ignore_errors")?.unwrap_or(false),
        no_log: map.bool("no_log")?.unwrap_or(false),
        check_mode: map.bool("check_mode")?,
        vars: map
            .take("vars")
            .map(vars_of)
            .transpose()?
            .unwrap_or_default(),
        params: Vec::new(),
        role_dir: None,
        include_vars: None,
        flush_handlers: false,
        set_fact: None,
        blocks: Vec::new(),
        module: String::new(),
        module_node: node.clone(),
        args: node.clone(),
        span: node.span.clone(),
    };
    if let Some(register) = &task.register {
        check_var_name(register, node)?;
    }
    let extra_args = map.take("args").cloned();
    let mut remaining: Vec<_> = map.remaining().collect();
    let Some((key, args)) = remaining.first().copied() else {
        return Err(node
            .error("a task needs a module (such as `command:` or `copy:`)")
            .with_help(format!("modules: {}", modules::NAMES.join(", "))));
    };
    let key_name = key.scalar_string().unwrap_or_default();
    let Some(module) = modules::canonical(&key_name) else {
        let candidates = modules::NAMES.iter().chain(TASK_KEYS).copied();
        let err = key
            .error(format!("unknown module `{key_name}`"))
            .suggest(&key_name, candidates);
        return Err(match err.help {
            Some(_) => err,
            None => err.with_help(
                "ferry does not have this module; the README's `Playbooks` section lists those it has",
            ),
        });
    };
    if let Some((second, _)) = remaining.get(1) {
        let second_name = second.scalar_string().unwrap_or_default();
        return Err(match modules::canonical(&second_name) {
            Some(_) => second.error(format!(
                "a task calls one module, but this one names `{key_name}` and `{second_name}`"
            )),
            None => unknown_key(second, "a task", TASK_KEYS),
        });
    }
    task.module = module.to_string();
    task.module_node = key.clone();
    task.args = merge_args(&super::kv::free_form_args(module, args)?, extra_args)?;
    remaining.clear();
    Ok(task)
}

/// Folds a task's `args:` mapping into the module's own arguments.
fn merge_args(args: &Node, extra: Option<Node>) -> Result<Node, Diagnostic> {
    let Some(extra) = extra else {
        return Ok(args.clone());
    };
    let Value::Map(extra_entries) = &extra.value else {
        return Err(extra.type_error("`args`", "a mapping"));
    };
    let mut merged = args.clone();
    match &mut merged.value {
        Value::Map(entries) => entries.extend(extra_entries.iter().cloned()),
        Value::Null => merged.value = extra.value.clone(),
        // A free-form string plus `args:` (`command: ls` + `args: {chdir: /}`).
        Value::Str(s) => {
            let mut entries = vec![(
                Node {
                    value: Value::Str("_raw".into()),
                    span: args.span.clone(),
                },
                Node {
                    value: Value::Str(std::mem::take(s)),
                    span: args.span.clone(),
                },
            )];
            entries.extend(extra_entries.iter().cloned());
            merged.value = Value::Map(entries);
        }
        _ => return Err(args.type_error("module arguments", "a string or a mapping")),
    }
    Ok(merged)
}

/// Whether a name is a file name (`setup.yml`) rather than a reusable
/// playbook's (`python/venv`).
pub(super) fn has_yaml_extension(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// `when: x` and `when: [x, y]` both become a list of expressions.
pub(super) fn conditions(node: Option<&Node>) -> Vec<Node> {
    match node {
        None => Vec::new(),
        Some(Node {
            value: Value::Seq(items),
            ..
        }) => items.clone(),
        Some(n) => vec![n.clone()],
    }
}

/// A `vars:` mapping, in file order, with its names checked.
pub(crate) fn vars_of(node: &Node) -> Result<Vec<(String, Node)>, Diagnostic> {
    let Value::Map(entries) = &node.value else {
        return Err(node.type_error("`vars`", "a mapping of names to values"));
    };
    entries
        .iter()
        .map(|(k, v)| {
            let name = scalar_string(k, "variable name")?;
            check_var_name(&name, k)?;
            Ok((name, v.clone()))
        })
        .collect()
}

fn check_var_name(name: &str, node: &Node) -> Result<(), Diagnostic> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(node.error(format!(
            "invalid variable name `{name}` (letters, digits and `_`, not starting with a digit)"
        )))
    }
}
