//! On a terminal: one live line per host with its current step.
//!
//! `⠋ web1  [3/12] Install requirements  1.2s`, drawn by indicatif on stderr
//! (at most 20 times a second, however many events arrive). A host that has
//! finished shows its counts. Failures, unreachable hosts and debug messages
//! are printed above the lines as they happen.
//!
//! With hundreds of hosts there are only as many lines as fit the terminal:
//! a host gets a line when it starts a step and one is free, or when it can
//! take the line of a host that has finished; the rest are counted on a last
//! line, `… and 480 more running, 12 more done`.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::paint::{Paint, Tone};
use super::table::render_failure;
use super::{Output, Recap, ReportSink, Verdict, lock, seconds, status_label};
use crate::executor::{Event, Reporter, Status};

/// How long a host name may be before it stops widening every line.
const MAX_HOST_WIDTH: usize = 32;

/// How often a spinner turns (and the step's time is redrawn).
const TICK: Duration = Duration::from_millis(120);

/// Live lines on stderr, the recap on stdout.
pub struct Terminal {
    state: Mutex<Live>,
}

struct Live {
    multi: MultiProgress,
    /// Where the recap goes.
    out: Output,
    /// Where lines printed above the live lines go: the terminal the bars
    /// are drawn on.
    err: Output,
    recap: Recap,
    hosts: IndexMap<String, HostLine>,
    /// Finished hosts that still have a line, oldest first: a host starting
    /// a step takes one of these when every line is in use.
    done_shown: VecDeque<String>,
    /// Host lines created so far (never more than `cap`; they are reused).
    bars: usize,
    cap: usize,
    /// Hosts not done that have no line.
    running_hidden: usize,
    /// Done hosts whose line was given to another.
    done_hidden: usize,
    summary: Option<ProgressBar>,
    styles: Styles,
    paint: Paint,
    color: bool,
    verbose: bool,
    /// Spinners turn by themselves (not when the target is hidden).
    tick: bool,
    finished: bool,
}

/// One host's live line, if it has one.
#[derive(Default)]
struct HostLine {
    bar: Option<ProgressBar>,
    done: bool,
}

struct Styles {
    width: usize,
    running: ProgressStyle,
    done: ProgressStyle,
}

impl Styles {
    fn new(width: usize, color: bool) -> Self {
        let spinner = if color {
            "{spinner:.cyan}"
        } else {
            "{spinner}"
        };
        let running = ProgressStyle::with_template(&format!(
            "{spinner} {{prefix:{width}}}  {{msg}}  {{step_time}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "step_time",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&seconds(state.elapsed()));
            },
        );
        let done = ProgressStyle::with_template(&format!("  {{prefix:{width}}}  {{msg}}"))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        Styles {
            width,
            running,
            done,
        }
    }
}

impl Terminal {
    /// Draws on stderr, with as many host lines as fit the terminal.
    pub fn new(out: Output, err: Output, verbose: bool, color: bool) -> Self {
        let (rows, _) = console::Term::stderr().size();
        let cap = usize::from(rows).saturating_sub(4).clamp(3, 30);
        Terminal::with_target(ProgressDrawTarget::stderr(), cap, out, err, verbose, color)
    }

    /// Draws on `target` with at most `cap` host lines; `err` must reach the
    /// same terminal as `target`.
    pub fn with_target(
        target: ProgressDrawTarget,
        cap: usize,
        out: Output,
        err: Output,
        verbose: bool,
        color: bool,
    ) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let tick = !multi.is_hidden();
        Terminal {
            state: Mutex::new(Live {
                multi,
                out,
                err,
                recap: Recap::default(),
                hosts: IndexMap::new(),
                done_shown: VecDeque::new(),
                bars: 0,
                cap: cap.max(1),
                running_hidden: 0,
                done_hidden: 0,
                summary: None,
                styles: Styles::new(4, color),
                paint: Paint::new(color),
                color,
                verbose,
                tick,
                finished: false,
            }),
        }
    }
}

impl Reporter for Terminal {
    fn event(&self, event: &Event) {
        let mut live = lock(&self.state);
        if live.finished {
            return;
        }
        live.recap.record(event);
        live.show(event);
    }
}

