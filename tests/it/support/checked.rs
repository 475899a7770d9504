//! A playbook on sshd test hosts (`inventory/test.ini`), run as the
//! issue asks of every module: `--check` first, then for real, then again.

use super::ferry::Project;

/// `(name, status, reason)` of every step that ended, in order.
pub fn ends(events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
            (text("name"), text("status"), text("reason"))
        })
        .collect()
}

/// `ferry playbook FILE -i inventory/test.ini EXTRA…`, which must succeed.
pub fn playbook(project: &Project, file: &str, extra: &[&str]) -> Vec<(String, String, String)> {
    let args = [&["playbook", file, "-i", "inventory/test.ini"][..], extra].concat();
    let (out, events) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let ends = ends(&events);
    assert!(!ends.is_empty(), "{}", out.stdout);
    ends
}

/// `--check`, the run, the run again: `--check` must have said each
/// step's status, and `would X` where the run then said `X`; the second
/// run must change nothing. Returns the run's steps.
pub fn check_run_again(project: &Project, file: &str) -> Vec<(String, String, String)> {
    let check = playbook(project, file, &["--check"]);
    let did = playbook(project, file, &[]);
    assert_eq!(check.len(), did.len(), "{check:?}\n{did:?}");
    for (predicted, done) in check.iter().zip(&did) {
        assert_eq!(predicted.1, done.1, "{predicted:?} / {done:?}");
        if done.1 == "changed" {
            assert_eq!(predicted.2, format!("would {}", done.2));
        }
    }
    let again = playbook(project, file, &[]);
    let changed: Vec<_> = again.iter().filter(|(_, s, _)| s == "changed").collect();
    assert!(
        changed.is_empty(),
        "{file}: a second run changed {changed:?}"
    );
    did
}
