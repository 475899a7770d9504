//! Playbook + inventory + variables → [`Plan`].
//!
//! Variable precedence, lowest first (as Ansible's, for the sources ferry has):
//! ferry's defaults < included playbooks' `defaults` < inventory `all` <
//! parent groups < child groups < host vars < play `vars` < play
//! `vars_files` < task `vars` (and an include's `vars`) < loop item <
//! extra vars (`-e`). Results registered by earlier tasks are known only at
//! run time; templates that read them are kept for the executor.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::scope::{Raw, Scope, expression_template, has_template, node_runtime_dependency};
use super::{Batch, Body, Connection, Expr, HostPlan, Plan, PlayPlan, Step};
use crate::diagnostic::{Diagnostic, Source, Span};
use crate::inventory::Inventory;
use crate::modules::{self, Action};
use crate::playbook::{FAILED_RESULT, FAILED_TASK, Part, Play, Playbook, Task};
use crate::release::ReleaseId;
use crate::shell::Masker;
use crate::template::Templates;
use crate::yaml::{self, Node};

/// Everything compilation reads. Nothing here touches the network.
pub struct CompileInput<'a> {
    pub stage: String,
    pub playbook: &'a Playbook,
    /// The directory of the playbook: local files and `vars_files` are relative to it.
    pub project_dir: &'a Path,
    pub inventory: &'a Inventory,
    /// Where the inventory was read from, for errors in its values.
    pub inventory_source: std::sync::Arc<Source>,
    /// `-e` variables, highest precedence, each with where it was given.
    pub extra_vars: Vec<(Map<String, Value>, Span)>,
    /// The stage's secrets file, just below `-e`; every value is masked.
    pub secrets: Option<crate::secrets::Secrets>,
    /// `--limit`: only hosts matching this pattern.
    pub limit: Option<String>,
    pub templates: &'a Templates,
    /// The release this deploy would create (`release_id`, `release_path`).
    pub release: &'a ReleaseId,
    /// `--ask-become-pass`: sudo's password for every host whose variables
    /// do not give one (`ansible_become_password`).
    pub become_password: Option<String>,
    /// Whom ferry logs in as.
    pub login: Login,
    /// `--tags` and `--skip-tags`.
    pub tags: super::TagFilter,
    /// The hosts' facts, as far as they are gathered.
    pub facts: super::Facts<'a>,
}

/// Whom ferry logs in as on each host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Login {
    /// The inventory's `ansible_user` (else the play's `remote_user`).
    #[default]
    Inventory,
    /// `ferry setup`: the host's `setup_user` (default `root`), since the
    /// inventory's user is the deploy user that setup creates. That user's
    /// name is then `deploy_user` (default: the inventory's `ansible_user`,
    /// else `deploy`).
    Setup,
}

/// Compiles every play for every host it targets.
pub fn compile(input: &CompileInput) -> Result<Plan, Diagnostic> {
    // The secrets file's values, and (in `masker`) those and every value a
    // host's compilation derives from a secret. A host's commands are
    // checked against the first and its own: what a secret renders to on
    // one host is rendered from that host's variables.
    let mut roots = Masker::new();
    for value in input.secrets.iter().flat_map(|s| &s.values) {
        roots.add(value);
    }
    // And every text Ansible Vault opened while the inputs were read.
    for value in crate::vault::revealed() {
        roots.add(&value);
    }
    let mut masker = roots.clone();
    let limited: Option<HashSet<String>> = match &input.limit {
        Some(pattern) => Some(input.inventory.select(pattern, None)?.into_iter().collect()),
        None => None,
    };
    // `groups` and the play's host list grow with the inventory: made once
    // and shared by every host's scope, never copied per host (which made
    // compiling quadratic in hosts).
    let groups = Arc::new(Value::Object(
        input
            .inventory
            .to_ansible_list()
            .as_object()
            .map(groups_of)
            .unwrap_or_default(),
    ));
    let hostvars = Arc::new(hostvars(input));
    let mut wants_facts = BTreeSet::new();
    // Hosts a play so far gathers facts for: later plays see them too,
    // even with `gather_facts: false`, as in Ansible.
    let mut gathering: HashSet<String> = HashSet::new();
    let mut plays = Vec::new();
    for play in &input.playbook.plays {
        let pattern = play.hosts.scalar_string().unwrap_or_default();
        let mut hosts = input.inventory.select(&pattern, Some(&play.hosts.span))?;
        if let Some(limited) = &limited {
            hosts.retain(|h| limited.contains(h));
        }
        let serial = match &play.serial {
            Some(node) => serial_of(node)?,
            None => Vec::new(),
        };
        let play_hosts = Arc::new(json!(hosts));
        let magic = Magic {
            play_hosts: &play_hosts,
            groups: &groups,
            hostvars: &hostvars,
        };
        if play.gather_facts {
            gathering.extend(hosts.iter().cloned());
        }
        let mut host_plans = Vec::new();
        for host in &hosts {
            let mut derived = Masker::new();
            let has_facts = gathering.contains(host);
            let host_plan =
                compile_host(input, play, host, has_facts, &magic, &roots, &mut derived);
            masker.extend(&derived);
            let (host_plan, wants) = host_plan.map_err(|err| masker.hide(err))?;
            if wants {
                wants_facts.insert(host.clone());
            }
            host_plans.push(host_plan);
        }
        let facts_gathered = play.gather_facts
            && matches!(input.facts, super::Facts::Gathered(known)
                if !hosts.is_empty() && hosts.iter().all(|h| known.contains_key(h)));
        if let Some(node) = &play.serial
            && host_plans
                .iter()
                .any(|h| h.steps.iter().any(orders_certificates))
        {
            return Err(node
                .error(
                    "a `certs` step cannot run in a play with `serial`: each batch would \
                     order the certificate again, and the ACME server's request may reach \
                     a host of another batch, which has no challenge",
                )
                .with_help("put `include: certs` in a play of its own, without `serial`"));
        }
        plays.push(PlayPlan {
            name: play.name.clone(),
            pattern,
            serial,
            max_fail_percentage: play.max_fail_percentage,
            rollback: play.rollback,
            facts_gathered,
            hosts: host_plans,
        });
    }
    // A step's name may be rendered from a secret, and the masker knows
    // every value derived from one only now.
    for step in plays
        .iter_mut()
        .flat_map(|p| &mut p.hosts)
        .flat_map(|h| h.steps.iter_mut().chain(&mut h.handlers))
    {
        step.name = masker.mask(&step.name);
    }
    Ok(Plan {
        stage: input.stage.clone(),
        release: input.release.clone(),
        plays,
        masker,
        wants_facts,
    })
}

