//! A stop request the caller owns: Ctrl-C in the command line, a test's
//! trigger, a deadline. The library never installs signal handlers or
//! exits the process; it is handed a [`Shutdown`] (as mini-redis's server
//! is handed its shutdown future) and stops sending when it fires, then
//! reports what ran.

use std::future::Future;

use tokio::sync::watch;

/// The receiving side: cheap to clone, pollable any number of times.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side: [`Trigger::fire`] asks every [`Shutdown`] to stop.
#[derive(Debug)]
pub struct Trigger {
    tx: watch::Sender<bool>,
}

/// A connected trigger and shutdown.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger { tx }, Shutdown { rx })
}

impl Trigger {
    pub fn fire(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// A shutdown that never fires: the run goes to its end.
    pub fn never() -> Shutdown {
        channel().1
    }

    /// A shutdown that fires when `signal` completes. Call it inside a
    /// tokio runtime: the future is awaited on a task of its own.
    pub fn on<F>(signal: F) -> Shutdown
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (trigger, shutdown) = channel();
        tokio::spawn(async move {
            signal.await;
            trigger.fire();
        });
        shutdown
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes once a stop is asked for; never, if its trigger is gone
    /// without firing.
    pub async fn requested(&mut self) {
        if self.rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_once_for_every_clone_and_stays_fired() {
        let (trigger, mut a) = channel();
        let mut b = a.clone();
        assert!(!a.is_requested());
        trigger.fire();
        a.requested().await;
        b.requested().await;
        a.requested().await;
        assert!(a.is_requested() && b.is_requested());
    }

    #[tokio::test]
    async fn a_dropped_trigger_never_fires() {
        let (trigger, mut s) = channel();
        drop(trigger);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), s.requested()).await;
        assert!(waited.is_err() && !s.is_requested());
    }

    #[tokio::test]
    async fn follows_a_future() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut s = Shutdown::on(async move {
            let _ = rx.await;
        });
        assert!(!s.is_requested());
        tx.send(()).unwrap();
        s.requested().await;
    }
}
