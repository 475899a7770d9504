//! A text file edited in place: `lineinfile`, `blockinfile` and `replace`.
//!
//! These modules cannot say at compile time what they will write: the new
//! content depends on the file as it is on the host. So the step carries
//! the edit itself ([`Change`]) with three commands built here: `read`
//! fetches the file (and its mode and owner), ferry computes the new content
//! on the controller with [`Change::apply`], and `write` puts it back
//! atomically — or, when the content is already right, nothing is written
//! and the step is `ok` with the reason. Check mode runs `read` and
//! [`Change::apply`] only: the prediction is the same computation as the
//! run, so it cannot differ from what the run then does.

use serde::Serialize;

use super::{Args, Mode};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

/// The first line `read` prints for a missing file.
pub(crate) const ABSENT: &str = "absent";

/// One file edit on one host, ready to run.
#[derive(Debug, Clone, Serialize)]
pub struct FileEdit {
    pub path: String,
    pub change: Change,
    /// A missing file is created (and its directory); otherwise it is an error.
    pub create: bool,
    /// The mode wanted, in octal digits as `stat -c %a` prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Prints `present MODE OWNER GROUP` and then the content, or `absent`.
    pub read: Command,
    /// Writes its stdin over the file, atomically, with the wanted attributes.
    pub write: Command,
    /// Gives the file the wanted attributes when only they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Command>,
}

/// What a module does to a file's text.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "module", rename_all = "lowercase")]
pub enum Change {
    #[serde(rename = "lineinfile")]
    Line(super::lineinfile::LineInFile),
    #[serde(rename = "blockinfile")]
    Block(super::blockinfile::BlockInFile),
    Replace(super::replace::Replace),
    Cron(super::cron::Cron),
}

/// The outcome of an edit on a file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new text; `None` leaves a missing file missing.
    pub after: Option<String>,
    /// Ansible's `msg` ("line added", "3 replacements made"), or why nothing
    /// changes ("line already present").
    pub msg: String,
}

impl Change {
    /// The file's new text from its current one (`None`: missing; `create`
    /// makes it empty first), or why the edit cannot be made.
    pub fn apply(&self, path: &str, before: Option<&str>, create: bool) -> Result<Edited, String> {
        match self {
            Change::Line(line) => line.apply(path, before, create),
            Change::Block(block) => block.apply(path, before, create),
            Change::Replace(replace) => replace.apply(path, before),
            Change::Cron(cron) => cron.apply(before),
        }
    }

    pub fn module(&self) -> &'static str {
        match self {
            Change::Line(_) => "lineinfile",
            Change::Block(_) => "blockinfile",
            Change::Replace(_) => "replace",
            Change::Cron(_) => "cron",
        }
    }
}

/// The file's path: `path`, or Ansible's older `dest` and `name`.
pub(crate) fn path_arg(args: &Args, module: &str) -> Result<String, Diagnostic> {
    for key in ["path", "dest", "name"] {
        if let Some(path) = args.string(key)? {
            return Ok(path);
        }
    }
    Err(args.error(format!("module `{module}` needs `path`")))
}

/// A boolean argument, written as YAML 1.1 booleans or their strings.
/// Where text that is not in the file yet goes (`lineinfile`,
/// `blockinfile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// At the end (Ansible's `insertafter: EOF`, the default).
    End,
    /// At the start (`insertbefore: BOF`, or `insertafter: BOF`).
    Start,
    /// After the last line this matches (the first, with `lineinfile`'s
    /// `firstmatch`); at the end when none does.
    After(String),
    /// Before the last line this matches (the first, with `firstmatch`); at
    /// the end when none does.
    Before(String),
}

impl Place {
    /// From `insertafter`/`insertbefore` (at most one) of `module`.
    pub(crate) fn from_args(args: &Args, module: &str) -> Result<Place, Diagnostic> {
        Ok(
            match (args.string("insertafter")?, args.string("insertbefore")?) {
                (Some(_), Some(_)) => {
                    return Err(args.error(format!(
                        "give `{module}` `insertafter` or `insertbefore`, not both"
                    )));
                }
                (Some(a), None) if a == "EOF" => Place::End,
                (Some(a), None) if a == "BOF" => Place::Start,
                (None, Some(b)) if b == "BOF" => Place::Start,
                (Some(_), None) => {
                    Place::After(regex_arg(args, "insertafter", false)?.unwrap_or_default())
                }
                (None, Some(_)) => {
                    Place::Before(regex_arg(args, "insertbefore", false)?.unwrap_or_default())
                }
                (None, None) => Place::End,
            },
        )
    }
}

