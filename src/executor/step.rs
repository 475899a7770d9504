//! Running one step on one host: its run-time conditions, its check, its
//! command (with retries and a timeout), and the result it registers.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::event::{Event, Reporter, Status};
use super::lines::Lines;
use crate::diagnostic::{Diagnostic, Source, Span};
use crate::modules::{self, Action, Upload};
use crate::plan::{Body, Expr, Step, wrap_remote};
use crate::shell::{Command, Masker};
use crate::template::Templates;
use crate::transport::{ExecOutput, Session, Stream};

/// Marks, on stdout, that a step's check passed and its command did not run.
const SATISFIED: &str = "__ferry_satisfied__";

/// Prefixes, on stderr, the remote shell's pid: the handle to stop the
/// command if ferry abandons it. sshd ignores SSH `signal` requests in root
/// sessions, and closing the channel does not stop a command that neither
/// reads nor writes, so ferry kills the process group itself.
const PID_MARK: &str = "__ferry_pid=";

/// Ansible's `ansible_check_mode`: true in a dry run. Known only at run
/// time (the plan is the same for a deploy and its dry run), so templates
/// that read it are evaluated by the executor, like registered results.
pub(crate) const CHECK_MODE: &str = "ansible_check_mode";

/// How a step went, ready for the reporter and for `register`.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub status: Status,
    pub reason: Option<String>,
    /// The command that ran, masked.
    pub command: Option<String>,
    pub rc: Option<u32>,
    /// A debug message, or the end of stderr on failure; masked.
    pub output: String,
    /// What `register:` stores (stdout, stderr, rc, changed, failed, …).
    pub result: Value,
    /// Check mode: a file edit's predicted text, `(path, text)`, that later
    /// edits of the same file in this run start from (a clone or virtualenv
    /// that would be made: its directory, with no text).
    pub predicted: Option<(String, String)>,
    /// `--diff`: the change to a file's text, or why it is not shown; masked.
    pub diff: Option<String>,
}

impl StepOutcome {
    pub(crate) fn new(status: Status, reason: impl Into<String>) -> StepOutcome {
        let reason = reason.into();
        StepOutcome {
            status,
            result: json!({
                "changed": status == Status::Changed,
                "failed": status == Status::Failed,
                "skipped": status == Status::Skipped,
                "msg": reason,
            }),
            reason: Some(reason),
            command: None,
            rc: None,
            output: String::new(),
            predicted: None,
            diff: None,
        }
    }

    pub fn failed(reason: impl Into<String>) -> StepOutcome {
        StepOutcome::new(Status::Failed, reason)
    }

    pub(crate) fn skipped(reason: impl Into<String>) -> StepOutcome {
        StepOutcome::new(Status::Skipped, reason)
    }
}

/// What running a step needs besides the step itself.
pub struct StepContext<'a> {
    pub host: &'a str,
    pub index: usize,
    pub session: &'a Session,
    pub templates: &'a Templates,
    pub masker: &'a Masker,
    pub reporter: &'a dyn Reporter,
    pub registered: &'a Map<String, Value>,
    /// Check mode: the text earlier edits of this run would give files
    /// (`lineinfile` twice on one file predicts the second from the first).
    pub predicted: &'a std::collections::BTreeMap<String, String>,
    pub project_dir: &'a std::path::Path,
    pub dry_run: bool,
    /// Dry run only: this host's `release.switch`, earlier in its steps,
    /// would switch `current` to the new release. A probe now would read
    /// the release `current` still points to, so the steps after it say
    /// what they would do after the switch instead of checking.
    pub switch_pending: bool,
    pub verbose: bool,
    /// `--diff`: a file step's outcome carries what it changes in the text.
    pub diff: bool,
    /// The pid of the remote shell running the current command, if any.
    pub remote_pid: &'a std::sync::Mutex<Option<u32>>,
    /// sudo's password on this host, when it is given one: an escalated
    /// step's command reads it from the first line of its stdin.
    pub become_password: Option<&'a str>,
}

