//! Storage side of the native sampler: `ActivityWriter` receives `model::Batch`es and
//! stores them through `store` (compact ASH chunks, statement and relation deltas, inventory,
//! lock snapshots); a maintenance task keeps the hourly rollups and applies retention. What it
//! holds and has not stored yet is readable through `FreshAsh`.

pub mod codec;
mod fresh;
mod gaps;
mod rollups;
mod tail;
mod writer;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

pub use fresh::{ActiveNow, FreshAsh, FreshChunk};
pub use tail::Recovered;
pub use writer::{text_md5, Drained};

use crate::cluster::{Owned, Sampling};
use crate::config::SamplerConfig;
use crate::model::{Batch, LockNode};
use crate::store::{Store, StoreResult};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How often rollups are refreshed and retention applied (`maintain`).
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);
/// Tail interval of writers started without a config (tests, benchmarks): the default's.
const DEFAULT_TAIL: Duration = Duration::from_secs(5);

/// Handle to the activity ingestion task; cheap to clone.
#[derive(Clone)]
pub struct ActivityWriter {
    tx: mpsc::Sender<Batch>,
    control: mpsc::Sender<writer::Control>,
    fresh: FreshAsh,
    store: Store,
    chunk_ms: i64,
}

impl ActivityWriter {
    /// Starts the ingestion task on the current runtime, with `[sampler]`'s chunk length and
    /// tail interval. It first turns what a crash left in the tail into chunks. Maintenance
    /// (`maintain`, every `MAINTENANCE_EVERY`) is the caller's to schedule.
    pub fn start(store: Store, config: &SamplerConfig) -> ActivityWriter {
        Self::start_feeding(store, config, &FreshAsh::default())
    }

    /// `start`, showing the ticks not stored yet in `fresh` (the one the API reads: `serve`
    /// passes its `AppContext`'s). One writer per `FreshAsh`.
    pub fn start_feeding(store: Store, config: &SamplerConfig, fresh: &FreshAsh) -> ActivityWriter {
        Self::spawn(store, Self::settings(config, true), fresh.clone(), None)
    }

    /// `start_feeding` for a cluster member: `store` is its fenced pool (`Store::connect_fenced`),
    /// batches of a lease generation `leases` does not hold are dropped, and tails are
    /// recovered per instance as leases are taken (`recover`), not at start.
    pub fn start_member(
        store: Store,
        config: &SamplerConfig,
        fresh: &FreshAsh,
        leases: watch::Receiver<Owned>,
    ) -> ActivityWriter {
        Self::spawn(store, Self::settings(config, false), fresh.clone(), Some(leases))
    }

    fn settings(config: &SamplerConfig, recover_at_start: bool) -> writer::Settings {
        writer::Settings {
            chunk_ms: config.ash_chunk_seconds.clamp(1, 60) as i64 * 1000,
            tail_every: Duration::from_secs(config.ash_tail_seconds),
            recover_at_start,
        }
    }

    /// Only the ingestion task, with minute chunks (tests and benchmarks drive maintenance).
    pub fn start_ingest(store: Store) -> ActivityWriter {
        Self::start_ingest_with(store, 60_000)
    }

    /// Only the ingestion task, with chunks of `chunk_ms`.
    pub fn start_ingest_with(store: Store, chunk_ms: i64) -> ActivityWriter {
        let settings = writer::Settings { chunk_ms: chunk_ms.max(1), tail_every: DEFAULT_TAIL, recover_at_start: true };
        Self::spawn(store, settings, FreshAsh::default(), None)
    }

    fn spawn(
        store: Store,
        settings: writer::Settings,
        fresh: FreshAsh,
        leases: Option<watch::Receiver<Owned>>,
    ) -> ActivityWriter {
        let (tx, rx) = mpsc::channel::<Batch>(4096);
        let (control, control_rx) = mpsc::channel(16);
        let chunk_ms = settings.chunk_ms;
        tokio::spawn(writer::run(store.clone(), settings, fresh.clone(), leases, rx, control_rx));
        ActivityWriter { tx, control, fresh, store, chunk_ms }
    }

    /// The ticks this writer holds and has not stored yet, for readers (`FreshAsh::ticks`).
    pub fn fresh(&self) -> &FreshAsh {
        &self.fresh
    }

    /// Active sessions at the latest tick of each of `instance_ids` this writer received, from
    /// memory (no storage round trip; see `FreshAsh::active_sessions_now`). The caller has
    /// already narrowed `instance_ids` to what its caller may see.
    pub fn active_sessions_now(&self, instance_ids: &[i64]) -> HashMap<i64, ActiveNow> {
        self.fresh.active_sessions_now(instance_ids)
    }

    /// Where the sampler sends its batches. Sending waits when storage falls behind (back-pressure).
    pub fn sender(&self) -> mpsc::Sender<Batch> {
        self.tx.clone()
    }

