//! Where the hosts of a batch meet: the barrier before the switch, and the
//! one after every host's steps that follow it (before old releases are
//! removed).
//!
//! Every member arrives exactly once — ready, failed, or absent (it has no
//! part in what is decided: a host that never switched, at the cleanup) —
//! and the decision is taken **once**, when the last member arrives or when
//! the run is stopped first, so every waiting host learns the same answer.
//! Membership is fixed when the batch starts, over every host of the batch,
//! reachable or not: a host that cannot be reached arrives failed at once,
//! so it counts against the others instead of being forgotten.

use std::sync::Mutex;

use tokio::sync::Notify;

/// How a member arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Ready,
    Failed,
    /// Counted as arrived, but neither ready nor failed.
    Absent,
}

/// What the meeting decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The ready hosts go on.
    pub proceed: bool,
    /// The hosts that arrived failed, in order of arrival.
    pub failed: Vec<String>,
    /// Decided early because the run was stopped (Ctrl-C).
    pub stopped: bool,
}

impl Decision {
    /// Why the ready hosts do not go on, naming the failed hosts.
    pub fn why_not(&self) -> String {
        if self.stopped {
            return "the run was stopped before every host arrived".to_string();
        }
        let names: Vec<String> = self.failed.iter().map(|h| format!("`{h}`")).collect();
        match names.len() {
            0 => "no host was ready".to_string(),
            1 => format!("{} failed", names[0]),
            n if n <= 5 => format!("{} failed", names.join(", ")),
            n => format!("{} and {} more failed", names[..5].join(", "), n - 5),
        }
    }
}

pub struct Rendezvous {
    expected: usize,
    /// Failures allowed, in percent of `expected` (`max_fail_percentage`).
    max_fail_percentage: u64,
    state: Mutex<State>,
    decided: Notify,
}

#[derive(Default)]
struct State {
    ready: Vec<String>,
    failed: Vec<String>,
    absent: usize,
    decision: Option<Decision>,
}

impl Rendezvous {
    pub fn new(expected: usize, max_fail_percentage: Option<u64>) -> Rendezvous {
        Rendezvous {
            expected,
            max_fail_percentage: max_fail_percentage.unwrap_or(0),
            state: Mutex::new(State::default()),
            decided: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `host`'s arrival.
    pub fn arrive(&self, host: &str, how: Arrival) {
        let mut state = self.state();
        match how {
            Arrival::Ready => state.ready.push(host.to_string()),
            Arrival::Failed => state.failed.push(host.to_string()),
            Arrival::Absent => state.absent += 1,
        }
        self.decide_if_complete(&mut state);
    }

    /// Turns a ready `host` into a failed one (lost while waiting), if the
    /// meeting has not decided yet; false when it already has.
    pub fn withdraw(&self, host: &str) -> bool {
        let mut state = self.state();
        if state.decision.is_some() {
            return false;
        }
        state.ready.retain(|h| h != host);
        state.failed.push(host.to_string());
        self.decide_if_complete(&mut state);
        true
    }

    /// The run was stopped: if nothing is decided yet, decide that no one
    /// goes on. What was decided before stays decided.
    pub fn stop(&self) {
        let mut state = self.state();
        if state.decision.is_none() {
            state.decision = Some(Decision {
                proceed: false,
                failed: state.failed.clone(),
                stopped: true,
            });
            self.decided.notify_waiters();
        }
    }

    fn decide_if_complete(&self, state: &mut State) {
        let arrived = state.ready.len() + state.failed.len() + state.absent;
        if state.decision.is_some() || arrived < self.expected {
            return;
        }
        let failed = state.failed.len() as u64;
        let proceed = !state.ready.is_empty()
            && failed * 100 <= self.max_fail_percentage * self.expected as u64;
        state.decision = Some(Decision {
            proceed,
            failed: state.failed.clone(),
            stopped: false,
        });
        self.decided.notify_waiters();
    }

    /// Whether the meeting can no longer decide that anyone goes on (too
    /// many members already failed), and why: hosts still preparing can
    /// stop instead of building a release that will never serve.
    pub fn doomed(&self) -> Option<String> {
        let state = self.state();
        if let Some(decision) = &state.decision {
            return (!decision.proceed).then(|| decision.why_not());
        }
        let failed = state.failed.len() as u64;
        (failed * 100 > self.max_fail_percentage * self.expected as u64).then(|| {
            Decision {
                proceed: false,
                failed: state.failed.clone(),
                stopped: false,
            }
            .why_not()
        })
    }

    /// The decision, once taken.
    pub fn decision(&self) -> Option<Decision> {
        self.state().decision.clone()
    }

    /// Waits for the decision.
    pub async fn wait(&self) -> Decision {
        loop {
            let notified = self.decided.notified();
            if let Some(decision) = self.decision() {
                return decision;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failure_keeps_everyone_at_zero_percent() {
        let r = Rendezvous::new(3, None);
        r.arrive("a", Arrival::Ready);
        r.arrive("b", Arrival::Ready);
        assert_eq!(r.decision(), None);
        r.arrive("c", Arrival::Failed);
        let d = r.decision().unwrap();
        assert!(!d.proceed);
        assert_eq!(d.why_not(), "`c` failed");
    }

    #[test]
    fn a_meeting_is_doomed_once_failures_pass_the_percentage() {
        let r = Rendezvous::new(4, Some(25));
        r.arrive("a", Arrival::Failed);
        assert_eq!(r.doomed(), None);
        r.arrive("b", Arrival::Failed);
        assert_eq!(r.doomed().as_deref(), Some("`a`, `b` failed"));
    }

    #[test]
    fn failures_within_the_percentage_proceed() {
        let r = Rendezvous::new(4, Some(25));
        for h in ["a", "b", "c"] {
            r.arrive(h, Arrival::Ready);
        }
        r.arrive("d", Arrival::Failed);
        assert!(r.decision().unwrap().proceed);
    }

    #[test]
    fn absent_members_count_as_arrived_only() {
        let r = Rendezvous::new(2, None);
        r.arrive("a", Arrival::Ready);
        r.arrive("b", Arrival::Absent);
        assert!(r.decision().unwrap().proceed);
    }

    #[test]
    fn a_host_lost_while_waiting_turns_the_decision() {
        let r = Rendezvous::new(2, None);
        r.arrive("a", Arrival::Ready);
        assert!(r.withdraw("a"));
        r.arrive("b", Arrival::Ready);
        let d = r.decision().unwrap();
        assert!(!d.proceed);
        assert_eq!(d.failed, ["a"]);
        // Once decided, nothing changes it.
        assert!(!r.withdraw("b"));
        assert!(!r.decision().unwrap().proceed);
    }

    #[test]
    fn a_stop_before_the_decision_stops_everyone_and_after_it_changes_nothing() {
        let r = Rendezvous::new(2, None);
        r.arrive("a", Arrival::Ready);
        r.stop();
        r.arrive("b", Arrival::Ready);
        let d = r.decision().unwrap();
        assert!(!d.proceed && d.stopped);

        let r = Rendezvous::new(1, None);
        r.arrive("a", Arrival::Ready);
        r.stop();
        assert!(r.decision().unwrap().proceed);
    }

    #[tokio::test]
    async fn waiters_all_learn_the_same_decision() {
        let r = std::sync::Arc::new(Rendezvous::new(3, None));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { r.wait().await })
            })
            .collect();
        r.arrive("a", Arrival::Ready);
        r.arrive("b", Arrival::Ready);
        r.arrive("c", Arrival::Ready);
        for w in waiters {
            assert!(w.await.unwrap().proceed);
        }
    }
}