pub async fn run_step(step: &Step, cx: &StepContext<'_>) -> StepOutcome {
    for cond in &step.when {
        match eval(cx, cond, cx.registered) {
            Ok(true) => {}
            Ok(false) => return StepOutcome::skipped(format!("`when: {}` is false", cond.expr)),
            Err(err) => return StepOutcome::failed(cx.masker.mask(&err.to_string())),
        }
    }
    if let Body::Deferred { args, vars, .. } = &step.body
        && step.module == "set_fact"
    {
        return match set_facts(step, args, vars, cx) {
            Ok(outcome) => outcome,
            Err(err) => StepOutcome::failed(cx.masker.mask(&err.to_string())),
        };
    }
    let action = match &step.body {
        Body::Skipped { reason } => return StepOutcome::skipped(reason.clone()),
        // Run by the host's loop (`host::run_steps`), never as a step.
        Body::FlushHandlers => return StepOutcome::new(Status::Ok, "handlers flushed"),
        Body::Ready { action } => action.clone(),
        Body::Deferred {
            args, environment, ..
        } => match deferred_action(step, args, environment, cx) {
            Ok(action) => action,
            Err(err) => return StepOutcome::failed(cx.masker.mask(&err.to_string())),
        },
    };
    match action {
        Action::Debug { msg } => {
            let mut outcome = StepOutcome::new(Status::Ok, "");
            outcome.reason = None;
            outcome.output = cx.masker.mask(&msg);
            outcome
        }
        Action::Release { .. } if cx.dry_run => {
            StepOutcome::skipped("release steps are planned by `ferry deploy --dry-run`")
        }
        Action::Release { .. } => {
            StepOutcome::failed("release steps are carried out by `ferry deploy`, not here")
        }
        Action::Remote { check, run, upload } => {
            remote(step, cx, check.as_ref(), &run, upload.as_ref()).await
        }
        Action::Edit { edit } => {
            retried(step, cx, || {
                ran(step, cx, super::edit::edit(step, cx, &edit))
            })
            .await
        }
        Action::Stat { stat } => {
            retried(step, cx, || {
                ran(step, cx, super::edit::stat(step, cx, &stat))
            })
            .await
        }
        Action::Probed { probed } => {
            retried(step, cx, || {
                ran(step, cx, super::probed::probed(step, cx, &probed))
            })
            .await
        }
        Action::Fail { msg } => StepOutcome::failed(cx.masker.mask(&msg)),
        Action::Assert { assertion } => assert(cx, &assertion),
        Action::Certs { .. } => StepOutcome::failed(
            "the arguments of a `certs` step cannot read results registered at run time",
        ),
    }
}

/// A file edit's, `stat`'s or probed step's outcome, open to
/// `changed_when`/`failed_when` when it ran on the host (a check mode
/// prediction ran nothing to judge, as for commands).
async fn ran(
    step: &Step,
    cx: &StepContext<'_>,
    outcome: impl std::future::Future<Output = StepOutcome>,
) -> StepOutcome {
    let mut outcome = outcome.await;
    let predicted = checking(step, cx) && outcome.status == Status::Changed;
    if outcome.rc.is_none() && outcome.status != Status::Failed && !predicted {
        outcome.rc = Some(0);
    }
    outcome
}

/// `assert`: every condition, in order, on the host's variables and
/// registered results; the first that is false fails the step.
fn assert(cx: &StepContext<'_>, assertion: &modules::Assertion) -> StepOutcome {
    for cond in &assertion.that {
        match eval(cx, cond, cx.registered) {
            Ok(true) => {}
            Ok(false) => {
                let msg = match &assertion.fail_msg {
                    Some(msg) => msg.clone(),
                    None => format!("assertion failed: `{}`", cond.expr),
                };
                let mut outcome = StepOutcome::failed(cx.masker.mask(&msg));
                outcome.result["assertion"] = json!(cond.expr);
                outcome.result["evaluated_to"] = json!(false);
                return outcome;
            }
            Err(err) => return StepOutcome::failed(cx.masker.mask(&err.to_string())),
        }
    }
    let msg = assertion
        .success_msg
        .clone()
        .unwrap_or_else(|| "all assertions passed".into());
    StepOutcome::new(Status::Ok, cx.masker.mask(&msg))
}

/// A `set_fact` left for run time: its values rendered with the results
/// registered so far, in its result's `ansible_facts` (as Ansible's), which
/// the host then keeps among its variables. It touches no host: `ok`.
fn set_facts(
    step: &Step,
    args: &Value,
    vars: &Map<String, Value>,
    cx: &StepContext<'_>,
) -> Result<StepOutcome, Diagnostic> {
    let mut vars = vars.clone();
    vars.extend(cx.registered.clone());
    vars.insert(CHECK_MODE.into(), json!(cx.dry_run));
    let rendered = cx
        .templates
        .render_json(args, &vars, &span_of(&step.location))?;
    let facts: Map<String, Value> = match rendered {
        Value::Object(map) => map
            .into_iter()
            .filter(|(name, _)| name != "cacheable")
            .collect(),
        _ => Map::new(),
    };
    let mut outcome = StepOutcome::new(Status::Ok, "");
    outcome.reason = None;
    outcome.result = json!({"ansible_facts": facts, "changed": false, "failed": false});
    Ok(outcome)
}

