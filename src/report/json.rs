//! `--json`: every event as one JSON object per line, for CI.
//!
//! Each line is an [`Event`] as it serializes (`{"event":"step_end",...}`)
//! with the `schema` version and a `time` added, flushed as soon as it is
//! written; the last line is `{"event":"recap",...}` with the [`Recap`] as
//! data and the run's [`Verdict`]: its kind, its exit status and its line.
//! docs/events.md describes every event, docs/events.schema.json checks
//! them: a change to a line's shape changes both, and [`SCHEMA`] when a
//! reader of the old shape would misread the new one.

use std::io::Write as _;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Serialize;

use super::{Output, Recap, ReportSink, Verdict, lock};
use crate::executor::{Event, Reporter};

/// A compiled plan as the one line of `plan --offline --json` and
/// `playbook --plan --json`: `{"schema":1,"event":"plan",...,"time":...}`.
pub fn plan_line(plan: &impl Serialize) -> String {
    #[derive(Serialize)]
    #[serde(tag = "event", rename = "plan")]
    struct PlanLine<'a, P: Serialize> {
        schema: u32,
        #[serde(flatten)]
        plan: &'a P,
        time: String,
    }
    let line = PlanLine {
        schema: SCHEMA,
        plan,
        time: now(),
    };
    // Serializing a plan cannot fail: every map key is a string.
    serde_json::to_string(&line).unwrap_or_default()
}

/// Now, as every line's `time`: RFC 3339 in UTC, to the millisecond.
fn now() -> String {
    format!("{:.3}", Timestamp::now())
}

/// Writes one JSON object per line (to stdout, normally).
pub struct Json {
    state: Mutex<State>,
}

struct State {
    out: Output,
    recap: Recap,
    finished: bool,
}

/// The version of the event stream's shape, on every line as `schema`.
pub const SCHEMA: u32 = 1;

/// One line: the event, stamped.
#[derive(Serialize)]
struct Line<'a> {
    schema: u32,
    #[serde(flatten)]
    event: &'a Event,
    time: String,
}

/// The last line.
#[derive(Serialize)]
#[serde(tag = "event", rename = "recap")]
struct RecapLine<'a> {
    schema: u32,
    #[serde(flatten)]
    recap: &'a Recap,
    time: String,
    /// `success`, `failed`, `cannot_start` or `interrupted`.
    verdict: &'static str,
    /// The process's exit status.
    exit_code: i32,
    /// The recap's last line without the time (`elapsed_ms` has it).
    summary: String,
}

impl Json {
    pub fn new(out: Output) -> Self {
        Json {
            state: Mutex::new(State {
                out,
                recap: Recap::default(),
                finished: false,
            }),
        }
    }
}

impl State {
    fn write(&mut self, value: &impl Serialize) {
        // Serializing these types cannot fail: every map key is a string.
        if let Ok(mut line) = serde_json::to_vec(value) {
            line.push(b'\n');
            let _ = self.out.write_all(&line);
            let _ = self.out.flush();
        }
    }
}

impl Reporter for Json {
    fn event(&self, event: &Event) {
        let mut state = lock(&self.state);
        state.recap.record(event);
        state.write(&Line {
            schema: SCHEMA,
            event,
            time: now(),
        });
    }
}

impl ReportSink for Json {
    fn finish(&self, verdict: &Verdict) -> Recap {
        let mut state = lock(&self.state);
        let recap = state.recap.clone();
        if !state.finished {
            state.finished = true;
            state.write(&RecapLine {
                schema: SCHEMA,
                recap: &recap,
                time: now(),
                verdict: verdict.kind(),
                exit_code: verdict.exit_code(),
                summary: verdict.sentence(),
            });
        }
        recap
    }

    /// Every line on stdout is an event: text for a person has no place.
    fn print(&self, _text: &str) {}
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::report::tests::{Capture, SECRET_COMMAND, failure_tail, script, scripted_verdict};

    fn lines() -> Vec<Value> {
        let capture = Capture::default();
        let json = Json::new(capture.output());
        for event in script() {
            json.event(&event);
        }
        json.finish(&scripted_verdict());
        capture
            .text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn one_object_per_line_tagged_with_its_event() {
        let lines = lines();
        assert_eq!(lines.len(), script().len() + 1);
        for line in &lines {
            assert!(line["event"].is_string(), "{line}");
            assert!(line["time"].is_string(), "{line}");
            assert_eq!(line["schema"], SCHEMA, "{line}");
        }
        assert_eq!(lines[0]["event"], "play_start");
        assert_eq!(lines[0]["hosts"][2], "db1");
        let failed = lines
            .iter()
            .find(|l| l["event"] == "step_end" && l["status"] == "failed")
            .unwrap();
        assert_eq!(failed["host"], "web2");
        assert_eq!(failed["rc"], 1);
        assert_eq!(failed["elapsed_ms"], 1000);
    }

    #[test]
    fn ends_with_the_recap_as_data() {
        let lines = lines();
        let recap = lines.last().unwrap();
        assert_eq!(recap["event"], "recap");
        assert_eq!(recap["exit_code"], 1);
        assert_eq!(recap["verdict"], "failed");
        assert_eq!(
            recap["summary"],
            "2 of 4 hosts did not succeed: web2 failed; web3 unreachable"
        );
        assert_eq!(recap["elapsed_ms"], 7000);
        assert_eq!(recap["hosts"]["web1"]["changed"], 1);
        assert_eq!(recap["hosts"]["web3"]["unreachable"], true);
        let failure = &recap["failures"][0];
        assert_eq!(failure["kind"], "step");
        assert_eq!(failure["step"], "Install requirements");
        let tail: Vec<Value> = failure_tail().into_iter().map(Value::from).collect();
        assert_eq!(failure["stderr"], Value::Array(tail));
        assert_eq!(recap["failures"][1]["ignored"], true);
        assert_eq!(recap["failures"][2]["kind"], "unreachable");
    }

    /// A held lock once ended in a recap with `"exit_code": 0` while the
    /// process exited 3.
    #[test]
    fn the_recap_of_a_run_that_could_not_start_says_3() {
        let capture = Capture::default();
        let json = Json::new(capture.output());
        json.event(&Event::PlayStart {
            play: "deploy".into(),
            hosts: vec!["h1".into(), "h2".into()],
        });
        let verdict = Verdict::CannotStart {
            reasons: vec!["h2: deploy lock held".into()],
        };
        json.finish(&verdict);
        let text = capture.text();
        let recap: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(recap["exit_code"], 3);
        assert_eq!(recap["verdict"], "cannot_start");
        assert_eq!(recap["summary"], "could not start: h2: deploy lock held");
    }

    #[test]
    fn masked_strings_pass_through_unchanged() {
        let lines = lines();
        let ignored = lines
            .iter()
            .find(|l| l["event"] == "step_end" && l["host"] == "db1" && l["status"] == "failed")
            .unwrap();
        assert_eq!(ignored["command"], SECRET_COMMAND);
        assert_eq!(
            lines.last().unwrap()["failures"][1]["command"],
            SECRET_COMMAND
        );
    }
}
