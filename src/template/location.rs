//! Where a byte of a template lies in the YAML file it was written in.
//!
//! A template's [`Span`] is the start of its YAML scalar: the opening quote
//! of a quoted scalar, the `|`/`>` indicator of a block scalar, or the first
//! character of a plain one. From there the template's line and column are
//! mapped to the file's, decoding quotes and escapes on the way; then, since
//! folding and escapes make this approximate, the text being pointed at is
//! looked for near the estimate in the file itself.

use crate::diagnostic::Span;

/// The span in the file of `text[start..end]`, where `text` is the value of
/// the scalar at `scalar`.
pub(super) fn locate(scalar: &Span, text: &str, start: usize, end: usize) -> Span {
    let start = floor_boundary(text, start.min(text.len()));
    let end = floor_boundary(text, end.clamp(start, text.len()));
    let needle = &text[start..end];
    let needle = needle.lines().next().unwrap_or("");
    let len = needle.chars().count().max(1) as u32;
    let before = &text[..start];
    let line_index = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count();

    let Some(first) = scalar.source.line(scalar.line) else {
        return scalar.clone();
    };
    let opening = first.chars().nth((scalar.col as usize).saturating_sub(1));
    let (line, col) = match opening {
        Some('|' | '>') => {
            let line = scalar.line + 1 + line_index;
            (line, indent(scalar, line) + 1 + column as u32)
        }
        Some(quote @ ('"' | '\'')) if line_index == 0 => {
            let col = quoted_column(first, scalar.col as usize, quote, column);
            (scalar.line, col as u32)
        }
        _ if line_index == 0 => (scalar.line, scalar.col + column as u32),
        _ => {
            let line = scalar.line + line_index;
            (line, indent(scalar, line) + 1 + column as u32)
        }
    };
    let (line, col) = refine(scalar, text, needle, line, col);
    scalar.moved(line, col, len)
}

/// Where a string that belongs to the value written at `parent` (a module's
/// arguments) was written: the first line at or below `parent` holding the
/// string's first line, or `parent` itself when it cannot be found there.
pub(super) fn find_scalar(parent: &Span, text: &str) -> Span {
    let first = text.lines().next().unwrap_or_default().trim();
    if first.is_empty() {
        return parent.clone();
    }
    for line in parent.line..parent.line.saturating_add(1000) {
        let Some(source) = parent.source.line(line) else {
            break;
        };
        let Some(byte) = source.find(first) else {
            continue;
        };
        let before = &source[..byte];
        let mut col = before.chars().count() as u32 + 1;
        // A quoted scalar's span starts at its quote.
        if before.ends_with(['"', '\'']) {
            col -= 1;
        }
        return parent.moved(line, col, first.chars().count() as u32);
    }
    parent.clone()
}

/// The column (1-based) of the `column`-th value character of a quoted
/// scalar whose opening quote is at column `open` of `line`.
fn quoted_column(line: &str, open: usize, quote: char, column: usize) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let mut at = open; // 0-based index of the first character after the quote
    for _ in 0..column {
        match chars.get(at) {
            Some('\'') if quote == '\'' => at += 2,
            Some('\\') if quote == '"' => {
                at += match chars.get(at + 1) {
                    Some('x') => 4,
                    Some('u') => 6,
                    Some('U') => 10,
                    _ => 2,
                }
            }
            Some(_) => at += 1,
            None => break,
        }
    }
    at + 1
}

/// The indentation of a file line, in characters.
fn indent(scalar: &Span, line: u32) -> u32 {
    scalar
        .source
        .line(line)
        .map_or(0, |text| (text.len() - text.trim_start().len()) as u32)
}

/// Looks for `needle` in the file near the estimate, within the lines the
/// scalar can cover; keeps the estimate when it already points at the needle
/// or the needle is nowhere near.
fn refine(scalar: &Span, text: &str, needle: &str, line: u32, col: u32) -> (u32, u32) {
    if needle.trim().is_empty()
        || at(scalar, line, col).is_some_and(|rest| rest.starts_with(needle))
    {
        return (line, col);
    }
    let last = scalar.line + text.matches('\n').count() as u32 + 2;
    let mut best: Option<(u32, u32, u32)> = None;
    for candidate in scalar.line..=last {
        let Some(source) = scalar.source.line(candidate) else {
            break;
        };
        for (byte, _) in source.match_indices(needle) {
            let found = source[..byte].chars().count() as u32 + 1;
            if candidate == scalar.line && found < scalar.col {
                continue;
            }
            let distance = candidate.abs_diff(line) * 1000 + found.abs_diff(col);
            if best.is_none_or(|(d, _, _)| distance < d) {
                best = Some((distance, candidate, found));
            }
        }
    }
    best.map_or((line, col), |(_, line, col)| (line, col))
}

/// The rest of file line `line` from column `col`.
fn at(scalar: &Span, line: u32, col: u32) -> Option<&str> {
    let text = scalar.source.line(line)?;
    let byte = text
        .char_indices()
        .nth((col as usize).checked_sub(1)?)
        .map(|(byte, _)| byte)?;
    Some(&text[byte..])
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    fn point(file: &str, line: u32, col: u32, text: &str, needle: &str) -> (u32, u32, u32) {
        let scalar = Span::new(Source::new("t.yml", file), line, col, 1);
        let start = text.find(needle).unwrap();
        let span = locate(&scalar, text, start, start + needle.len());
        (span.line, span.col, span.len)
    }

    #[test]
    fn plain_scalar_on_one_line() {
        assert_eq!(
            point("cmd: echo {{ x }}\n", 1, 6, "echo {{ x }}", "x }"),
            (1, 14, 3)
        );
    }

    #[test]
    fn quoted_scalars_skip_quote_and_escapes() {
        let file = "cmd: \"a\\\"b {{ x }}\"\n";
        assert_eq!(point(file, 1, 6, "a\"b {{ x }}", "x"), (1, 15, 1));
        let file = "cmd: 'it''s {{ x }}'\n";
        assert_eq!(point(file, 1, 6, "it's {{ x }}", "x"), (1, 16, 1));
    }

    #[test]
    fn block_scalar_lines_map_to_file_lines() {
        let file = "cmd: |\n  echo a\n  echo {{ x }}\n";
        assert_eq!(point(file, 1, 6, "echo a\necho {{ x }}\n", "x"), (3, 11, 1));
    }

    #[test]
    fn folded_plain_scalar_is_found_by_its_text() {
        let file = "cmd: echo a\n  {{ dbpass }}\n";
        assert_eq!(
            point(file, 1, 6, "echo a {{ dbpass }}", "dbpass"),
            (2, 6, 6)
        );
    }
}
