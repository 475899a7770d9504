//! What the executor reports as it runs, for the reporters to show.
//!
//! The core never prints: it sends [`Event`]s to a [`Reporter`]. The terminal,
//! plain-text and JSON reporters (`crate::report`) turn them into live lines,
//! timestamped logs or one JSON object per line, and the recap.

use std::time::Duration;

use serde::Serialize;

/// How a step ended on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing needed doing (its check passed, or it only read).
    Ok,
    Changed,
    Skipped,
    Failed,
}

/// One thing that happened during a run. Every string is already masked:
/// no secret value reaches a reporter.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A play starts on these hosts.
    PlayStart { play: String, hosts: Vec<String> },
    /// The SSH connection to a host is up.
    Connected {
        host: String,
        #[serde(rename = "elapsed_ms", with = "millis")]
        elapsed: Duration,
    },
    /// A host could not be reached; it takes no further part in the run.
    Unreachable { host: String, error: String },
    /// A step starts on a host.
    StepStart {
        host: String,
        /// 1-based position among the host's steps.
        index: usize,
        /// How many steps the host has in this play (the `12` of `[3/12]`).
        total: usize,
        name: String,
        module: String,
    },
    /// Output from a step, as it arrives: whole lines (the last of a
    /// stream may lack its newline). Shown with `-v`; always in `--json`.
    Output {
        host: String,
        index: usize,
        stderr: bool,
        text: String,
    },
    /// A step ended on a host.
    StepEnd {
        host: String,
        index: usize,
        name: String,
        status: Status,
        #[serde(rename = "elapsed_ms", with = "millis")]
        elapsed: Duration,
        /// Why it changed nothing, why it was skipped, or why it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The command that ran (masked), for failures and `-v`.
        #[serde(skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rc: Option<u32>,
        /// The last lines of stderr (failures), or a debug message.
        #[serde(skip_serializing_if = "String::is_empty")]
        output: String,
        /// `--diff`: what the step changed (or would change) in a file's
        /// text, as a unified diff, or why it is not shown.
        #[serde(skip_serializing_if = "Option::is_none")]
        diff: Option<String>,
        /// The failure was ignored (`ignore_errors`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ignored: bool,
        /// The failure is in a `block` whose `rescue` runs next: it does
        /// not fail the host unless the rescue fails too.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        rescued: bool,
    },
    /// A host finished the play (all steps, or stopped at a failure).
    HostDone {
        host: String,
        #[serde(rename = "elapsed_ms", with = "millis")]
        elapsed: Duration,
        /// Handlers a change notified that did not run (the host stopped
        /// first, or one of them failed): what they apply is not applied,
        /// and a later run notifies them only if their cause changes again.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        handlers_not_run: Vec<String>,
    },
    /// Ctrl-C, as it arrives: the first stops hosts that have not switched
    /// (no new steps; running ones end or are stopped) while hosts that
    /// switched finish their steps after the switch; a second (`forced`)
    /// aborts everything.
    Stopping { forced: bool },
    /// Ctrl-C: no new steps start; running ones end or are stopped.
    Interrupted { waiting: Vec<String> },
    /// The run is over: the recap follows from the events before it.
    RunEnd {
        #[serde(rename = "elapsed_ms", with = "millis")]
        elapsed: Duration,
    },
}

impl Event {
    /// The host the event is about, if it is about one.
    pub fn host(&self) -> Option<&str> {
        match self {
            Event::Connected { host, .. }
            | Event::Unreachable { host, .. }
            | Event::StepStart { host, .. }
            | Event::Output { host, .. }
            | Event::StepEnd { host, .. }
            | Event::HostDone { host, .. } => Some(host),
            Event::PlayStart { .. }
            | Event::Stopping { .. }
            | Event::Interrupted { .. }
            | Event::RunEnd { .. } => None,
        }
    }
}

impl Event {
    /// What a Ctrl-C does, as `Stopping` reports it.
    pub fn stopping_text(forced: bool) -> &'static str {
        match forced {
            false => {
                "Ctrl-C: no new steps start; hosts that switched finish their steps after the switch (Ctrl-C again to abort at once)"
            }
            true => "second Ctrl-C: aborting now",
        }
    }
}

/// Receives the executor's events. Implementations must be cheap: they are
/// called from the tasks that drive the hosts.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

mod millis {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
