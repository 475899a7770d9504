//! Host names with ranges and a port, as an inventory writes them:
//! `web[01:20]` (zero-padded), `web[1:9:2]` (with a step), `db-[a:c]`
//! (letters), several ranges in one name, and `host:2222`.
//!
//! As in Ansible, the port is split off only when what precedes it is a
//! valid host name, IPv4 or `[IPv6]` address; each `[...]` is then expanded
//! in turn from the left. Unlike Ansible, a range that yields no host
//! (`[05:01]`) is an error rather than a silently empty group, and one name
//! stands for at most [`MAX_HOSTS`] hosts: a typo such as `web[1:999999999]`
//! is an error at its range, counted before any name is made, rather than
//! an allocation that takes the machine down.

/// The most hosts one name with ranges may stand for.
pub(crate) const MAX_HOSTS: u64 = 100_000;

/// Why a host pattern is invalid, and which characters (offset and length,
/// in characters within the pattern) to point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
}

/// The host names a pattern stands for, and its port if it has one.
pub(crate) fn expand(pattern: &str) -> Result<(Vec<String>, Option<u16>), RangeError> {
    let (host, port) = split_port(pattern)?;
    if !host.contains('[') {
        return Ok((vec![host.to_string()], port));
    }
    let mut names = Vec::new();
    expand_into(host, 0, 1, &mut names)?;
    Ok((names, port))
}

/// Whether `pattern` is one host address, maybe with ranges and a port (as
/// Ansible's `parse_address(allow_ranges=True)` accepts it).
pub(crate) fn is_address(pattern: &str) -> bool {
    let host = match split_port(pattern) {
        Ok((host, _)) => host,
        Err(_) => return true,
    };
    is_hostname(host) || is_ipv4(host) || is_ipv6(host)
}

/// Splits `name:port` (or `[v6]:port`) when the host part is a valid address.
fn split_port(pattern: &str) -> Result<(&str, Option<u16>), RangeError> {
    let (host, digits) = match pattern.rsplit_once(':') {
        Some((host, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (host, digits)
        }
        _ => return Ok((pattern, None)),
    };
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) if !inner.is_empty() && !is_hostname(host) => inner,
        _ if unbalanced_brackets(host) => return Ok((pattern, None)),
        _ => host,
    };
    if !(is_hostname(host) || is_ipv4(host) || is_ipv6(host)) {
        return Ok((pattern, None));
    }
    let port = digits.parse().map_err(|_| RangeError {
        message: format!("port `{digits}` is out of range"),
        offset: pattern.chars().count() - digits.chars().count(),
        len: digits.chars().count(),
    })?;
    Ok((host, Some(port)))
}

fn unbalanced_brackets(text: &str) -> bool {
    let mut open = false;
    for c in text.chars() {
        match c {
            '[' if open => return true,
            '[' => open = true,
            ']' if !open => return true,
            ']' => open = false,
            _ => {}
        }
    }
    open
}

/// A DNS-like name whose labels may contain ranges, as Ansible accepts it.
fn is_hostname(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|label| {
            let mut chars = label.chars().peekable();
            let mut first = true;
            let mut last = ' ';
            while let Some(c) = chars.next() {
                if c == '[' {
                    let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                    if !is_range(&inner) {
                        return false;
                    }
                    last = ']';
                } else if c.is_alphanumeric() || c == '_' || (c == '-' && !first) {
                    last = c;
                } else {
                    return false;
                }
                first = false;
            }
            !first && last != '-' && last != '_'
        })
}

/// `a:z` or `0:9`, with an optional numeric `:step`.
fn is_range(inner: &str) -> bool {
    let parts: Vec<&str> = inner.split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let letter = |s: &str| s.len() == 1 && s.bytes().all(|b| b.is_ascii_alphabetic());
    (parts.len() == 2 || (parts.len() == 3 && digits(parts[2])))
        && ((digits(parts[0]) && digits(parts[1])) || (letter(parts[0]) && letter(parts[1])))
}

fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            p.strip_prefix('[')
                .and_then(|p| p.strip_suffix(']'))
                .map_or_else(
                    || p.len() <= 3 && p.parse::<u8>().is_ok(),
                    |r| is_range(r) && r.bytes().all(|b| b.is_ascii_digit() || b == b':'),
                )
        })
}

fn is_ipv6(text: &str) -> bool {
    text.matches(':').count() >= 2
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '[' | ']'))
}

