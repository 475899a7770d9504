//! `did you mean`: the closest known name to a misspelt one.

/// The candidate nearest to `wrong`, if it is close enough to be a likely typo.
///
/// Uses Jaro-Winkler similarity, which favours shared prefixes, the usual
/// shape of a typo in a key or module name (`comand`, `hsots`).
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(wrong, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        assert_eq!(
            closest("comand", ["command", "shell", "copy"]),
            Some("command")
        );
        assert_eq!(closest("hsots", ["hosts", "vars"]), Some("hosts"));
        assert_eq!(closest("zzz", ["hosts", "vars"]), None);
    }
}
