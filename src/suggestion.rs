//! `did you mean`: the closest known name to a misspelt one.

/// The candidate nearest to `wrong`, if it is close enough to be a likely typo.
///
/// Nearest by edit distance counting a swap of neighbours as one edit (the
/// usual typo: `hsots`, `wbe`), at most a third of the word; ties go to the
/// candidate sharing the longer prefix (Jaro-Winkler).
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::osa_distance(wrong, candidate);
            (distance, strsim::jaro_winkler(wrong, candidate), candidate)
        })
        .filter(|(distance, _, _)| *distance <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate)
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
        assert_eq!(closest("wbe", ["web1", "web2", "web"]), Some("web"));
        assert_eq!(closest("taks", ["tags", "tasks"]), Some("tasks"));
    }
}
