//! `file`: directories (and their contents, with `recurse`), symbolic and
//! hard links, absent paths, touched files, and attributes.

use std::path::Path;

use super::{Action, Args, Attributes, Check, Mode, output_is};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "path", "dest", "name", "state", "mode", "owner", "group", "src", "recurse", "force",
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
    let recurse = args.flag("recurse")?.unwrap_or(false);
    if recurse && state != "directory" {
        return Err(args.error_at("recurse", "`recurse` needs `state: directory`"));
    }
    let force = args.flag("force")?.unwrap_or(false);
    let q = quote(&path);
    let (test, satisfied, run) = match state.as_str() {
        "directory" => (
            Some(Command::script(format!("[ -d {q} ]"))),
            match recurse {
                true => {
                    format!("`{path}` is a directory, and everything in it has these attributes")
                }
                false => format!("`{path}` is a directory"),
            },
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
            let mut run = replaceable(&path, "a symlink", force);
            if !force {
                run = run.and(src_exists(&path, &src, "force: yes links to it anyway"));
            }
            (
                Some(output_is(&Command::new("readlink").arg(&path), &src)),
                format!("`{path}` already links to `{src}`"),
                run.and(Command::new("ln").args(["-sfn", &src, &path])),
            )
        }
        "hard" => {
            let src = args.required("src", "file")?;
            let target = beside(&path, &src);
            (
                Some(Command::script(format!("[ {q} -ef {} ]", quote(&target)))),
                format!("`{path}` is already a hard link to `{src}`"),
                src_exists(&path, &src, "a hard link needs its file")
                    .and(replaceable(&path, "a hard link", force))
                    .and(Command::new("ln").args(["-f", "--", &target, &path])),
            )
        }
        "file" => (
            Some(Command::script(format!("[ -f {q} ]"))),
            format!("`{path}` is a file"),
            Command::script(format!(
                "[ -f {q} ] || {{ echo {} >&2; exit 1; }}",
                quote(&format!(
                    "file `{path}` does not exist (use state: touch to create it)"
                ))
            )),
        ),
        other => {
            return Err(args.error_at(
                "state",
                format!(
                    "`state` must be one of `file`, `directory`, `link`, `hard`, `touch`, `absent`, not `{other}`"
                ),
            ));
        }
    };
    let run = match state.as_str() {
        "absent" | "link" | "hard" => run,
        _ if recurse => apply_recursively(&attrs, &path, run),
        _ => attrs.apply(&path, run),
    };
    let check = match (test, state.as_str()) {
        (Some(test), "absent" | "link" | "hard") => Some(Check {
            command: test,
            satisfied,
            would: None,
        }),
        (Some(test), _) if recurse => check_recursively(&attrs, &path, test).map(|command| Check {
            command,
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

/// A relative `src` is relative to the link's directory, as `ln -s` reads it.
fn beside(path: &str, src: &str) -> String {
    match (Path::new(src).is_absolute(), Path::new(path).parent()) {
        (false, Some(dir)) if !dir.as_os_str().is_empty() => {
            dir.join(src).to_string_lossy().into_owned()
        }
        _ => src.to_string(),
    }
}

/// Fails unless `src` exists (beside `path`, when relative).
fn src_exists(path: &str, src: &str, hint: &str) -> Command {
    Command::script(format!(
        "[ -e {} ] || {{ echo {} >&2; exit 1; }}",
        quote(&beside(path, src)),
        quote(&format!("src `{src}` does not exist ({hint})"))
    ))
}

/// What may stand where a link goes: nothing, or a symlink; with `force`
/// also a file, or an empty directory (removed first), as Ansible's
/// `force` allows. Anything else fails with the reason.
fn replaceable(path: &str, what: &str, force: bool) -> Command {
    let q = quote(path);
    let fail = |why: String| format!("{{ echo {} >&2; exit 1; }}", quote(&why));
    let directory = match force {
        true => format!(
            "rmdir -- {q} 2>/dev/null || {}",
            fail(format!(
                "`{path}` is a directory that is not empty: it is not replaced by {what}"
            ))
        ),
        false => fail(format!(
            "`{path}` is a directory: it is not replaced by {what} without `force: yes`"
        )),
    };
    let mut script = format!("if [ -d {q} ] && [ ! -L {q} ]; then {directory};");
    if !force {
        script.push_str(&format!(
            " elif [ -e {q} ] && [ ! -L {q} ]; then {};",
            fail(format!(
                "`{path}` exists: it is not replaced by {what} without `force: yes`"
            ))
        ));
    }
    script.push_str(" fi");
    Command::script(script)
}

/// `recurse`: `test` extended to pass only when everything under `path`
/// has the attributes; `None` for a symbolic mode (chmod always runs).
fn check_recursively(attrs: &Attributes, path: &str, test: Command) -> Option<Command> {
    let mut differs = Vec::new();
    match &attrs.mode {
        Some(Mode::Symbolic(_)) => return None,
        Some(Mode::Octal(m)) => differs.push(format!("! -perm {}", quote(&format!("{m:0>4}")))),
        None => {}
    }
    if let Some(owner) = &attrs.owner {
        differs.push(format!("! -user {}", quote(owner)));
    }
    if let Some(group) = &attrs.group {
        differs.push(format!("! -group {}", quote(group)));
    }
    if differs.is_empty() {
        return Some(test);
    }
    Some(test.and(Command::script(format!(
        "[ -z \"$(find {} \\( {} \\) -print -quit)\" ]",
        quote(path),
        differs.join(" -o ")
    ))))
}

/// `recurse`: the attributes given to `path` and everything under it.
fn apply_recursively(attrs: &Attributes, path: &str, mut cmd: Command) -> Command {
    if let Some(mode) = &attrs.mode {
        cmd = cmd.and(Command::new("chmod").args(["-R", mode.as_chmod(), path]));
    }
    match (&attrs.owner, &attrs.group) {
        (Some(o), Some(g)) => {
            cmd.and(Command::new("chown").args(["-R", &format!("{o}:{g}"), path]))
        }
        (Some(o), None) => cmd.and(Command::new("chown").args(["-R", o, path])),
        (None, Some(g)) => cmd.and(Command::new("chgrp").args(["-R", g, path])),
        (None, None) => cmd,
    }
}
