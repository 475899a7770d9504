//! Ctrl-C, passed in rather than caught inside: the executor stops starting
//! new steps when asked, lets running ones finish within a grace period,
//! then abandons them (the transport closes their channels).

use std::time::Duration;

use tokio::sync::watch;

/// The receiving side of a stop request.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side: the CLI holds it and trips it on SIGINT.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    /// A shutdown that never trips (for commands that cannot be interrupted).
    pub fn never() -> Shutdown {
        let (trigger, shutdown) = Shutdown::new();
        std::mem::forget(trigger);
        shutdown
    }

    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a stop is requested.
    pub async fn requested(&self) {
        let mut rx = self.rx.clone();
        // An error means the trigger is gone: no stop will ever come.
        if rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves `grace` after a stop is requested.
    pub async fn deadline(&self, grace: Duration) {
        self.requested().await;
        tokio::time::sleep(grace).await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}