    /// Stores everything sent before this call, including ASH minutes still being filled.
    pub async fn flush(&self) {
        self.ask(writer::Control::Flush).await
    }

    /// Stores everything sent before this call for `instance_ids`, open chunks included, and
    /// forgets them: a cluster member hands their leases over once this returns.
    pub async fn handover(&self, instance_ids: Vec<i64>) {
        self.ask(|done| writer::Control::Handover(instance_ids, done)).await
    }

    /// Forgets `instance_ids` without storing their open chunks (their leases were lost).
    pub async fn forget(&self, instance_ids: Vec<i64>) {
        self.ask(|done| writer::Control::Forget(instance_ids, done)).await
    }

    /// Turns the tail segments `instance_ids`' previous owner left (a crash) into closed chunks,
    /// before this host samples them: a cluster member calls it as it takes their leases.
    pub async fn recover(&self, instance_ids: &[i64]) -> StoreResult<Recovered> {
        tail::recover_instances(&self.store, instance_ids, self.chunk_ms).await
    }

    async fn ask(&self, request: impl FnOnce(oneshot::Sender<()>) -> writer::Control) {
        let (done, wait) = oneshot::channel();
        if self.control.send(request(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops the task at once without storing what it buffers, as a crash would (what the tail
    /// holds is recovered by the next writer's start). For tests of crash recovery.
    pub async fn halt_without_flush(&self) {
        self.ask(writer::Control::Halt).await
    }

    /// Stores everything sent before this call, open chunks included, and stops the task (what
    /// is sent afterwards is dropped). `None` when the task had already stopped.
    pub async fn shutdown(&self) -> Option<Drained> {
        let (done, wait) = oneshot::channel();
        self.control.send(writer::Control::Shutdown(done)).await.ok()?;
        wait.await.ok()
    }
}

/// The writer is what a cluster member's lease keeper moves instances in and out of.
impl Sampling for ActivityWriter {
    async fn handover(&self, instance_ids: Vec<i64>) {
        ActivityWriter::handover(self, instance_ids).await
    }

    async fn forget(&self, instance_ids: Vec<i64>) {
        ActivityWriter::forget(self, instance_ids).await
    }

    async fn recover(&self, instance_ids: &[i64]) -> StoreResult<usize> {
        ActivityWriter::recover(self, instance_ids).await.map(|r| r.ticks)
    }
}

/// Refreshes the hourly rollups of the last hours (idempotent) and deletes what is past
/// retention, after making sure the partitions of now and of the next range exist (PostgreSQL).
/// `now` is a parameter so tests can run it at any time.
pub async fn maintain(store: &Store, config: &SamplerConfig, now: i64) -> StoreResult<u64> {
    if let Err(e) = ensure_partitions(store, now).await {
        // Rows go to the default partition meanwhile: retention still runs.
        tracing::warn!(error = %e, "creating activity partitions failed; retried at the next pass");
    }
    let this_hour = now / HOUR_MS * HOUR_MS;
    // The current hour too: long-range answers then include it, and it is recomputed next time.
    let from = this_hour - 3 * HOUR_MS;
    store.roll_up_ash_hours(from, this_hour + HOUR_MS).await?;
    store.roll_up_statement_hours(from, this_hour + HOUR_MS).await?;
    let days = |d: u64| now - d as i64 * DAY_MS;
    let activity = store
        .purge_activity(
            days(config.raw_retention_days),
            days(config.minute_rollup_retention_days),
            days(config.hour_rollup_retention_days),
        )
        .await?;
    // Metric points (the sampler's `pg.*` gauges, collectors') are bucketed when read, never
    // rolled up: they are kept as long as the minute rollups.
    let points = store.purge_points(days(config.minute_rollup_retention_days)).await?;
    Ok(activity + points)
}

/// Creates the partitions the sampler writes into next (nothing on SQLite; see
/// `Store::ensure_partitions`): `serve` runs it before the sampler starts, then every pass.
/// Without them rows land in the default partition, so a failure here loses nothing.
pub async fn ensure_partitions(store: &Store, now: i64) -> StoreResult<()> {
    let ensured = store.ensure_partitions(now).await?;
    if ensured.created > 0 || ensured.busy > 0 {
        tracing::info!(created = ensured.created, moved = ensured.moved, busy = ensured.busy, "activity partitions");
    }
    Ok(())
}

/// Blocking trees as JSON (what is stored and what the API shows).
pub fn locks_json(roots: &[LockNode]) -> Value {
    Value::Array(
        roots
            .iter()
            .map(|n| {
                json!({
                    "pid": n.pid,
                    "user": n.user,
                    "database": n.database,
                    "state": n.state,
                    "wait_event_type": n.wait_event_type,
                    "wait_event": n.wait_event,
                    "waiting_seconds": n.waiting_seconds,
                    "query_id": n.query_id.to_string(),
                    "blocked": locks_json(&n.blocked),
                })
            })
            .collect(),
    )
}
