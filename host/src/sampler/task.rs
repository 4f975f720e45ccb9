//! The task of one instance: two loops on two connections, so a slow `pg_stat_statements` or
//! table read never delays an ASH tick. The ASH loop owns the instance's `connected` status; the
//! slow loop runs statements, activity, inventory and table cycles as they fall due.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::Connection;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::activity_metrics::{ActivitySampler, SampleSet, SessionStats};
use super::ash::AshSampler;
use super::conn::{self, Backoff, Target};
use super::inventory;
use super::locks::{self, LockReporter};
use super::relations::RelationSampler;
use super::statements::{Outcome, StatementSampler};
use crate::config::SamplerConfig;
use crate::lifecycle::sleep_or_stop;
use crate::model::{Batch, Cadence, Gap, GapReason, InstanceKey};
use crate::store::{now_ms, Instance, Store};
use crate::timeseries::MetricWriter;

/// What every instance task shares (a clone per task carries its own `lease`).
#[derive(Clone)]
pub(crate) struct Context {
    pub store: Store,
    pub metrics: MetricWriter,
    pub batches: mpsc::Sender<Batch>,
    pub config: SamplerConfig,
    pub max_backoff: Duration,
    /// Cancelled when the server stops: loops end between ticks and cycles.
    pub stop: CancellationToken,
    /// The lease generation this task samples under (a cluster member), carried by its batches.
    pub lease: Option<i64>,
    /// Where the grid of tick phases starts (see `PHASE`): one instant for every task.
    pub epoch: Instant,
}

/// ASH ticks fall on phases this far apart, counted from `Context::epoch`: instances are spread
/// over the interval by phase, and the instances of one phase share their timer wake-up (same
/// deadline, one pass of the timer wheel), so their queries go out and their replies come back
/// while the runtime is awake. One wake-up per instance (250 a second at 1 s) was about a quarter
/// of the sampler's CPU (BENCHMARKS.md, issue 13).
const PHASE: Duration = Duration::from_millis(100);

/// The offset of `instance_id`'s ticks in each interval: one of the interval's phases.
fn phase_offset(instance_id: i64, every: Duration) -> Duration {
    let phases = (every.as_millis() / PHASE.as_millis()).max(1) as u64;
    PHASE * ((instance_id as u64).wrapping_mul(7919) % phases) as u32
}

/// The first tick at or after `now` on the grid `epoch + offset + k × every`.
fn first_tick(epoch: Instant, now: Instant, offset: Duration, every: Duration) -> Instant {
    let start = epoch + offset;
    if now <= start {
        return start;
    }
    let periods = (now - start).as_nanos().div_ceil(every.as_nanos().max(1));
    let ahead = u64::try_from(periods * every.as_nanos()).map(Duration::from_nanos);
    ahead.ok().and_then(|d| start.checked_add(d)).unwrap_or(now)
}

/// Runs until the server stops, or until aborted (the supervisor aborts it when the instance
/// changes or goes away).
pub(crate) async fn run(ctx: Arc<Context>, instance: Instance, target: Target) {
    let stats = Mutex::new(SessionStats::default());
    let slow = async {
        // A slow cycle in progress is cut short at stop: it stores nothing a tick needs.
        tokio::select! {
            _ = ctx.stop.cancelled() => {}
            _ = slow_loop(&ctx, &instance, &target, &stats) => {}
        }
    };
    tokio::join!(ash_loop(&ctx, &instance, &target, &stats), slow);
}

fn key(ctx: &Context, instance: &Instance) -> InstanceKey {
    InstanceKey { tenant_id: instance.tenant_id, instance_id: instance.id, lease: ctx.lease }
}

async fn send(ctx: &Context, batch: Batch) {
    // Storage gone means the server is shutting down; nothing to do about it here.
    let _ = ctx.batches.send(batch).await;
}

/// Connects to `postgres` and reads the server version, which decides every query's columns.
async fn open(target: &Target) -> Result<(PgConnection, i64), String> {
    let mut conn = conn::connect(target, "postgres").await?;
    match tokio::time::timeout(conn::CONNECT_TIMEOUT, inventory::server_version_num(&mut conn)).await {
        Ok(Ok(v)) => Ok((conn, v)),
        Ok(Err(e)) => Err(format!("connected, but reading server_version_num failed: {e}")),
        Err(_) => Err("connected, but the server does not answer".into()),
    }
}

/// An outage in progress, as the ASH loop sees it: since when, and why.
type Outage = Option<(i64, GapReason)>;

