//! Ctrl-C, passed in rather than caught inside. The first request stops
//! hosts that have not switched from starting new steps (running ones may
//! finish within a grace period, then are abandoned); hosts that already
//! switched `current` go on through their steps after the switch — restart,
//! health check — or are rolled back, so no host is left switched but
//! unverified. A second request aborts everything at once.

use std::time::Duration;

use tokio::sync::watch;

/// The receiving side of stop requests.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<u8>,
}

/// The sending side: the CLI holds it and trips it on each SIGINT.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<u8>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(0);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    /// A shutdown that never trips (for commands that cannot be interrupted).
    pub fn never() -> Shutdown {
        let (trigger, shutdown) = Shutdown::new();
        std::mem::forget(trigger);
        shutdown
    }

    /// A first stop was requested.
    pub fn is_requested(&self) -> bool {
        *self.rx.borrow() >= 1
    }

    /// A second stop was requested: abort at once.
    pub fn is_forced(&self) -> bool {
        *self.rx.borrow() >= 2
    }

    /// Resolves once `count` stops have been requested.
    async fn reached(&self, count: u8) {
        let mut rx = self.rx.clone();
        // An error means the trigger is gone: no stop will ever come.
        if rx.wait_for(|n| *n >= count).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once a stop is requested.
    pub async fn requested(&self) {
        self.reached(1).await;
    }

    /// Resolves once a second stop is requested.
    pub async fn forced(&self) {
        self.reached(2).await;
    }

    /// Resolves `grace` after a stop is requested, or at once on a second.
    pub async fn deadline(&self, grace: Duration) {
        self.requested().await;
        tokio::select! {
            _ = tokio::time::sleep(grace) => {}
            _ = self.forced() => {}
        }
    }
}

impl ShutdownTrigger {
    /// Records one more stop request.
    pub fn trigger(&self) {
        self.tx.send_modify(|n| *n = n.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_request_forces() {
        let (trigger, shutdown) = Shutdown::new();
        assert!(!shutdown.is_requested());
        trigger.trigger();
        assert!(shutdown.is_requested() && !shutdown.is_forced());
        trigger.trigger();
        assert!(shutdown.is_forced());
    }
}