/// Renders and compiles a step whose arguments read registered results.
fn deferred_action(
    step: &Step,
    args: &Value,
    environment: &[(String, String)],
    cx: &StepContext<'_>,
) -> Result<Action, Diagnostic> {
    let Body::Deferred { vars, .. } = &step.body else {
        unreachable!("called for deferred steps only")
    };
    let mut vars = vars.clone();
    vars.extend(cx.registered.clone());
    vars.insert(CHECK_MODE.into(), json!(cx.dry_run));
    let span = span_of(&step.location);
    let args = match cx.templates.render_json(args, &vars, &span)? {
        Value::Object(map) => Value::Object(map),
        Value::Null => Value::Object(Map::new()),
        Value::String(raw) => json!({ "_raw": raw }),
        other => json!({ "_raw": other.to_string() }),
    };
    let at = crate::yaml::Node {
        value: crate::yaml::Value::Null,
        span: span.clone(),
    };
    let render = |source: &std::sync::Arc<Source>| -> Result<String, Diagnostic> {
        cx.templates
            .render(&source.text, &vars, &Span::file_start(source.clone()))
    };
    let lookup = |name: &str| vars.get(name).cloned();
    let module_cx = modules::Context {
        at: &at,
        args: None,
        project_dir: cx.project_dir,
        render: &render,
        lookup: &lookup,
    };
    let mut action = modules::compile(&step.module, &args, &module_cx)?;
    if let Action::Assert { assertion } = &mut action {
        for cond in &mut assertion.that {
            cond.vars = vars.clone();
        }
    }
    wrap_remote(
        &mut action,
        environment,
        step.become_user.as_deref(),
        cx.become_password.is_some(),
    );
    let (mut derived, read_secret) = derived_at_run_time(cx, &step.body, &vars);
    match &mut action {
        Action::Remote { run, .. }
            if cx.masker.reveals(run.as_sent()) || derived.reveals(run.as_sent()) =>
        {
            return Err(Diagnostic::new(
                "a secret would appear on the command line (visible in `ps` on the host)",
                span,
            ));
        }
        other
            if other
                .sent_commands()
                .iter()
                .any(|c| cx.masker.reveals(c.as_sent()) || derived.reveals(c.as_sent())) =>
        {
            return Err(Diagnostic::new(
                "a secret would appear on the command line (visible in `ps` on the host)",
                span,
            ));
        }
        Action::Debug { msg } => {
            // Free-form `msg=…` was rendered whole: the message is a part.
            if read_secret {
                derived.add_derived(msg);
            }
            *msg = derived.mask(&cx.masker.mask(msg));
        }
        _ => {}
    }
    Ok(action)
}

/// What a deferred step's templates compute from a secret at run time: a
/// string of its arguments whose template reads a variable that holds a
/// secret (a known value, or one derived while compiling) is itself a
/// secret, as at compile time. Known only to this step; also says whether
/// any string read a secret.
fn derived_at_run_time(
    cx: &StepContext<'_>,
    body: &Body,
    vars: &Map<String, Value>,
) -> (Masker, bool) {
    let mut masker = Masker::new();
    let mut any = false;
    let Body::Deferred { args, .. } = body else {
        return (masker, any);
    };
    if cx.masker.is_empty() {
        return (masker, any);
    }
    let holds_secret = |value: &Value| {
        let mut found = false;
        visit_strings(value, &mut |s| found |= cx.masker.reveals(s));
        found
    };
    let span = span_of("");
    visit_strings(args, &mut |text| {
        let reads_secret = cx
            .templates
            .variables(text)
            .iter()
            .any(|name| vars.get(name).is_some_and(holds_secret));
        any |= reads_secret;
        if reads_secret && let Ok(value) = cx.templates.render_value(text, vars, &span) {
            visit_strings(&value, &mut |s| masker.add_derived(s));
        }
    });
    (masker, any)
}