/// The magic variables that are the same for every host of a play: made
/// once, shared (they grow with the inventory).
struct Magic<'m> {
    play_hosts: &'m Arc<Value>,
    groups: &'m Arc<Value>,
    hostvars: &'m Arc<Value>,
}

/// Ansible's `hostvars`: every inventory host's variables as the inventory
/// gives them (not rendered), its `inventory_hostname` and `group_names`,
/// and its facts when they were gathered.
fn hostvars(input: &CompileInput) -> Value {
    let known = match input.facts {
        super::Facts::Gathered(known) => Some(known),
        super::Facts::Never(_) => None,
    };
    let mut out = Map::new();
    for host in input.inventory.hosts() {
        let mut vars = input.inventory.host_vars(host);
        vars.insert("inventory_hostname".into(), json!(host));
        let short = host.split('.').next().unwrap_or(host);
        vars.insert("inventory_hostname_short".into(), json!(short));
        vars.insert(
            "group_names".into(),
            json!(input.inventory.group_names(host)),
        );
        if let Some(facts) = known.and_then(|k| k.get(host)) {
            vars.extend(super::facts::prefixed(facts));
        }
        out.insert(host.to_string(), Value::Object(vars));
    }
    Value::Object(out)
}

/// What a host's compile knows of its facts: them, or that they are
/// wanted but unknown (neither: the host has none, as no play gathers).
struct HostFacts<'f> {
    known: Option<&'f Map<String, Value>>,
    unknown: Option<Rc<super::facts::Unknown>>,
}

