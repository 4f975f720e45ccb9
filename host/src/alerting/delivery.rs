//! The delivery worker: flushes due notification groups (`grouping`), claims due outbox rows (`pending → sending`), calls the channel's
//! notifier with the row's idempotency key and the channel's configuration, then marks the row
//! `delivered`, schedules the next attempt from the persistent retry schedule, or moves it to
//! the dead-letter queue (`dead`) when the schedule is exhausted or the error is permanent.
//! Rows a crash left `sending` return to `pending` at start (at-least-once delivery; the
//! idempotency key lets receivers drop the duplicate).
//!
//! A notifier that is missing, disabled or failed to load counts as retryable: fixing or
//! reinstalling it (hot reload) lets queued notifications through.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::events::{Audience, EventType};
use crate::health::{CheckFuture, ReadinessCheck};
use crate::plugins::{Alert, InvokeError, Notification, PluginHost};
use crate::secrets::{SealedFor, SecretBox};
use crate::store::{now_ms, ChannelRow, DeliveryState, OutboxRow, Store, StoreResult};

/// Most rows claimed per pass.
const BATCH: i64 = 32;

/// Rung when rows are queued, so a waiting worker starts at once instead of at its next poll.
static QUEUED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Tells this process's delivery worker that rows were queued.
pub fn wake() {
    QUEUED.notify_one();
}

/// What happened to one claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

#[derive(Clone)]
pub struct Delivery {
    store: Store,
    plugins: Arc<PluginHost>,
    secrets: SecretBox,
    /// Entry n is the delay before attempt n+1 (the first attempt is made when the row is queued);
    /// after `schedule.len()` attempts, dead letter.
    schedule: Vec<Duration>,
    /// The cluster member claiming rows (`None` on a single host).
    claimer: Option<String>,
}

impl Delivery {
    pub fn new(store: Store, plugins: Arc<PluginHost>, secrets: SecretBox, schedule: Vec<Duration>) -> Delivery {
        Delivery { store, plugins, secrets, schedule, claimer: None }
    }

    /// Claims rows as cluster member `host`: at its start it queues again only its own
    /// in-flight rows (another member's are its own business, or the leader's once it dies).
    pub fn with_claimer(mut self, host: Option<String>) -> Delivery {
        self.claimer = host;
        self
    }

    /// Returns rows left `sending` by a previous run to `pending`, then drains the outbox as soon
    /// as rows are queued (`wake`) and at least every `poll` (for scheduled retries) until the
    /// runtime stops.
    pub async fn start(self, poll: Duration) -> StoreResult<()> {
        self.requeue_in_flight().await?;
        tokio::spawn(self.run(poll, CancellationToken::new()));
        Ok(())
    }

    /// Returns rows left `sending` by a previous run to `pending` (call once, before `run`).
    pub async fn requeue_in_flight(&self) -> StoreResult<()> {
        let reset = self.store.reset_sending(self.claimer.as_deref()).await?;
        if reset > 0 {
            tracing::warn!(rows = reset, "notifications left in flight by the last run queued again");
        }
        Ok(())
    }

