//! The bad-input corpus: every file in tests/corpus/ is a small project and
//! the exact error ferry must print for it, with its exit status.
//!
//! A case file looks like this:
//!
//! ```text
//! args: plan test --offline        (optional; this is the default)
//! exit: 2                          (optional; this is the default)
//! === deploy.yml
//! - hosts: web
//! === inventory/test.ini           (optional; a default inventory is written)
//! [web]
//! === stderr
//! error: ...
//! ```
//!
//! Run with `FERRY_BLESS=1` to write ferry's actual output into the cases;
//! then read every change in `git diff` before committing it.

use crate::support::ferry::Project;

const DEFAULT_INVENTORY: &str = "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.1\n\n[db]\ndb1 ansible_host=127.0.0.1\n";

struct Case {
    args: Vec<String>,
    exit: i32,
    files: Vec<(String, String)>,
    stderr: String,
    header: String,
}

fn parse(text: &str) -> Case {
    let mut case = Case {
        args: "plan test --offline".split(' ').map(String::from).collect(),
        exit: 2,
        files: Vec::new(),
        stderr: String::new(),
        header: String::new(),
    };
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            if let Some(done) = current.take() {
                case.files.push(done);
            }
            current = Some((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = &mut current {
            body.push_str(line);
        } else {
            case.header.push_str(line);
            if let Some(args) = line.strip_prefix("args:") {
                case.args = args.split_whitespace().map(String::from).collect();
            } else if let Some(exit) = line.strip_prefix("exit:") {
                case.exit = exit.trim().parse().expect("exit status");
            }
        }
    }
    if let Some(done) = current.take() {
        case.files.push(done);
    }
    if let Some(pos) = case.files.iter().position(|(name, _)| name == "stderr") {
        case.stderr = case.files.remove(pos).1;
    }
    case
}

fn render(case: &Case, stderr: &str) -> String {
    let mut out = case.header.clone();
    for (name, body) in &case.files {
        out.push_str(&format!("=== {name}\n{body}"));
    }
    out.push_str(&format!("=== stderr\n{stderr}"));
    out
}

#[test]
fn every_bad_input_is_reported_with_its_location() {
    let dir = crate::support::ferry::repo_root().join("tests/corpus");
    let bless = std::env::var_os("FERRY_BLESS").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "the corpus has only {} cases",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let case = parse(&text);
        let project = Project::new();
        if !case.files.iter().any(|(n, _)| n.starts_with("inventory/")) {
            project.file("inventory/test.ini", DEFAULT_INVENTORY);
        }
        for (name, body) in &case.files {
            project.file(name, body);
        }
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let out = project.ferry(&args);
        let name = path.file_name().unwrap().to_string_lossy();
        if bless {
            std::fs::write(path, render(&case, &out.stderr)).unwrap();
            continue;
        }
        if out.status != case.exit || out.stderr != case.stderr {
            failures.push(format!(
                "{name}: exit {} (want {})\n--- got stderr:\n{}--- want stderr:\n{}",
                out.status, case.exit, out.stderr, case.stderr
            ));
        }
        assert!(
            !out.stderr.contains("panicked"),
            "{name}: ferry panicked:\n{}",
            out.stderr
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn case_files_round_trip() {
    let text = "args: plan x\n=== deploy.yml\n- hosts: web\n=== stderr\nerror: boom\n";
    let case = parse(text);
    assert_eq!(case.args, ["plan", "x"]);
    assert_eq!(
        case.files,
        [("deploy.yml".to_string(), "- hosts: web\n".to_string())]
    );
    assert_eq!(render(&case, &case.stderr), text);
}
