//! The guard that keeps README.md and the README path in step: the `ferry`
//! commands README.md shows in its code blocks, with their options, and
//! whether a test runs each.

use std::collections::BTreeSet;

pub(super) const README: &str = include_str!("../../../README.md");
/// The walk, whose `walk.ferry(&[…])` calls the guard reads.
const WALK: &str = include_str!("mod.rs");
/// The push-to-deploy test on real servers: its `pusher.ferry(&[…])` calls
/// count as run (the walk's loopback hosts share this machine's home).
const PUSH: &str = include_str!("../servers/push.rs");
/// The demo, which `demo.rs` runs: its `ferry ARGS` lines count as run.
const DEMO: &str = include_str!("../../../examples/demo.sh");

/// A `ferry` command shown in one of README.md's code blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shown {
    /// README.md's line, for the message.
    line: usize,
    text: String,
    subcommand: String,
    /// Its options as shown (`--offline`, `-i`), without their values.
    options: Vec<String>,
}

/// Every `ferry …` command in README.md's fenced code blocks (a line that
/// starts with `ferry`, or has it after `&&` or `;`), comments left out.
pub(super) fn readme_commands(readme: &str) -> Vec<Shown> {
    let mut shown = Vec::new();
    let mut fenced = false;
    for (n, line) in readme.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            continue;
        }
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        for part in code.split("&&").flat_map(|p| p.split(';')) {
            let part = part.trim();
            let Some(rest) = part.strip_prefix("ferry ") else {
                continue;
            };
            let words = shlex::split(rest).unwrap_or_default();
            let mut words = words.iter().peekable();
            let mut subcommand = None;
            let mut options = Vec::new();
            while let Some(word) = words.next() {
                if word == "--" {
                    break;
                }
                if word == "-C" {
                    words.next();
                } else if word.starts_with('-') {
                    options.push(word.clone());
                } else if subcommand.is_none() {
                    subcommand = Some(word.clone());
                }
            }
            if let Some(subcommand) = subcommand {
                shown.push(Shown {
                    line: n + 1,
                    text: part.to_string(),
                    subcommand,
                    options,
                });
            }
        }
    }
    shown
}

/// `(subcommand, option)` of a run of `ferry ARGS`: `("deploy", "")` for the
/// subcommand itself and one more pair per option before `--`.
pub(super) fn exercised(args: &[&str]) -> Vec<(String, String)> {
    let mut args = args.iter().peekable();
    if args.peek() == Some(&&"-C") {
        args.nth(1);
    }
    let Some(subcommand) = args.next() else {
        return Vec::new();
    };
    let mut pairs = vec![(subcommand.to_string(), String::new())];
    for arg in args.take_while(|a| **a != "--") {
        if arg.starts_with('-') {
            pairs.push((subcommand.to_string(), arg.to_string()));
        }
    }
    pairs
}

/// What README.md shows that `ran` lacks, one line each, but for the
/// `(subcommand, option)` pairs in `exempt`.
pub(super) fn missing_from(
    shown: &[Shown],
    ran: &BTreeSet<(String, String)>,
    exempt: &[(&str, &str)],
) -> Vec<String> {
    let mut missing = Vec::new();
    for command in shown {
        let wanted = std::iter::once(String::new()).chain(command.options.iter().cloned());
        for option in wanted {
            let pair = (command.subcommand.clone(), option.clone());
            let exempted = exempt.iter().any(|(s, o)| *s == pair.0 && *o == pair.1);
            if !ran.contains(&pair) && !exempted {
                let run = format!("ferry {} {option}", command.subcommand);
                missing.push(format!(
                    "README.md:{}: `{}`: never runs `{}`",
                    command.line,
                    command.text,
                    run.trim_end()
                ));
            }
        }
    }
    missing
}

/// The guard that needs no host: every command README.md shows (with the
/// options it shows) is in a `walk.ferry(&[…])` of the walk (mod.rs).
#[test]
fn every_command_the_readme_shows_is_on_the_newcomer_path() {
    let shown = readme_commands(README);
    for expected in ["plan", "deploy", "rollback", "init", "unlock", "playbook"] {
        assert!(
            shown.iter().any(|c| c.subcommand == expected),
            "the guard finds no `ferry {expected}` in README.md: is it still parsing its code blocks?"
        );
    }
    // The argument lists of the walk's `walk.ferry`, `ferry_in`,
    // `changes_nothing` and `spawn_ferry` calls.
    let mut ran = BTreeSet::new();
    let calls = regex::Regex::new(
        r#"\b(?:ferry|ferry_in|spawn_ferry|changes_nothing)\((?:[^,()]+,\s*)?&\[([^\]]*)\]"#,
    )
    .unwrap();
    let literal = regex::Regex::new(r#""([^"]*)""#).unwrap();
    for call in calls.captures_iter(WALK).chain(calls.captures_iter(PUSH)) {
        let args: Vec<&str> = literal
            .captures_iter(&call[1])
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        ran.extend(exercised(&args));
    }
    for line in DEMO.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("ferry ") {
            let words = shlex::split(rest).unwrap_or_default();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            ran.extend(exercised(&words));
        }
    }
    let missing = missing_from(&shown, &ran, &[]);
    assert!(
        missing.is_empty(),
        "README.md shows commands no README path test runs:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_command_the_readme_shows_and_no_test_runs_is_named_with_its_line() {
    let shown =
        readme_commands("```\nferry deploy prod --rev v1   # a tag\nferry releases prod\n```\n");
    let ran: BTreeSet<(String, String)> = exercised(&["deploy", "local"])
        .into_iter()
        .chain(exercised(&["rollback", "local", "--rev", "x"]))
        .collect();
    assert_eq!(
        missing_from(&shown, &ran, &[]),
        [
            "README.md:2: `ferry deploy prod --rev v1`: never runs `ferry deploy --rev`",
            "README.md:3: `ferry releases prod`: never runs `ferry releases`",
        ]
    );
    assert_eq!(
        missing_from(&shown, &ran, &[("deploy", "--rev"), ("releases", "")]),
        Vec::<String>::new()
    );
}

#[test]
pub(super) fn readme_commands_are_read_from_code_blocks_with_their_options() {
    let text = "ferry deploy prod\n```\nferry plan prod --offline   # no hosts\ncd x && ferry init\nferry -C dir run prod --limit 'a:!b' -- df -h /\n```\n";
    let shown = readme_commands(text);
    let got: Vec<(&str, Vec<&str>)> = shown
        .iter()
        .map(|c| {
            (
                c.subcommand.as_str(),
                c.options.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("plan", vec!["--offline"]),
            ("init", vec![]),
            ("run", vec!["--limit"]),
        ]
    );
    assert_eq!(
        exercised(&["run", "local", "--limit", "web1", "--", "df", "-h"]),
        vec![
            ("run".to_string(), String::new()),
            ("run".to_string(), "--limit".to_string())
        ]
    );
}