    /// Drains the outbox as rows are queued and every `poll` until `stop` is cancelled. A pass
    /// in progress finishes, so every attempt made is recorded (nothing is left `sending`).
    pub async fn run(self, poll: Duration, stop: CancellationToken) {
        while !stop.is_cancelled() {
            match self.run_once(now_ms()).await {
                Ok(r) if r.delivered + r.retried + r.dead == BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notification delivery pass failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = QUEUED.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Flushes the notification groups due at `now` (`grouping`), then claims the rows due at
    /// `now` and attempts each once (concurrently).
    pub async fn run_once(&self, now: i64) -> StoreResult<DeliveryReport> {
        // A failed flush stays due (nothing is marked sent); queued rows still go out.
        if let Err(e) = super::grouping::flush_due(&self.store, now).await {
            tracing::warn!(error = %e, "notification group flush failed");
        }
        let rows = self.store.claim_due(now, BATCH, self.claimer.as_deref()).await?;
        let outcomes = futures::future::join_all(rows.into_iter().map(|r| self.attempt(r))).await;
        let mut report = DeliveryReport::default();
        for outcome in outcomes {
            match outcome? {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Retry => report.retried += 1,
                Outcome::Dead => report.dead += 1,
            }
        }
        Ok(report)
    }

    async fn attempt(&self, row: OutboxRow) -> StoreResult<Outcome> {
        let attempts = row.attempts + 1;
        let result = self.send(&row, attempts).await;
        let now = now_ms();
        let (outcome, next_at, error) = match result {
            Ok(()) => (Outcome::Delivered, row.next_attempt_at, None),
            Err((retryable, e)) => match retry_at(&self.schedule, attempts, retryable, now) {
                Some(at) => (Outcome::Retry, at, Some(e)),
                None => (Outcome::Dead, row.next_attempt_at, Some(e)),
            },
        };
        if let Some(e) = &error {
            tracing::warn!(outbox = row.id, attempt = attempts, error = %e, dead = outcome == Outcome::Dead,
                "notification delivery failed");
        }
        self.store.finish_attempt(row.id, outcome.state(), attempts, next_at, error.as_deref()).await?;
        if outcome == Outcome::Dead {
            dead_lettered(&self.store, &row, attempts, error.as_deref());
        }
        Ok(outcome)
    }

    /// One call of the notifier; `Err((retryable, message))`.
    async fn send(&self, row: &OutboxRow, attempt: i64) -> Result<(), (bool, String)> {
        let channel = self.store.channel(None, row.channel_id).await.map_err(|e| (true, format!("channel: {e}")))?;
        // Permanent: a configuration sealed for another channel (copied into this row) never
        // opens here, so it is never sent anywhere, and retrying will not change that.
        let config = channel_config(&self.secrets, &channel)
            .map_err(|e| (false, format!("channel configuration unreadable: {e}")))?;
        // One alert, or a group's alerts (a JSON array).
        let alerts = match row.payload.trim_start().starts_with('[') {
            true => serde_json::from_str::<Vec<Alert>>(&row.payload),
            false => serde_json::from_str::<Alert>(&row.payload).map(|a| vec![a]),
        }
        .map_err(|e| (false, format!("payload: {e}")))?;
        let n = Notification {
            idempotency_key: row.idempotency_key.clone(),
            channel: channel.name.clone(),
            attempt: attempt as u32,
            alerts,
        };
        self.plugins.deliver_with_config(&channel.plugin, n, &config).await.map(|_| ()).map_err(|e| {
            let retryable = e.is_retryable()
                || matches!(e, InvokeError::NotFound(_) | InvokeError::Disabled(_) | InvokeError::Failed { .. });
            (retryable, e.to_string())
        })
    }
}

/// When attempt `attempts + 1` is due after attempt `attempts` (counted from 1) failed, or `None`
/// for the dead-letter queue: the error is permanent, or `schedule` (entry n: the delay before
/// attempt n+1) is exhausted. The outbox's discipline, which scheduled reports share.
pub fn retry_at(schedule: &[Duration], attempts: i64, retryable: bool, now: i64) -> Option<i64> {
    match schedule.get(usize::try_from(attempts).unwrap_or(usize::MAX)) {
        Some(delay) if retryable => Some(now + delay.as_millis() as i64),
        _ => None,
    }
}

/// A channel's configuration, opened for that channel's own row (the only row it opens for).
pub fn channel_config(secrets: &SecretBox, channel: &ChannelRow) -> Result<serde_json::Value, String> {
    let owner = SealedFor::ChannelConfig { tenant_id: channel.tenant_id, channel_id: channel.id };
    let text = secrets.open(&channel.config_sealed, &owner).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{owner}: not JSON ({e})"))
}

/// Tells live subscribers (`crate::events`) that a notification went to the dead-letter queue.
fn dead_lettered(store: &Store, row: &OutboxRow, attempts: i64, error: Option<&str>) {
    // One alert's payload names its resource (an instance, maybe): callers outside that
    // instance's roles do not hear of it. A group's payload (an array) names no one resource.
    let resource = serde_json::from_str::<serde_json::Value>(&row.payload)
        .ok()
        .and_then(|p| p.get("resource").and_then(|r| r.as_str()).map(str::to_string));
    let data = serde_json::json!({
        "outbox_id": row.id, "channel_id": row.channel_id, "attempts": attempts, "error": error,
        "idempotency_key": row.idempotency_key,
    });
    let kind = EventType::NotificationDeadLettered;
    store.events().publish(kind, Some(row.tenant_id), resource.as_deref(), Audience::Settings, data);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retry,
    Dead,
}

impl Outcome {
    fn state(self) -> DeliveryState {
        match self {
            Outcome::Delivered => DeliveryState::Delivered,
            Outcome::Retry => DeliveryState::Pending,
            Outcome::Dead => DeliveryState::Dead,
        }
    }
}

/// Readiness fails when more than `max_pending` deliveries wait or the oldest has waited longer
/// than `max_age`.
pub struct OutboxCheck {
    pub store: Store,
    pub max_pending: i64,
    pub max_age: Duration,
}

impl OutboxCheck {
    pub fn new(store: Store) -> OutboxCheck {
        OutboxCheck { store, max_pending: 1000, max_age: Duration::from_secs(300) }
    }
}

impl ReadinessCheck for OutboxCheck {
    fn name(&self) -> &str {
        "outbox"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let s = self.store.outbox_stats(None).await.map_err(|e| e.to_string())?;
            if s.pending > self.max_pending {
                return Err(format!("{} notifications pending (limit {})", s.pending, self.max_pending));
            }
            let age = s.oldest_pending_at.map(|t| now_ms() - t).unwrap_or(0);
            if age > self.max_age.as_millis() as i64 {
                return Err(format!("oldest pending notification waits for {} s", age / 1000));
            }
            Ok(Some(format!("{} pending, {} dead", s.pending, s.dead)))
        })
    }
}
