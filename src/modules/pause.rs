//! `pause`: waits `seconds` (or `minutes`) before the next step — on every
//! host at once, so the play waits that long, as Ansible's does; a wait
//! that only looks at the clock, so check mode waits too.
//!
//! A `pause` with neither waits for someone to press a key. ferry does not
//! stop a parallel run to ask (and a CI job has no one to answer): such a
//! step is refused before any host is touched, saying to give a duration.

use serde_json::{Map, Value, json};

use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &["seconds", "minutes", "prompt"];

pub fn pause(args: &Args) -> Result<Action, Diagnostic> {
    let number = |key: &str| -> Result<Option<u64>, Diagnostic> {
        match args.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .map(Some)
                .ok_or_else(|| args.error_at(key, format!("`{key}` must be a whole number"))),
        }
    };
    let seconds = match (number("seconds")?, number("minutes")?) {
        (Some(_), Some(_)) => {
            return Err(args.error("give `pause` `seconds` or `minutes`, not both"));
        }
        (Some(s), None) => s,
        (None, Some(m)) => m * 60,
        (None, None) => {
            return Err(args.error(
                "`pause` without `seconds` or `minutes` waits for a key: ferry does not stop a run to ask (hosts run in parallel, and CI has no one to answer); give it `seconds` or `minutes`",
            ));
        }
    };
    let mut map = Map::new();
    map.insert("delay".into(), json!(seconds));
    let map = Value::Object(map);
    let inner = Args {
        map: &map,
        cx: args.cx,
    };
    super::wait_for::wait_for(&inner)
}
