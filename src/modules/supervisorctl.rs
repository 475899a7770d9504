//! `supervisorctl` (community.general's): a supervisord program or group
//! added, started, stopped, restarted or removed, through `supervisorctl`
//! on the host.
//!
//! The check reads `supervisorctl avail` and `status`, so check mode
//! predicts the run: `started` is `ok` when every process of `name` is
//! RUNNING, `stopped` when none is RUNNING or STARTING, `present` when
//! supervisord has added `name` (its file read and in use), `absent` when
//! it has not (`remove` leaves the file: supervisord only stops using
//! it); `restarted` always acts, as in Ansible. A `name` ending in `:` is
//! a group.

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "state",
    "config",
    "server_url",
    "supervisorctl_path",
];

pub fn supervisorctl(args: &Args) -> Result<Action, Diagnostic> {
    let name = args.required("name", "supervisorctl")?;
    let state = args.required("state", "supervisorctl")?;
    let group = name.strip_suffix(':');
    let base = group.unwrap_or(&name).to_string();
    if base.is_empty() || base.contains(char::is_whitespace) {
        return Err(args.error_at(
            "name",
            format!("`{name}` is not a supervisord program or group"),
        ));
    }
    // What status, start, stop and restart take: `group:*` for a group.
    let target = match group {
        Some(g) => format!("{g}:*"),
        None => base.clone(),
    };
    let mut sc = Command::new(
        &args
            .string("supervisorctl_path")?
            .unwrap_or_else(|| "supervisorctl".into()),
    );
    if let Some(config) = args.string("config")? {
        sc = sc.args(["-c", &config]);
    }
    if let Some(url) = args.string("server_url")? {
        sc = sc.args(["-s", &url]);
    }
    let sc = sc.as_sent().to_string();
    let (qb, qt) = (quote(&base), quote(&target));
    // supervisord runs `name` as a process group (`avail` says `in use`;
    // a group's processes are `group:process`). A program whose file is
    // read but not added is `avail`: not present.
    let known = format!(
        "{sc} avail | awk -v n={qb} '($1 == n || index($1, n \":\") == 1) && $2 == \"in\" {{ f = 1 }} END {{ exit !f }}'"
    );
    // Status lines are `NAME STATE …`; one with `ERROR` is no process.
    let all = |ok: &str| {
        format!(
            "{sc} status {qt} 2>&1 | awk '{{ n++ }} $2 == \"ERROR\" || !({ok}) {{ bad = 1 }} END {{ exit (n == 0 || bad) }}'"
        )
    };
    let each = |unless: &str, verb: &str| {
        format!(
            "{sc} status {qt} 2>&1 | awk '!({unless}) {{ print $1 }}' | while read -r p; do {sc} {verb} \"$p\" || exit 1; done"
        )
    };
    let add = format!("{{ {known} || {{ {sc} reread && {sc} add {qb}; }}; }}");
    let (check, satisfied, would, run) = match state.as_str() {
        "present" => (
            Some(known.clone()),
            format!("supervisord runs `{name}`"),
            format!("add `{name}` to supervisord"),
            add,
        ),
        "started" => (
            Some(all("$2 == \"RUNNING\"")),
            format!("`{name}` is running"),
            format!("start `{name}`"),
            format!("{add} && {}", each("$2 == \"RUNNING\"", "start")),
        ),
        "stopped" => (
            Some(all("$2 != \"RUNNING\" && $2 != \"STARTING\"")),
            format!("`{name}` is not running"),
            format!("stop `{name}`"),
            format!(
                "{{ {known} || {{ echo {} >&2; exit 1; }}; }} && {}",
                quote(&format!("supervisord runs no `{name}`")),
                each("$2 != \"RUNNING\" && $2 != \"STARTING\"", "stop")
            ),
        ),
        "restarted" => (
            None,
            String::new(),
            String::new(),
            format!("{sc} update && {add} && {sc} restart {qt}"),
        ),
        "absent" => (
            Some(format!("! {known}")),
            format!("supervisord does not run `{name}`"),
            format!("remove `{name}` from supervisord"),
            format!("{sc} stop {qt} >/dev/null 2>&1; {sc} remove {qb}"),
        ),
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present`, `started`, `stopped`, `restarted` or `absent`, not `{other}`"),
            ));
        }
    };
    Ok(Action::Remote {
        check: check.map(|command| Check {
            command: Command::script(command),
            satisfied,
            would: Some(would),
        }),
        run: Command::script(run),
        upload: None,
    })
}
