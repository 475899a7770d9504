//! `ferry completions SHELL` and `ferry man`: generated from the same clap
//! definition that parses the command line, so they cannot fall behind it.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

/// Writes the completion script for `shell` to stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ferry", &mut out);
    super::write_out(&String::from_utf8_lossy(&out));
    Ok(())
}

/// Writes ferry(1) to stdout: the top-level page, with every subcommand's
/// arguments, help and examples in a section of its own.
pub(super) fn man() -> Result<(), Error> {
    let mut command = Cli::command();
    // Built, so that every argument knows how many values it takes.
    command.build();
    let mut out = Vec::new();
    let page = clap_mangen::Man::new(command.clone());
    let write = |e: std::io::Error| Error::Failed(format!("cannot render the manual: {e}"));
    page.render_title(&mut out).map_err(write)?;
    // NAME is `ferry \- what it does`: the about without its `ferry: `.
    let about = command
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let what = about.strip_prefix("ferry: ").unwrap_or(&about);
    out.extend(format!(".SH NAME\nferry \\- {}\n", roff_text(what)).into_bytes());
    page.render_synopsis_section(&mut out).map_err(write)?;
    page.render_description_section(&mut out).map_err(write)?;
    page.render_options_section(&mut out).map_err(write)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(subcommand_section(sub).into_bytes());
    }
    page.render_version_section(&mut out).map_err(write)?;
    super::write_out(&String::from_utf8_lossy(&out));
    Ok(())
}

/// `.SH "FERRY DEPLOY"`: the subcommand's synopsis, about, each argument
/// with its help, and its examples (`after_help`).
fn subcommand_section(sub: &clap::Command) -> String {
    use std::fmt::Write as _;
    let name = sub.get_name();
    let mut out = format!(".SH \"FERRY {}\"\n", name.to_uppercase());
    let usage = sub
        .clone()
        .bin_name(format!("ferry {name}"))
        .render_usage()
        .to_string();
    let usage = usage.trim_start_matches("Usage: ");
    let _ = writeln!(out, ".B {}", roff_text(usage));
    if let Some(about) = sub.get_about() {
        let _ = writeln!(out, ".PP\n{}", roff_text(&about.to_string()));
    }
    for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
        let _ = writeln!(out, ".TP\n{}", roff_text(&arg_heading(arg)));
        if let Some(help) = arg.get_help() {
            let _ = writeln!(out, "{}", roff_text(&help.to_string()));
        }
    }
    if let Some(examples) = sub.get_after_help() {
        let _ = writeln!(out, ".PP\n.nf\n{}\n.fi", roff_text(&examples.to_string()));
    }
    out
}

/// `-l, --limit <PATTERN>`, `<STAGE>`.
fn arg_heading(arg: &clap::Arg) -> String {
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("--{long}"));
    }
    let values = arg
        .get_value_names()
        .map(|v| v.iter().map(|v| format!("<{v}>")).collect::<Vec<_>>())
        .unwrap_or_else(|| vec![format!("<{}>", arg.get_id().as_str().to_uppercase())]);
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    if names.is_empty() {
        values.join(" ")
    } else if takes_value {
        format!("{} {}", names.join(", "), values.join(" "))
    } else {
        names.join(", ")
    }
}

/// Text escaped for roff: backslashes doubled, and a line that starts with
/// `.` or `'` kept from reading as a request.
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_keeps_dots_and_backslashes_literal() {
        assert_eq!(roff_text(".hidden\na\\b"), "\\&.hidden\na\\eb");
    }

    #[test]
    fn a_positional_reads_as_its_value_name() {
        let mut command = Cli::command();
        command.build();
        let deploy = command.find_subcommand("deploy").unwrap();
        let stage = deploy
            .get_arguments()
            .find(|a| a.get_id() == "stage")
            .unwrap();
        assert_eq!(arg_heading(stage), "<STAGE>");
        let limit = deploy
            .get_arguments()
            .find(|a| a.get_id() == "limit")
            .unwrap();
        assert_eq!(arg_heading(limit), "-l, --limit <PATTERN>");
        let dry = deploy
            .get_arguments()
            .find(|a| a.get_id() == "dry_run")
            .unwrap();
        assert_eq!(arg_heading(dry), "--dry-run");
    }
}
