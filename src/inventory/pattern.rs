//! Host patterns — a play's `hosts:` and `--limit` — resolved as Ansible's
//! `InventoryManager.get_hosts` resolves them.
//!
//! A pattern is split on `,` (or, when it is not one host address, on `:`);
//! the plain parts are unioned first, then `&` parts intersect and `!` parts
//! exclude, whatever their order. Each part is an exact host name, or a name,
//! glob (`web*`, `db-0?`) or regex (`~web\d+`) matched against group names
//! (a matching group contributes all its hosts) and, for a glob or regex or
//! when no group matched, against host names; `all` and `*` match all
//! hosts. A part may end with a subscript: `web[0]`, `web[-1]`, `web[1:2]`.
//!
//! Where Ansible warns that a part matches nothing and carries on, ferry
//! stops: a misspelt group would otherwise deploy to fewer hosts than meant.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::{Inventory, range};
use crate::diagnostic::{Diagnostic, Span};

static SUBSCRIPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").unwrap());
static COLON_PARTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").unwrap());

/// One part of a pattern and where it starts (in characters).
struct Part {
    text: String,
    offset: usize,
}

pub(crate) fn select(
    inventory: &Inventory,
    pattern: &str,
    span: Option<&Span>,
) -> Result<Vec<String>, Diagnostic> {
    let locate = |offset: usize, len: usize| -> Option<Span> {
        let span = span?;
        if span.len as usize == pattern.chars().count() {
            Some(span.moved(span.line, span.col + offset as u32, len.max(1) as u32))
        } else {
            Some(span.clone())
        }
    };
    let error = |message: String, offset: usize, len: usize| match locate(offset, len) {
        Some(span) => Diagnostic::new(message, span),
        None => Diagnostic::plain(message),
    };

    let parts = split(pattern);
    if parts.is_empty() {
        return Err(error(
            "empty host pattern".into(),
            0,
            pattern.chars().count(),
        ));
    }
    // Unions first, then intersections, then exclusions.
    let mut ordered: Vec<&Part> = parts
        .iter()
        .filter(|p| !p.text.starts_with(['&', '!']))
        .collect();
    let only_filters = ordered.is_empty();
    ordered.extend(parts.iter().filter(|p| p.text.starts_with('&')));
    ordered.extend(parts.iter().filter(|p| p.text.starts_with('!')));
    let all = Part {
        text: "all".into(),
        offset: 0,
    };
    if only_filters {
        ordered.insert(0, &all);
    }

    let mut hosts: Vec<usize> = Vec::new();
    for part in ordered {
        if let Some(&h) = inventory.host_index.get(&part.text) {
            hosts.push(h);
            continue;
        }
        let (sign, body) = match part.text.chars().next() {
            Some(c @ ('&' | '!')) => (Some(c), &part.text[1..]),
            _ => (None, part.text.as_str()),
        };
        let body_offset = part.offset + usize::from(sign.is_some());
        let len = body.chars().count();
        let matched = one(inventory, body).map_err(|m| error(m, body_offset, len))?;
        let Some(matched) = matched else {
            let message = if is_glob(body) {
                format!("pattern `{body}` matches no host")
            } else {
                format!("unknown host or group `{body}`")
            };
            let names = inventory.hosts().chain(inventory.groups());
            return Err(error(message, body_offset, len).suggest(body, names));
        };
        let matched_set: HashSet<usize> = matched.iter().copied().collect();
        let in_matched = |h: &usize| matched_set.contains(h);
        match sign {
            Some('!') => hosts.retain(|h| !in_matched(h)),
            Some(_) => hosts.retain(in_matched),
            None => {
                let existing: HashSet<usize> = hosts.iter().copied().collect();
                hosts.extend(matched.iter().filter(|h| !existing.contains(h)));
            }
        }
    }
    let mut seen = HashSet::new();
    Ok(hosts
        .into_iter()
        .filter(|&h| seen.insert(h))
        .map(|h| inventory.hosts[h].name.clone())
        .collect())
}

fn is_glob(text: &str) -> bool {
    text.starts_with('~') || text.contains(['*', '?', '['])
}

/// Ansible's `split_host_pattern`.
fn split(pattern: &str) -> Vec<Part> {
    let raw: Vec<(usize, &str)> = if pattern.contains(',') {
        let mut start = 0;
        pattern
            .split(',')
            .map(|piece| {
                let at = start;
                start += piece.len() + 1;
                (at, piece)
            })
            .collect()
    } else if range::is_address(pattern.trim()) {
        vec![(0, pattern)]
    } else {
        COLON_PARTS
            .find_iter(pattern)
            .map(|m| (m.start(), m.as_str()))
            .collect()
    };
    raw.into_iter()
        .filter_map(|(byte, piece)| {
            let text = piece.trim();
            if text.is_empty() {
                return None;
            }
            let lead = piece.len() - piece.trim_start().len();
            let offset = pattern[..byte + lead].chars().count();
            Some(Part {
                text: text.to_string(),
                offset,
            })
        })
        .collect()
}

