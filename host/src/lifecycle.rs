//! The lifetime of `vigia serve`'s background work: every loop (sampler, scheduler, evaluator,
//! delivery, maintenance, purges, plugin watcher) runs under one cancellation token and one task
//! tracker owned by `server`. Loops stop *between* passes when the token is cancelled, so a pass
//! in progress (a delivery attempt, an evaluation, an ASH tick) finishes and records its result;
//! `Background::stop` then waits for all of them within a deadline and names the stragglers.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The loops of one server. Cheap to clone.
#[derive(Clone, Default)]
pub struct Background {
    token: CancellationToken,
    tracker: TaskTracker,
    /// Names of the loops still running, with how many of each (for the shutdown log).
    running: Arc<Mutex<BTreeMap<&'static str, usize>>>,
}

/// Loops that did not stop within the deadline.
#[derive(Debug, thiserror::Error)]
#[error("background loops still running after the grace period: {}", .0.join(", "))]
pub struct Stragglers(pub Vec<&'static str>);

impl Background {
    pub fn new() -> Background {
        Background::default()
    }

    /// The token loops watch; cancelled by `stop`.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `task` (which watches `token()` itself) as the loop `name`.
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        *self.lock().entry(name).or_default() += 1;
        let running = self.running.clone();
        self.tracker.spawn(async move {
            task.await;
            let mut map = running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(n) = map.get_mut(name) {
                *n -= 1;
                if *n == 0 {
                    map.remove(name);
                }
            }
        });
    }

    /// Runs `pass` every `period` (the first one at once) until cancelled; a pass in progress
    /// is never interrupted. Failures are the pass's to log.
    pub fn every<F, Fut>(&self, name: &'static str, period: Duration, mut pass: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let token = self.token();
        self.spawn(name, async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = token.cancelled() => return,
                    _ = tick.tick() => pass().await,
                }
            }
        });
    }

    /// Cancels every loop and waits until `deadline` for all of them to end.
    pub async fn stop(&self, deadline: Instant) -> Result<(), Stragglers> {
        self.token.cancel();
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait()).await.is_ok() {
            return Ok(());
        }
        Err(Stragglers(self.lock().keys().copied().collect()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, usize>> {
        // The map is only counters: a panic elsewhere cannot leave it inconsistent.
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Sleeps `delay` unless `token` is cancelled first; true when the sleep completed.
pub async fn sleep_or_stop(token: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_pass_in_progress_finishes_before_stop_returns() {
        let bg = Background::new();
        let finished = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let mut started_tx = Some(started_tx);
        let f = finished.clone();
        bg.every("slow pass", Duration::from_secs(3600), move || {
            let f = f.clone();
            let started_tx = started_tx.take();
            async move {
                if let Some(tx) = started_tx {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                f.fetch_add(1, Ordering::SeqCst);
            }
        });
        started.await.expect("the first pass starts at once");
        bg.stop(Instant::now() + Duration::from_secs(5)).await.expect("stops in time");
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the pass was not cut short");
    }

    #[tokio::test]
    async fn stragglers_are_named() {
        let bg = Background::new();
        bg.spawn("stubborn", std::future::pending());
        let token = bg.token();
        bg.spawn("polite", async move { token.cancelled().await });
        let err = bg.stop(Instant::now() + Duration::from_millis(100)).await.expect_err("one never ends");
        assert_eq!(err.0, vec!["stubborn"]);
        assert!(err.to_string().contains("stubborn"), "{err}");
    }

    #[tokio::test]
    async fn sleep_or_stop_wakes_on_cancel() {
        let token = CancellationToken::new();
        token.cancel();
        assert!(!sleep_or_stop(&token, Duration::from_secs(3600)).await);
        assert!(sleep_or_stop(&CancellationToken::new(), Duration::from_millis(1)).await);
    }
}
