//! `unarchive`: a tar (plain, gzip, bzip2, xz) or zip archive extracted
//! into an existing directory, from the controller (sent on stdin) or, with
//! `remote_src`, from the host.
//!
//! The probe compares the archive with `dest` without extracting: GNU
//! tar's `--compare` (size, mtime, mode, content, link target, as
//! Ansible's module reads it), or for a zip each member's content against
//! the file (`unzip -p | cmp`). `ok` when nothing differs; otherwise the
//! differing paths are what check mode and `--diff` name. GNU tar and
//! unzip do the work on the host, as for Ansible.

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober};
use super::{Action, Args, Mode};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "src",
    "dest",
    "remote_src",
    "copy",
    "creates",
    "extra_opts",
    "owner",
    "group",
    "mode",
    "list_files",
    "exclude",
    "keep_newer",
];

/// The probe's first line when it stops before comparing.
const NO_DEST: &str = "unarchive=no-dest";
const NO_SRC: &str = "unarchive=no-src";
const CREATED: &str = "unarchive=created";

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// GNU tar finds the compression itself.
    Tar,
    Zip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unarchive {
    /// The archive as written (`files/site.tar.gz`, or the host's path).
    pub src: String,
    pub remote_src: bool,
    pub dest: String,
    pub format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_opts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Octal digits, as `stat -c %a` prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub list_files: bool,
    pub keep_newer: bool,
}

