//! Which tasks `--tags` and `--skip-tags` select, as Ansible decides
//! (`Taggable.evaluate_tags`): with no `--tags` every task runs except
//! those tagged `never`; `always` runs whatever `--tags` says unless it is
//! skipped by name; `all`, `tagged` and `untagged` select as their names
//! say. Applied while compiling, so `set_fact` and `include_vars` follow
//! the selection too; handlers are not filtered (they run when notified).

/// The tags given on the command line.
#[derive(Debug, Clone, Default)]
pub struct TagFilter {
    /// `--tags`: empty means `all`.
    pub only: Vec<String>,
    /// `--skip-tags`.
    pub skip: Vec<String>,
}

impl TagFilter {
    /// Whether a task with `tags` runs.
    pub fn selects(&self, tags: &[String]) -> bool {
        let untagged = ["untagged".to_string()];
        let tags: &[String] = if tags.is_empty() { &untagged } else { tags };
        let has = |list: &[String], tag: &str| list.iter().any(|t| t == tag);
        let meets = |list: &[String]| tags.iter().any(|t| has(list, t));
        let all = ["all".to_string()];
        let only: &[String] = if self.only.is_empty() {
            &all
        } else {
            &self.only
        };
        let is_untagged = tags == untagged;
        let run = has(tags, "always")
            || (has(only, "all") && !has(tags, "never"))
            || meets(only)
            || (has(only, "tagged") && !is_untagged && !has(tags, "never"));
        if !run || self.skip.is_empty() {
            return run;
        }
        if has(&self.skip, "all") {
            return has(tags, "always") && !has(&self.skip, "always");
        }
        !(meets(&self.skip) || (has(&self.skip, "tagged") && !is_untagged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(only: &[&str], skip: &[&str]) -> TagFilter {
        TagFilter {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: skip.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn runs(f: &TagFilter, tags: &[&str]) -> bool {
        f.selects(&tags.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn with_no_tags_everything_runs_but_never() {
        let f = TagFilter::default();
        assert!(runs(&f, &[]));
        assert!(runs(&f, &["web"]));
        assert!(runs(&f, &["always"]));
        assert!(!runs(&f, &["never"]));
        assert!(!runs(&f, &["never", "debug"]));
    }

    #[test]
    fn tags_select_their_tasks_always_and_named_never() {
        let f = filter(&["web"], &[]);
        assert!(runs(&f, &["web"]));
        assert!(runs(&f, &["always"]));
        assert!(!runs(&f, &["db"]));
        assert!(!runs(&f, &[]));
        assert!(runs(&filter(&["debug"], &[]), &["never", "debug"]));
        assert!(runs(&filter(&["untagged"], &[]), &[]));
        assert!(!runs(&filter(&["untagged"], &[]), &["web"]));
        assert!(runs(&filter(&["tagged"], &[]), &["web"]));
        assert!(!runs(&filter(&["tagged"], &[]), &[]));
        assert!(!runs(&filter(&["tagged"], &[]), &["never"]));
    }

    #[test]
    fn skip_tags_win_and_all_skips_all_but_always() {
        assert!(!runs(&filter(&[], &["web"]), &["web", "db"]));
        assert!(runs(&filter(&[], &["web"]), &["db"]));
        assert!(!runs(&filter(&["web"], &["web"]), &["web"]));
        assert!(runs(&filter(&[], &["all"]), &["always"]));
        assert!(!runs(&filter(&[], &["all"]), &["web"]));
        assert!(!runs(&filter(&[], &["always"]), &["always"]));
        assert!(!runs(&filter(&[], &["tagged"]), &["web"]));
        assert!(runs(&filter(&[], &["tagged"]), &[]));
    }
}
