//! `copy` and `template`: put a file on the host, atomically, only when its
//! content or attributes differ.
//!
//! The content travels on the command's stdin, never on its command line, so
//! a secret in a file (an `.env`) is not visible in `ps` on the host.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Action, Args, Attributes, Check, Mode, output_is};
use crate::diagnostic::{Diagnostic, Source};
use crate::shell::Command;

pub const COPY_KEYS: &[&str] = &[
    "src",
    "content",
    "dest",
    "mode",
    "owner",
    "group",
    "backup",
    "validate",
    "force",
    "remote_src",
];
pub const TEMPLATE_KEYS: &[&str] = &[
    "src", "dest", "mode", "owner", "group", "backup", "validate", "force",
];

/// Marks, on the run's stdout, the path of the backup it made (`backup`),
/// registered as Ansible's `backup_file`.
pub const BACKUP_MARK: &str = "__ferry_backup=";

/// A file's content going to a host.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub dest: String,
    pub size: usize,
    pub sha256: String,
    /// Where the content came from, for the plan (`files/app.conf`, `content`).
    pub from: String,
    #[serde(skip)]
    pub content: Vec<u8>,
    /// `--diff`: prints `absent`, or `present MODE` and the destination's
    /// first bytes.
    #[serde(skip)]
    pub read: Option<Command>,
    /// The mode wanted, in octal digits: a private file shows no diff.
    #[serde(skip)]
    pub mode: Option<String>,
}

/// Where a file's content comes from.
enum Content {
    /// From the controller, over stdin (`from` names it in the plan).
    Sent { bytes: Vec<u8>, from: String },
    /// From a file on the host itself (`remote_src`).
    OnHost { src: String },
}

pub fn copy(args: &Args) -> Result<Action, Diagnostic> {
    let dest = args.required("dest", "copy")?;
    if args.flag("remote_src")?.unwrap_or(false) {
        let src = args.required("src", "copy")?;
        if args.string("content")?.is_some() {
            return Err(args.error("give `copy` either `src` or `content`, not both"));
        }
        let dest = into_dir(dest, &src);
        return put(args, dest, Content::OnHost { src });
    }
    let (content, from, dest) = match (args.string("src")?, args.string("content")?) {
        (Some(src), None) => {
            let path = local_path(args.cx.project_dir, &src);
            if path.is_dir() {
                return super::copy_tree::tree(args, &path, &src, dest);
            }
            let content = std::fs::read(&path).map_err(|e| {
                args.error_at(
                    "src",
                    format!("cannot read `src` file `{}`: {e}", path.display()),
                )
            })?;
            let content = crate::vault::open_file(content, &path)
                .map_err(|e| args.error_at("src", e.message))?;
            let dest = into_dir(dest, &src);
            (content, src, dest)
        }
        (None, Some(text)) => (text.into_bytes(), "content".to_string(), dest),
        (None, None) => return Err(args.error("module `copy` needs `src` or `content`")),
        (Some(_), Some(_)) => {
            return Err(args.error("give `copy` either `src` or `content`, not both"));
        }
    };
    put(
        args,
        dest,
        Content::Sent {
            bytes: content,
            from,
        },
    )
}

/// Renders `src` — the project's own file, or else one of ferry's built-in
/// templates of that name — and puts the result on the host.
pub fn template(args: &Args) -> Result<Action, Diagnostic> {
    let src = args.required("src", "template")?;
    let dest = into_dir(args.required("dest", "template")?, &src);
    let path = local_path(args.cx.project_dir, &src);
    let source = match (path.is_file(), crate::playbook::built_in_template(&src)) {
        (false, Some(text)) => Source::new(format!("<built-in>/templates/{src}"), text),
        _ => Source::read(&path).map_err(|e| args.error_at("src", e.message))?,
    };
    let rendered = (args.cx.render)(&source)?;
    let content = Content::Sent {
        bytes: rendered.into_bytes(),
        from: src,
    };
    put(args, dest, content)
}

/// `dest: /etc/app/` means "into that directory, under the source's name".
pub(crate) fn into_dir(dest: String, src: &str) -> String {
    match (dest.ends_with('/'), Path::new(src).file_name()) {
        (true, Some(name)) => format!("{dest}{}", name.to_string_lossy()),
        _ => dest,
    }
}

/// Relative `src` paths are looked up beside the playbook, as Ansible does
/// (`files/` and `templates/` first).
pub(crate) fn local_path(project_dir: &Path, src: &str) -> PathBuf {
    let src = Path::new(src);
    if src.is_absolute() {
        return src.to_path_buf();
    }
    ["files", "templates", ""]
        .iter()
        .map(|dir| project_dir.join(dir).join(src))
        .find(|p| p.is_file() || p.is_dir())
        .unwrap_or_else(|| project_dir.join(src))
}