/// Calls `f` with every string inside `value` (numbers as written).
fn visit_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Number(n) => f(&n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| visit_strings(i, f)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        Value::Null | Value::Bool(_) => {}
    }
}

async fn remote(
    step: &Step,
    cx: &StepContext<'_>,
    check: Option<&modules::Check>,
    run: &Command,
    upload: Option<&Upload>,
) -> StepOutcome {
    retried(step, cx, || once(step, cx, check, run, upload)).await
}

/// Runs `attempt` as `retries`/`delay`/`until` say, judging each outcome
/// by `changed_when` and `failed_when`.
async fn retried<F, Fut>(step: &Step, cx: &StepContext<'_>, mut attempt_once: F) -> StepOutcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StepOutcome>,
{
    let attempts = match (&step.until, step.retries) {
        (None, None) => 1,
        (_, Some(n)) => n + 1,
        (Some(_), None) => 4,
    };
    let delay = Duration::from_secs(step.delay.unwrap_or(5));
    let mut outcome = StepOutcome::failed("not run");
    for attempt in 1..=attempts {
        outcome = attempt_once().await;
        let mut registered = cx.registered.clone();
        if let Some(name) = &step.register {
            registered.insert(name.clone(), outcome.result.clone());
        }
        if let Err(err) = judge(step, cx, &mut outcome, &registered) {
            return StepOutcome::failed(cx.masker.mask(&err.to_string()));
        }
        let done = match &step.until {
            Some(until) => match eval(cx, until, &registered) {
                Ok(done) => done,
                Err(err) => return StepOutcome::failed(cx.masker.mask(&err.to_string())),
            },
            None => outcome.status != Status::Failed,
        };
        if done || checking(step, cx) {
            return outcome;
        }
        if attempt < attempts {
            tokio::time::sleep(delay).await;
        }
    }
    if step.until.is_some() {
        outcome.status = Status::Failed;
        outcome.reason = Some(format!("`until` still false after {attempts} attempts"));
    }
    outcome
}

/// Applies `changed_when` and `failed_when` to a finished command.
fn judge(
    step: &Step,
    cx: &StepContext<'_>,
    outcome: &mut StepOutcome,
    registered: &Map<String, Value>,
) -> Result<(), Diagnostic> {
    // A check mode prediction (or a check that passed) ran no command:
    // there is no output to judge.
    if outcome.rc.is_none() {
        return Ok(());
    }
    if let Some(expr) = &step.failed_when {
        let failed = eval(cx, expr, registered)?;
        outcome.status = match (failed, outcome.status) {
            (true, _) => Status::Failed,
            (false, Status::Failed) => Status::Changed,
            (false, other) => other,
        };
        if !failed {
            outcome.reason = None;
        }
    }
    if let Some(expr) = &step.changed_when
        && outcome.status != Status::Failed
    {
        outcome.status = if eval(cx, expr, registered)? {
            Status::Changed
        } else {
            Status::Ok
        };
    }
    if let Value::Object(result) = &mut outcome.result {
        result.insert("changed".into(), json!(outcome.status == Status::Changed));
        result.insert("failed".into(), json!(outcome.status == Status::Failed));
    }
    Ok(())
}

/// Whether a step runs in check mode: a dry run's steps do, unless the
/// task says `check_mode: false` (a read-only probe that later steps
/// read); `check_mode: true` makes a deploy only check it too.
pub(super) fn checking(step: &Step, cx: &StepContext<'_>) -> bool {
    step.check_mode.unwrap_or(cx.dry_run)
}

/// One attempt: the check (alone, in check mode or before an upload;
/// fused with the command otherwise, one round trip), then the command.
async fn once(
    step: &Step,
    cx: &StepContext<'_>,
    check: Option<&modules::Check>,
    run: &Command,
    upload: Option<&Upload>,
) -> StepOutcome {
    let shown = crate::shell::summary(&cx.masker.mask(run.as_sent()));
    let checking = checking(step, cx);
    if checking && cx.switch_pending {
        return after_switch(step, check, &shown);
    }
    // A module that only looks (`http.check`) is checked by running it.
    let checking = checking && !(modules::read_only(&step.module) && step.check_mode.is_none());
    let diff_of = upload.filter(|_| cx.diff);
    if checking || (check.is_some() && upload.is_some()) {
        if let Some(check) = check {
            match exec(step, cx, check.command.as_sent(), None).await {
                Ok(out) if out.success() => {
                    return satisfied(check, &shown);
                }
                Ok(_) => {}
                Err(outcome) => return *outcome,
            }
        }
        if checking {
            let mut outcome = would_run(step, check, upload, &shown);
            if let Some(upload) = diff_of {
                outcome.diff = match upload_diff(step, cx, upload).await {
                    Ok(diff) => diff,
                    Err(failed) => return *failed,
                };
            }
            return outcome;
        }
    }
    // Read before the upload replaces it.
    let diff = match diff_of {
        Some(upload) => match upload_diff(step, cx, upload).await {
            Ok(diff) => diff,
            Err(failed) => return *failed,
        },
        None => None,
    };
    let fused;
    let command = match (check, upload) {
        (Some(check), None) => {
            fused = format!(
                "if {{ {}\n}} >/dev/null 2>&1; then echo {SATISFIED}; exit 0; fi\n{}",
                check.command.as_sent(),
                run.as_sent()
            );
            fused.as_str()
        }
        _ => run.as_sent(),
    };
    let stdin = upload.map(|u| crate::transport::stdin_from(u.content.clone()));
    let out = match exec(step, cx, command, stdin).await {
        Ok(out) => out,
        Err(outcome) => return *outcome,
    };
    let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let backup_file = upload.and_then(|_| take_backup(&mut stdout));
    if let Some(check) = check
        && out.success()
        && stdout.starts_with(SATISFIED)
    {
        return satisfied(check, &shown);
    }
    let failed = !out.success();
    let reason = match (&out.status, &out.signal) {
        (_, Some(signal)) => Some(format!("killed by signal {signal}")),
        (Some(0), _) => None,
        (Some(rc), _) => Some(format!("exited with status {rc}")),
        (None, None) => Some("ended without an exit status".to_string()),
    };
    let reason = reason.map(|reason| match sudo_wants(step, &stderr) {
        Some(hint) => format!("{reason}: {hint}"),
        None => reason,
    });
    let status = if failed {
        Status::Failed
    } else {
        Status::Changed
    };
    let msg = reason.clone().unwrap_or_default();
    let mut result = command_result(status, out.status, &stdout, &stderr, &shown, &msg);
    if let Some(backup) = backup_file {
        result["backup_file"] = json!(backup);
    }
    StepOutcome {
        status,
        reason,
        command: Some(shown.clone()),
        rc: out.status,
        output: if failed {
            cx.masker.mask(tail(&stderr, 10).trim_end())
        } else {
            String::new()
        },
        result,
        predicted: None,
        diff: diff.filter(|_| !failed),
    }
}

/// Takes the line a `backup` prints off `stdout`, and returns its path.
fn take_backup(stdout: &mut String) -> Option<String> {
    let mark = modules::BACKUP_MARK;
    let start = stdout.find(mark)?;
    let end = stdout[start..]
        .find('\n')
        .map_or(stdout.len(), |i| start + i + 1);
    let path = stdout[start + mark.len()..end].trim_end().to_string();
    stdout.replace_range(start..end, "");
    Some(path)
}

/// `--diff` for `copy` and `template`: the destination's text as it is
/// against the content going up.
async fn upload_diff(
    step: &Step,
    cx: &StepContext<'_>,
    upload: &Upload,
) -> Result<Option<String>, Box<StepOutcome>> {
    use super::diff::{self, Text};
    let Some(read) = &upload.read else {
        return Ok(None);
    };
    let out = super::edit::run(step, cx, read, None).await?;
    let Some((mode, bytes)) = diff::parse_read(&out.stdout) else {
        return Err(Box::new(StepOutcome::failed(format!(
            "could not read `{}` to show its diff",
            upload.dest
        ))));
    };
    let before = match mode {
        None => Text::Absent,
        Some(_) => diff::text_of(&bytes),
    };
    let modes = [mode.as_deref(), upload.mode.as_deref()];
    let after = diff::text_of(&upload.content);
    Ok(diff::shown(&upload.dest, before, after, &modes, cx.masker).map(|d| cx.masker.mask(&d)))
}

/// A check that passed: nothing ran, nothing changed.
fn satisfied(check: &modules::Check, shown: &str) -> StepOutcome {
    let mut outcome = StepOutcome::new(Status::Ok, check.satisfied.clone());
    outcome.result = command_result(Status::Ok, Some(0), "", "", shown, &check.satisfied);
    outcome
}

/// Check mode, the check failed (or there is none): what the step would
/// do. Its registered result has the shape a run's would, with empty
/// output, so later steps that read it render as they would in a deploy.
/// A step that declares it changes nothing (`changed_when: false`, a
/// command that only reads) would not report `changed` in the deploy, and
/// it cannot be checked without running it: it is skipped, saying so.
fn would_run(
    step: &Step,
    check: Option<&modules::Check>,
    upload: Option<&Upload>,
    shown: &str,
) -> StepOutcome {
    let what = match (upload, check.and_then(|c| c.would.as_deref())) {
        (_, Some(would)) => format!("would {would}"),
        (Some(u), None) => format!(
            "would upload {} bytes to `{}` and run: {shown}",
            u.size, u.dest
        ),
        (None, None) => format!("would run: {shown}"),
    };
    let reads_only = step
        .changed_when
        .as_ref()
        .is_some_and(|e| e.expr.trim() == "false");
    let (status, what) = if reads_only {
        (
            Status::Skipped,
            format!(
                "{what} (not in check mode: it changes nothing, and checks only by running; `check_mode: false` runs it in a dry run)"
            ),
        )
    } else {
        (Status::Changed, what)
    };
    prediction(status, what, shown)
}

/// Check mode, after a `release.switch` that would switch: `current` still
/// points to the old release, so a check now would say nothing about the
/// new one. The step says what it would do once the switch is made.
fn after_switch(step: &Step, check: Option<&modules::Check>, shown: &str) -> StepOutcome {
    let what = match check.and_then(|c| c.would.as_deref()) {
        Some(would) => format!(
            "would {would} in the new release, after the switch (unless a step before does it first)"
        ),
        None => format!("would run after the switch: {shown}"),
    };
    let status = if modules::read_only(&step.module) {
        // A health check changes nothing: the deploy reports it `ok` or
        // `failed`; it cannot be made before the switch.
        Status::Skipped
    } else {
        Status::Changed
    };
    prediction(status, what, shown)
}

fn prediction(status: Status, what: String, shown: &str) -> StepOutcome {
    let mut outcome = StepOutcome::new(status, what.clone());
    outcome.command = Some(shown.to_string());
    outcome.result = command_result(status, Some(0), "", "", shown, &what);
    outcome
}

/// What `register:` stores for a command, as Ansible's command and shell
/// modules return it: the same keys in a deploy and in check mode (with
/// empty output there), so that `result.stderr` or `result.rc` renders in
/// both.
fn command_result(
    status: Status,
    rc: Option<u32>,
    stdout: &str,
    stderr: &str,
    cmd: &str,
    msg: &str,
) -> Value {
    json!({
        "changed": status == Status::Changed,
        "failed": status == Status::Failed,
        "skipped": status == Status::Skipped,
        "rc": rc,
        "stdout": stdout.trim_end_matches('\n'),
        "stderr": stderr.trim_end_matches('\n'),
        "stdout_lines": stdout.lines().collect::<Vec<_>>(),
        "stderr_lines": stderr.lines().collect::<Vec<_>>(),
        "cmd": cmd,
        "msg": msg,
    })
}

/// Runs one command, streaming output to the reporter with `-v`, under the
/// step's timeout; a command that times out is stopped on the host.
pub(super) async fn exec(
    step: &Step,
    cx: &StepContext<'_>,
    command: &str,
    stdin: Option<crate::transport::Stdin>,
) -> Result<ExecOutput, Box<StepOutcome>> {
    let (host, index, verbose, masker, reporter, remote_pid) = (
        cx.host,
        cx.index,
        cx.verbose && !step.no_log,
        cx.masker,
        cx.reporter,
        cx.remote_pid,
    );
    let mut seen_pid = false;
    // Shown a line at a time, so that masking sees each line whole.
    let mut lines = [Lines::default(), Lines::default()];
    let show = move |stderr: bool, text: String| {
        if verbose && !text.is_empty() {
            reporter.event(&Event::Output {
                host: host.to_string(),
                index,
                stderr,
                text: masker.mask(&text),
            });
        }
    };
    let mut on_output = |stream: Stream, bytes: &[u8]| {
        let stderr = stream == Stream::Stderr;
        let Some(mut text) = lines[usize::from(stderr)].push(bytes) else {
            return;
        };
        if stderr && !seen_pid {
            seen_pid = true;
            let (pid, rest) = split_pid(&text);
            *remote_pid.lock().unwrap_or_else(|e| e.into_inner()) = pid;
            text = rest.to_string();
        }
        show(stderr, text);
    };
    let (command, stdin) = match cx.become_password.filter(|_| step.become_user.is_some()) {
        Some(password) => (
            crate::shell::Command::script(command)
                .reading_become_password()
                .as_sent()
                .to_string(),
            Some(crate::transport::with_first_line(password, stdin)),
        ),
        None => (command.to_string(), stdin),
    };
    let command = format!("printf '{PID_MARK}%s\\n' \"$$\" >&2; {command}");
    let running = cx.session.exec(&command, stdin, &mut on_output);
    let result = match step.timeout {
        Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), running).await {
            Ok(result) => result,
            Err(_) => {
                stop_remote(cx.session, cx.remote_pid).await;
                return Err(Box::new(StepOutcome::failed(format!(
                    "timed out after {secs}s (the command was stopped)"
                ))));
            }
        },
        None => running.await,
    };
    for (stream, lines) in lines.iter_mut().enumerate() {
        if let Some(rest) = lines.rest() {
            show(stream == 1, rest);
        }
    }
    *cx.remote_pid.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let mut out =
        result.map_err(|err| Box::new(StepOutcome::failed(cx.masker.mask(&err.to_string()))))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    out.stderr = split_pid(&stderr).1.as_bytes().to_vec();
    Ok(out)
}

