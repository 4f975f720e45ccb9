//! Runs every loaded collector plugin on its interval and stores what it returns. A plugin's
//! interval comes from its config (`interval_seconds`, default 60); runs of one plugin never
//! overlap; at most `max_concurrent` collections run at once (a saturated scheduler delays,
//! never drops, the next due run). In a cluster (`with_claims`) runs fall on slots aligned to
//! the interval, the same on every member, and each slot is claimed in the database before it
//! runs: every interval runs once across the cluster, on whichever member claimed it first (at
//! most once: a member that dies mid-run loses that slot's samples). Each member waits a
//! hashed delay into the slot before claiming (`placement::claim_delay`), so the runs spread
//! over the members instead of going to the one whose clock ticks first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cluster::placement::claim_delay;
use crate::plugins::{CollectContext, LoadState, MetricSample, PluginHost, PluginKind};
use crate::store::{now_ms, Store};
use crate::timeseries::{MetricWriter, Sample};

/// Default collection interval when a plugin's config does not set `interval_seconds`.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 60;
/// How often the scheduler looks for due plugins; bounds how late a run can start.
const TICK: Duration = Duration::from_millis(200);
/// The longest a cluster member waits into a slot before claiming it (see `claim_delay`).
const CLAIM_SPREAD: Duration = Duration::from_millis(250);

/// Where collected samples go and on whose behalf.
#[derive(Clone)]
pub struct CollectorScheduler {
    plugins: Arc<PluginHost>,
    writer: MetricWriter,
    /// Tenant owning plugin-collected data (plugins are installed host-wide).
    tenant_id: i64,
    permits: Arc<Semaphore>,
    running: Arc<Mutex<HashSet<String>>>,
    /// A cluster member's claims: the store and this host's id.
    claims: Option<(Store, String)>,
}

impl CollectorScheduler {
    pub fn new(plugins: Arc<PluginHost>, writer: MetricWriter, tenant_id: i64, max_concurrent: usize) -> Self {
        CollectorScheduler {
            plugins,
            writer,
            tenant_id,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Arc::default(),
            claims: None,
        }
    }

    /// Runs each aligned slot only once it is claimed for `host` in `store` (a cluster member).
    pub fn with_claims(mut self, store: Store, host: String) -> Self {
        self.claims = Some((store, host));
        self
    }

