//! ssh_config's patterns: `*` and `?` wildcards, `!` negation, and the
//! lists `Host` and `Match` take (OpenSSH's `match.c`).

/// `text` matches the wildcard `pattern` (`*` any run, `?` one character).
pub(super) fn wildcard(text: &str, pattern: &str) -> bool {
    let (text, pattern): (Vec<char>, Vec<char>) =
        (text.chars().collect(), pattern.chars().collect());
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// A `Host` line: some pattern matches `host` and no negated one does.
/// Case-sensitive, as OpenSSH compares the name as given.
pub(super) fn host_line(host: &str, patterns: &[String]) -> bool {
    let mut matched = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(host, negated) => return false,
            Some(_) => {}
            None => matched |= wildcard(host, pattern),
        }
    }
    matched
}

/// A comma-separated pattern list (`Match host a,b,!c`): some pattern
/// matches and no negated one does. `fold_case` lowercases both sides, as
/// OpenSSH does for host names.
pub(super) fn list(text: &str, list: &str, fold_case: bool) -> bool {
    let text = if fold_case {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let mut matched = false;
    for pattern in list.split(',') {
        let pattern = if fold_case {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(&text, negated) => return false,
            Some(_) => {}
            None => matched |= wildcard(&text, &pattern),
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("web1.example.com", "web*.example.com"));
        assert!(wildcard("web1", "web?"));
        assert!(!wildcard("web12", "web?"));
        assert!(wildcard("", "*"));
        assert!(wildcard("abcabd", "*abd"));
        assert!(!wildcard("web", "db*"));
    }

    #[test]
    fn negation_wins_and_alone_matches_nothing() {
        let patterns = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(host_line("web1", &patterns(&["web*", "!web2"])));
        assert!(!host_line("web2", &patterns(&["web*", "!web2"])));
        assert!(!host_line("db", &patterns(&["!web2"])));
        assert!(!host_line("WEB1", &patterns(&["web*"])));
        assert!(list("WEB1", "db,web*", true));
        assert!(!list("web2", "web*,!web2", true));
    }
}