/// What to do when an escalated step failed because sudo wanted a password
/// it was not given, or refused the one it was.
fn sudo_wants(step: &Step, stderr: &str) -> Option<&'static str> {
    step.become_user.as_ref()?;
    if stderr.contains("sudo: a password is required") {
        Some(
            "sudo asks for a password: give it as `ansible_become_password` (in secrets/STAGE.yml) or pass `--ask-become-pass`",
        )
    } else if stderr.contains("incorrect password attempt") {
        Some("sudo refused the become password")
    } else {
        None
    }
}

/// Splits the pid line off the start of stderr.
fn split_pid(stderr: &str) -> (Option<u32>, &str) {
    let Some(rest) = stderr.strip_prefix(PID_MARK) else {
        return (None, stderr);
    };
    let (pid, rest) = rest.split_once('\n').unwrap_or((rest, ""));
    (pid.trim().parse().ok(), rest)
}

/// Stops an abandoned command: TERM to its process group, KILL a second later.
pub async fn stop_remote(session: &Session, remote_pid: &std::sync::Mutex<Option<u32>>) {
    let pid = remote_pid.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(pid) = pid else { return };
    let kill = format!(
        "kill -TERM -- -{pid} 2>/dev/null || kill -TERM {pid} 2>/dev/null; \
         sleep 1; kill -KILL -- -{pid} 2>/dev/null; true"
    );
    let mut ignore = |_: Stream, _: &[u8]| {};
    let stop = session.exec(&kill, None, &mut ignore);
    let _ = tokio::time::timeout(Duration::from_secs(5), stop).await;
}