    /// Schedules collections until `stop` is cancelled, then waits for the runs in progress
    /// (bounded by each plugin's timeout) so their samples reach the metric writer.
    pub async fn run(self, stop: CancellationToken) {
        let mut next_due: HashMap<String, i64> = HashMap::new();
        let mut runs = JoinSet::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            while runs.try_join_next().is_some() {}
            self.schedule_due(&mut next_due, &mut runs).await;
        }
        while runs.join_next().await.is_some() {}
    }

    async fn schedule_due(&self, next_due: &mut HashMap<String, i64>, runs: &mut JoinSet<()>) {
        let now = now_ms();
        let collectors: Vec<String> = self
            .plugins
            .list()
            .into_iter()
            .filter(|p| p.kind == Some(PluginKind::Collector) && p.status == LoadState::Loaded)
            .map(|p| p.id)
            .collect();
        next_due.retain(|id, _| collectors.contains(id));
        for id in collectors {
            let due = match next_due.get(&id) {
                Some(due) => *due,
                None => *next_due.entry(id.clone()).or_insert(self.first_due(&id, now).await),
            };
            if due > now || self.running.lock().expect("running set").contains(&id) {
                continue;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break; // Saturated: everything still due is retried next tick.
            };
            let interval_ms = self.interval_ms(&id).await;
            next_due.insert(id.clone(), next_after(due, now, interval_ms, self.claims.is_some()));
            self.running.lock().expect("running set").insert(id.clone());
            let this = self.clone();
            runs.spawn(async move {
                let _permit = permit;
                if this.claimed(&id, due).await {
                    this.run_once(&id, due, interval_ms).await;
                }
                this.running.lock().expect("running set").remove(&id);
            });
        }
    }

    /// When a newly seen plugin first runs: at once on a single host; in a cluster, in the
    /// current aligned slot (which another member may already have claimed).
    async fn first_due(&self, id: &str, now: i64) -> i64 {
        match self.claims {
            None => now,
            Some(_) => now - now.rem_euclid(self.interval_ms(id).await),
        }
    }

    /// Whether this host runs the slot at `slot_ms`: always on a single host; in a cluster, if
    /// its claim wins (a failed claim skips the slot rather than risk running it twice).
    async fn claimed(&self, id: &str, slot_ms: i64) -> bool {
        let Some((store, host)) = &self.claims else { return true };
        tokio::time::sleep(claim_delay(host, id, slot_ms, CLAIM_SPREAD)).await;
        match store.claim_collector_run(id, slot_ms, host).await {
            Ok(won) => won,
            Err(e) => {
                tracing::warn!(plugin = id, error = %e, "claiming a collector run failed; this slot is skipped here");
                false
            }
        }
    }

    async fn interval_ms(&self, id: &str) -> i64 {
        let config = self.plugins.config(id, true).await.unwrap_or_default();
        let seconds = config.get("interval_seconds").and_then(|v| v.as_u64()).unwrap_or(DEFAULT_INTERVAL_SECONDS);
        (seconds.max(1) * 1000) as i64
    }

    /// One collection: call the plugin, store its samples, count the outcome.
    pub async fn run_once(&self, id: &str, scheduled_at_ms: i64, interval_ms: i64) {
        let config = self.plugins.config(id, true).await.unwrap_or_default();
        let resource = config.get("resource").and_then(|v| v.as_str()).unwrap_or(id).to_string();
        let ctx = CollectContext { resource: resource.clone(), scheduled_at_ms, interval_ms: interval_ms as u32 };
        match self.plugins.collect(id, ctx).await {
            Ok(samples) => {
                metrics::counter!("vigia_collector_runs_total", "plugin" => id.to_string(), "outcome" => "ok")
                    .increment(1);
                let now = now_ms();
                let samples = samples.into_iter().map(|s| to_sample(self.tenant_id, &resource, now, s)).collect();
                self.writer.write(samples, id).await;
            }
            Err(e) => {
                metrics::counter!("vigia_collector_runs_total", "plugin" => id.to_string(), "outcome" => e.code())
                    .increment(1);
                tracing::warn!(plugin = id, error = %e, "collection failed");
            }
        }
    }
}

/// The run after the one due at `due`: the cadence is kept (due + interval) unless the scheduler
/// fell a whole interval behind; then the next run is an interval from now, or in a cluster the
/// next aligned slot (members must agree on slots).
fn next_after(due: i64, now: i64, interval_ms: i64, aligned: bool) -> i64 {
    match (now - due > interval_ms, aligned) {
        (false, _) => due + interval_ms,
        (true, false) => now + interval_ms,
        (true, true) => now - now.rem_euclid(interval_ms) + interval_ms,
    }
}

/// A plugin sample in storage form. A `resource` label overrides the default resource, so one
/// collector can report on several targets.
pub fn to_sample(tenant_id: i64, default_resource: &str, now: i64, s: MetricSample) -> Sample {
    let mut labels: BTreeMap<String, String> = s.labels.into_iter().collect();
    let resource = labels.remove("resource").unwrap_or_else(|| default_resource.to_string());
    Sample {
        tenant_id,
        resource,
        metric: s.name,
        labels,
        unit: s.unit,
        ts: s.timestamp_ms.unwrap_or(now),
        value: s.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_keeps_the_cadence_and_slots_stay_aligned_in_a_cluster() {
        assert_eq!(next_after(60_000, 60_100, 60_000, false), 120_000);
        assert_eq!(next_after(60_000, 60_100, 60_000, true), 120_000);
        // A whole interval behind: an interval from now alone, the next slot in a cluster.
        assert_eq!(next_after(60_000, 190_000, 60_000, false), 250_000);
        assert_eq!(next_after(60_000, 190_000, 60_000, true), 240_000);
    }

    #[test]
    fn resource_label_overrides_the_default_and_time_defaults_to_now() {
        let s = MetricSample {
            name: "http.up".into(),
            value: 1.0,
            unit: None,
            labels: vec![("resource".into(), "api".into()), ("target".into(), "a".into())],
            timestamp_ms: None,
        };
        let out = to_sample(7, "http-check", 42, s);
        assert_eq!((out.resource.as_str(), out.ts, out.tenant_id), ("api", 42, 7));
        assert_eq!(out.labels.len(), 1);
    }
}