impl ReportSink for Terminal {
    fn finish(&self, verdict: &Verdict) -> Recap {
        let mut live = lock(&self.state);
        if !live.finished {
            live.finished = true;
            let bars = live.hosts.values().filter_map(|line| line.bar.as_ref());
            for bar in bars.chain(live.summary.as_ref()) {
                bar.disable_steady_tick();
                bar.finish_and_clear();
            }
            let _ = live.multi.clear();
            live.multi.set_draw_target(ProgressDrawTarget::hidden());
            let table = live.recap.render(verdict, live.color);
            let _ = live.out.write_all(table.as_bytes());
            let _ = live.out.flush();
        }
        live.recap.clone()
    }

    fn print(&self, text: &str) {
        let mut live = lock(&self.state);
        if text.is_empty() {
            return;
        }
        let Live { multi, out, .. } = &mut *live;
        multi.suspend(|| {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        });
    }
}

impl Live {
    fn show(&mut self, event: &Event) {
        match event {
            Event::PlayStart { hosts, .. } => {
                self.widen(hosts.iter().map(|h| h.chars().count()).max().unwrap_or(0));
                for host in hosts {
                    self.host(host);
                }
            }
            Event::Connected { host, .. } => {
                if let Some(bar) = self.host(host) {
                    bar.set_message("connected");
                }
            }
            Event::Unreachable { host, .. } => {
                self.host(host);
                self.say_last_failure();
                let message = self.paint.paint("unreachable", Tone::Bad);
                self.set_done(host, message);
            }
            Event::StepStart {
                host,
                index,
                total,
                name,
                ..
            } => {
                self.host(host);
                self.set_running(host);
                if let Some(bar) = &self.hosts[host.as_str()].bar {
                    bar.reset_elapsed();
                    bar.set_message(format!("[{index}/{total}] {name}"));
                }
            }
            Event::Output {
                host, stderr, text, ..
            } if self.verbose => {
                let stream = if *stderr { "stderr" } else { "stdout" };
                let mut lines = String::new();
                for line in text.lines() {
                    let _ = writeln!(lines, "{host} {stream}: {line}");
                }
                self.say(&lines);
            }
            Event::StepEnd {
                host,
                name,
                status,
                elapsed,
                output,
                reason,
                diff,
                ..
            } => {
                if *status == Status::Failed {
                    self.say_last_failure();
                } else {
                    let mut lines = String::new();
                    if self.verbose {
                        let label = status_label(*status, false, false);
                        let _ = writeln!(lines, "{host} {label}: {name} ({})", seconds(*elapsed));
                    } else if let Some(reason) = reason.as_deref().filter(|r| !r.is_empty())
                        && *status == Status::Changed
                    {
                        // What changed, when a step says it: a dry run's
                        // "would …", a release's "sent …", "current: a → b".
                        let _ = writeln!(lines, "{host} changed: {name}: {reason}");
                    }
                    for line in output.lines() {
                        let _ = writeln!(lines, "{host}: {line}");
                    }
                    for line in diff.iter().flat_map(|d| d.lines()) {
                        let tone = match line.as_bytes().first() {
                            Some(b'+') if !line.starts_with("+++") => Tone::Good,
                            Some(b'-') if !line.starts_with("---") => Tone::Bad,
                            _ => Tone::Plain,
                        };
                        let _ = writeln!(lines, "    {}", self.paint.paint(line, tone));
                    }
                    self.say(&lines);
                }
            }
            Event::HostDone { host, elapsed, .. } => {
                let counts = &self.recap.hosts[host.as_str()];
                let mut message = format!(
                    "ok={} changed={} skipped={} failed={}",
                    counts.ok, counts.changed, counts.skipped, counts.failed
                );
                if counts.ignored > 0 {
                    let _ = write!(message, " ignored={}", counts.ignored);
                }
                if counts.rescued > 0 {
                    let _ = write!(message, " rescued={}", counts.rescued);
                }
                let _ = write!(message, "  {}", seconds(*elapsed));
                let tone = if counts.failed > 0 {
                    Tone::Bad
                } else if counts.changed > 0 {
                    Tone::Changed
                } else {
                    Tone::Good
                };
                let message = self.paint.paint(&message, tone);
                self.set_done(host, message);
            }
            Event::Stopping { forced } => {
                let text = format!("{}\n", Event::stopping_text(*forced));
                let text = self.paint.paint(&text, Tone::Changed);
                self.say(&text);
            }
            Event::Interrupted { waiting } => {
                let text = if waiting.is_empty() {
                    "interrupted\n".to_string()
                } else {
                    format!(
                        "interrupted: waiting for {} to end its step\n",
                        waiting.join(", ")
                    )
                };
                let text = self.paint.paint(&text, Tone::Changed);
                self.say(&text);
            }
            Event::Output { .. } | Event::RunEnd { .. } => {}
        }
    }

