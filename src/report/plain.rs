//! Off a terminal: one timestamped line per event worth seeing, for logs.
//!
//! `2026-11-24T10:15:00.123Z web1 changed: Install requirements (1.2s)`.
//! Failures add their command and the end of their stderr on indented lines
//! below; `-v` adds connections, step starts, output and reasons.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;

use jiff::Timestamp;

use super::recap::{STDERR_TAIL, tail};
use super::{Output, Recap, ReportSink, Verdict, lock, seconds, status_label};
use crate::executor::{Event, Reporter, Status};

/// Writes plain timestamped lines (to stdout, normally).
pub struct Plain {
    state: Mutex<State>,
}

struct State {
    out: Output,
    recap: Recap,
    verbose: bool,
    color: bool,
    finished: bool,
}

impl Plain {
    /// `color` is for the recap table only; the lines are never colored.
    pub fn new(out: Output, verbose: bool, color: bool) -> Self {
        Plain {
            state: Mutex::new(State {
                out,
                recap: Recap::default(),
                verbose,
                color,
                finished: false,
            }),
        }
    }
}

impl Reporter for Plain {
    fn event(&self, event: &Event) {
        let mut state = lock(&self.state);
        state.recap.record(event);
        let text = state.lines(event);
        if !text.is_empty() {
            let _ = state.out.write_all(text.as_bytes());
            let _ = state.out.flush();
        }
    }
}

impl ReportSink for Plain {
    fn finish(&self, verdict: &Verdict) -> Recap {
        let mut state = lock(&self.state);
        if !state.finished {
            state.finished = true;
            let table = state.recap.render(verdict, state.color);
            let _ = write!(state.out, "\n{table}");
            let _ = state.out.flush();
        }
        state.recap.clone()
    }

    fn print(&self, text: &str) {
        let mut state = lock(&self.state);
        let _ = state.out.write_all(text.as_bytes());
        let _ = state.out.flush();
    }
}

impl State {
    /// The lines `event` is worth, each ending in a newline; empty if none.
    fn lines(&self, event: &Event) -> String {
        let mut out = String::new();
        let now = Timestamp::now();
        match event {
            Event::PlayStart { play, hosts } => {
                let s = if hosts.len() == 1 { "" } else { "s" };
                line(
                    &mut out,
                    now,
                    format_args!("play \"{play}\" on {} host{s}", hosts.len()),
                );
            }
            Event::Connected { host, elapsed } if self.verbose => {
                line(
                    &mut out,
                    now,
                    format_args!("{host} connected ({})", seconds(*elapsed)),
                );
            }
            Event::Unreachable { host, error } => {
                line(&mut out, now, format_args!("{host} unreachable: {error}"));
            }
            Event::StepStart {
                host,
                index,
                total,
                name,
                module,
            } if self.verbose => {
                line(
                    &mut out,
                    now,
                    format_args!("{host} start: [{index}/{total}] {name} ({module})"),
                );
            }
            Event::Output {
                host, stderr, text, ..
            } if self.verbose => {
                let stream = if *stderr { "stderr" } else { "stdout" };
                for text in text.lines() {
                    line(&mut out, now, format_args!("{host} {stream}: {text}"));
                }
            }
            Event::StepEnd {
                host,
                name,
                status,
                elapsed,
                reason,
                command,
                rc,
                output,
                diff,
                ignored,
                rescued,
                ..
            } => {
                let mut detail = seconds(*elapsed);
                if let Some(rc) = rc.filter(|_| *status == Status::Failed) {
                    let _ = write!(detail, ", rc {rc}");
                }
                let label = status_label(*status, *ignored, *rescued);
                line(
                    &mut out,
                    now,
                    format_args!("{host} {label}: {name} ({detail})"),
                );
                let failed = *status == Status::Failed;
                // Why it changed (a dry run's "would …", a release's "sent …",
                // a switch's "current: a → b"), why it was skipped or failed;
                // why nothing changed only with -v.
                if let Some(reason) = reason.as_deref().filter(|r| !r.is_empty())
                    && (*status != Status::Ok || self.verbose)
                {
                    indent(&mut out, 4, reason);
                }
                if let Some(command) = command
                    && (failed || self.verbose)
                {
                    indent(&mut out, 4, &format!("command: {command}"));
                }
                if let Some(diff) = diff {
                    indent(&mut out, 4, diff);
                }
                if failed && !output.is_empty() {
                    indent(&mut out, 4, "stderr:");
                    indent(&mut out, 6, &tail(output, STDERR_TAIL).join("\n"));
                } else {
                    // A debug message.
                    indent(&mut out, 4, output);
                }
            }
            Event::HostDone { host, elapsed, .. } => {
                let counts = &self.recap.hosts[host.as_str()];
                let mut text = format!(
                    "{host} done: ok={} changed={} skipped={} failed={}",
                    counts.ok, counts.changed, counts.skipped, counts.failed
                );
                if counts.ignored > 0 {
                    let _ = write!(text, " ignored={}", counts.ignored);
                }
                if counts.rescued > 0 {
                    let _ = write!(text, " rescued={}", counts.rescued);
                }
                line(
                    &mut out,
                    now,
                    format_args!("{text} ({})", seconds(*elapsed)),
                );
            }
            Event::Stopping { forced } => {
                line(
                    &mut out,
                    now,
                    format_args!("{}", Event::stopping_text(*forced)),
                );
            }
            Event::Interrupted { waiting } if waiting.is_empty() => {
                line(&mut out, now, format_args!("interrupted by Ctrl-C"));
            }
            Event::Interrupted { waiting } => {
                line(
                    &mut out,
                    now,
                    format_args!("interrupted by Ctrl-C: {} not finished", waiting.join(", ")),
                );
            }
            Event::Connected { .. }
            | Event::StepStart { .. }
            | Event::Output { .. }
            | Event::RunEnd { .. } => {}
        }
        out
    }
}

