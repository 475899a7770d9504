//! Reporters: how a run looks to the person (or the CI job) watching it.
//!
//! The executor sends [`Event`](crate::executor::Event)s to a [`Reporter`]
//! and never prints. Each reporter here shows them its own way — live lines
//! per host on a terminal ([`Terminal`]), timestamped lines in a log
//! ([`Plain`]), one JSON object per line for CI ([`Json`]) — and folds them
//! into a [`Recap`]. At the end the CLI decides the run's [`Verdict`] from
//! the executor's outcome — the one place that does — and hands it to
//! [`ReportSink::finish`], which shows the recap ending with the verdict's
//! line; the exit status is the verdict's too:
//!
//! ```ignore
//! let sink: Arc<dyn ReportSink> = report::reporter(Mode::Auto, verbose).into();
//! let outcome = executor::run(&plan, sink.clone() /* as Arc<dyn Reporter> */, shutdown).await;
//! let verdict = Verdict::of(&outcome);
//! sink.finish(&verdict);
//! std::process::exit(verdict.exit_code());
//! ```
//!
//! Every string in an event is already masked; reporters print them as they
//! are, so a `********` reaches the output intact.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod json;
mod paint;
mod plain;
mod recap;
mod table;
mod terminal;
mod verdict;

pub use json::{Json, SCHEMA, plan_line};
pub use plain::Plain;
pub use recap::{Failure, HostRecap, Recap, STDERR_TAIL};
pub use terminal::Terminal;
pub use verdict::{BadEnd, BadHost, Verdict};

use crate::executor::{Reporter, Status};

/// A reporter that can end the report and give back the recap.
pub trait ReportSink: Reporter {
    /// Ends the report: clears any live lines, shows the recap (a table, or
    /// one JSON object) ending with `verdict`'s line, and returns it. Later
    /// calls return it again without showing it twice.
    fn finish(&self, verdict: &Verdict) -> Recap;

    /// Prints `text` (whole lines) on stdout for the person watching: a
    /// command's own report, such as each host's output of `ferry run`. On
    /// a terminal it goes above the live lines, which are taken down while
    /// it is written and drawn again below it: text written past them is
    /// what their final clear erased. JSON output has no place for it.
    fn print(&self, text: &str);
}

/// Which reporter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Live lines if stdout and stderr are terminals, plain lines if not.
    Auto,
    Terminal,
    Plain,
    /// `--json`: one JSON object per event on stdout.
    Json,
}

impl Mode {
    /// [`Mode::Json`] for `--json`, [`Mode::Auto`] otherwise.
    pub fn from_json_flag(json: bool) -> Self {
        if json { Mode::Json } else { Mode::Auto }
    }
}

/// The reporter for `mode`, writing to the process's stdout and stderr.
/// `verbose` (`-v`) adds each step's start, output and reason.
pub fn reporter(mode: Mode, verbose: bool) -> Box<dyn ReportSink> {
    let mode = match mode {
        Mode::Auto if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() => {
            Mode::Terminal
        }
        Mode::Auto => Mode::Plain,
        mode => mode,
    };
    let stdout = Box::new(std::io::stdout());
    match mode {
        Mode::Json => Box::new(Json::new(stdout)),
        Mode::Terminal => Box::new(Terminal::new(
            stdout,
            Box::new(std::io::stderr()),
            verbose,
            console::colors_enabled(),
        )),
        Mode::Plain | Mode::Auto => {
            Box::new(Plain::new(stdout, verbose, console::colors_enabled()))
        }
    }
}

/// `1.2s`, `2m05s`, `1h02m`: short enough for a live line and a table cell.
pub(crate) fn seconds(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, secs % 3600 / 60)
    }
}

/// `ok`, `changed`, `skipped`, `failed`, `failed, ignored` or `failed,
/// rescued`.
pub(crate) fn status_label(status: Status, ignored: bool, rescued: bool) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Skipped => "skipped",
        Status::Failed if ignored => "failed, ignored",
        Status::Failed if rescued => "failed, rescued",
        Status::Failed => "failed",
    }
}

