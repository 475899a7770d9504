//! `--diff`: what a file step changes in a file's text, as a unified diff,
//! or why the diff is not shown.
//!
//! A diff prints file content, so it follows the rule every other output
//! follows: no secret. ferry masks secrets it knows by value, but a file
//! may hold secrets it was never told (a key written by hand, an `.env`
//! generated on the host), so a file kept from other users (its mode, as
//! it is or as wanted, gives others no read) is never shown, and neither is
//! content that holds a secret ferry knows. The step says why instead.

use crate::shell::Masker;

/// Lines of context around each change, as `diff -u` and Ansible show.
const CONTEXT: usize = 3;

/// Larger files are not shown (Ansible's `max_diff_size` is 100 KiB).
pub(crate) const MAX_BYTES: usize = 128 * 1024;

/// Past this many cells the line-matching table is not built: the
/// differing middle is shown as removed and added whole.
const MAX_CELLS: usize = 4_000_000;

/// A file's text before or after a step, as far as a diff needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Text<'a> {
    Absent,
    Present(&'a str),
    /// Bytes that are not UTF-8 text.
    Binary,
    /// Longer than [`MAX_BYTES`].
    TooLarge,
}

/// The diff `--diff` shows for `path` going from `before` to `after`, or a
/// line that says why none is shown; `None` when the text is the same.
/// `modes` are the file's modes (as it is, as wanted) in octal digits.
pub(crate) fn shown(
    path: &str,
    before: Text,
    after: Text,
    modes: &[Option<&str>],
    masker: &Masker,
) -> Option<String> {
    let text = |t: Text<'_>| match t {
        Text::Present(s) => Some(s.to_string()),
        _ => None,
    };
    if let (Some(b), Some(a)) = (text(before), text(after))
        && a == b
    {
        return None;
    }
    if let (Text::Absent, Text::Absent) = (before, after) {
        return None;
    }
    let private = modes
        .iter()
        .flatten()
        .find(|m| u32::from_str_radix(m, 8).is_ok_and(|m| m & 0o004 == 0));
    if let Some(mode) = private {
        return Some(format!(
            "diff not shown: `{path}` is not readable by other users (mode {mode}), so its content may be secret"
        ));
    }
    for t in [before, after] {
        match t {
            Text::Binary => return Some("diff not shown: the content is not text".to_string()),
            Text::TooLarge => {
                return Some(format!(
                    "diff not shown: the content is larger than {} KiB",
                    MAX_BYTES / 1024
                ));
            }
            Text::Present(s) if masker.reveals(s) => {
                return Some("diff not shown: the content holds a secret".to_string());
            }
            _ => {}
        }
    }
    let b = text(before);
    let a = text(after);
    Some(unified(
        path,
        b.as_deref(),
        a.as_deref(),
        matches!(before, Text::Absent),
        matches!(after, Text::Absent),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Removed,
    Added,
}

/// A unified diff of two texts (`diff -u`'s format, with Ansible's
/// `before:`/`after:` headers).
fn unified(
    path: &str,
    before: Option<&str>,
    after: Option<&str>,
    was_absent: bool,
    is_absent: bool,
) -> String {
    let a: Vec<&str> = before.unwrap_or("").split_inclusive('\n').collect();
    let b: Vec<&str> = after.unwrap_or("").split_inclusive('\n').collect();
    let ops = script(&a, &b);
    let absent = |gone: bool| if gone { " (absent)" } else { "" };
    let mut out = format!(
        "--- before: {path}{}\n+++ after: {path}{}\n",
        absent(was_absent),
        absent(is_absent)
    );
    // Where each op starts in `a` and `b`.
    let mut at = Vec::with_capacity(ops.len());
    let (mut i, mut j) = (0, 0);
    for op in &ops {
        at.push((i, j));
        match op {
            Op::Same => (i, j) = (i + 1, j + 1),
            Op::Removed => i += 1,
            Op::Added => j += 1,
        }
    }
    let changes: Vec<usize> = (0..ops.len()).filter(|&k| ops[k] != Op::Same).collect();
    let mut k = 0;
    while k < changes.len() {
        let first = changes[k];
        let mut last = first;
        while k + 1 < changes.len() && changes[k + 1] - last <= 2 * CONTEXT + 1 {
            k += 1;
            last = changes[k];
        }
        k += 1;
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(ops.len());
        let count = |keep: Op| ops[start..end].iter().filter(|o| **o != keep).count();
        let (a_len, b_len) = (count(Op::Added), count(Op::Removed));
        let (a_at, b_at) = at[start];
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a_at, a_len),
            range(b_at, b_len)
        ));
        for (op, &(i, j)) in ops[start..end].iter().zip(&at[start..end]) {
            let (sign, line) = match op {
                Op::Same => (' ', a[i]),
                Op::Removed => ('-', a[i]),
                Op::Added => ('+', b[j]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// A hunk's range as difflib and `diff -u` write it: `3` for one line,
/// `2,0` for none after line 2.
fn range(start: usize, len: usize) -> String {
    match len {
        1 => format!("{}", start + 1),
        0 => format!("{start},0"),
        _ => format!("{},{len}", start + 1),
    }
}

/// The edit script from `a` to `b`: common lines kept, the rest removed
/// then added, by longest common subsequence.
fn script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops = vec![Op::Same; prefix];
    if (ma.len() + 1) * (mb.len() + 1) > MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Removed, ma.len()));
        ops.extend(std::iter::repeat_n(Op::Added, mb.len()));
    } else {
        // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
        let w = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * w];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push(Op::Same);
                (i, j) = (i + 1, j + 1);
            } else if j == mb.len() || (i < ma.len() && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
            {
                ops.push(Op::Removed);
                i += 1;
            } else {
                ops.push(Op::Added);
                j += 1;
            }
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    ops
}

