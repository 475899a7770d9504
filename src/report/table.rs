//! The recap as a table for people: one row per host, then each failure
//! with its command and the end of its stderr, then the verdict's line.

use std::fmt::Write as _;

use super::paint::{Paint, Tone};
use super::recap::{Failure, Recap};
use super::seconds;
use super::verdict::Verdict;

impl Recap {
    /// The recap table, then each failure with its command and the end of its
    /// stderr, then the verdict's line. ANSI colors only if `color`.
    pub fn render(&self, verdict: &Verdict, color: bool) -> String {
        let paint = Paint::new(color);
        let mut out = String::new();
        self.render_table(&paint, &mut out);
        for failure in &self.failures {
            out.push('\n');
            render_failure(failure, &paint, &mut out);
        }
        out.push('\n');
        let line = verdict.summary(self.elapsed);
        let _ = writeln!(out, "{}", paint.paint(&line, verdict_tone(verdict)));
        out
    }

    /// `-q`'s recap: each failure and the verdict's line, without the
    /// table of hosts.
    pub fn render_brief(&self, verdict: &Verdict, color: bool) -> String {
        let paint = Paint::new(color);
        let mut out = String::new();
        // Ignored failures did not stop anything: not errors.
        let errors = self
            .failures
            .iter()
            .filter(|f| !matches!(f, Failure::Step { ignored: true, .. }));
        for failure in errors {
            render_failure(failure, &paint, &mut out);
            out.push('\n');
        }
        let line = verdict.summary(self.elapsed);
        let _ = writeln!(out, "{}", paint.paint(&line, verdict_tone(verdict)));
        out
    }

    fn render_table(&self, paint: &Paint, out: &mut String) {
        let with_ignored = self.hosts.values().any(|h| h.ignored > 0);
        let with_rescued = self.hosts.values().any(|h| h.rescued > 0);
        let mut headers = vec!["ok", "changed", "skipped", "failed"];
        if with_ignored {
            headers.push("ignored");
        }
        if with_rescued {
            headers.push("rescued");
        }
        headers.extend(["unreachable", "time"]);
        let times: Vec<String> = self.hosts.values().map(|h| seconds(h.elapsed)).collect();
        let host_width = self
            .hosts
            .keys()
            .map(|h| h.chars().count())
            .chain([4])
            .max()
            .unwrap_or(4);
        let time_width = times.iter().map(String::len).chain([4]).max().unwrap_or(4);

        let mut header = format!("{:<host_width$}", "host");
        for name in &headers {
            let width = if *name == "time" {
                time_width
            } else {
                name.len()
            };
            let _ = write!(header, "  {name:>width$}");
        }
        let _ = writeln!(out, "{}", paint.bold(&header));

        for ((host, counts), time) in self.hosts.iter().zip(&times) {
            let pad = host_width.saturating_sub(host.chars().count());
            let _ = write!(
                out,
                "{}{}",
                paint.paint(host, counts.tone()),
                " ".repeat(pad)
            );
            let mut cells = vec![
                (counts.ok, Tone::Good),
                (counts.changed, Tone::Changed),
                (counts.skipped, Tone::Plain),
                (counts.failed, Tone::Bad),
            ];
            if with_ignored {
                cells.push((counts.ignored, Tone::Changed));
            }
            if with_rescued {
                cells.push((counts.rescued, Tone::Changed));
            }
            cells.push((usize::from(counts.unreachable), Tone::Bad));
            for ((count, tone), name) in cells.into_iter().zip(&headers) {
                let cell = format!("{count:>width$}", width = name.len());
                let tone = if count == 0 { Tone::Plain } else { tone };
                let _ = write!(out, "  {}", paint.paint(&cell, tone));
            }
            let _ = writeln!(out, "  {time:>time_width$}");
        }
    }
}