/// `validate`: the command that checks the new file before it replaces
/// `dest`, with `%s` naming it, split into words as Ansible splits it.
fn validate(args: &Args, dest: &str, tmp: &str) -> Result<Option<Command>, Diagnostic> {
    let Some(text) = args.string("validate")? else {
        return Ok(None);
    };
    if !text.contains("%s") {
        return Err(args.error_at(
            "validate",
            format!("`validate` must name the file to check with `%s`: `{text}`"),
        ));
    }
    let words = shlex::split(&text)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            args.error_at(
                "validate",
                format!("`validate` does not parse as a command: `{text}`"),
            )
        })?;
    let words: Vec<String> = words.iter().map(|w| w.replace("%s", tmp)).collect();
    let check = Command::new(&words[0]).args(&words[1..]);
    let failed = format!("`validate` refused the new content of `{dest}`: `{text}`");
    Ok(Some(
        Command::script("{")
            .raw(check.as_sent())
            .raw("|| { rc=$?; rm -f --")
            .arg(tmp)
            .raw("; echo")
            .arg(failed)
            .raw(">&2; exit $rc; }; }"),
    ))
}

/// `backup`: a copy of `dest` as it was, named as Ansible names it
/// (`dest.PID.YYYY-MM-DD@HH:MM:SS~`), its path printed after [`BACKUP_MARK`].
fn backup(dest: &str) -> Command {
    let q = crate::shell::quote(dest);
    Command::script(format!(
        "{{ [ ! -f {q} ] || {{ b={q}\".$$.$(date +%Y-%m-%d@%H:%M:%S)~\" && cp -p -- {q} \"$b\" && echo \"{BACKUP_MARK}$b\"; }}; }}"
    ))
}

fn put(args: &Args, dest: String, content: Content) -> Result<Action, Diagnostic> {
    let attrs = Attributes::read(args)?;
    let tmp = format!("{dest}.ferry-tmp");
    let (same, satisfied, would, fill) = match &content {
        Content::Sent { bytes, .. } => {
            let digest = Command::new("sha256sum")
                .arg(&dest)
                .raw("2>/dev/null | cut -c1-64");
            (
                output_is(&digest, &sha256_hex(bytes)),
                format!("`{dest}` already has this content"),
                format!("write {} bytes to `{dest}`", bytes.len()),
                Command::script("cat >").arg(&tmp),
            )
        }
        Content::OnHost { src } => (
            Command::new("cmp").args(["-s", "--", src, &dest]),
            format!("`{dest}` already has the content of `{src}`"),
            format!("copy `{src}` to `{dest}`"),
            Command::new("cp").args(["--", src, &tmp]),
        ),
    };
    let would = Some(would);
    let check = if args.flag("force")? == Some(false) {
        // Ansible's `force: no`: an existing file is left as it is,
        // whatever its content.
        Some(Check {
            command: Command::new("test").args(["-e", &dest]),
            satisfied: format!("`{dest}` exists (and `force` is no)"),
            would,
        })
    } else {
        attrs.check(&dest, same).map(|command| Check {
            command,
            satisfied,
            would,
        })
    };
    // Write beside the destination, keep its mode if it exists, then rename
    // over it: readers never see a half-written file.
    let write = fill
        .raw("&& { [ ! -e")
        .arg(&dest)
        .raw("] ||")
        .raw(
            &Command::new("chmod")
                .arg(format!("--reference={dest}"))
                .arg(&tmp)
                .to_string(),
        )
        .raw("; }");
    let mut run = attrs.apply(&tmp, write);
    if let Some(validate) = validate(args, &dest, &tmp)? {
        run = run.and(validate);
    }
    if args.flag("backup")?.unwrap_or(false) {
        run = run.and(backup(&dest));
    }
    let run = run.and(Command::new("mv").args(["-f", &tmp, &dest]));
    let mode = match &attrs.mode {
        Some(Mode::Octal(m)) => Some(m.clone()),
        _ => None,
    };
    let upload = match content {
        Content::Sent { bytes, from } => Some(Upload {
            size: bytes.len(),
            read: Some(diff_read(&dest)),
            sha256: sha256_hex(&bytes),
            dest,
            from,
            content: bytes,
            mode,
        }),
        Content::OnHost { .. } => None,
    };
    Ok(Action::Remote { check, run, upload })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The destination's mode and first bytes, for `--diff`: one byte past
/// what a diff shows, so that a larger file is known to be one.
fn diff_read(dest: &str) -> Command {
    let q = crate::shell::quote(dest);
    Command::script(format!(
        "if [ -f {q} ]; then stat -L -c 'present %a' -- {q} && head -c {} -- {q}; else echo absent; fi",
        crate::executor::diff::MAX_BYTES + 1
    ))
}
