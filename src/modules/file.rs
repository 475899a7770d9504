//! `file`: directories, links, absent paths, touched files, and attributes.

use super::{Action, Args, Attributes, Check, output_is};
use crate::diagnostic::Diagnostic;
use crate::shell::Command;

pub const KEYS: &[&str] = &[
    "path", "dest", "name", "state", "mode", "owner", "group", "src",
];

pub fn file(args: &Args) -> Result<Action, Diagnostic> {
    let path = match (
        args.string("path")?,
        args.string("dest")?,
        args.string("name")?,
    ) {
        (Some(p), _, _) | (None, Some(p), _) | (None, None, Some(p)) => p,
        _ => return Err(args.error("module `file` needs `path`")),
    };
    let attrs = Attributes::read(args)?;
    let state = args.string("state")?.unwrap_or_else(|| "file".into());
    let q = crate::shell::quote(&path);
    let (test, satisfied, run) = match state.as_str() {
        "directory" => (
            Some(Command::script(format!("[ -d {q} ]"))),
            format!("`{path}` is a directory"),
            Command::new("mkdir").args(["-p", &path]),
        ),
        "absent" => (
            Some(Command::script(format!("[ ! -e {q} ] && [ ! -L {q} ]"))),
            format!("`{path}` does not exist"),
            Command::new("rm").args(["-rf", "--", &path]),
        ),
        "touch" => (None, String::new(), Command::new("touch").arg(&path)),
        "link" => {
            let src = args.required("src", "file")?;
            (
                Some(output_is(&Command::new("readlink").arg(&path), &src)),
                format!("`{path}` already links to `{src}`"),
                Command::new("ln").args(["-sfn", &src, &path]),
            )
        }
        "file" => (
            Some(Command::script(format!("[ -f {q} ]"))),
            format!("`{path}` is a file"),
            Command::script(format!(
                "[ -f {q} ] || {{ echo {} >&2; exit 1; }}",
                crate::shell::quote(&format!(
                    "file `{path}` does not exist (use state: touch to create it)"
                ))
            )),
        ),
        other => {
            return Err(args.error_at(
                "state",
                format!(
                "`state` must be one of `file`, `directory`, `link`, `touch`, `absent`, not `{other}`"
            ),
            ));
        }
    };
    let run = if state == "absent" || state == "link" {
        run
    } else {
        attrs.apply(&path, run)
    };
    let check = match (test, state.as_str()) {
        (Some(test), "absent" | "link") => Some(Check {
            command: test,
            satisfied,
            would: None,
        }),
        (Some(test), _) => attrs.check(&path, test).map(|command| Check {
            command,
            satisfied,
            would: None,
        }),
        (None, _) => None,
    };
    Ok(Action::Remote {
        check,
        run,
        upload: None,
    })
}
