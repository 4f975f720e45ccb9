//! Runs every loaded collector plugin on its interval and stores what it returns. A plugin's
//! interval comes from its config (`interval_seconds`, default 60); runs of one plugin never
//! overlap; at most `max_concurrent` collections run at once (a saturated scheduler delays,
//! never drops, the next due run).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::plugins::{CollectContext, LoadState, MetricSample, PluginHost, PluginKind};
use crate::store::now_ms;
use crate::timeseries::{MetricWriter, Sample};

/// Default collection interval when a plugin's config does not set `interval_seconds`.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 60;
/// How often the scheduler looks for due plugins; bounds how late a run can start.
const TICK: Duration = Duration::from_millis(200);

/// Where collected samples go and on whose behalf.
#[derive(Clone)]
pub struct CollectorScheduler {
    plugins: Arc<PluginHost>,
    writer: MetricWriter,
    /// Tenant owning plugin-collected data (plugins are installed host-wide).
    tenant_id: i64,
    permits: Arc<Semaphore>,
    running: Arc<Mutex<HashSet<String>>>,
}

impl CollectorScheduler {
    pub fn new(plugins: Arc<PluginHost>, writer: MetricWriter, tenant_id: i64, max_concurrent: usize) -> Self {
        CollectorScheduler {
            plugins,
            writer,
            tenant_id,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Arc::default(),
        }
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
            // A newly seen plugin runs at once, then on its interval.
            let due = *next_due.entry(id.clone()).or_insert(now);
            if due > now || self.running.lock().expect("running set").contains(&id) {
                continue;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break; // Saturated: everything still due is retried next tick.
            };
            let interval_ms = self.interval_ms(&id).await;
            // Keep the cadence (due + interval) unless we fell a whole interval behind.
            next_due.insert(id.clone(), if now - due > interval_ms { now + interval_ms } else { due + interval_ms });
            self.running.lock().expect("running set").insert(id.clone());
            let this = self.clone();
            runs.spawn(async move {
                let _permit = permit;
                this.run_once(&id, due, interval_ms).await;
                this.running.lock().expect("running set").remove(&id);
            });
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