pub fn unarchive(args: &Args) -> Result<Action, Diagnostic> {
    let src = args.required("src", "unarchive")?;
    let dest = args.required("dest", "unarchive")?;
    // `copy: no` is Ansible's old spelling of `remote_src: yes`.
    let remote_src = bool_arg(args, "remote_src", false)? || !bool_arg(args, "copy", true)?;
    if src.contains("://") {
        return Err(args.error_at(
            "src",
            "a `src` URL is not supported: fetch it with `get_url`, then `remote_src: yes`",
        ));
    }
    let words = |key: &str| -> Result<Vec<String>, Diagnostic> { args.list(key) };
    let mode = match args.mode()? {
        None => None,
        Some(Mode::Octal(m)) => Some(m),
        Some(Mode::Symbolic(m)) => {
            return Err(args.error_at(
                "mode",
                format!(
                    "`mode` `{m}` cannot be compared with what is extracted: give an octal mode"
                ),
            ));
        }
    };
    let (format, archive) = if remote_src {
        (format_of(&src, None), None)
    } else {
        let path = super::copy::local_path(args.cx.project_dir, &src);
        let bytes = std::fs::read(&path)
            .map_err(|e| args.error_at("src", format!("cannot read `{}`: {e}", path.display())))?;
        (format_of(&src, Some(&bytes)), Some(bytes))
    };
    let keep_newer = bool_arg(args, "keep_newer", false)?;
    if keep_newer && format == Format::Zip {
        return Err(args.error_at(
            "keep_newer",
            "`keep_newer` is supported for tar archives only",
        ));
    }
    let module = Unarchive {
        src,
        remote_src,
        dest,
        format,
        creates: args.string("creates")?,
        extra_opts: words("extra_opts")?,
        exclude: words("exclude")?,
        owner: args.string("owner")?,
        group: args.string("group")?,
        mode,
        list_files: bool_arg(args, "list_files", false)?,
        keep_newer,
    };
    let stdin = archive.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes));
    Ok(Action::Probed {
        probed: Probed {
            probe: module.probe(),
            module: Prober::Unarchive(module),
            stdin,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

/// A zip by its magic bytes when they are at hand, else by its name.
fn format_of(name: &str, bytes: Option<&[u8]>) -> Format {
    match bytes {
        Some(b) if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") => Format::Zip,
        Some(_) => Format::Tar,
        None if name.to_ascii_lowercase().ends_with(".zip") => Format::Zip,
        None => Format::Tar,
    }
}

impl Unarchive {
    /// `a=ARCHIVE`: the host's file, or a temporary one from stdin.
    fn archive(&self) -> String {
        if self.remote_src {
            format!(
                "a={}\n[ -f \"$a\" ] || {{ echo {NO_SRC}; exit 0; }}",
                quote(&self.src)
            )
        } else {
            "a=$(mktemp)\ntrap 'rm -f \"$a\"' EXIT\nbase64 -d >\"$a\"".into()
        }
    }

    /// The archive's member names, one a line (excluded ones left out).
    fn members(&self) -> Command {
        match self.format {
            Format::Tar => Command::script("LC_ALL=C tar -tf \"$a\"")
                .args(self.exclude.iter().map(|e| format!("--exclude={e}"))),
            Format::Zip => {
                let cmd = Command::script("unzip -Z1 \"$a\"");
                if self.exclude.is_empty() {
                    cmd
                } else {
                    cmd.arg("-x").args(&self.exclude)
                }
            }
        }
    }

    fn probe(&self) -> Command {
        let dest = quote(&self.dest);
        let mut lines = vec![
            format!("# unarchive: compare `{}` with `{}`", self.src, self.dest),
            "set -u".to_string(),
        ];
        if let Some(creates) = &self.creates {
            lines.push(format!(
                "[ ! -e {} ] || {{ echo {CREATED}; exit 0; }}",
                quote(creates)
            ));
        }
        lines.push(format!("[ -d {dest} ] || {{ echo {NO_DEST}; exit 0; }}"));
        lines.push(self.archive());
        lines.push(format!("d={dest}"));
        lines.push(format!("{} | sed 's/^/member=/'", self.members()));
        match self.format {
            Format::Tar => {
                let compare = Command::script("LC_ALL=C tar --compare -f \"$a\" -C \"$d\"")
                    .args(self.exclude.iter().map(|e| format!("--exclude={e}")))
                    .args(&self.extra_opts);
                lines.push(format!(
                    "{compare} 2>&1 | grep -v '^tar: Exiting with failure' | sed 's/^/diff=/'"
                ));
                if self.keep_newer {
                    // tar's compare says a time differs, not which is newer.
                    lines.push(format!(
                        "{compare} 2>/dev/null | sed -n 's/: Mod time differs$//p' | while IFS= read -r p; do\n  t=$(LC_ALL=C tar --utc --full-time -tvf \"$a\" -- \"$p\" | awk '{{print $4\" \"$5; exit}}')\n  echo \"mtime=$(stat -c %Y -- \"$d/$p\") $(date -u -d \"$t\" +%s) $p\"\ndone"
                    ));
                }
            }
            Format::Zip => lines.push(format!(
                "{} | while IFS= read -r m; do\n  case \"$m\" in\n    */) [ -d \"$d/$m\" ] || echo \"diff=$m: Missing\" ;;\n    *) if [ -L \"$d/$m\" ]; then [ \"$(readlink -- \"$d/$m\")\" = \"$(unzip -p \"$a\" \"$m\")\" ] || echo \"diff=$m: Symlink differs\"; elif [ ! -f \"$d/$m\" ]; then echo \"diff=$m: Missing\"; elif ! unzip -p \"$a\" \"$m\" | cmp -s - \"$d/$m\"; then echo \"diff=$m: Contents differ\"; fi ;;\n  esac\ndone",
                self.members()
            )),
        }
        if self.owner.is_some() || self.group.is_some() || self.mode.is_some() {
            lines.push(format!(
                "{} | while IFS= read -r m; do\n  [ -L \"$d/$m\" ] || [ ! -e \"$d/$m\" ] || echo \"attr=$(stat -c '%a %U %G' -- \"$d/$m\") $m\"\ndone",
                self.members()
            ));
        }
        lines.push("echo uid=$(id -u)".into());
        Command::script(lines.join("\n"))
    }

    /// Extracts, then gives every member the wanted owner, group and mode.
    fn extract(&self) -> Command {
        let mut lines = vec![
            format!("# unarchive: extract `{}` into `{}`", self.src, self.dest),
            "set -e".to_string(),
            format!(
                "[ -d {0} ] || {{ echo \"unarchive: \\`{1}\\` is not a directory\" >&2; exit 1; }}",
                quote(&self.dest),
                self.dest.replace(['"', '`', '$', '\\'], "")
            ),
            self.archive(),
            format!("d={}", quote(&self.dest)),
        ];
        let extract = match self.format {
            Format::Tar => Command::script("tar -xf \"$a\" -C \"$d\"")
                .args(self.keep_newer.then_some("--keep-newer-files"))
                .args(self.exclude.iter().map(|e| format!("--exclude={e}")))
                .args(&self.extra_opts),
            Format::Zip => {
                let cmd = Command::script("unzip -o -q")
                    .args(&self.extra_opts)
                    .raw("\"$a\" -d \"$d\"");
                if self.exclude.is_empty() {
                    cmd
                } else {
                    cmd.arg("-x").args(&self.exclude)
                }
            }
        };
        lines.push(extract.as_sent().to_string());
        let owner = match (&self.owner, &self.group) {
            (Some(o), Some(g)) => Some(format!("{o}:{g}")),
            (Some(o), None) => Some(o.clone()),
            (None, Some(g)) => Some(format!(":{g}")),
            (None, None) => None,
        };
        let mut fix = Vec::new();
        if let Some(owner) = owner {
            fix.push(format!("chown -h {} -- \"$d/$m\"", quote(&owner)));
        }
        if let Some(mode) = &self.mode {
            fix.push(format!(
                "[ -L \"$d/$m\" ] || chmod {} -- \"$d/$m\"",
                quote(mode)
            ));
        }
        if !fix.is_empty() {
            lines.push(format!(
                "{} | while IFS= read -r m; do\n  {}\ndone",
                self.members(),
                fix.join("\n  ")
            ));
        }
        Command::script(lines.join("\n"))
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}`{} extracted into `{}`",
            self.src,
            if self.remote_src {
                " (on the host)"
            } else {
                ""
            },
            self.dest
        )
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("dest".into(), json!(self.dest));
        fields.insert("src".into(), json!(self.src));
        fields.insert(
            "handler".into(),
            json!(match self.format {
                Format::Tar => "TgzArchive",
                Format::Zip => "ZipArchive",
            }),
        );
        match probe.lines().next() {
            Some(CREATED) => {
                let creates = self.creates.as_deref().unwrap_or_default();
                return (
                    Decision::Ok(format!("`{creates}` exists (`creates`)")),
                    fields,
                );
            }
            Some(NO_DEST) => {
                // In a run an earlier step has made it by now, or the
                // extraction fails saying so.
                return (
                    Decision::Change {
                        what: format!(
                            "extract `{}` into `{}` (it does not exist yet: an earlier step must create it)",
                            self.src, self.dest
                        ),
                        run: self.extract(),
                    },
                    fields,
                );
            }
            Some(NO_SRC) => {
                return (
                    Decision::Fail(format!("no archive `{}` on the host", self.src)),
                    fields,
                );
            }
            _ => {}
        }
        let members: Vec<&str> = probe
            .lines()
            .filter_map(|l| l.strip_prefix("member="))
            .collect();
        if self.list_files {
            fields.insert("files".into(), json!(members));
        }
        let root = probe
            .lines()
            .find_map(|l| l.strip_prefix("uid="))
            .is_some_and(|u| u == "0");
        let newer: Vec<&str> = probe
            .lines()
            .filter_map(|l| l.strip_prefix("mtime="))
            .filter_map(|l| {
                let mut parts = l.splitn(3, ' ');
                let have: i64 = parts.next()?.parse().ok()?;
                let archived: i64 = parts.next()?.parse().ok()?;
                (have > archived).then_some(parts.next()?)
            })
            .collect();
        let mut changes: Vec<(String, String)> = Vec::new();
        for line in probe.lines().filter_map(|l| l.strip_prefix("diff=")) {
            let Some((path, what)) = difference(line) else {
                continue;
            };
            let ignored = match what.as_str() {
                "Uid differs" => !root || self.owner.is_some(),
                "Gid differs" => !root || self.group.is_some(),
                "Mode differs" => self.mode.is_some(),
                _ => false,
            };
            if ignored || newer.contains(&path.as_str()) {
                continue;
            }
            match changes.iter_mut().find(|(p, _)| *p == path) {
                Some((_, all)) => {
                    all.push_str(", ");
                    all.push_str(&what);
                }
                None => changes.push((path, what)),
            }
        }
        for line in probe.lines().filter_map(|l| l.strip_prefix("attr=")) {
            let mut words = line.splitn(4, ' ');
            let (Some(mode), Some(owner), Some(group), Some(path)) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                continue;
            };
            let mut wrong = Vec::new();
            if self.mode.as_deref().is_some_and(|m| m != mode) {
                wrong.push(format!("mode {mode}"));
            }
            if self.owner.as_deref().is_some_and(|o| o != owner) {
                wrong.push(format!("owner {owner}"));
            }
            if self.group.as_deref().is_some_and(|g| g != group) {
                wrong.push(format!("group {group}"));
            }
            if !wrong.is_empty() && !changes.iter().any(|(p, _)| p == path) {
                changes.push((path.to_string(), wrong.join(", ")));
            }
        }
        if changes.is_empty() {
            return (
                Decision::Ok(format!(
                    "`{}` has the {} of `{}`",
                    self.dest,
                    files(members.len()),
                    self.src
                )),
                fields,
            );
        }
        let listing: String = changes
            .iter()
            .map(|(path, what)| format!("{path}: {what}\n"))
            .collect();
        fields.insert("diff".into(), json!({ "prepared": listing }));
        (
            Decision::Change {
                what: format!(
                    "extract `{}` into `{}` ({} of {} differ)",
                    self.src,
                    self.dest,
                    changes.len(),
                    files(members.len())
                ),
                run: self.extract(),
            },
            fields,
        )
    }
}

fn files(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

/// `(path, what)` of one line of `tar --compare` (or the zip probe):
/// `a.txt: Size differs`, `tar: a.txt: Warning: Cannot stat: No such file
/// or directory`.
fn difference(line: &str) -> Option<(String, String)> {
    if let Some(warning) = line.strip_prefix("tar: ") {
        let (path, rest) = warning.split_once(": Warning: ")?;
        let what = if rest.ends_with("No such file or directory") {
            "Missing".to_string()
        } else {
            rest.to_string()
        };
        return Some((path.to_string(), what));
    }
    let (path, what) = line.rsplit_once(": ")?;
    Some((path.to_string(), what.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(format: Format) -> Unarchive {
        Unarchive {
            src: "files/site.tar.gz".into(),
            remote_src: false,
            dest: "/srv/site".into(),
            format,
            creates: None,
            extra_opts: Vec::new(),
            exclude: Vec::new(),
            owner: None,
            group: None,
            mode: None,
            list_files: true,
            keep_newer: false,
        }
    }

    const MEMBERS: &str =
        "member=site/\nmember=site/a.txt\nmember=site/sub/\nmember=site/sub/b.txt\n";

    /// GNU tar 1.34's `--compare` against an empty, then an edited dest.
    #[test]
    fn tar_compare_lines_are_the_files_that_would_change() {
        let m = module(Format::Tar);
        let fresh = format!(
            "{MEMBERS}diff=tar: site: Warning: Cannot stat: No such file or directory\ndiff=tar: site/a.txt: Warning: Cannot stat: No such file or directory\nuid=1000\n"
        );
        let (decision, fields) = m.decide(&fresh);
        let Decision::Change { what, .. } = decision else {
            panic!("a change")
        };
        assert_eq!(
            what,
            "extract `files/site.tar.gz` into `/srv/site` (2 of 4 files differ)"
        );
        assert_eq!(
            fields["diff"]["prepared"],
            "site: Missing\nsite/a.txt: Missing\n"
        );
        assert_eq!(fields["files"][1], "site/a.txt");
        let edited = format!(
            "{MEMBERS}diff=site/sub/b.txt: Mode differs\ndiff=site/sub/b.txt: Mod time differs\ndiff=site/a.txt: Contents differ\ndiff=site/a.txt: Uid differs\nuid=1000\n"
        );
        let (_, fields) = m.decide(&edited);
        // Not root: tar extracts as the user, so ownership is not compared.
        assert_eq!(
            fields["diff"]["prepared"],
            "site/sub/b.txt: Mode differs, Mod time differs\nsite/a.txt: Contents differ\n"
        );
        assert_eq!(
            m.decide(&format!("{MEMBERS}uid=0\n")).0,
            Decision::Ok("`/srv/site` has the 4 files of `files/site.tar.gz`".into())
        );
    }

    #[test]
    fn keep_newer_leaves_files_newer_than_the_archive_and_mode_is_compared_as_asked() {
        let mut m = module(Format::Tar);
        m.keep_newer = true;
        m.mode = Some("640".into());
        let probe = format!(
            "{MEMBERS}diff=site/a.txt: Mod time differs\ndiff=site/a.txt: Contents differ\ndiff=site/sub/b.txt: Mode differs\nmtime=200 100 site/a.txt\nattr=640 app app site/a.txt\nattr=644 app app site/sub/b.txt\nuid=0\n"
        );
        let (decision, fields) = m.decide(&probe);
        assert!(matches!(decision, Decision::Change { .. }));
        assert_eq!(fields["diff"]["prepared"], "site/sub/b.txt: mode 644\n");
    }

    #[test]
    fn zip_members_are_compared_by_content_and_a_missing_dest_waits_for_an_earlier_step() {
        let m = module(Format::Zip);
        let (_, fields) = m.decide(&format!(
            "{MEMBERS}diff=site/a.txt: Contents differ\nuid=0\n"
        ));
        assert_eq!(fields["diff"]["prepared"], "site/a.txt: Contents differ\n");
        assert_eq!(fields["handler"], "ZipArchive");
        let Decision::Change { what, run } = m.decide(&format!("{NO_DEST}\n")).0 else {
            panic!("a change")
        };
        assert!(what.ends_with("(it does not exist yet: an earlier step must create it)"));
        assert!(
            run.as_sent().contains("is not a directory"),
            "{}",
            run.as_sent()
        );
        assert_eq!(format_of("x.tar.gz", Some(b"PK\x03\x04rest")), Format::Zip);
        assert_eq!(format_of("site.ZIP", None), Format::Zip);
    }
}