/// The colour of the verdict's line.
fn verdict_tone(verdict: &Verdict) -> Tone {
    match verdict {
        Verdict::Success { .. } => Tone::Good,
        Verdict::Interrupted { .. } => Tone::Changed,
        Verdict::Failed { .. } | Verdict::CannotStart { .. } => Tone::Bad,
    }
}

/// `web2: step "Install requirements" failed (rc 1)`, its command, the end
/// of its stderr.
pub(crate) fn render_failure(failure: &Failure, paint: &Paint, out: &mut String) {
    match failure {
        Failure::Unreachable { host, error } => {
            let head = format!("{host}: unreachable");
            let _ = writeln!(out, "{}", paint.paint(&head, Tone::Bad));
            let _ = writeln!(out, "  {error}");
        }
        Failure::HandlersNotRun { host, handlers } => {
            let names: Vec<String> = handlers.iter().map(|h| format!("\"{h}\"")).collect();
            let head = format!("{host}: notified, not run: {}", names.join(", "));
            let _ = writeln!(out, "{}", paint.paint(&head, Tone::Bad));
            let _ = writeln!(
                out,
                "  what they apply is not applied yet, and a later run notifies them only if what notified them changes again: run them by hand (`ferry run`)"
            );
        }
        Failure::Step {
            host,
            step,
            command,
            rc,
            reason,
            stderr,
            ignored,
            rescued,
            ..
        } => {
            let mut head = format!("{host}: step \"{step}\" failed");
            if let Some(rc) = rc {
                let _ = write!(head, " (rc {rc})");
            }
            let tone = if *ignored {
                head.push_str(", ignored");
                Tone::Changed
            } else if *rescued {
                head.push_str(", rescued");
                Tone::Changed
            } else {
                Tone::Bad
            };
            let _ = writeln!(out, "{}", paint.paint(&head, tone));
            if let Some(reason) = reason {
                let _ = writeln!(out, "  {reason}");
            }
            if let Some(command) = command {
                let _ = writeln!(out, "  command: {command}");
            }
            if !stderr.is_empty() {
                let _ = writeln!(out, "  stderr:");
                for line in stderr {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Event;
    use crate::report::tests::{scripted_recap as recap, scripted_verdict as verdict};

    #[test]
    fn renders_an_aligned_table_then_the_failures() {
        let text = recap().render(&verdict(), false);
        let expected_head = "\
host  ok  changed  skipped  failed  ignored  unreachable  time
web1   1        1        1       0        0            0  2.5s
web2   1        0        0       1        0            0  1.5s
db1    1        0        0       0        1            0  0.3s
web3   0        0        0       0        0            1  0.0s

web2: step \"Install requirements\" failed (rc 1)
  command: pip install -r requirements.txt
  stderr:
    line 3
";
        assert!(text.starts_with(expected_head), "{text}");
        assert!(text.contains("    line 12\n\ndb1: step \"Migrate\" failed (rc 2), ignored\n"));
        assert!(text.contains("web3: unreachable\n  connection refused\n"));
        assert!(
            text.ends_with("2 of 4 hosts did not succeed: web2 failed; web3 unreachable (7.0s)\n")
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn renders_colors_only_when_asked() {
        let text = recap().render(&verdict(), true);
        assert!(text.contains("\x1b[31m"), "{text}");
        let plain = console::strip_ansi_codes(&text);
        assert_eq!(plain, recap().render(&verdict(), false));
    }

    #[test]
    fn the_table_leaves_out_ignored_when_nothing_was() {
        let mut recap = Recap::default();
        recap.record(&Event::PlayStart {
            play: "p".into(),
            hosts: vec!["a-long-host-name".into()],
        });
        let text = recap.render(&Verdict::Success { hosts: 1 }, false);
        assert!(
            text.starts_with(
                "host              ok  changed  skipped  failed  unreachable  time\n\
                 a-long-host-name   0        0        0       0            0  0.0s\n"
            ),
            "{text}"
        );
    }
}
