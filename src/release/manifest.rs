//! A release's manifest: every file git has for the deployed commit, and the
//! delta that turns a host's current release into the new one.
//!
//! The controller builds a [`Manifest`] from the git tree (see
//! [`super::Source`]) and stores its text form in each release on the server
//! as `.ferry-manifest`. On the next deploy it reads that file back from the
//! host's current release, and [`Manifest::delta`] says which files to
//! upload, which to seed from the old release, and which are gone.
//!
//! # Text form
//!
//! ```text
//! ferry-manifest 1
//! 100644 3b18e512dba79e4c8300dd08aeb37f8e728b8dad 12 app/main.py
//! 100755 e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 0 bin/run
//! 120000 8a3d1d4f4ad1ea3ccd0e2b0cbb06f1ac0c26e9d4 9 config
//! ```
//!
//! One line per file, sorted by path (byte order), each ending in a newline:
//! the git mode in octal (`100644`, `100755`, or `120000` for a symlink), the
//! blob id in lowercase hex, the size in bytes (for a symlink: the length of
//! its target), and the path. The path is the rest of the line, so spaces in
//! it need no escaping; a backslash is written `\\`, a newline `\n`, a tab
//! `\t`, and any other control character `\xHH`. Paths are never rejected
//! for their characters, only for being unsafe to unpack (`..`, absolute,
//! empty components, `.git`); a path that is not UTF-8 never gets here, as
//! [`super::Source`] refuses it.
//!
//! # Strictness
//!
//! [`Manifest::parse`] accepts exactly what [`Manifest::to_text`] writes:
//! the header, known modes, well-formed ids and sizes, known escapes, safe
//! paths in strictly increasing order, no file below another file, and a
//! final newline (a manifest cut off mid-line is an error). A manifest that
//! fails to parse is treated as no manifest: the deploy uploads the whole
//! tree to that host instead of a delta. Truncation exactly at a line
//! boundary cannot be seen, but it only makes the delta larger: a file the
//! old manifest does not list is sent, never assumed present.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The first line of every manifest; the number is the format's version.
const HEADER: &str = "ferry-manifest 1";

/// A regular file, not executable.
pub const MODE_FILE: u32 = 0o100644;
/// A regular file, executable.
pub const MODE_EXECUTABLE: u32 = 0o100755;
/// A symbolic link; its blob is the link's target.
pub const MODE_SYMLINK: u32 = 0o120000;

/// One file of a release as git has it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Relative, `/`-separated, safe to unpack (see the module doc).
    pub path: String,
    /// [`MODE_FILE`], [`MODE_EXECUTABLE`] or [`MODE_SYMLINK`].
    pub mode: u32,
    /// The git blob id, lowercase hex.
    pub oid: String,
    /// Bytes in the blob: the file's size, or the length of a link's target.
    pub size: u64,
}

/// A release's manifest: every file (not directories), sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Manifest {
    pub entries: Vec<Entry>,
}

/// What to do on a host to turn its current release into the new one.
///
/// The host should build the new release from `keep` (copied or hard-linked
/// from the old release) plus the uploaded `send` files, rather than from a
/// copy of the whole old release minus `delete`: then a file the old manifest
/// failed to list costs an upload, never a stale file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delta {
    /// Added, or changed (blob id or mode differs): to upload. In path order.
    pub send: Vec<String>,
    /// In the old release, not in the new one. In path order.
    pub delete: Vec<String>,
    /// Unchanged: seeded on the host from the old release. In path order.
    pub keep: Vec<String>,
    /// Total size of the `send` files.
    pub send_bytes: u64,
}

/// Why a stored manifest could not be read. The deploy then uploads the
/// whole tree, as for a host without a release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not a ferry manifest: the first line is `{found}`, expected `{HEADER}`")]
    Header { found: String },
    #[error("manifest line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("manifest is truncated: its last line has no newline")]
    Truncated,
}