    /// Prints `text` above the live lines.
    fn say(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let err = &mut self.err;
        self.multi.suspend(|| {
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        });
    }

    /// Prints the failure the recap has just recorded.
    fn say_last_failure(&mut self) {
        let mut text = String::new();
        if let Some(failure) = self.recap.failures.last() {
            render_failure(failure, &self.paint, &mut text);
        }
        self.say(&text);
    }

    /// The host's line, registering the host (and giving it a line, if one
    /// is free) the first time it is seen.
    fn host(&mut self, host: &str) -> Option<&ProgressBar> {
        if !self.hosts.contains_key(host) {
            self.widen(host.chars().count());
            self.hosts.insert(host.to_string(), HostLine::default());
            self.running_hidden += 1;
            if self.bars < self.cap {
                self.give_line(host);
            } else {
                self.update_summary();
            }
        }
        self.hosts[host].bar.as_ref()
    }

    /// The host starts a step (again, in a later play, if it was done).
    fn set_running(&mut self, host: &str) {
        let line = &mut self.hosts[host];
        if line.done {
            line.done = false;
            match &line.bar {
                Some(bar) => {
                    bar.set_style(self.styles.running.clone());
                    if self.tick {
                        bar.enable_steady_tick(TICK);
                    }
                    self.done_shown.retain(|h| h != host);
                }
                None => {
                    self.done_hidden -= 1;
                    self.running_hidden += 1;
                }
            }
        }
        if self.hosts[host].bar.is_none() {
            self.give_line(host);
        }
    }

    fn set_done(&mut self, host: &str, message: String) {
        let line = &mut self.hosts[host];
        if line.done {
            return;
        }
        line.done = true;
        match &line.bar {
            Some(bar) => {
                bar.disable_steady_tick();
                bar.set_style(self.styles.done.clone());
                bar.set_message(message);
                bar.tick();
                self.done_shown.push_back(host.to_string());
            }
            None => {
                self.running_hidden -= 1;
                self.done_hidden += 1;
                self.update_summary();
            }
        }
    }

    /// Gives a line to a running host that has none: a new one while there
    /// are fewer than `cap`, else the oldest finished host's.
    fn give_line(&mut self, host: &str) {
        let bar = if self.bars < self.cap {
            self.bars += 1;
            // Dressed before it joins, so it is never drawn bare.
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
                .with_style(self.styles.running.clone())
                .with_prefix(host.to_string())
                .with_message("connecting…");
            match &self.summary {
                Some(summary) => self.multi.insert_before(summary, bar),
                None => self.multi.add(bar),
            }
        } else if let Some(old) = self.done_shown.pop_front() {
            self.done_hidden += 1;
            let Some(bar) = self.hosts[old.as_str()].bar.take() else {
                return;
            };
            bar.reset();
            bar.set_style(self.styles.running.clone());
            bar.set_prefix(host.to_string());
            bar.set_message("connecting…");
            bar
        } else {
            return;
        };
        self.running_hidden -= 1;
        if self.tick {
            bar.enable_steady_tick(TICK);
        }
        self.hosts[host].bar = Some(bar);
        self.update_summary();
    }

    /// `… and 480 more running, 12 more done`, or no such line.
    fn update_summary(&mut self) {
        let mut parts = Vec::new();
        if self.running_hidden > 0 {
            parts.push(format!("{} more running", self.running_hidden));
        }
        if self.done_hidden > 0 {
            parts.push(format!("{} more done", self.done_hidden));
        }
        if parts.is_empty() {
            if let Some(summary) = self.summary.take() {
                summary.finish_and_clear();
                self.multi.remove(&summary);
            }
            return;
        }
        let message = format!("… and {}", parts.join(", "));
        match &self.summary {
            Some(summary) => summary.set_message(message),
            None => {
                let style = ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let summary = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
                    .with_style(style)
                    .with_message(message);
                self.summary = Some(self.multi.add(summary));
            }
        }
    }