fn eval(
    cx: &StepContext<'_>,
    expr: &Expr,
    registered: &Map<String, Value>,
) -> Result<bool, Diagnostic> {
    let mut vars = expr.vars.clone();
    vars.extend(registered.clone());
    vars.insert(CHECK_MODE.into(), json!(cx.dry_run));
    cx.templates
        .eval_bool(&expr.expr, &vars, &span_of(&expr.location))
}

/// A span from a `file:line:col` location kept in the plan.
fn span_of(location: &str) -> Span {
    let mut parts = location.rsplitn(3, ':');
    let col = parts.next().and_then(|c| c.parse().ok());
    let line = parts.next().and_then(|l| l.parse().ok());
    match (parts.next(), line, col) {
        (Some(file), Some(line), Some(col)) => Span::new(Source::new(file, ""), line, col, 0),
        _ => Span::file_start(Source::new(location, "")),
    }
}

/// The last `lines` lines of `text`.
pub(super) fn tail(text: &str, lines: usize) -> &str {
    let trimmed = text.trim_end_matches('\n');
    match trimmed.rmatch_indices('\n').nth(lines.saturating_sub(1)) {
        Some((i, _)) => &trimmed[i + 1..],
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\nb\n", 5), "a\nb");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn the_pid_line_is_split_off_stderr() {
        assert_eq!(split_pid("__ferry_pid=42\nboom\n"), (Some(42), "boom\n"));
        assert_eq!(split_pid("__ferry_pid=42\n"), (Some(42), ""));
        assert_eq!(split_pid("plain\n"), (None, "plain\n"));
    }

    /// Every key Ansible's command module registers, in every outcome a
    /// command step can have without failing to start.
    const SHAPE: [&str; 10] = [
        "changed",
        "failed",
        "skipped",
        "rc",
        "stdout",
        "stderr",
        "stdout_lines",
        "stderr_lines",
        "cmd",
        "msg",
    ];

    fn step(changed_when: Option<&str>) -> Step {
        let mut step = Step::command("act", Command::new("true"), "act");
        step.changed_when = changed_when.map(|expr| crate::plan::Expr {
            expr: expr.to_string(),
            vars: Map::new(),
            location: "t.yml:1:1".into(),
        });
        step
    }

    fn check(would: Option<&str>) -> modules::Check {
        modules::Check {
            command: Command::new("test").args(["-e", "/x"]),
            satisfied: "`/x` exists".into(),
            would: would.map(str::to_string),
        }
    }

    #[test]
    fn registered_results_in_check_mode_have_the_shape_of_a_run() {
        for outcome in [
            would_run(&step(None), None, None, "echo hi"),
            would_run(&step(Some("false")), None, None, "echo hi"),
            satisfied(&check(None), "echo hi"),
            after_switch(&step(None), Some(&check(Some("restart `web`"))), "s"),
        ] {
            for key in SHAPE {
                assert!(
                    outcome.result.get(key).is_some(),
                    "{key} in {}",
                    outcome.result
                );
            }
            assert_eq!(outcome.result["stdout"], "");
            assert_eq!(outcome.result["stderr_lines"], json!([]));
            assert_eq!(outcome.result["rc"], 0);
            assert_eq!(outcome.rc, None, "nothing ran: no exit status to judge");
        }
    }

    #[test]
    fn the_built_in_build_playbook_reads_a_predicted_result() {
        let outcome = would_run(&step(None), None, None, "manage.py check --deploy");
        let mut vars = Map::new();
        vars.insert("django_check".into(), outcome.result);
        let templates = Templates::new();
        let span = Span::file_start(Source::new("playbooks/django/build.yml", ""));
        let warns = templates
            .eval_bool("django_check.stderr | trim | length > 0", &vars, &span)
            .unwrap();
        assert!(!warns);
    }

    #[test]
    fn check_mode_says_what_a_step_would_do() {
        let changed = would_run(&step(None), None, None, "echo hi");
        assert_eq!(changed.status, Status::Changed);
        assert_eq!(changed.reason.as_deref(), Some("would run: echo hi"));
        assert_eq!(changed.result["changed"], true);

        let named = would_run(&step(None), Some(&check(Some("start `web`"))), None, "s");
        assert_eq!(named.reason.as_deref(), Some("would start `web`"));

        // `changed_when: false`: the deploy would not say `changed`, and
        // only running it would check it.
        let read = would_run(&step(Some("false")), None, None, "echo hi");
        assert_eq!(read.status, Status::Skipped);
        assert!(
            read.reason
                .unwrap()
                .starts_with("would run: echo hi (not in check mode")
        );

        let ok = satisfied(&check(None), "echo hi");
        assert_eq!(ok.status, Status::Ok);
        assert_eq!(ok.reason.as_deref(), Some("`/x` exists"));
        assert_eq!(ok.result["changed"], false);
    }

    #[test]
    fn after_a_pending_switch_a_restart_would_happen_in_the_new_release() {
        let restart = after_switch(&step(None), Some(&check(Some("restart `web:*`"))), "s");
        assert_eq!(restart.status, Status::Changed);
        assert_eq!(
            restart.reason.as_deref(),
            Some(
                "would restart `web:*` in the new release, after the switch (unless a step before does it first)"
            )
        );
        let mut health = step(None);
        health.module = "http.check".into();
        let health = after_switch(&health, None, "http.check: http://127.0.0.1/");
        assert_eq!(health.status, Status::Skipped);
        assert_eq!(
            health.reason.as_deref(),
            Some("would run after the switch: http.check: http://127.0.0.1/")
        );
    }

    #[test]
    fn locations_become_spans() {
        let span = span_of("deploy.yml:12:7");
        assert_eq!((span.line, span.col), (12, 7));
        assert_eq!(span.to_string(), "deploy.yml:12:7");
    }
}