/// Locks a reporter's state; a panic on another host's task must not stop
/// the others from reporting.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A writer the reporters take: stdout, stderr, or a buffer in tests.
pub type Output = Box<dyn Write + Send>;

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::executor::{Event, Status};

    /// A writer whose text the test reads afterwards.
    #[derive(Clone, Default)]
    pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }

        pub(crate) fn output(&self) -> Output {
            Box::new(self.clone())
        }
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The recap of [`script`].
    pub(crate) fn scripted_recap() -> Recap {
        let mut recap = Recap::default();
        for event in script() {
            recap.record(&event);
        }
        recap
    }

    pub(crate) const SECRET_COMMAND: &str = "psql --password='********' -c migrate";

    /// 12 lines of stderr; the recap keeps `line 3` to `line 12`.
    pub(crate) fn failure_output() -> String {
        (1..=12).map(|i| format!("line {i}\n")).collect()
    }

    pub(crate) fn failure_tail() -> Vec<String> {
        (3..=12).map(|i| format!("line {i}")).collect()
    }

    fn start(host: &str, index: usize, total: usize, name: &str, module: &str) -> Event {
        Event::StepStart {
            host: host.into(),
            index,
            total,
            name: name.into(),
            module: module.into(),
        }
    }

    pub(crate) fn end(host: &str, index: usize, name: &str, status: Status, ms: u64) -> Event {
        Event::StepEnd {
            host: host.into(),
            index,
            name: name.into(),
            status,
            elapsed: Duration::from_millis(ms),
            reason: None,
            command: None,
            rc: None,
            output: String::new(),
            diff: None,
            ignored: false,
            rescued: false,
        }
    }

    fn done(host: &str, ms: u64) -> Event {
        Event::HostDone {
            host: host.into(),
            elapsed: Duration::from_millis(ms),
            handlers_not_run: Vec::new(),
        }
    }

    /// How the run of [`script`] ended: web2 failed, web3 unreachable.
    pub(crate) fn scripted_verdict() -> Verdict {
        use crate::executor::{HostEnd, Outcome};
        let ends = [
            ("web1", HostEnd::Ok),
            ("web2", HostEnd::Failed),
            ("db1", HostEnd::Ok),
            ("web3", HostEnd::Unreachable("connection refused".into())),
        ];
        Verdict::of(&Outcome {
            hosts: ends.into_iter().map(|(h, e)| (h.to_string(), e)).collect(),
            ..Outcome::default()
        })
    }

    /// A run on four hosts: web1 succeeds, web2 fails a step, db1 fails one
    /// that is ignored (its command shows a masked secret), web3 is
    /// unreachable.
    pub(crate) fn script() -> Vec<Event> {
        let mut skipped = end("web1", 3, "Restart", Status::Skipped, 0);
        if let Event::StepEnd { reason, .. } = &mut skipped {
            *reason = Some("`when` is false".into());
        }
        let mut failed = end("web2", 2, "Install requirements", Status::Failed, 1000);
        if let Event::StepEnd {
            rc,
            command,
            output,
            ..
        } = &mut failed
        {
            *rc = Some(1);
            *command = Some("pip install -r requirements.txt".into());
            *output = failure_output();
        }
        let mut ignored = end("db1", 1, "Migrate", Status::Failed, 100);
        if let Event::StepEnd {
            rc,
            command,
            output,
            ignored,
            ..
        } = &mut ignored
        {
            *rc = Some(2);
            *command = Some(SECRET_COMMAND.into());
            *output = "auth failed for '********'\n".into();
            *ignored = true;
        }
        let mut debug = end("db1", 2, "Show version", Status::Ok, 0);
        if let Event::StepEnd { output, .. } = &mut debug {
            *output = "version = 1.2".into();
        }
        vec![
            Event::PlayStart {
                play: "Deploy mysite".into(),
                hosts: vec!["web1".into(), "web2".into(), "db1".into()],
            },
            Event::Connected {
                host: "web1".into(),
                elapsed: Duration::from_millis(200),
            },
            Event::Connected {
                host: "web2".into(),
                elapsed: Duration::from_millis(100),
            },
            start("web1", 1, 3, "Upload", "release.upload"),
            start("web2", 1, 2, "Upload", "release.upload"),
            end("web1", 1, "Upload", Status::Changed, 1000),
            end("web2", 1, "Upload", Status::Ok, 400),
            start("web1", 2, 3, "Check", "command"),
            start("web2", 2, 2, "Install requirements", "command"),
            Event::Output {
                host: "web2".into(),
                index: 2,
                stderr: true,
                text: "Collecting flask\n".into(),
            },
            end("web1", 2, "Check", Status::Ok, 300),
            failed,
            done("web2", 1500),
            start("web1", 3, 3, "Restart", "service"),
            skipped,
            done("web1", 2500),
            start("db1", 1, 2, "Migrate", "command"),
            ignored,
            start("db1", 2, 2, "Show version", "debug"),
            debug,
            done("db1", 300),
            Event::Unreachable {
                host: "web3".into(),
                error: "connection refused".into(),
            },
            Event::RunEnd {
                elapsed: Duration::from_millis(7000),
            },
        ]
    }

    #[test]
    fn seconds_stay_short() {
        assert_eq!(seconds(Duration::from_millis(1234)), "1.2s");
        assert_eq!(seconds(Duration::from_secs(125)), "2m05s");
        assert_eq!(seconds(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn every_reporter_is_a_sink_the_executor_can_share() {
        let sink: Arc<dyn ReportSink> =
            Arc::new(Plain::new(Capture::default().output(), false, false));
        let reporter: Arc<dyn Reporter> = sink.clone();
        for event in script() {
            reporter.event(&event);
        }
        let recap = sink.finish(&scripted_verdict());
        assert_eq!(recap.hosts.len(), 4);
    }
}
