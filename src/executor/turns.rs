//! `serial:` in a deploy: every host prepares at once and meets at one
//! barrier; then the hosts switch and run their steps after the switch in
//! turns, batch after batch — a rolling restart. A batch takes its turn
//! once every host of the batches before it has passed its steps after the
//! switch; when one of them failed there, no later batch switches (the
//! deploy rolls back instead). A host with no turn to take — it failed
//! before the switch — is counted as done, so it holds no one up.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;

pub struct Turns {
    /// Each host's batch, by position.
    batch_of: HashMap<String, usize>,
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    /// Hosts of each batch not yet done.
    waiting: Vec<usize>,
    /// The first host that failed after its switch.
    failed: Option<String>,
    /// Hosts already counted, so that no host is counted twice.
    counted: Vec<String>,
}

impl Turns {
    /// Turns for `batches` of host names, in order.
    pub fn new(batches: &[Vec<String>]) -> Turns {
        let mut batch_of = HashMap::new();
        for (i, batch) in batches.iter().enumerate() {
            for host in batch {
                batch_of.insert(host.clone(), i);
            }
        }
        Turns {
            batch_of,
            state: Mutex::new(State {
                waiting: batches.iter().map(Vec::len).collect(),
                failed: None,
                counted: Vec::new(),
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `host`'s batch may switch; `Err` names the host of an
    /// earlier batch that failed after its switch.
    pub async fn wait(&self, host: &str) -> Result<(), String> {
        let Some(&batch) = self.batch_of.get(host) else {
            return Ok(());
        };
        loop {
            let changed = self.changed.notified();
            {
                let state = self.state();
                if let Some(failed) = &state.failed {
                    return Err(failed.clone());
                }
                if state.waiting[..batch].iter().all(|n| *n == 0) {
                    return Ok(());
                }
            }
            changed.await;
        }
    }

    /// `host` is through its steps after the switch (or has none to run):
    /// `failed` when one of them failed.
    pub fn done(&self, host: &str, failed: bool) {
        let Some(&batch) = self.batch_of.get(host) else {
            return;
        };
        let mut state = self.state();
        if state.counted.iter().any(|h| h == host) {
            return;
        }
        state.counted.push(host.to_string());
        state.waiting[batch] = state.waiting[batch].saturating_sub(1);
        if failed && state.failed.is_none() {
            state.failed = Some(host.to_string());
        }
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turns() -> Turns {
        Turns::new(&[vec!["a".into()], vec!["b".into(), "c".into()]])
    }

    #[tokio::test]
    async fn a_batch_waits_for_the_ones_before_it() {
        let t = turns();
        assert_eq!(t.wait("a").await, Ok(()));
        let later = tokio::time::timeout(std::time::Duration::from_millis(50), t.wait("b")).await;
        assert!(later.is_err(), "b waits while a is not done");
        t.done("a", false);
        assert_eq!(t.wait("b").await, Ok(()));
        assert_eq!(t.wait("c").await, Ok(()));
    }

    #[tokio::test]
    async fn a_failure_stops_every_later_batch() {
        let t = turns();
        t.done("a", true);
        assert_eq!(t.wait("b").await, Err("a".to_string()));
    }

    #[tokio::test]
    async fn a_host_is_counted_once() {
        let t = Turns::new(&[vec!["a".into(), "b".into()], vec!["c".into()]]);
        t.done("a", false);
        t.done("a", false);
        let later = tokio::time::timeout(std::time::Duration::from_millis(50), t.wait("c")).await;
        assert!(later.is_err(), "b is not done yet");
    }
}
