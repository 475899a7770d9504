//! `command` (argv, no shell) and `shell` (a script for `sh`).

use serde_json::Value;

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::Command;

pub const COMMAND_KEYS: &[&str] = &["cmd", "argv", "chdir", "creates", "removes", "stdin"];
pub const SHELL_KEYS: &[&str] = &["cmd", "chdir", "creates", "removes", "executable", "stdin"];

/// `command: ls -l /tmp` runs `ls` with its arguments: no pipes, no `$VARS`.
pub fn command(args: &Args) -> Result<Action, Diagnostic> {
    let argv: Vec<String> = match (args.get("argv"), raw_or_cmd(args)?) {
        (Some(Value::Array(items)), None) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Ok(other.to_string()),
            })
            .collect::<Result<_, Diagnostic>>()?,
        (Some(_), None) => return Err(args.error("argument `argv` must be a list")),
        (Some(_), Some(_)) => {
            return Err(args.error("give `command` either `cmd` or `argv`, not both"));
        }
        (None, Some(text)) => shlex::split(&text)
            .ok_or_else(|| args.error(format!("unbalanced quotes in command `{text}`")))?,
        (None, None) => return Err(args.error("module `command` needs a command to run")),
    };
    let Some((program, rest)) = argv.split_first() else {
        return Err(args.error("module `command` needs a command to run"));
    };
    finish(args, Command::new(program).args(rest))
}

/// `shell: ...` runs the text through `sh -c` (or `executable`).
pub fn shell(args: &Args) -> Result<Action, Diagnostic> {
    let Some(script) = raw_or_cmd(args)? else {
        return Err(args.error("module `shell` needs a script to run"));
    };
    let run = match args.string("executable")? {
        None => Command::script(script),
        Some(exe) => Command::new(&exe).arg("-c").arg(script),
    };
    finish(args, run)
}

fn raw_or_cmd(args: &Args) -> Result<Option<String>, Diagnostic> {
    match args.string("_raw")? {
        Some(raw) => Ok(Some(raw)),
        None => args.string("cmd"),
    }
}

/// Adds `chdir`, and turns `creates`/`removes` into the step's check.
fn finish(args: &Args, mut run: Command) -> Result<Action, Diagnostic> {
    if let Some(dir) = args.string("chdir")? {
        run = run.in_dir(&dir);
    }
    if args.get("stdin").is_some() {
        return Err(args.error("`stdin` is not supported yet: write the data with `copy: content=` and redirect from the file"));
    }
    let check = guard(args.string("creates")?, args.string("removes")?);
    Ok(Action::Remote {
        check,
        run,
        upload: None,
    })
}

/// Ansible's `creates`/`removes`: the command is skipped when `creates`
/// exists or `removes` does not.
pub fn guard(creates: Option<String>, removes: Option<String>) -> Option<Check> {
    match (creates, removes) {
        (None, None) => None,
        (Some(c), None) => Some(Check {
            command: Command::new("test").args(["-e", &c]),
            satisfied: format!("`{c}` exists"),
            would: None,
        }),
        (None, Some(r)) => Some(Check {
            command: Command::new("test").args(["!", "-e", &r]),
            satisfied: format!("`{r}` does not exist"),
            would: None,
        }),
        (Some(c), Some(r)) => Some(Check {
            command: Command::script("{")
                .raw(&Command::new("test").args(["-e", &c]).to_string())
                .raw("||")
                .raw(&Command::new("test").args(["!", "-e", &r]).to_string())
                .raw("; }"),
            satisfied: format!("`{c}` exists or `{r}` does not"),
            would: None,
        }),
    }
}