impl Manifest {
    /// The text form stored on the server as `.ferry-manifest` in each
    /// release: the header line `ferry-manifest 1`, then one line per entry,
    /// `MODE(octal) OID SIZE PATH`, with the path escaped as the module doc
    /// says.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(HEADER.len() + 1 + self.entries.len() * 80);
        text.push_str(HEADER);
        text.push('\n');
        for entry in &self.entries {
            let _ = write!(text, "{:o} {} {} ", entry.mode, entry.oid, entry.size);
            escape_into(&entry.path, &mut text);
            text.push('\n');
        }
        text
    }

    /// Reads the text form back, strictly: any deviation from what
    /// [`Manifest::to_text`] writes is an error, and the deploy then falls
    /// back to a full upload.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let Some(body) = text.strip_suffix('\n') else {
            return match text.lines().next() {
                Some(first) if first == HEADER => Err(ManifestError::Truncated),
                first => Err(ManifestError::Header {
                    found: first.unwrap_or_default().to_string(),
                }),
            };
        };
        let mut lines = body.split('\n');
        let header = lines.next().unwrap_or_default();
        if header != HEADER {
            return Err(ManifestError::Header {
                found: header.to_string(),
            });
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let problem = |problem: String| ManifestError::Line {
                line: number,
                problem,
            };
            let entry = parse_line(line).map_err(problem)?;
            if let Some(previous) = entries.last()
                && entry.path <= previous.path
            {
                return Err(problem(format!(
                    "`{}` is not after `{}`: paths must be sorted and unique",
                    entry.path.escape_debug(),
                    previous.path.escape_debug()
                )));
            }
            // Sorted order puts a path after its ancestors, so one look at
            // the ancestors seen so far finds a file that is also a directory.
            // Compared in escaped form, which is exact: escaping is canonical
            // (parse accepts one spelling per character) and never touches `/`.
            let raw = raw_path(line);
            for (slash, _) in raw.match_indices('/') {
                if seen.contains(&raw[..slash]) {
                    return Err(problem(format!(
                        "`{}` is below `{}`, which is a file",
                        entry.path.escape_debug(),
                        unescape(&raw[..slash]).unwrap_or_default().escape_debug()
                    )));
                }
            }
            seen.insert(raw);
            entries.push(entry);
        }
        Ok(Manifest { entries })
    }

    /// What to send to turn `old` (the host's current release) into `self`.
    pub fn delta(&self, old: &Manifest) -> Delta {
        let before: HashMap<&str, &Entry> = old
            .entries
            .iter()
            .map(|entry| (entry.path.as_str(), entry))
            .collect();
        let mut delta = Delta::default();
        for entry in &self.entries {
            match before.get(entry.path.as_str()) {
                Some(was) if was.oid == entry.oid && was.mode == entry.mode => {
                    delta.keep.push(entry.path.clone());
                }
                _ => {
                    delta.send.push(entry.path.clone());
                    delta.send_bytes += entry.size;
                }
            }
        }
        let now: HashSet<&str> = self.entries.iter().map(|e| e.path.as_str()).collect();
        delta.delete = old
            .entries
            .iter()
            .filter(|entry| !now.contains(entry.path.as_str()))
            .map(|entry| entry.path.clone())
            .collect();
        delta
    }

    /// The entry at `path`, if the manifest has one.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|entry| entry.path.as_str().cmp(path))
            .ok()
            .map(|index| &self.entries[index])
    }

    /// Total size of every file.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|entry| entry.size).sum()
    }
}

/// The path field of a manifest line, still escaped (the line has already
/// parsed, so it has three spaces before the path).
fn raw_path(line: &str) -> &str {
    line.splitn(4, ' ').nth(3).unwrap_or_default()
}

fn parse_line(line: &str) -> Result<Entry, String> {
    let mut fields = line.splitn(4, ' ');
    let (Some(mode), Some(oid), Some(size), Some(path)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(format!("expected `MODE OID SIZE PATH`, found `{line}`"));
    };
    let mode = match mode {
        "100644" => MODE_FILE,
        "100755" => MODE_EXECUTABLE,
        "120000" => MODE_SYMLINK,
        other => return Err(format!("unknown mode `{other}`")),
    };
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    if !(oid.len() == 40 || oid.len() == 64) || !oid.bytes().all(hex) {
        return Err(format!("`{oid}` is not a git object id"));
    }
    let canonical = !size.is_empty()
        && size.bytes().all(|c| c.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let size = match size.parse::<u64>() {
        Ok(size) if canonical => size,
        _ => return Err(format!("`{size}` is not a size")),
    };
    let path = unescape(path)?;
    check_path(&path).map_err(|why| format!("unsafe path `{}`: {why}", path.escape_debug()))?;
    Ok(Entry {
        path,
        mode,
        oid: oid.to_string(),
        size,
    })
}

fn escape_into(path: &str, out: &mut String) {
    for c in path.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

fn unescape(escaped: &str) -> Result<String, String> {
    let mut path = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => path.push('\\'),
                Some('n') => path.push('\n'),
                Some('t') => path.push('\t'),
                Some('x') => {
                    let digits: String = chars.by_ref().take(2).collect();
                    let byte = u8::from_str_radix(&digits, 16)
                        .ok()
                        .filter(|b| b.is_ascii_control() && !matches!(b, b'\n' | b'\t'))
                        .filter(|_| digits.bytes().all(|d| !d.is_ascii_uppercase()))
                        .ok_or_else(|| format!("bad escape `\\x{digits}` in a path"))?;
                    path.push(char::from(byte));
                }
                Some(other) => return Err(format!("unknown escape `\\{other}` in a path")),
                None => return Err("a path ends in a lone `\\`".to_string()),
            },
            c if c.is_ascii_control() => {
                return Err(format!(
                    "unescaped control character `{}` in a path",
                    c.escape_default()
                ));
            }
            c => path.push(c),
        }
    }
    Ok(path)
}

