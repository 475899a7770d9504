//! What the command line says about itself: completions, the manual page,
//! `--version`, every argument's help, and `-q`.

use std::process::Command;

use clap::CommandFactory;

use crate::support::ferry::{Project, repo_root};
use crate::support::sshd::TestHosts;
use crate::support::succeed;

/// What bash's completion offers for the words of `line` (the last one is
/// being completed), with the script `ferry completions bash` printed
/// loaded as a user's shell loads it.
fn bash_completes(line: &str) -> Vec<String> {
    let project = Project::new();
    let out = project.ferry(&["completions", "bash"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    project.file("ferry.bash", &out.stdout);
    let words: Vec<&str> = line.split(' ').collect();
    let script = format!(
        r#"source ./ferry.bash
func=$(complete -p ferry | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE={line:?}
COMP_POINT={point}
"$func" ferry {current:?} {previous:?}
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = words
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        point = line.len(),
        current = words[words.len() - 1],
        previous = words[words.len() - 2],
    );
    let text = succeed(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &script])
            .current_dir(project.path()),
    );
    text.lines().map(|l| l.trim().to_string()).collect()
}

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let all = bash_completes("ferry ");
    for sub in [
        "init",
        "deploy",
        "plan",
        "rollback",
        "releases",
        "run",
        "check",
        "unlock",
        "inventory",
        "playbook",
        "completions",
        "man",
    ] {
        assert!(all.iter().any(|w| w == sub), "`{sub}` not offered: {all:?}");
    }
    assert_eq!(bash_completes("ferry dep"), ["deploy"]);
    let flags = bash_completes("ferry deploy --dr");
    assert_eq!(flags, ["--dry-run"]);
    let shells = bash_completes("ferry completions ");
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|w| w == shell), "{shells:?}");
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    for (shell, head) in [("zsh", "#compdef ferry"), ("fish", "complete -c ferry")] {
        let out = Project::new().ferry(&["completions", shell]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(out.stdout.contains(head), "{shell}:\n{}", out.stdout);
        for sub in ["deploy", "rollback", "completions", "man"] {
            assert!(out.stdout.contains(sub), "{shell} lacks `{sub}`");
        }
        // Checked by the shell itself where it is installed.
        if let Ok(status) = Command::new(shell).arg("--version").output()
            && status.status.success()
        {
            let project = Project::new();
            project.file("script", &out.stdout);
            succeed(
                Command::new(shell)
                    .args(["-n", "script"])
                    .current_dir(project.path()),
            );
        }
    }
}

/// `ferry man` renders without a warning from groff, and `man -l` shows
/// each subcommand's section with its arguments and examples.
#[test]
fn man_page_renders_with_every_subcommand() {
    let project = Project::new();
    let out = project.ferry(&["man"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    project.file("ferry.1", &out.stdout);
    let groff = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z", "ferry.1"])
        .current_dir(project.path())
        .output()
        .expect("groff is installed");
    assert!(groff.status.success());
    let warnings = String::from_utf8_lossy(&groff.stderr);
    assert!(warnings.is_empty(), "groff: {warnings}");
    let page = succeed(
        Command::new("man")
            .args(["-l", "ferry.1"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .current_dir(project.path()),
    );
    // man may overstrike bold text: read the letters only.
    let page = strip_overstrike(&page);
    assert!(page.contains("ferry - deploy your apps"), "{page}");
    for section in [
        "FERRY DEPLOY",
        "FERRY PLAN",
        "FERRY MAN",
        "FERRY COMPLETIONS",
    ] {
        assert!(page.contains(section), "no {section}:\n{page}");
    }
    assert!(page.contains("ferry deploy [OPTIONS] <STAGE>"), "{page}");
    assert!(page.contains("--rev <REV>"), "{page}");
    assert!(
        page.contains("ferry deploy staging --rev v1.4.2 -l web1"),
        "{page}"
    );
}

fn strip_overstrike(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[test]
fn version_names_the_commit_of_head() {
    let head = succeed(
        Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(repo_root()),
    );
    let out = Project::new().ferry(&["--version"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("ferry {} ({head})", env!("CARGO_PKG_VERSION"))
    );
}

/// Every argument of every subcommand says what it is for, and every
/// subcommand shows an example of itself in its `--help`.
#[test]
fn every_argument_has_help_and_every_subcommand_examples() {
    let mut command = ferry::cli::Cli::command();
    command.build();
    let mut missing = Vec::new();
    walk(&command, "ferry", &mut missing);
    assert!(missing.is_empty(), "without help: {missing:#?}");
}

fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || id == "help" || id == "version" {
            continue;
        }
        if arg
            .get_help()
            .is_none_or(|h| h.to_string().trim().is_empty())
        {
            missing.push(format!("{path} {id}"));
        }
    }
    for sub in command.get_subcommands() {
        let name = format!("{path} {}", sub.get_name());
        if sub.get_name() == "help" {
            continue;
        }
        if sub.get_about().is_none() {
            missing.push(format!("{name}: about"));
        }
        let examples = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !examples.contains(&format!("{name} ")) && !examples.contains(&format!("{name}\n")) {
            missing.push(format!("{name}: an example in after_help"));
        }
        walk(sub, &name, missing);
    }
}

/// The examples are shown by `--help` itself.
#[test]
fn help_shows_the_examples() {
    let out = Project::new().ferry(&["run", "--help"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Examples:\n  ferry run production -- uptime"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("<STAGE>") && l.contains("The stage: ")),
        "{}",
        out.stdout
    );
}

/// `-q`: no step lines and no recap table; the command's own report (each
/// host's output), each error, and the verdict's line.
#[test]
fn quiet_shows_only_errors_and_the_verdict() {
    let hosts = TestHosts::start(2);
    let project = Project::with_hosts(&hosts);
    let out = project.ferry(&[
        "run",
        "test",
        "-q",
        "--",
        "echo hi from {{ inventory_hostname }}",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    for (n, h) in hosts.hosts.iter().enumerate() {
        assert_eq!(lines[2 * n], format!("── {} (rc 0) ──", h.name));
        assert_eq!(lines[2 * n + 1], format!("hi from {}", h.name));
    }
    assert!(
        lines[4].starts_with("2 hosts succeeded ("),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");

    let playbook = "- hosts: all\n  tasks:\n    - name: fail on one\n      command: \"false\"\n      when: inventory_hostname == '{}'\n    - name: true\n      command: \"true\"\n";
    project.file("site.yml", &playbook.replace("{}", &hosts.hosts[1].name));
    let out = project.ferry(&["playbook", "site.yml", "-i", "inventory/test.ini", "-q"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let failed = format!(
        "{}: step \"fail on one\" failed (rc 1)",
        hosts.hosts[1].name
    );
    assert!(out.stdout.starts_with(&failed), "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "1 of 2 hosts did not succeed: {} failed (",
            hosts.hosts[1].name
        )),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("changed"), "no table: {}", out.stdout);
    assert!(!out.stdout.contains(&hosts.hosts[0].name), "{}", out.stdout);

    let out = project.ferry(&["run", "test", "-q", "--json", "--", "true"]);
    assert_eq!(out.status, 2, "-q and --json conflict: {}", out.stderr);
}