/// The hosts one part (without `&`/`!`) matches; `None` when it names
/// nothing at all. `Err` is a message about the part itself.
fn one(inventory: &Inventory, part: &str) -> Result<Option<Vec<usize>>, String> {
    let (expr, subscript) = subscript(part)?;
    let Some(hosts) = enumerate(inventory, expr)? else {
        return Ok(None);
    };
    let Some((start, end)) = subscript else {
        return Ok(Some(hosts));
    };
    if hosts.is_empty() {
        return Ok(Some(hosts));
    }
    let len = hosts.len() as i64;
    let out_of_range = || format!("no host matches the subscripted pattern `{part}`");
    match end {
        // Python's `hosts[start:end + 1]`, with -1 meaning "to the last".
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            let (from, to) = (
                start.clamp(0, len) as usize,
                (end + 1).clamp(0, len) as usize,
            );
            Ok(Some(if from < to {
                hosts[from..to].to_vec()
            } else {
                Vec::new()
            }))
        }
        _ => {
            let index = if start < 0 { start + len } else { start };
            if !(0..len).contains(&index) {
                return Err(out_of_range());
            }
            Ok(Some(vec![hosts[index as usize]]))
        }
    }
}

/// Splits `web[1:2]` into `web` and `(1, Some(2))`; `web[0]` into `(0, None)`.
#[allow(clippy::type_complexity)]
fn subscript(part: &str) -> Result<(&str, Option<(i64, Option<i64>)>), String> {
    if part.starts_with('~') {
        return Ok((part, None));
    }
    let Some(caps) = SUBSCRIPT.captures(part) else {
        return Ok((part, None));
    };
    let expr = caps.get(1).unwrap().as_str();
    let number = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("subscript in `{part}` is too large"))
    };
    if let Some(index) = caps.get(2) {
        return Ok((expr, Some((number(index.as_str())?, None))));
    }
    let start = number(&caps[3])?;
    let end = match &caps[5] {
        "" => -1,
        end => number(end)?,
    };
    Ok((expr, Some((start, Some(end)))))
}

/// Ansible's `_enumerate_matches`: hosts of matching groups, then matching
/// hosts. Duplicates are kept (a subscript counts them, as in Ansible).
fn enumerate(inventory: &Inventory, expr: &str) -> Result<Option<Vec<usize>>, String> {
    let matcher = matcher(expr)?;
    let mut results = Vec::new();
    let mut any_group = false;
    for (g, group) in inventory.groups.iter().enumerate() {
        if matcher.is_match(&group.name) {
            any_group = true;
            results.extend(inventory.hosts_of_group(g));
        }
    }
    if !any_group || expr.starts_with('~') || expr.contains(['.', '?', '*', '[']) {
        for (h, host) in inventory.hosts.iter().enumerate() {
            if matcher.is_match(&host.name) {
                results.push(h);
            }
        }
    }
    if results.is_empty() && !any_group && expr != "all" {
        return Ok(None);
    }
    Ok(Some(results))
}

/// A regex for `~regex` (anchored at the start, as Python's `re.match`) or
/// for a shell glob (anchored at both ends, as `fnmatch`).
fn matcher(expr: &str) -> Result<Regex, String> {
    let source = match expr.strip_prefix('~') {
        Some(re) => format!("^(?:{re})"),
        None => format!("^(?s:{})$", glob_to_regex(expr)),
    };
    Regex::new(&source).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_string();
        format!("invalid regex in host pattern `{expr}`: {last}")
    })
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let mut class: String = chars[i..j].iter().collect();
                i = j + 1;
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                let class = class.replace('\\', "\\\\").replace('[', "\\[");
                out.push('[');
                out.push_str(&class);
                out.push(']');
            }
            _ => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Source;

    fn inventory() -> Inventory {
        let source = Source::new(
            "hosts.ini",
            "[web]\nweb01\nweb02\nweb03\n[db]\ndb1\ndb2\n[prod:children]\nweb\ndb\n[staging]\nweb03\nstage1\n",
        );
        super::super::ini::parse(&source).unwrap()
    }

    fn select(pattern: &str) -> Vec<String> {
        inventory().select(pattern, None).unwrap()
    }

    #[test]
    fn patterns_resolve_as_in_ansible() {
        assert_eq!(select("web"), ["web01", "web02", "web03"]);
        assert_eq!(select("db:web01"), ["db1", "db2", "web01"]);
        assert_eq!(select("web0?,db2"), ["web01", "web02", "web03", "db2"]);
        assert_eq!(select("prod:&staging"), ["web03"]);
        assert_eq!(select("!db:prod"), ["web01", "web02", "web03"]);
        assert_eq!(select("~web0[12]"), ["web01", "web02"]);
        assert_eq!(select("all:!prod"), ["stage1"]);
        assert_eq!(select("*").len(), 6);
        assert_eq!(select("web[1:]"), ["web02", "web03"]);
        assert_eq!(select("web[-1]"), ["web03"]);
        // `all` lists `staging` (a root group) before `prod`'s children.
        assert_eq!(select("!web"), ["stage1", "db1", "db2"]);
    }

    #[test]
    fn unknown_names_are_errors_with_a_suggestion() {
        let source = Source::new("deploy.yml", "- hosts: web:dbb\n");
        let span = Span::new(source, 1, 10, 7);
        let err = inventory().select("web:dbb", Some(&span)).unwrap_err();
        assert_eq!(err.message, "unknown host or group `dbb`");
        let at = err.span.clone().unwrap();
        assert_eq!((at.line, at.col, at.len), (1, 14, 3));
        assert_eq!(err.help.as_deref(), Some("did you mean `db`?"));
        let err = inventory().select("app*", None).unwrap_err();
        assert_eq!(err.to_string(), "pattern `app*` matches no host");
        let err = inventory().select("web[7]", None).unwrap_err();
        assert_eq!(
            err.message,
            "no host matches the subscripted pattern `web[7]`"
        );
    }
}