/// A yes/no argument with a default ([`Args::flag`]).
pub(crate) fn bool_arg(args: &Args, key: &str, default: bool) -> Result<bool, Diagnostic> {
    Ok(args.flag(key)?.unwrap_or(default))
}

/// A regular expression argument, compiled now so that a bad one is an
/// error at its line before any host is touched. Ansible's are Python's:
/// ferry's engine reads the same syntax but for look-around and
/// backreferences inside the pattern.
pub(crate) fn regex_arg(
    args: &Args,
    key: &str,
    multi_line: bool,
) -> Result<Option<String>, Diagnostic> {
    let Some(pattern) = args.string(key)? else {
        return Ok(None);
    };
    compile_regex(&pattern, multi_line).map_err(|err| {
        args.error_at(
            key,
            format!("`{key}` is not a regular expression ferry can use: {err}"),
        )
    })?;
    Ok(Some(pattern))
}

pub(crate) fn compile_regex(pattern: &str, multi_line: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .multi_line(multi_line)
        .build()
        .map_err(|err| {
            let text = err.to_string();
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            last.unwrap_or(&text).trim().to_string()
        })
}

/// Python's `re` replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`)
/// in the `regex` crate's syntax (`${1}`, `${name}`, a newline, `$$`).
pub(crate) fn python_template(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                        if group.len() == 2 {
                            break;
                        }
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                Some('g') => {
                    let mut rest = chars.clone();
                    rest.next();
                    if rest.next() == Some('<') {
                        let name: String = rest.clone().take_while(|c| *c != '>').collect();
                        if rest.clone().nth(name.len()) == Some('>') {
                            out.push_str(&format!("${{{name}}}"));
                            for _ in 0..name.len() + 3 {
                                chars.next();
                            }
                            continue;
                        }
                    }
                    out.push('\\');
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// Splits text into lines that keep their `\n`, as Python's `readlines`.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// A line without its terminator.
pub(crate) fn bare(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// Builds the step: its `read`, `write` and `fix` commands and the wanted
/// attributes. Symbolic modes are refused: ferry compares the mode it reads
/// with the one wanted, and `u+x` names no single mode.
pub(crate) fn file_edit(
    args: &Args,
    path: String,
    change: Change,
    create: bool,
) -> Result<FileEdit, Diagnostic> {
    let mode = match args.mode()? {
        None => None,
        Some(Mode::Octal(m)) => Some(m),
        Some(Mode::Symbolic(m)) => {
            return Err(args.error_at(
                "mode",
                format!(
                    "`{}` needs an octal `mode` (like `0644`), not `{m}`: it compares the file's mode with it",
                    change.module()
                ),
            ));
        }
    };
    let owner = args.string("owner")?;
    let group = args.string("group")?;
    let q = quote(&path);
    let read = Command::script(format!(
        "if [ -f {q} ]; then stat -L -c 'present %a %U %G' -- {q} && cat -- {q}; \
         elif [ -e {q} ] || [ -L {q} ]; then echo {} >&2; exit 1; else echo {ABSENT}; fi",
        quote(&format!("`{path}` exists and is not a regular file"))
    ));
    // The edit goes to the file a symlink points to, as Ansible's does;
    // written beside it and renamed over it, keeping its mode and (as
    // root) its owner.
    let mut write = Command::script("target=$(readlink -m --")
        .arg(&path)
        .raw(") && tmp=\"$target.ferry-tmp\" &&");
    if create {
        write = write.raw("mkdir -p -- \"$(dirname -- \"$target\")\" &&");
    }
    write = write.raw(
        "cat > \"$tmp\" && { [ ! -e \"$target\" ] || { chmod --reference=\"$target\" \"$tmp\" && \
         { [ \"$(id -u)\" != 0 ] || chown --reference=\"$target\" \"$tmp\"; }; }; }",
    );
    let attrs = |target: &str| {
        let mut parts = Vec::new();
        if let Some(mode) = &mode {
            parts.push(Command::new("chmod").arg(mode).raw(target));
        }
        match (&owner, &group) {
            (Some(o), Some(g)) => {
                parts.push(Command::new("chown").arg(format!("{o}:{g}")).raw(target))
            }
            (Some(o), None) => parts.push(Command::new("chown").arg(o).raw(target)),
            (None, Some(g)) => parts.push(Command::new("chgrp").arg(g).raw(target)),
            (None, None) => {}
        }
        parts
    };
    for part in attrs("\"$tmp\"") {
        write = write.and(part);
    }
    write = write.and(Command::script("mv -f -- \"$tmp\" \"$target\""));
    let fix = attrs(&q).into_iter().reduce(|all, part| all.and(part));
    Ok(FileEdit {
        path,
        change,
        create,
        mode,
        owner,
        group,
        read,
        write,
        fix,
    })
}

/// What `read` found: the file's attributes and text, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub text: String,
}

/// Parses `read`'s output.
pub fn parse_read(stdout: &[u8]) -> Result<Option<Found>, String> {
    let split = stdout.iter().position(|b| *b == b'\n');
    let (head, body) = match split {
        Some(i) => (&stdout[..i], &stdout[i + 1..]),
        None => (stdout, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    if head == ABSENT {
        return Ok(None);
    }
    let mut words = head.split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("present"), Some(mode), Some(owner), Some(group)) => {
            let text = String::from_utf8(body.to_vec())
                .map_err(|_| "is not UTF-8 text: ferry edits text files only".to_string())?;
            Ok(Some(Found {
                mode: mode.to_string(),
                owner: owner.to_string(),
                group: group.to_string(),
                text,
            }))
        }
        _ => Err(format!("could not read the file (`{head}`)")),
    }
}

/// What the step does, for `ferry playbook --plan`.
pub fn describe(edit: &FileEdit) -> String {
    let what = match &edit.change {
        Change::Line(l) => match (&l.finder, l.present) {
            (super::lineinfile::Finder::Regexp(re), true) => {
                format!("the line matching `{re}` reads the line given")
            }
            (super::lineinfile::Finder::SearchString(s), true) => {
                format!("the line containing `{s}` reads the line given")
            }
            (super::lineinfile::Finder::Exact, true) => "the line given is present".to_string(),
            (super::lineinfile::Finder::Regexp(re), false) => format!("no line matches `{re}`"),
            (super::lineinfile::Finder::SearchString(s), false) => {
                format!("no line contains `{s}`")
            }
            (super::lineinfile::Finder::Exact, false) => "the line given is absent".to_string(),
        },
        Change::Block(b) if b.block.is_empty() => {
            format!("no block between `{}` and `{}`", b.begin, b.end)
        }
        Change::Block(b) => format!(
            "the block between `{}` and `{}` reads as given",
            b.begin, b.end
        ),
        Change::Replace(r) => format!("every match of `{}` is replaced", r.regexp),
        Change::Cron(c) => match &c.line {
            Some(line) => format!("job `{}` reads `{line}`", c.name),
            None => format!("there is no job `{}`", c.name),
        },
    };
    format!(
        "edit: `{}` ({}): read it, and write it back only if it differs once {what}",
        edit.path,
        edit.change.module()
    )
}

impl FileEdit {
    /// The attributes that differ from the wanted ones, in words
    /// ("mode 600 → 644"), for a file that exists.
    pub fn attribute_changes(&self, found: &Found) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(mode) = &self.mode
            && *mode != found.mode
        {
            out.push(format!("mode {} → {mode}", found.mode));
        }
        if let Some(owner) = &self.owner
            && *owner != found.owner
        {
            out.push(format!("owner {} → {owner}", found.owner));
        }
        if let Some(group) = &self.group
            && *group != found.group
        {
            out.push(format!("group {} → {group}", found.group));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_replacement_templates_read_as_the_regex_crate_reads_them() {
        assert_eq!(python_template(r"\1-\2"), "${1}-${2}");
        assert_eq!(python_template(r"\g<1>0"), "${1}0");
        assert_eq!(python_template(r"\g<name> $HOME"), "${name} $$HOME");
        assert_eq!(python_template(r"a\nb\\c"), "a\nb\\c");
        assert_eq!(python_template(r"\12"), "${12}");
        assert_eq!(python_template(r"\x"), r"\x");
    }

    #[test]
    fn read_output_is_parsed_into_attributes_and_text() {
        assert_eq!(parse_read(b"absent\n"), Ok(None));
        let found = parse_read(b"present 644 root adm\na\nb\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                found.mode.as_str(),
                found.owner.as_str(),
                found.group.as_str()
            ),
            ("644", "root", "adm")
        );
        assert_eq!(found.text, "a\nb\n");
        assert!(parse_read(b"present 644 root adm\n\xff").is_err());
        assert!(parse_read(b"").is_err());
    }

    #[test]
    fn lines_keep_their_newlines() {
        assert_eq!(lines("a\nb"), ["a\n", "b"]);
        assert_eq!(lines(""), Vec::<String>::new());
        assert_eq!(bare("x\r\n"), "x");
    }
}