async fn ash_loop(ctx: &Context, instance: &Instance, target: &Target, stats: &Mutex<SessionStats>) {
    let every = Duration::from_secs(if instance.collection_rate == "high" { 1 } else { 10 });
    // Storage learns the cadence first, so it can tell a missing tick from a slow one.
    send(ctx, Batch::Cadence(key(ctx, instance), Cadence { interval_ms: every.as_millis() as i64 })).await;
    let mut backoff = Backoff::new(Duration::from_secs(1), ctx.max_backoff);
    let mut connected: Option<bool> = None;
    let mut ash: Option<(i64, AshSampler)> = None;
    let mut outage: Outage = None;
    loop {
        let opened = tokio::select! {
            _ = ctx.stop.cancelled() => break,
            opened = open(target) => opened,
        };
        let (mut conn, version) = match opened {
            Ok(c) => c,
            Err(e) => {
                outage.get_or_insert((now_ms(), GapReason::Unreachable));
                if connected != Some(false) {
                    tracing::warn!(instance = %instance.name, error = %e, "sampler lost the instance");
                    set_status(ctx, instance, false, Some(&e)).await;
                    connected = Some(false);
                }
                let mut down = SampleSet {
                    tenant_id: instance.tenant_id,
                    resource: &instance.name,
                    ts: now_ms(),
                    samples: vec![],
                };
                down.push("pg.up", None, None, 0.0);
                ctx.metrics.write(down.samples, "sampler").await;
                if !sleep_or_stop(&ctx.stop, backoff.next_delay()).await {
                    break;
                }
                continue;
            }
        };
        backoff.reset();
        if connected != Some(true) {
            set_status(ctx, instance, true, None).await;
            connected = Some(true);
        }
        // The command cache survives reconnects unless the server changed version.
        if ash.as_ref().is_none_or(|(v, _)| *v != version) {
            ash = Some((version, AshSampler::new(version, ctx.config.max_query_text)));
        }
        let sampler = &mut ash.as_mut().expect("just set").1;
        if let TickEnd::Stopped = tick_loop(ctx, instance, every, &mut conn, sampler, stats, &mut outage).await {
            // Politely, so the monitored server does not log an unexpected EOF.
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
            break;
        }
    }
    // An outage still going on at stop ends here; the next start accounts from this point.
    if let Some((start_ts, reason)) = outage {
        send(ctx, Batch::Gap(key(ctx, instance), Gap { start_ts, end_ts: now_ms(), reason })).await;
    }
}

/// Why the ticks of one connection ended.
enum TickEnd {
    Stopped,
    Reconnect,
}

/// Ticks on one connection until it breaks or the server stops. A tick in progress always
/// completes and is handed to storage; an outage ends with the first good tick.
async fn tick_loop(
    ctx: &Context,
    instance: &Instance,
    every: Duration,
    conn: &mut PgConnection,
    sampler: &mut AshSampler,
    stats: &Mutex<SessionStats>,
    outage: &mut Outage,
) -> TickEnd {
    // A tick slower than this would run into the next one: the connection is presumed stuck.
    let deadline = every.mul_f64(0.8);
    // Instances are spread over the interval so 1,000 of them do not all query at once, in
    // phases so that those of one phase share a wake-up.
    let offset = phase_offset(instance.id, every);
    let min_wait = instance.lock_monitoring_delay as f64;
    let mut reporter = LockReporter::default();
    let mut ticker = tokio::time::interval_at(first_tick(ctx.epoch, Instant::now(), offset, every), every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Registered once, not at every tick.
    let stopped = ctx.stop.cancelled();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => return TickEnd::Stopped,
            _ = ticker.tick() => {}
        }
        let ts = now_ms();
        match tokio::time::timeout(deadline, sampler.tick(conn, ts)).await {
            Ok(Ok(tick)) => {
                if let Some((start_ts, reason)) = outage.take() {
                    send(ctx, Batch::Gap(key(ctx, instance), Gap { start_ts, end_ts: ts, reason })).await;
                }
                stats.lock().expect("stats lock").record(&tick);
                if instance.lock_monitoring {
                    if let Some(snapshot) = reporter.observe(locks::build_trees(&tick, min_wait), ts) {
                        send(ctx, Batch::Locks(key(ctx, instance), snapshot)).await;
                    }
                }
                send(ctx, Batch::Ash(key(ctx, instance), tick)).await;
            }
            Ok(Err(e)) if !conn::connection_broken(&e) => {
                tracing::warn!(instance = %instance.name, error = %e, "ASH tick failed");
            }
            Ok(Err(e)) => {
                tracing::info!(instance = %instance.name, error = %e, "ASH connection lost; reconnecting");
                outage.get_or_insert((ts, GapReason::Unreachable));
                return TickEnd::Reconnect;
            }
            Err(_) => {
                tracing::warn!(instance = %instance.name, "ASH tick exceeded its deadline; reconnecting");
                outage.get_or_insert((ts, GapReason::Deadline));
                return TickEnd::Reconnect;
            }
        }
    }
}

