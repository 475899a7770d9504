//! ferry's `--json` output checked against the documented schema
//! (docs/events.schema.json): every line of every `--json` run that the
//! tests make through [`super::ferry::run_ferry`].

use std::sync::OnceLock;

use serde_json::Value;

use super::ferry::repo_root;

/// The schema, compiled once per test process.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = repo_root().join("docs/events.schema.json");
        let text = std::fs::read_to_string(&path).expect("docs/events.schema.json");
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the schema compiles")
    })
}

/// The command line asks for `--json` (before any `--` that starts a
/// command of its own).
pub fn wants_json(args: &[&str]) -> bool {
    args.iter()
        .take_while(|a| **a != "--")
        .any(|a| *a == "--json")
}

/// Panics, naming the line and what is wrong with it, unless every line of
/// `stdout` is an event the schema allows.
pub fn check_stream(args: &[&str], stdout: &str) {
    for (n, line) in stdout.lines().enumerate() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "`ferry {}` line {}: not JSON ({e}): {line}",
                args.join(" "),
                n + 1
            )
        });
        let errors = errors(&value);
        assert!(
            errors.is_empty(),
            "`ferry {}` line {} breaks docs/events.schema.json:\n{line}\n{}",
            args.join(" "),
            n + 1,
            errors.join("\n")
        );
    }
}

/// What is wrong with `event` by the schema; empty when it is valid.
pub fn errors(event: &Value) -> Vec<String> {
    validator()
        .iter_errors(event)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}