/// Whether `path` is safe to unpack inside a release directory: relative,
/// `/`-separated, no empty, `.`, `..` or `.git` component, no NUL. Git
/// already guarantees this for its trees; ferry asserts it anyway, because
/// archives are unpacked only inside the release directory.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') {
        return Err("absolute");
    }
    if path.contains('\0') {
        return Err("contains a NUL byte");
    }
    for component in path.split('/') {
        match component {
            "" => return Err("empty component"),
            "." | ".." => return Err("`.` or `..` component"),
            ".git" => return Err("`.git` component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn entry(path: &str, mode: u32, oid: &str, size: u64) -> Entry {
        Entry {
            path: path.to_string(),
            mode,
            oid: oid.to_string(),
            size,
        }
    }

    fn sample() -> Manifest {
        Manifest {
            entries: vec![
                entry("a b/c\\d", MODE_FILE, A, 3),
                entry("bin/run", MODE_EXECUTABLE, B, 0),
                entry("link", MODE_SYMLINK, A, 7),
                entry("odd\nname\twith\rcontrols\u{7f}", MODE_FILE, B, 12),
                entry("ünïcode/ file ", MODE_FILE, A, 1),
            ],
        }
    }

    #[test]
    fn text_round_trips() {
        let manifest = sample();
        let text = manifest.to_text();
        assert_eq!(
            text,
            format!(
                "ferry-manifest 1\n\
                 100644 {A} 3 a b/c\\\\d\n\
                 100755 {B} 0 bin/run\n\
                 120000 {A} 7 link\n\
                 100644 {B} 12 odd\\nname\\twith\\x0dcontrols\\x7f\n\
                 100644 {A} 1 ünïcode/ file \n"
            )
        );
        assert_eq!(Manifest::parse(&text).unwrap(), manifest);
    }

    #[test]
    fn empty_manifest_round_trips() {
        let text = Manifest::default().to_text();
        assert_eq!(text, "ferry-manifest 1\n");
        assert_eq!(Manifest::parse(&text).unwrap(), Manifest::default());
    }

    fn line_error(text: &str) -> String {
        match Manifest::parse(text) {
            Err(ManifestError::Line { line, problem }) => format!("{line}: {problem}"),
            other => panic!("expected a line error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn parse_rejects_a_wrong_or_missing_header() {
        for text in ["", "\n", "ferry-manifest 2\n", "ferry-manifest 1 \n"] {
            assert!(
                matches!(Manifest::parse(text), Err(ManifestError::Header { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_a_truncated_manifest() {
        let text = sample().to_text();
        let cut = &text[..text.len() - 5];
        assert_eq!(Manifest::parse(cut), Err(ManifestError::Truncated));
        assert_eq!(
            Manifest::parse("ferry-manifest 1"),
            Err(ManifestError::Truncated)
        );
    }

    #[test]
    fn parse_rejects_bad_lines() {
        let h = "ferry-manifest 1\n";
        let cases = [
            (
                format!("{h}\n"),
                "2: expected `MODE OID SIZE PATH`, found ``",
            ),
            (format!("{h}100644 {A} 3\n"), "2: expected"),
            (format!("{h}100664 {A} 3 a\n"), "2: unknown mode `100664`"),
            (format!("{h}160000 {A} 0 sub\n"), "2: unknown mode `160000`"),
            (format!("{h}100644 {} 3 a\n", &A[1..]), "2: `111"),
            (
                format!("{h}100644 {} 3 a\n", A.to_uppercase().replace('1', "A")),
                "is not a git object id",
            ),
            (format!("{h}100644 {A} -3 a\n"), "2: `-3` is not a size"),
            (format!("{h}100644 {A} 03 a\n"), "2: `03` is not a size"),
            (format!("{h}100644 {A} 3 \n"), "2: unsafe path ``: empty"),
            (format!("{h}100644 {A} 3 /etc/passwd\n"), "absolute"),
            (
                format!("{h}100644 {A} 3 a/../../x\n"),
                "`.` or `..` component",
            ),
            (format!("{h}100644 {A} 3 a//x\n"), "empty component"),
            (format!("{h}100644 {A} 3 .git/config\n"), "`.git` component"),
            (format!("{h}100644 {A} 3 a\\q\n"), "unknown escape `\\q`"),
            (format!("{h}100644 {A} 3 a\\\n"), "lone"),
            (format!("{h}100644 {A} 3 a\\x41\n"), "bad escape `\\x41`"),
            (format!("{h}100644 {A} 3 a\\x0a\n"), "bad escape `\\x0a`"),
            (format!("{h}100644 {A} 3 a\\x1G\n"), "bad escape"),
            (
                format!("{h}100644 {A} 3 a\r\n"),
                "unescaped control character",
            ),
            (
                format!("{h}100644 {A} 3 b\n100644 {A} 3 a\n"),
                "3: `a` is not after `b`",
            ),
            (
                format!("{h}100644 {A} 3 a\n100644 {A} 3 a\n"),
                "3: `a` is not after `a`",
            ),
            (
                format!("{h}100644 {A} 3 a\n100644 {A} 3 a/b\n"),
                "3: `a/b` is below `a`",
            ),
        ];
        for (text, want) in cases {
            let got = line_error(&text);
            assert!(got.contains(want), "{text:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn escaped_names_below_a_file_are_still_caught() {
        let h = "ferry-manifest 1\n";
        let text = format!("{h}100644 {A} 3 a\\tb\n100644 {A} 3 a\\tb/c\n");
        assert!(line_error(&text).contains("is below"));
    }

    #[test]
    fn delta_sorts_files_into_send_keep_and_delete() {
        let old = Manifest {
            entries: vec![
                entry("changed", MODE_FILE, A, 10),
                entry("gone", MODE_FILE, A, 20),
                entry("made-executable", MODE_FILE, A, 30),
                entry("same", MODE_FILE, A, 40),
                entry("same-link", MODE_SYMLINK, B, 5),
            ],
        };
        let new = Manifest {
            entries: vec![
                entry("added", MODE_FILE, A, 1),
                entry("changed", MODE_FILE, B, 2),
                entry("made-executable", MODE_EXECUTABLE, A, 30),
                entry("same", MODE_FILE, A, 40),
                entry("same-link", MODE_SYMLINK, B, 5),
            ],
        };
        let delta = new.delta(&old);
        assert_eq!(delta.send, ["added", "changed", "made-executable"]);
        assert_eq!(delta.send_bytes, 1 + 2 + 30);
        assert_eq!(delta.keep, ["same", "same-link"]);
        assert_eq!(delta.delete, ["gone"]);
    }

    #[test]
    fn delta_against_nothing_sends_everything_and_against_itself_nothing() {
        let manifest = sample();
        let full = manifest.delta(&Manifest::default());
        assert_eq!(full.send.len(), manifest.entries.len());
        assert_eq!(full.send_bytes, manifest.total_bytes());
        assert!(full.keep.is_empty() && full.delete.is_empty());

        let same = manifest.delta(&manifest);
        assert!(same.send.is_empty() && same.delete.is_empty());
        assert_eq!(same.send_bytes, 0);
        assert_eq!(same.keep.len(), manifest.entries.len());
    }

    #[test]
    fn a_file_replaced_by_a_symlink_is_sent() {
        let old = Manifest {
            entries: vec![entry("config", MODE_FILE, A, 5)],
        };
        let new = Manifest {
            entries: vec![entry("config", MODE_SYMLINK, A, 5)],
        };
        assert_eq!(new.delta(&old).send, ["config"]);
    }

    #[test]
    fn get_finds_entries_by_path() {
        let manifest = sample();
        assert_eq!(manifest.get("bin/run").unwrap().mode, MODE_EXECUTABLE);
        assert!(manifest.get("bin").is_none());
    }
}