    /// Makes room for host names `width` long in every line.
    fn widen(&mut self, width: usize) {
        let width = width.min(MAX_HOST_WIDTH);
        if width <= self.styles.width {
            return;
        }
        self.styles = Styles::new(width, self.color);
        for line in self.hosts.values() {
            if let Some(bar) = &line.bar {
                let style = if line.done {
                    &self.styles.done
                } else {
                    &self.styles.running
                };
                bar.set_style(style.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{Capture, SECRET_COMMAND, end, script, scripted_verdict};

    fn hidden(cap: usize) -> (Terminal, Capture, Capture) {
        let (out, err) = (Capture::default(), Capture::default());
        let terminal = Terminal::with_target(
            ProgressDrawTarget::hidden(),
            cap,
            out.output(),
            err.output(),
            false,
            false,
        );
        (terminal, out, err)
    }

    fn start(host: &str, index: usize) -> Event {
        Event::StepStart {
            host: host.into(),
            index,
            total: 3,
            name: format!("step {index}"),
            module: "command".into(),
        }
    }

    #[test]
    fn failures_are_printed_above_the_lines_and_the_recap_at_the_end() {
        let (terminal, out, err) = hidden(10);
        for event in script() {
            terminal.event(&event);
        }
        let recap = terminal.finish(&scripted_verdict());
        let above = err.text();
        assert!(
            above.starts_with("web2: step \"Install requirements\" failed (rc 1)\n"),
            "{above}"
        );
        assert!(above.contains("db1: step \"Migrate\" failed (rc 2), ignored\n"));
        assert!(above.contains(SECRET_COMMAND));
        assert!(above.contains("db1: version = 1.2\n"));
        assert!(above.contains("web3: unreachable\n  connection refused\n"));
        assert_eq!(out.text(), recap.render(&scripted_verdict(), false));
    }

    #[test]
    fn hosts_beyond_the_cap_are_counted_on_a_last_line() {
        let (terminal, _, _) = hidden(5);
        let hosts: Vec<String> = (1..=30).map(|i| format!("web{i}")).collect();
        terminal.event(&Event::PlayStart {
            play: "deploy".into(),
            hosts: hosts.clone(),
        });
        let summary = |terminal: &Terminal| {
            let live = lock(&terminal.state);
            live.summary.as_ref().map(|s| s.message())
        };
        assert_eq!(summary(&terminal).as_deref(), Some("… and 25 more running"));
        for host in &hosts[..5] {
            terminal.event(&end(host, 1, "step 1", Status::Ok, 10));
            terminal.event(&Event::HostDone {
                host: host.clone(),
                elapsed: Duration::from_millis(10),
                handlers_not_run: Vec::new(),
            });
        }
        // The finished hosts keep their lines until others need them.
        assert_eq!(summary(&terminal).as_deref(), Some("… and 25 more running"));
        terminal.event(&start("web6", 1));
        terminal.event(&start("web7", 1));
        assert_eq!(
            summary(&terminal).as_deref(),
            Some("… and 23 more running, 2 more done")
        );
        let live = lock(&terminal.state);
        let web6 = live.hosts["web6"].bar.as_ref().unwrap();
        assert_eq!(web6.prefix(), "web6");
        assert_eq!(web6.message(), "[1/3] step 1");
        assert!(live.hosts["web1"].bar.is_none());
        assert_eq!(live.bars, 5);
    }

    #[test]
    fn a_burst_from_500_hosts_goes_through() {
        let (terminal, out, _) = hidden(20);
        let hosts: Vec<String> = (1..=500).map(|i| format!("host{i:03}")).collect();
        terminal.event(&Event::PlayStart {
            play: "deploy".into(),
            hosts: hosts.clone(),
        });
        for index in 1..=3 {
            for host in &hosts {
                terminal.event(&Event::StepStart {
                    host: host.clone(),
                    index,
                    total: 3,
                    name: format!("step {index}"),
                    module: "command".into(),
                });
            }
            for host in &hosts {
                terminal.event(&end(
                    host,
                    index,
                    &format!("step {index}"),
                    Status::Changed,
                    5,
                ));
            }
        }
        for host in &hosts {
            terminal.event(&Event::HostDone {
                host: host.clone(),
                elapsed: Duration::from_millis(15),
                handlers_not_run: Vec::new(),
            });
        }
        {
            let live = lock(&terminal.state);
            assert_eq!((live.running_hidden, live.done_hidden), (0, 480));
            assert_eq!(live.done_shown.len(), 20);
        }
        let recap = terminal.finish(&Verdict::Success { hosts: 500 });
        assert_eq!(recap.hosts.len(), 500);
        assert!(recap.hosts.values().all(|h| h.changed == 3));
        assert!(
            out.text().ends_with("500 hosts succeeded\n"),
            "{}",
            out.text()
        );
    }
}