async fn set_status(ctx: &Context, instance: &Instance, connected: bool, error: Option<&str>) {
    // A busy store (many instances changing state at once) may time out a write: `connected`
    // must still end up true to reality, so the write is retried a few times.
    for attempt in 1..=5u32 {
        match crate::instances::record_status(&ctx.store, instance, connected, error).await {
            Ok(_) => return,
            Err(e) if attempt == 5 => {
                tracing::warn!(instance = %instance.name, error = %e, "cannot record the connection status");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
        }
    }
}

/// What to do after a slow cycle failed.
enum Failure {
    /// The cycle failed on the server side; the connection is still good.
    Skip,
    Reconnect,
}

/// Bounds a cycle and sorts its failure.
async fn bounded<T>(
    what: &str,
    instance: &Instance,
    deadline: Duration,
    fut: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(deadline, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if !conn::connection_broken(&e) => {
            tracing::warn!(instance = %instance.name, error = %e, "{what} cycle failed");
            Err(Failure::Skip)
        }
        Ok(Err(e)) => {
            tracing::info!(instance = %instance.name, error = %e, "{what} cycle lost the connection");
            Err(Failure::Reconnect)
        }
        Err(_) => {
            tracing::warn!(instance = %instance.name, "{what} cycle exceeded its deadline; reconnecting");
            Err(Failure::Reconnect)
        }
    }
}

/// State of the slow loop that outlives connections (previous counters, due times).
struct Slow {
    statements: Option<(i64, StatementSampler)>,
    activity: Option<(i64, ActivitySampler)>,
    relations: RelationSampler,
    /// Why `pg_stat_statements` cannot be used, as the last statements cycle found.
    statements_error: Option<String>,
    statements_due: Instant,
    activity_due: Instant,
    tables_due: Instant,
    inventory_due: Instant,
}

async fn slow_loop(ctx: &Context, instance: &Instance, target: &Target, stats: &Mutex<SessionStats>) {
    let cfg = &ctx.config;
    let secs = |s: u64| Duration::from_secs(s.max(1));
    // A cycle runs a few queries, each bounded by statement_timeout on the server.
    let deadline = Duration::from_millis(cfg.statement_timeout_ms.max(500) * 2);
    let now = Instant::now();
    let mut slow = Slow {
        statements: None,
        activity: None,
        relations: RelationSampler::default(),
        statements_error: None,
        statements_due: now,
        activity_due: now,
        tables_due: now,
        inventory_due: now,
    };
    let mut backoff = Backoff::new(Duration::from_secs(1), ctx.max_backoff);
    loop {
        let (mut conn, version) = match open(target).await {
            Ok(c) => c,
            Err(_) => {
                // The ASH loop reports the outage; this loop only waits to try again.
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        backoff.reset();
        if slow.statements.as_ref().is_none_or(|(v, _)| *v != version) {
            let (calls, time) = (instance.query_monitoring_min_calls, instance.query_monitoring_min_time);
            slow.statements = Some((version, StatementSampler::new(version, cfg.max_query_text, calls, time)));
        }
        if slow.activity.as_ref().is_none_or(|(v, _)| *v != version) {
            slow.activity = Some((version, ActivitySampler::new(version)));
        }
        // The inventory is read at every connect: the server may have been upgraded or promoted.
        slow.inventory_due = Instant::now();
        loop {
            let result = async {
                let now = Instant::now();
                if instance.query_monitoring && now >= slow.statements_due {
                    slow.statements_due = now + secs(cfg.statements_interval_seconds);
                    statements_cycle(ctx, instance, &mut conn, &mut slow, deadline).await?;
                }
                if now >= slow.inventory_due {
                    slow.inventory_due = now + secs(cfg.inventory_interval_seconds);
                    inventory_cycle(ctx, instance, &mut conn, &slow, deadline).await?;
                }
                if now >= slow.activity_due {
                    slow.activity_due = now + secs(cfg.activity_interval_seconds);
                    let sessions = std::mem::take(&mut *stats.lock().expect("stats lock"));
                    let mut out = SampleSet {
                        tenant_id: instance.tenant_id,
                        resource: &instance.name,
                        ts: now_ms(),
                        samples: vec![],
                    };
                    let sampler = &mut slow.activity.as_mut().expect("set at connect").1;
                    bounded("activity", instance, deadline, sampler.sample(&mut conn, &sessions, &mut out)).await?;
                    ctx.metrics.write(out.samples, "sampler").await;
                }
                if instance.table_monitoring && now >= slow.tables_due {
                    slow.tables_due = now + secs(cfg.tables_interval_seconds);
                    // Every database is visited in turn, each bounded like a cycle of its own.
                    let read = slow.relations.sample(&mut conn, target, cfg.max_tables, now_ms());
                    if let Some(batch) = bounded("tables", instance, deadline * 10, read).await? {
                        send(ctx, Batch::Relations(key(ctx, instance), batch)).await;
                    }
                }
                Ok::<(), Failure>(())
            }
            .await;
            if let Err(Failure::Reconnect) = result {
                break;
            }
            let mut next = slow.activity_due.min(slow.inventory_due);
            if instance.query_monitoring {
                next = next.min(slow.statements_due);
            }
            if instance.table_monitoring {
                next = next.min(slow.tables_due);
            }
            tokio::time::sleep_until(next).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    }
}

async fn statements_cycle(
    ctx: &Context,
    instance: &Instance,
    conn: &mut PgConnection,
    slow: &mut Slow,
    deadline: Duration,
) -> Result<(), Failure> {
    let sampler = &mut slow.statements.as_mut().expect("set at connect").1;
    let outcome = bounded("statements", instance, deadline, sampler.sample(conn, now_ms())).await?;
    let error = match &outcome {
        Outcome::Unavailable(why) => Some(why.clone()),
        _ => None,
    };
    if let Outcome::Batch(batch) = outcome {
        send(ctx, Batch::Statements(key(ctx, instance), batch)).await;
    }
    if error != slow.statements_error {
        // Storage learns at once whether statements are usable, not at the next inventory.
        slow.statements_error = error;
        slow.inventory_due = Instant::now();
    }
    Ok(())
}

async fn inventory_cycle(
    ctx: &Context,
    instance: &Instance,
    conn: &mut PgConnection,
    slow: &Slow,
    deadline: Duration,
) -> Result<(), Failure> {
    let ts = now_ms();
    let read = inventory::read(conn, ts, slow.statements_error.as_deref());
    let inventory = bounded("inventory", instance, deadline, read).await?;
    let mut out = SampleSet { tenant_id: instance.tenant_id, resource: &instance.name, ts, samples: vec![] };
    for (db, size) in &inventory.databases {
        out.push("pg.db.size_bytes", Some(("database", db)), Some("bytes"), *size as f64);
    }
    ctx.metrics.write(out.samples, "sampler").await;
    send(ctx, Batch::Inventory(key(ctx, instance), inventory)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_shared_phases() {
        let every = Duration::from_secs(1);
        let offsets: std::collections::BTreeSet<Duration> = (0..250).map(|id| phase_offset(id, every)).collect();
        assert_eq!(offsets.len(), 10, "ten phases a second");
        assert!(offsets.iter().all(|o| o.as_millis() % 100 == 0 && *o < every));
        assert_eq!(phase_offset(3, Duration::from_secs(10)).as_millis() % 100, 0);
        assert_eq!(
            (0..1000)
                .map(|id| phase_offset(id, Duration::from_secs(10)))
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            100
        );

        let epoch = Instant::now();
        let offset = Duration::from_millis(300);
        assert_eq!(first_tick(epoch, epoch, offset, every), epoch + offset, "before the first phase");
        // Two tasks started at different moments tick at the same instants.
        let a = first_tick(epoch, epoch + Duration::from_millis(1_250), offset, every);
        let b = first_tick(epoch, epoch + Duration::from_millis(1_900), offset, every);
        assert_eq!((a, b), (epoch + Duration::from_millis(1_300), epoch + Duration::from_millis(2_300)));
        assert_eq!(first_tick(epoch, epoch + Duration::from_millis(2_300), offset, every), b, "on the grid");
    }
}