/// A host's plan, and whether it wants facts not gathered yet: then its
/// plan has its connection and no steps, for the gather. `has_facts`: a
/// play so far gathers the host's facts.
fn compile_host(
    input: &CompileInput,
    play: &Play,
    host: &str,
    has_facts: bool,
    magic: &Magic,
    roots: &Masker,
    masker: &mut Masker,
) -> Result<(HostPlan, bool), Diagnostic> {
    let unknown = match input.facts {
        _ if !has_facts => None,
        super::Facts::Never(why) => Some(Rc::new(super::facts::Unknown::new(Some(why)))),
        super::Facts::Gathered(known) if known.contains_key(host) => None,
        super::Facts::Gathered(_) => Some(Rc::new(super::facts::Unknown::new(None))),
    };
    let gathering = matches!(input.facts, super::Facts::Gathered(_));
    let known = match input.facts {
        super::Facts::Gathered(known) if has_facts => known.get(host),
        _ => None,
    };
    let facts = HostFacts {
        known,
        unknown: unknown.clone(),
    };
    match compile_host_with(input, play, host, magic, roots, masker, &facts, true) {
        Err(_) if gathering && unknown.as_ref().is_some_and(|u| u.was_read()) => {
            // The connection, from what needs no fact (`vars_files` may
            // name one: `vars/{{ ansible_os_family }}.yml`).
            let plan = compile_host_with(input, play, host, magic, roots, masker, &facts, false)?;
            Ok((plan, true))
        }
        result => result.map(|plan| (plan, false)),
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_host_with(
    input: &CompileInput,
    play: &Play,
    host: &str,
    magic: &Magic,
    roots: &Masker,
    masker: &mut Masker,
    facts: &HostFacts,
    whole: bool,
) -> Result<HostPlan, Diagnostic> {
    let mut scope = Scope::new(input.templates);
    for (name, value) in [
        ("keep_releases", json!(5)),
        ("shared_files", json!([])),
        ("shared_dirs", json!([])),
        ("release_id", json!(input.release.id)),
        ("release_commit", json!(input.release.commit)),
        (
            "procfile",
            json!(input.release.procfile.clone().unwrap_or_default()),
        ),
    ] {
        scope.set(name, Raw::Final(Arc::new(value)));
    }
    let defaults = Source::new("<ferry defaults>", "");
    for (name, template) in [
        ("releases_path", "{{ deploy_to }}/releases"),
        ("release_path", "{{ deploy_to }}/releases/{{ release_id }}"),
        ("shared_path", "{{ deploy_to }}/shared"),
        ("current_path", "{{ deploy_to }}/current"),
    ] {
        scope.set(
            name,
            Raw::Json(
                Arc::new(json!(template)),
                Span::file_start(defaults.clone()),
            ),
        );
    }
    // `-e` outranks the inventory for the connection variables too, as in
    // Ansible (a push target's deploy logs in with its own key this way).
    let address = {
        let mut vars = input.inventory.host_vars(host);
        for (extra, _) in &input.extra_vars {
            vars.extend(extra.clone());
        }
        crate::inventory::HostAddress::from_vars(host, &vars)
    };
    if input.login == Login::Setup {
        let deploy_user = address.user.clone().unwrap_or_else(|| "deploy".into());
        scope.set("deploy_user", Raw::Final(Arc::new(json!(deploy_user))));
    }
    scope.set_nodes(&play.defaults);
    let inventory_span = Span::file_start(input.inventory_source.clone());
    scope.set_json(&input.inventory.host_vars(host), &inventory_span);
    let short = host.split('.').next().unwrap_or(host);
    for (name, value) in [
        ("inventory_hostname", Arc::new(json!(host))),
        ("inventory_hostname_short", Arc::new(json!(short))),
        (
            "group_names",
            Arc::new(json!(input.inventory.group_names(host))),
        ),
        ("groups", Arc::clone(magic.groups)),
        ("hostvars", Arc::clone(magic.hostvars)),
        ("ansible_play_hosts", Arc::clone(magic.play_hosts)),
        ("ansible_play_hosts_all", Arc::clone(magic.play_hosts)),
        ("play_hosts", Arc::clone(magic.play_hosts)),
        (
            "playbook_dir",
            Arc::new(json!(playbook_dir(input.project_dir))),
        ),
        ("ansible_version", Arc::new(ansible_version())),
    ] {
        scope.set(name, Raw::Final(value));
    }
    // The play's hosts are its one batch unless `serial` makes several
    // (compiled together: then the batch is not known here).
    if play.serial.is_none() {
        scope.set(
            "ansible_play_batch",
            Raw::Final(Arc::clone(magic.play_hosts)),
        );
    }
    // Facts: above the inventory, below the play's variables (Ansible's
    // order).
    if let Some(unknown) = &facts.unknown {
        scope.facts_unknown(Rc::clone(unknown));
    } else if let Some(known) = facts.known {
        super::facts::set(&mut scope, known);
    }
    scope.set_nodes(&play.vars);
    for file in play.vars_files.iter().filter(|_| whole) {
        let path = scope.render_str(file.as_str().unwrap_or_default(), &file.span)?;
        scope.set_nodes(&read_vars_file(input.project_dir, &path, file)?);
    }
    scope.set_nodes(&play.role_vars);
    if let Some(secrets) = &input.secrets {
        scope.set_json(&secrets.vars, &secrets.span);
        secrets.vars.keys().for_each(|name| scope.mark_secret(name));
    }
    for (vars, span) in &input.extra_vars {
        scope.set_json(vars, span);
    }
    for (name, span) in &play.secrets {
        scope.mark_secret(name);
        match scope.get(name)? {
            Some(Value::String(s)) => masker.add(&s),
            Some(other) => masker.add(&other.to_string()),
            None => {
                return Err(Diagnostic::new(
                    format!("secret `{name}` is not a defined variable"),
                    span.clone(),
                )
                .suggest(name, scope.names()));
            }
        }
    }

    let passphrase = match scope.get("ssh_key_passphrase")? {
        Some(Value::String(p)) => Some(p),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    if let Some(p) = &passphrase {
        masker.add(p);
        scope.mark_secret("ssh_key_passphrase");
    }
    let become_password = become_password(&mut scope, input.become_password.as_deref())?;
    if let Some(p) = &become_password {
        masker.add(p);
    }
    // The inventory's `ansible_user` wins over the play's `remote_user`, as
    // in Ansible.
    let user = match (address.user, &play.remote_user) {
        _ if input.login == Login::Setup => Some(match scope.get("setup_user")? {
            Some(Value::String(user)) => user,
            Some(other) => other.to_string(),
            None => "root".to_string(),
        }),
        (Some(user), _) => Some(user),
        (None, Some(node)) => {
            Some(scope.render_str(&node.scalar_string().unwrap_or_default(), &node.span)?)
        }
        (None, None) => None,
    };
    let mut ssh_options = Vec::new();
    for (var, text) in &address.ssh_args {
        let text = scope.render_str(text, &inventory_span)?;
        let options = crate::transport::ssh_args::parse(&text).map_err(|reason| {
            Diagnostic::new(
                format!("host `{host}`: `{var}`: {reason}"),
                inventory_span.clone(),
            )
        })?;
        ssh_options.extend(options);
    }
    let connection = Connection {
        address: scope.render_str(&address.address, &inventory_span)?,
        port: address.port,
        user,
        key_file: address.key_file,
        ssh_options,
        passphrase,
        become_password,
    };

    let mut compiler = TaskCompiler {
        input,
        play,
        host,
        roots,
        masker,
        asks_password: connection.become_password.is_some(),
        login_user: connection.user.clone(),
        included_vars: Vec::new(),
        facts: Vec::new(),
    };
    if !whole {
        return Ok(HostPlan {
            host: host.to_string(),
            connection,
            steps: Vec::new(),
            handlers: Vec::new(),
        });
    }
    // Known at run time only: the plan is the same for a deploy and its
    // dry run (see `executor::step::CHECK_MODE`).
    scope.register("ansible_check_mode");
    let mut steps = Vec::new();
    for task in &play.tasks {
        // A flush runs only handlers that were notified: never filtered.
        if !task.flush_handlers && !input.tags.selects(&task.tags) {
            continue;
        }
        if let Some(vars) = &task.include_vars {
            if conditions_hold(&scope, task)? {
                scope.set_nodes(vars);
                compiler.set_facts(&mut scope);
                set_highest(&mut scope, input);
                compiler.included_vars.extend(vars.iter().cloned());
            }
            continue;
        }
        if task.flush_handlers {
            // Nothing to flush in a play without handlers.
            if !play.handlers.is_empty() {
                let at = task.span.to_string();
                steps.push(Step::flush_handlers(at, task.blocks.clone()));
            }
            continue;
        }
        let in_rescue = task.blocks.iter().any(|f| f.part == Part::Rescue);
        let reading = if in_rescue {
            // What failed, known in a rescue at run time (Ansible's names).
            let mut scope = scope.clone();
            scope.register(FAILED_RESULT);
            scope.register(FAILED_TASK);
            std::borrow::Cow::Owned(scope)
        } else {
            std::borrow::Cow::Borrowed(&scope)
        };
        if let Some(facts) = &task.set_fact {
            let set = compiler.set_fact(&reading, task, facts)?;
            drop(reading);
            steps.extend(compiler.apply(&mut scope, set));
            continue;
        }
        steps.extend(compiler.task(&reading, task)?);
        drop(reading);
        if let Some(name) = &task.register {
            scope.register(name);
        }
    }
    let mut handlers = Vec::new();
    for task in &play.handlers {
        let mut compiled = compiler.task(&scope, task)?;
        for step in &mut compiled {
            step.listen = std::iter::once(task.name.clone().unwrap_or_default())
                .chain(task.listen.iter().cloned())
                .filter(|n| !n.is_empty())
                .collect();
        }
        handlers.extend(compiled);
    }
    scope.secrets_into(compiler.masker);
    Ok(HostPlan {
        host: host.to_string(),
        connection,
        steps,
        handlers,
    })
}

/// Sets the secrets file's variables and `-e`'s again, over whatever a
/// task or `include_vars` set since: they are the highest precedence.
fn set_highest(scope: &mut Scope, input: &CompileInput) {
    if let Some(secrets) = &input.secrets {
        scope.set_json(&secrets.vars, &secrets.span);
    }
    for (vars, span) in &input.extra_vars {
        scope.set_json(vars, span);
    }
}

/// Whether every `when` of a task that runs no module (`include_vars`)
/// holds for this host; such a task is settled before connecting.
fn conditions_hold(scope: &Scope, task: &Task) -> Result<bool, Diagnostic> {
    for cond in &task.when {
        let text = match &cond.value {
            yaml::Value::Bool(b) => b.to_string(),
            _ => cond
                .scalar_string()
                .ok_or_else(|| cond.type_error("`when`", "an expression"))?,
        };
        if let Some(name) = scope.runtime_dependency(&expression_template(&text)) {
            return Err(cond.error(format!(
                "the `when` of `{}` reads `{name}`, a result registered at run time; ferry reads vars files before connecting",
                task.module
            )));
        }
        if !scope.eval_bool(&text, &cond.span)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A role's task names its `copy`/`template` source relative to the role:
/// `files/` (for `copy`) or `templates/` (for `template`), the role itself,
/// or its `tasks/`, as Ansible looks, before the playbook's own. Returns
/// the file's path when the role has it.
fn role_source(task: &Task, src: &str) -> Option<String> {
    let dir = task.role_dir.as_ref()?;
    if src.is_empty() || Path::new(src).is_absolute() || has_template(src) {
        return None;
    }
    let sub = match task.module.as_str() {
        "copy" => "files",
        "template" => "templates",
        _ => return None,
    };
    [dir.join(sub), dir.clone(), dir.join("tasks")]
        .iter()
        .map(|d| d.join(src))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

/// Points a role task's relative `src` at the role's file.
fn with_role_source(task: &Task, args: &mut Value) {
    if let Some(Value::String(src)) = args.get_mut("src")
        && let Some(found) = role_source(task, src)
    {
        *src = found;
    }
}

/// `groups`: every group's hosts, as Ansible's magic variable has it.
fn groups_of(list: &Map<String, Value>) -> Map<String, Value> {
    let mut groups = Map::new();
    for name in list.keys() {
        if name == "_meta" {
            continue;
        }
        let mut hosts = Vec::new();
        collect_hosts(list, name, &mut hosts, &mut HashSet::new(), 0);
        groups.insert(name.clone(), json!(hosts));
    }
    groups
}

/// Appends the hosts of `group` and its children to `out`, each once
/// (`seen` holds those already in `out`).
fn collect_hosts<'a>(
    list: &'a Map<String, Value>,
    group: &str,
    out: &mut Vec<&'a str>,
    seen: &mut HashSet<&'a str>,
    depth: usize,
) {
    let Some(entry) = list.get(group) else { return };
    if depth > 64 {
        return;
    }
    for host in entry["hosts"].as_array().into_iter().flatten() {
        if let Some(h) = host.as_str()
            && seen.insert(h)
        {
            out.push(h);
        }
    }
    for child in entry["children"].as_array().into_iter().flatten() {
        if let Some(c) = child.as_str() {
            collect_hosts(list, c, out, seen, depth + 1);
        }
    }
}

fn read_vars_file(dir: &Path, path: &str, at: &Node) -> Result<Vec<(String, Node)>, Diagnostic> {
    let full = dir.join(path);
    let source = Source::read(&full).map_err(|e| at.error(e.message))?;
    let root = yaml::parse(&source)?;
    if root.is_null() {
        return Ok(Vec::new());
    }
    crate::playbook::vars_of(&root)
}

/// Release and `certs` steps meet the other hosts' (at the switch barrier,
/// at the certificate order), so what they do is settled for every host
/// before connecting: a `when` or an argument that waits for a registered
/// result would let one host leave the others waiting, or act alone. The
/// module's canonical name, for those.
fn decided_before_connecting(module: &str) -> Option<&'static str> {
    modules::canonical(module).filter(|m| m.starts_with("release.") || *m == "certs")
}

/// The error for such a step whose `when` (or else its arguments) reads
/// `name`, a registered result, and what to write instead.
fn settled_before_connecting(at: &Node, when: bool, module: &str, name: &str) -> Diagnostic {
    let what = if when {
        "the `when` of `{module}` reads"
    } else {
        "the arguments of `{module}` read"
    }
    .replace("{module}", module);
    let help = if when && module != "certs" {
        "to keep a host from switching, make it fail before the switch: `failed_when:` on the step that checks"
    } else {
        "decide with a variable known before connecting (inventory, vars, `-e`)"
    };
    at.error(format!(
        "{what} `{name}`, a result registered at run time; release and `certs` steps are settled for every host before connecting"
    ))
    .with_help(help)
}

/// A `certs` step that orders certificates from the controller for every
/// host of its batch at once (certbot mode works host by host).
fn orders_certificates(step: &Step) -> bool {
    matches!(
        &step.body,
        Body::Ready { action: Action::Certs { spec } }
            if spec.mode == crate::modules::CertsMode::Acme && !spec.certificates.is_empty()
    )
}

/// Ansible's `playbook_dir`: the playbook's directory, absolute.
fn playbook_dir(project_dir: &Path) -> String {
    let dir = std::env::current_dir()
        .map(|cwd| cwd.join(project_dir))
        .unwrap_or_else(|_| project_dir.to_path_buf());
    // Python's `os.path.abspath`: `.` parts dropped, links kept.
    let dir: std::path::PathBuf = dir
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    dir.display().to_string()
}

/// `ansible_version`: the Ansible release whose playbook language ferry
/// reads (its behaviour is compared with ansible-core 2.19's).
fn ansible_version() -> Value {
    json!({"full": "2.19.0", "major": 2, "minor": 19, "revision": 0, "string": "2.19.0"})
}

fn serial_of(node: &Node) -> Result<Vec<Batch>, Diagnostic> {
    let one = |n: &Node| -> Result<Batch, Diagnostic> {
        match &n.value {
            yaml::Value::Int(i) if *i > 0 => Ok(Batch::Hosts(*i as u64)),
            yaml::Value::Str(s) => s
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<u64>().ok())
                .filter(|p| (1..=100).contains(p))
                .map(Batch::Percent)
                .ok_or_else(|| {
                    n.error(format!(
                        "`serial` must be a number of hosts or a percentage like `30%`, not `{s}`"
                    ))
                }),
            _ => Err(n.type_error(
                "`serial`",
                "a positive number, a percentage, or a list of them",
            )),
        }
    };
    match &node.value {
        yaml::Value::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

mod set_fact;

struct TaskCompiler<'a, 'm> {
    input: &'a CompileInput<'a>,
    play: &'a Play,
    host: &'a str,
    /// The secrets file's values.
    roots: &'a Masker,
    /// The secrets of this host's compilation: a play's `secrets:`, values
    /// derived from secrets.
    masker: &'m mut Masker,
    /// The host's sudo is given a password: escalated commands read it.
    asks_password: bool,
    /// Who ferry logs in as, when known before connecting.
    login_user: Option<String>,
    /// Variables `include_vars` set so far on this host: above task vars.
    included_vars: Vec<(String, Node)>,
    /// Facts `set_fact` set before connecting so far on this host, as
    /// rendered then: above `include_vars`, below role parameters.
    facts: Vec<(String, Arc<Value>)>,
}

impl TaskCompiler<'_, '_> {
    /// One task: one step, or one per loop item.
    fn task(&mut self, scope: &Scope, task: &Task) -> Result<Vec<Step>, Diagnostic> {
        modules::check_args(&task.module, &task.args)?;
        let scope = self.task_scope(scope, task);
        let Some(looping) = &task.looping else {
            return Ok(vec![self.step(&scope, task, None)?]);
        };
        let (list, secret_items) = self.loop_list(&scope, task, looping)?;
        list.iter()
            .enumerate()
            .map(|(index, item)| {
                let scope = item_scope(&scope, looping, &list, index, secret_items);
                let mut step = self.step(&scope, task, Some(item.clone()))?;
                if let Some(label) = &looping.label {
                    let shown = scope.render_node(label)?;
                    step.label = Some(json_string(shown));
                }
                Ok(step)
            })
            .collect()
    }

    /// A loop's items, expanded before connecting, and whether they read a
    /// secret.
    fn loop_list(
        &self,
        scope: &Scope,
        task: &Task,
        looping: &crate::playbook::Looping,
    ) -> Result<(Vec<Value>, bool), Diagnostic> {
        let items = &looping.items;
        let what = match looping.kind {
            crate::playbook::LoopKind::Loop => "`loop`",
            _ => "a `with_*` loop",
        };
        if let Some(name) = node_runtime_dependency(scope, items) {
            return Err(items.error(format!(
                "{what} reads `{name}`, a result registered at run time: ferry expands loops before connecting"
            )));
        }
        let value = scope.render_node(items)?;
        let list = super::lookup::items(looping.kind, value, &self.file_dirs(task))
            .map_err(|message| items.error(message))?;
        Ok((list, scope.node_reads_secret(items)))
    }

    /// A task's scope: the host's, with the task's vars where it has any.
    fn task_scope<'t>(&self, scope: &Scope<'t>, task: &Task) -> Scope<'t> {
        let mut scope = scope.clone();
        if !task.vars.is_empty() || !task.params.is_empty() {
            // Task vars (a role's vars among them), then `include_vars`,
            // `set_fact`, role parameters, the secrets file and `-e`, as in
            // Ansible.
            scope.set_nodes(&task.vars);
            scope.set_nodes(&self.included_vars);
            self.set_facts(&mut scope);
            scope.set_nodes(&task.params);
            set_highest(&mut scope, self.input);
        }
        scope
    }

    /// Sets the facts `set_fact` set so far, over what is below them.
    fn set_facts(&self, scope: &mut Scope) {
        for (name, value) in &self.facts {
            scope.set(name.clone(), Raw::Final(value.clone()));
        }
    }

    /// Where `with_fileglob` looks for a relative pattern: the role's
    /// `files/` and the role, then the playbook's `files/` and the playbook's
    /// directory, as Ansible's lookup searches.
    fn file_dirs(&self, task: &Task) -> Vec<std::path::PathBuf> {
        let mut dirs = Vec::new();
        if let Some(role) = &task.role_dir {
            dirs.push(role.join("files"));
            dirs.push(role.clone());
        }
        dirs.push(self.input.project_dir.join("files"));
        dirs.push(self.input.project_dir.to_path_buf());
        dirs
    }

    fn step(
        &mut self,
        scope: &Scope,
        task: &Task,
        item: Option<Value>,
    ) -> Result<Step, Diagnostic> {
        let location = task.span.to_string();
        let name = match &task.name {
            Some(name) if scope.runtime_dependency(name).is_none() => {
                scope.render_str(name, &task.span)?
            }
            Some(name) => name.clone(),
            None => task.module.clone(),
        };
        let mut step = Step {
            name,
            module: task.module.clone(),
            location: location.clone(),
            item,
            label: None,
            body: Body::Skipped {
                reason: String::new(),
            },
            when: Vec::new(),
            register: task.register.clone(),
            notify: task.notify.clone(),
            listen: Vec::new(),
            run_once: task.run_once,
            become_user: self.become_user(scope, task)?,
            timeout: task.timeout,
            retries: task.retries,
            delay: task.delay,
            until: task
                .until
                .as_ref()
                .map(|n| self.expr(scope, n))
                .transpose()?,
            changed_when: task
                .changed_when
                .as_ref()
                .map(|n| self.expr(scope, n))
                .transpose()?,
            failed_when: task
                .failed_when
                .as_ref()
                .map(|n| self.expr(scope, n))
                .transpose()?,
            ignore_errors: task.ignore_errors,
            no_log: task.no_log,
            check_mode: task.check_mode,
            tags: task.tags.clone(),
            blocks: task.blocks.clone(),
        };
        if step.changed_when.is_none() && modules::read_only(&task.module) {
            step.changed_when = Some(Expr {
                expr: "false".into(),
                vars: Map::new(),
                location: step.location.clone(),
            });
        }
        for cond in &task.when {
            match &cond.value {
                yaml::Value::Bool(true) => continue,
                yaml::Value::Bool(false) => {
                    step.body = Body::Skipped {
                        reason: "`when: false`".into(),
                    };
                    return Ok(step);
                }
                _ => {}
            }
            let Some(text) = cond.scalar_string() else {
                return Err(cond.type_error("`when`", "an expression or a list of expressions"));
            };
            if let Some(name) = scope.runtime_dependency(&expression_template(&text)) {
                if let Some(module) = decided_before_connecting(&task.module) {
                    return Err(settled_before_connecting(cond, true, module, &name));
                }
                step.when.push(self.expr(scope, cond)?);
            } else if !scope.eval_bool(&text, &cond.span)? {
                step.body = Body::Skipped {
                    reason: format!("`when: {text}` is false"),
                };
                return Ok(step);
            }
        }
        let runtime_args = node_runtime_dependency(scope, &task.args);
        if let (Some(name), Some(module)) = (&runtime_args, decided_before_connecting(&task.module))
        {
            return Err(settled_before_connecting(&task.args, false, module, name));
        }
        // A `set_fact` left for run time (its `when` waits for a result).
        let runtime_args = runtime_args.or_else(|| task.set_fact.as_ref().map(|_| String::new()));
        step.body = match runtime_args {
            Some(name) => Body::Deferred {
                environment: self.environment(scope, task)?,
                args: {
                    let mut args = task.args.to_json();
                    with_role_source(task, &mut args);
                    args
                },
                vars: self.needed_in(scope, &task.args)?,
                reason: match name.is_empty() {
                    true => "sets its facts at run time".to_string(),
                    false => format!("reads `{name}`, registered at run time"),
                },
            },
            None => Body::Ready {
                action: self.action(scope, task)?,
            },
        };
        Ok(step)
    }

    fn action(&mut self, scope: &Scope, task: &Task) -> Result<Action, Diagnostic> {
        let mut args = match scope.render_node(&task.args)? {
            Value::Object(map) => Value::Object(map),
            Value::Null => Value::Object(Map::new()),
            Value::String(raw) => json!({ "_raw": raw }),
            other => json!({ "_raw": other.to_string() }),
        };
        with_role_source(task, &mut args);
        let render = |source: &std::sync::Arc<Source>| -> Result<String, Diagnostic> {
            scope.render_str(&source.text, &Span::file_start(source.clone()))
        };
        let lookup = |name: &str| scope.get(name).ok().flatten();
        let cx = modules::Context {
            at: &task.module_node,
            args: Some(&task.args),
            project_dir: self.input.project_dir,
            render: &render,
            lookup: &lookup,
        };
        let mut action = modules::compile(&task.module, &args, &cx)?;
        wrap_remote(
            &mut action,
            &self.environment(scope, task)?,
            self.become_user(scope, task)?.as_deref(),
            self.asks_password,
        );
        if let Action::Remote { check, run, .. } = &mut action {
            if task.creates.is_some() || task.removes.is_some() {
                let text = |n: &Option<Node>| {
                    n.as_ref()
                        .map(|n| scope.render_str(&n.scalar_string().unwrap_or_default(), &n.span))
                        .transpose()
                };
                *check = modules::guard(text(&task.creates)?, text(&task.removes)?);
            }
            scope.secrets_into(self.masker);
            let shown = [
                Some(run.as_sent()),
                check.as_ref().map(|c| c.command.as_sent()),
            ];
            let reveals = |c: &str| self.roots.reveals(c) || self.masker.reveals(c);
            if shown.into_iter().flatten().any(reveals) {
                return Err(task.module_node.error(format!(
                    "a secret would appear on the command line of `{}` (visible in `ps` on the host)",
                    self.host
                ))
                .with_help("write it to a file with `copy: content=... mode=0600` and read the file instead"));
            }
        }
        let probes: Vec<&str> = action
            .sent_commands()
            .into_iter()
            .map(|c| c.as_sent())
            .collect();
        if !probes.is_empty()
            && let Some(node) = task.creates.as_ref().or(task.removes.as_ref())
        {
            return Err(node.error(format!(
                "`creates`/`removes` guard commands; `{}` checks the host itself",
                task.module
            )));
        }
        if !probes.is_empty() {
            scope.secrets_into(self.masker);
            if probes
                .iter()
                .any(|c| self.roots.reveals(c) || self.masker.reveals(c))
            {
                return Err(task.module_node.error(format!(
                    "a secret would appear on the command line of `{}` (visible in `ps` on the host)",
                    self.host
                )));
            }
        }
        if let Action::Debug { msg } = &mut action {
            scope.secrets_into(self.masker);
            // Free-form `msg=…` was rendered whole: the message is a part.
            if scope.node_reads_secret(&task.args) {
                self.masker.add_derived(msg);
            }
            *msg = self.masker.mask(&self.roots.mask(msg));
        }
        if let Action::Release { args, .. } = &mut action {
            self.release_vars(scope, task, args)?;
        }
        if let Action::Assert { assertion } = &mut action {
            for cond in &mut assertion.that {
                cond.vars = scope.needed(&expression_template(&cond.expr), &task.span)?;
            }
        }
        Ok(action)
    }

    /// A release step carries the deploy variables it works with, resolved
    /// for its host, so the plan shows them and the executor needs nothing
    /// else: `deploy_to` (required), `keep_releases`, `shared_files`,
    /// `shared_dirs`.
    fn release_vars(&self, scope: &Scope, task: &Task, args: &mut Value) -> Result<(), Diagnostic> {
        let Value::Object(args) = args else {
            return Ok(());
        };
        for name in ["deploy_to", "keep_releases", "shared_files", "shared_dirs"] {
            if args.contains_key(name) {
                continue;
            }
            match scope.get(name)? {
                Some(value) => {
                    args.insert(name.to_string(), value);
                }
                None => {
                    return Err(task
                        .module_node
                        .error(format!(
                            "`{}` needs `{name}`, the directory releases live in on `{}`",
                            task.module, self.host
                        ))
                        .with_help("set `deploy_to` in the inventory (per host or group) or in the play's `vars`"));
                }
            }
        }
        Ok(())
    }

    /// The task's `environment:`, rendered.
    fn environment(&self, scope: &Scope, task: &Task) -> Result<Vec<(String, String)>, Diagnostic> {
        task.environment
            .iter()
            .map(|(k, v)| Ok((k.clone(), json_string(scope.render_node(v)?))))
            .collect()
    }

    /// An expression evaluated at run time (a registered result's test).
    /// The user a task runs as through sudo, if it escalates: `become` of
    /// the task (a boolean, or a template rendered for this host) or else
    /// of the play.
    fn become_user(&self, scope: &Scope, task: &Task) -> Result<Option<String>, Diagnostic> {
        let escalates = match &task.escalate_if {
            Some(node) => {
                let text = node.scalar_string().unwrap_or_default();
                let rendered = scope.render_str(&text, &node.span)?;
                match rendered.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "1" => true,
                    "false" | "no" | "off" | "0" | "" => false,
                    other => {
                        return Err(Diagnostic::new(
                            format!("`become` must be true or false, not `{other}`"),
                            node.span.clone(),
                        ));
                    }
                }
            }
            None => task.escalate.or(self.play.escalate).unwrap_or(false),
        };
        let user = task
            .become_user
            .clone()
            .or_else(|| self.play.become_user.clone())
            .unwrap_or_else(|| "root".into());
        // Logged in as that user already (`ferry setup` as root): no sudo,
        // which a fresh server may not even have.
        Ok((escalates && self.login_user.as_deref() != Some(user.as_str())).then_some(user))
    }

    fn expr(&self, scope: &Scope, node: &Node) -> Result<Expr, Diagnostic> {
        let text = match &node.value {
            yaml::Value::Bool(b) => b.to_string(),
            _ => node
                .scalar_string()
                .ok_or_else(|| node.type_error("a condition", "an expression"))?,
        };
        scope.check_names(&text, !has_template(&text), &node.span)?;
        Ok(Expr {
            vars: scope.needed(&expression_template(&text), &node.span)?,
            expr: text,
            location: node.span.to_string(),
        })
    }

    /// Resolved variables that the strings of a node read.
    fn needed_in(&self, scope: &Scope, node: &Node) -> Result<Map<String, Value>, Diagnostic> {
        let mut out = Map::new();
        match &node.value {
            yaml::Value::Str(s) if has_template(s) => {
                scope.check_names(s, false, &node.span)?;
                out.extend(scope.needed(s, &node.span)?);
            }
            yaml::Value::Seq(items) => {
                for i in items {
                    out.extend(self.needed_in(scope, i)?);
                }
            }
            yaml::Value::Map(entries) => {
                for (k, v) in entries {
                    out.extend(self.needed_in(scope, k)?);
                    out.extend(self.needed_in(scope, v)?);
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

/// A loop item's scope: the loop variable (a secret when the items read
/// one), `ansible_loop_var`, `index_var`, and `ansible_loop` when
/// `extended`.
fn item_scope<'t>(
    scope: &Scope<'t>,
    looping: &crate::playbook::Looping,
    list: &[Value],
    index: usize,
    secret_items: bool,
) -> Scope<'t> {
    let mut scope = scope.clone();
    let item = &list[index];
    let length = list.len();
    scope.set(looping.var.clone(), Raw::Final(Arc::new(item.clone())));
    scope.set("ansible_loop_var", Raw::Final(Arc::new(json!(looping.var))));
    if let Some(var) = &looping.index_var {
        scope.set(var.clone(), Raw::Final(Arc::new(json!(index))));
    }
    if looping.extended {
        let loop_vars = json!({
            "index": index + 1,
            "index0": index,
            "revindex": length - index,
            "revindex0": length - index - 1,
            "first": index == 0,
            "last": index + 1 == length,
            "length": length,
            "allitems": list,
            "previtem": if index > 0 { list[index - 1].clone() } else { Value::Null },
            "nextitem": list.get(index + 1).cloned().unwrap_or(Value::Null),
        });
        scope.set("ansible_loop", Raw::Final(Arc::new(loop_vars)));
    }
    if secret_items {
        scope.mark_secret(&looping.var);
    }
    scope
}

/// Exports a task's environment for its command and runs command and check
/// through sudo when the task escalates. Used for compiled and deferred steps.
/// sudo's password on a host: Ansible's `ansible_become_password` (or its
/// older names `ansible_become_pass`, `ansible_sudo_pass`), else the one
/// `--ask-become-pass` asked for. A secret wherever it came from.
fn become_password(scope: &mut Scope, asked: Option<&str>) -> Result<Option<String>, Diagnostic> {
    for name in [
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_sudo_pass",
    ] {
        let value = match scope.get(name)? {
            Some(Value::String(p)) => p,
            Some(Value::Null) | None => continue,
            Some(other) => other.to_string(),
        };
        scope.mark_secret(name);
        return Ok(Some(value));
    }
    Ok(asked.map(str::to_string))
}

/// `asks_password`: the host's sudo is given a password (see
/// [`crate::shell::Command::become_user_asking`]).
pub(crate) fn wrap_remote(
    action: &mut Action,
    env: &[(String, String)],
    become_user: Option<&str>,
    asks_password: bool,
) {
    let escalate = |command: crate::shell::Command, user: &str| {
        if asks_password {
            command.become_user_asking(user)
        } else {
            command.become_user(user)
        }
    };
    let wrap = |command: &mut crate::shell::Command| {
        *command = std::mem::take(command).with_env(env);
        if let Some(user) = become_user {
            *command = escalate(std::mem::take(command), user);
        }
    };
    match action {
        Action::Edit { edit } => {
            for command in [&mut edit.read, &mut edit.write]
                .into_iter()
                .chain(edit.fix.as_mut())
            {
                wrap(command);
            }
            return;
        }
        Action::Stat { stat } => return wrap(&mut stat.command),
        Action::Probed { probed } => {
            wrap(&mut probed.probe);
            probed.env = env.to_vec();
            probed.become_user = become_user.map(str::to_string);
            probed.asks_password = asks_password;
            return;
        }
        _ => {}
    }
    let Action::Remote { check, run, upload } = action else {
        return;
    };
    *run = std::mem::take(run).with_env(env);
    if let Some(user) = become_user {
        *run = escalate(std::mem::take(run), user);
        if let Some(check) = check {
            check.command = escalate(std::mem::take(&mut check.command), user);
        }
        if let Some(read) = upload.as_mut().and_then(|u| u.read.as_mut()) {
            *read = escalate(std::mem::take(read), user);
        }
    }
}

fn json_string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