/// Expands the first `[...]` of `name` (which starts at character `base` of
/// the whole pattern) and recurses on what remains. `outer` is how many
/// names the ranges before it make (1 for the first).
fn expand_into(
    name: &str,
    base: usize,
    outer: u128,
    out: &mut Vec<String>,
) -> Result<(), RangeError> {
    let chars: Vec<char> = name.chars().collect();
    let open = chars.iter().position(|&c| c == '[');
    let close = chars.iter().position(|&c| c == ']');
    let (Some(open), Some(close)) = (open, close) else {
        return Err(RangeError {
            message: format!("unclosed range in `{name}`"),
            offset: base + open.unwrap_or(0),
            len: 1,
        });
    };
    if close < open {
        return Err(RangeError {
            message: format!("`]` without `[` in `{name}`"),
            offset: base + close,
            len: 1,
        });
    }
    let head: String = chars[..open].iter().collect();
    let inner: String = chars[open + 1..close].iter().collect();
    let tail: String = chars[close + 1..].iter().collect();
    let error = |message: String| RangeError {
        message,
        offset: base + open,
        len: close - open + 1,
    };
    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(error(format!(
            "invalid range `[{inner}]`: expected `[start:end]` or `[start:end:step]`"
        )));
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(error(format!("invalid range `[{inner}]`: it has no end")));
    }
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => match s.trim().parse() {
            Ok(0) | Err(_) => {
                return Err(error(format!(
                    "invalid range `[{inner}]`: the step must be a positive integer"
                )));
            }
            Ok(n) => n,
        },
    };
    let width = if begin.len() > 1 && begin.starts_with('0') {
        if begin.len() != end.len() {
            return Err(error(format!(
                "invalid range `[{inner}]`: a zero-padded start and its end must have the same length"
            )));
        }
        begin.len()
    } else {
        0
    };
    let check = |count: u128| {
        if outer * count <= u128::from(MAX_HOSTS) {
            return Ok(());
        }
        let many = if outer == 1 {
            format!("range `[{inner}]` makes {count} hosts")
        } else {
            format!(
                "range `[{inner}]` makes {count} hosts for each of the {outer} before it, {} in all",
                outer * count
            )
        };
        Err(error(format!(
            "{many}: one name may stand for at most {MAX_HOSTS}"
        )))
    };
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let values: Vec<String> = match (LETTERS.find(begin), LETTERS.find(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err(error(format!(
                    "invalid range `[{inner}]`: `{begin}` comes after `{end}`"
                )));
            }
            check(((e - b) / step + 1) as u128)?;
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let parse = |s: &str| s.trim().replace('_', "").parse::<i64>().ok();
            let (Some(b), Some(e)) = (parse(begin), parse(end)) else {
                return Err(error(format!(
                    "invalid range `[{inner}]`: expected two numbers or two letters"
                )));
            };
            if b > e {
                return Err(error(format!(
                    "invalid range `[{inner}]`: its start is after its end"
                )));
            }
            // Counted before any name is made; `e - b` fits in a u128.
            check((e as i128 - b as i128) as u128 / step as u128 + 1)?;
            (b..=e)
                .step_by(step)
                .map(|v| format!("{v:0width$}"))
                .collect()
        }
    };
    let outer = outer * values.len() as u128;
    for value in values {
        let name = format!("{head}{value}{tail}");
        if tail.contains('[') {
            // Errors below point into the tail, which the expanded value
            // (shorter than its `[...]`) moved left.
            let base = base + (close + 1 - open) - value.chars().count();
            expand_into(&name, base, outer, out)?;
        } else {
            out.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pattern: &str) -> Vec<String> {
        expand(pattern).unwrap().0
    }

    #[test]
    fn ranges_expand_as_in_ansible() {
        assert_eq!(names("web[01:03]"), ["web01", "web02", "web03"]);
        assert_eq!(names("web[1:9:4]"), ["web1", "web5", "web9"]);
        assert_eq!(names("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(names("h[1:2]x[a:b]"), ["h1xa", "h1xb", "h2xa", "h2xb"]);
        assert_eq!(names("h[:1]"), ["h0", "h1"]);
        assert_eq!(
            expand("web[1:2].example.com:2222").unwrap(),
            (
                vec![
                    "web1.example.com".to_string(),
                    "web2.example.com".to_string()
                ],
                Some(2222)
            )
        );
        assert_eq!(expand("10.0.0.1:22").unwrap().1, Some(22));
        assert_eq!(
            expand("[::1]:22").unwrap(),
            (vec!["::1".to_string()], Some(22))
        );
    }

    #[test]
    fn bad_ranges_are_errors_pointing_at_the_range() {
        let err = expand("web[05:01]").unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.offset, err.len),
            ("invalid range `[05:01]`: its start is after its end", 3, 7)
        );
        let err = expand("web[a:1]").unwrap_err();
        assert_eq!(
            err.message,
            "invalid range `[a:1]`: expected two numbers or two letters"
        );
        assert!(expand("web[1:]").unwrap_err().message.contains("no end"));
        assert!(
            expand("web[01:100]")
                .unwrap_err()
                .message
                .contains("same length")
        );
        let err = expand("h[1:2]x[3:1]").unwrap_err();
        assert_eq!((err.offset, err.len), (7, 5));
    }

    /// `web[1:999999999]` once aborted on a 24 GB allocation.
    #[test]
    fn a_huge_range_is_an_error_at_the_range_not_an_allocation() {
        let err = expand("web[1:999999999]").unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.offset, err.len),
            (
                "range `[1:999999999]` makes 999999999 hosts: one name may stand for at most 100000",
                3,
                13
            )
        );
        let err = expand("h[1:1000]x[1:1000]").unwrap_err();
        assert_eq!(
            err.message,
            "range `[1:1000]` makes 1000 hosts for each of the 1000 before it, 1000000 in all: one name may stand for at most 100000"
        );
        assert_eq!((err.offset, err.len), (10, 8));
        let err = expand("h[-9223372036854775808:9223372036854775807]").unwrap_err();
        assert!(
            err.message.contains("18446744073709551616 hosts"),
            "{err:?}"
        );
        assert_eq!(names("h[1:100000]").len(), 100_000);
        assert_eq!(names("h[0:99999:1000]x[a:j]").len(), 1000);
    }
}