/// Appends `text` as a line stamped with `now`.
fn line(out: &mut String, now: Timestamp, text: std::fmt::Arguments) {
    let _ = writeln!(out, "{now:.3} {text}");
}

/// Appends each line of `text` indented by `by` spaces.
fn indent(out: &mut String, by: usize, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{:by$}{line}", "");
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;
    use crate::report::tests::{Capture, SECRET_COMMAND, script, scripted_verdict};

    fn run(verbose: bool) -> (String, Recap) {
        let capture = Capture::default();
        let plain = Plain::new(capture.output(), verbose, false);
        for event in script() {
            plain.event(&event);
        }
        plain.finish(&scripted_verdict());
        (capture.text(), plain.finish(&scripted_verdict()))
    }

    /// The log with each leading timestamp replaced by `TS`.
    fn untimed(text: &str) -> String {
        let stamp = Regex::new(r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ").unwrap();
        assert!(stamp.is_match(text));
        stamp.replace_all(text, "TS ").into_owned()
    }

    #[test]
    fn one_timestamped_line_per_event_worth_seeing() {
        let (text, recap) = run(false);
        let log = untimed(&text);
        let expected = "\
TS play \"Deploy mysite\" on 3 hosts
TS web1 changed: Upload (1.0s)
TS web2 ok: Upload (0.4s)
TS web1 ok: Check (0.3s)
TS web2 failed: Install requirements (1.0s, rc 1)
    command: pip install -r requirements.txt
    stderr:
      line 3
";
        assert!(log.starts_with(expected), "{log}");
        let rest = "      line 12
TS web2 done: ok=1 changed=0 skipped=0 failed=1 (1.5s)
TS web1 skipped: Restart (0.0s)
    `when` is false
TS web1 done: ok=1 changed=1 skipped=1 failed=0 (2.5s)
TS db1 failed, ignored: Migrate (0.1s, rc 2)
    command: psql --password='********' -c migrate
    stderr:
      auth failed for '********'
TS db1 ok: Show version (0.0s)
    version = 1.2
TS db1 done: ok=1 changed=0 skipped=0 failed=0 ignored=1 (0.3s)
TS web3 unreachable: connection refused

host  ok  changed  skipped  failed  ignored  unreachable  time
";
        assert!(log.contains(rest), "{log}");
        assert!(!log.contains("line 2\n"));
        assert!(log.ends_with(&format!("{}\n", scripted_verdict().summary(recap.elapsed))));
    }

    #[test]
    fn verbose_adds_starts_output_and_connections() {
        let (text, _) = run(true);
        let log = untimed(&text);
        assert!(log.contains("TS web1 connected (0.2s)\n"), "{log}");
        assert!(log.contains("TS web2 start: [2/2] Install requirements (command)\n"));
        assert!(log.contains("TS web2 stderr: Collecting flask\n"));
    }

    #[test]
    fn masked_strings_pass_through_unchanged() {
        let (text, _) = run(false);
        assert!(text.contains(SECRET_COMMAND));
        assert!(text.contains("'********'"));
    }

    #[test]
    fn finish_shows_the_recap_once() {
        let capture = Capture::default();
        let plain = Plain::new(capture.output(), false, false);
        for event in script() {
            plain.event(&event);
        }
        let first = plain.finish(&scripted_verdict());
        let again = plain.finish(&scripted_verdict());
        assert_eq!(first.hosts, again.hosts);
        assert_eq!(capture.text().matches("host  ok").count(), 1);
    }
}