/// Parses the output of a file read for a diff (`copy`, `template`): a
/// first line `absent`, or `present MODE`, then the file's first bytes.
pub(crate) fn parse_read(stdout: &[u8]) -> Option<(Option<String>, Vec<u8>)> {
    let split = stdout.iter().position(|b| *b == b'\n');
    let (head, body) = match split {
        Some(i) => (&stdout[..i], &stdout[i + 1..]),
        None => (stdout, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    if head == "absent" {
        return Some((None, Vec::new()));
    }
    let mode = head.strip_prefix("present ")?;
    Some((Some(mode.to_string()), body.to_vec()))
}

/// Bytes as a diff sees them.
pub(crate) fn text_of(bytes: &[u8]) -> Text<'_> {
    if bytes.len() > MAX_BYTES {
        return Text::TooLarge;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Text::Present(text),
        Err(_) => Text::Binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(before: &str, after: &str) -> String {
        shown(
            "/etc/app.conf",
            Text::Present(before),
            Text::Present(after),
            &[],
            &Masker::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_changed_line_is_shown_with_three_lines_of_context() {
        let before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            diff(before, after),
            "--- before: /etc/app.conf\n+++ after: /etc/app.conf\n\
             @@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8"
        );
    }

    /// Lines 1 to 20, with some replaced.
    fn numbered(replaced: &[(usize, &str)]) -> String {
        (1..=20)
            .map(|i| match replaced.iter().find(|(n, _)| *n == i) {
                Some((_, text)) => format!("{text}\n"),
                None => format!("{i}\n"),
            })
            .collect()
    }

    #[test]
    fn changes_far_apart_are_separate_hunks_and_near_ones_one() {
        let before = numbered(&[]);
        let hunks = |after: &str| -> Vec<String> {
            diff(&before, after)
                .lines()
                .filter(|l| l.starts_with("@@"))
                .map(str::to_string)
                .collect()
        };
        let far = numbered(&[(2, "two"), (19, "nineteen")]);
        assert_eq!(hunks(&far), ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"]);
        let near = numbered(&[(2, "two"), (8, "eight")]);
        assert_eq!(hunks(&near), ["@@ -1,11 +1,11 @@"]);
    }

    #[test]
    fn a_new_file_a_missing_newline_and_an_insertion_read_as_diff_u_writes_them() {
        let new = shown(
            "/x",
            Text::Absent,
            Text::Present("a\nb"),
            &[],
            &Masker::new(),
        )
        .unwrap();
        assert_eq!(
            new,
            "--- before: /x (absent)\n+++ after: /x\n@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file"
        );
        assert_eq!(
            diff("a\nc\n", "a\nb\nc\n"),
            "--- before: /etc/app.conf\n+++ after: /etc/app.conf\n@@ -1,2 +1,3 @@\n a\n+b\n c"
        );
        assert_eq!(
            diff("a\n", ""),
            "--- before: /etc/app.conf\n+++ after: /etc/app.conf\n@@ -1 +0,0 @@\n-a"
        );
    }

    #[test]
    fn the_same_text_has_no_diff() {
        let same = shown(
            "/x",
            Text::Present("a\n"),
            Text::Present("a\n"),
            &[],
            &Masker::new(),
        );
        assert_eq!(same, None);
    }

    #[test]
    fn a_private_file_or_a_secret_is_never_shown() {
        let mut masker = Masker::new();
        masker.add("hunter22");
        let private = shown(
            "/srv/.env",
            Text::Absent,
            Text::Present("KEY=public\n"),
            &[None, Some("600")],
            &masker,
        )
        .unwrap();
        assert_eq!(
            private,
            "diff not shown: `/srv/.env` is not readable by other users (mode 600), so its content may be secret"
        );
        for (before, after) in [("x\n", "pw=hunter22\n"), ("pw=hunter22\n", "x\n")] {
            let secret = shown(
                "/a",
                Text::Present(before),
                Text::Present(after),
                &[Some("644")],
                &masker,
            )
            .unwrap();
            assert_eq!(secret, "diff not shown: the content holds a secret");
        }
        let binary = shown("/b", Text::Binary, Text::Present("x"), &[], &masker).unwrap();
        assert_eq!(binary, "diff not shown: the content is not text");
    }

    #[test]
    fn large_middles_are_shown_whole_rather_than_matched() {
        let before: String = (0..3000).map(|i| format!("a{i}\n")).collect();
        let after: String = (0..3000).map(|i| format!("b{i}\n")).collect();
        let shown = diff(&before, &after);
        assert_eq!(shown.lines().filter(|l| l.starts_with('-')).count(), 3001);
        assert_eq!(shown.lines().filter(|l| l.starts_with('+')).count(), 3001);
    }

    #[test]
    fn the_read_for_a_diff_is_parsed() {
        assert_eq!(parse_read(b"absent\n"), Some((None, Vec::new())));
        assert_eq!(
            parse_read(b"present 644\nab\n"),
            Some((Some("644".into()), b"ab\n".to_vec()))
        );
        assert_eq!(parse_read(b"what\n"), None);
    }
}
