//! The native PostgreSQL sampler: one task per enabled instance connects to the monitored server
//! and turns `pg_stat_activity`, `pg_stat_statements`, table/index statistics, locks and the
//! inventory into `crate::model::Batch`es for storage and metric samples for the metric store.
//!
//! `Sampler` is the supervisor: every few seconds it lists the enabled instances of all tenants,
//! starts a task for each new one, stops the tasks of instances disabled or deleted, and restarts
//! a task whose instance changed (`updated_at`). Queries to monitored servers live in this module
//! (`ash`, `statements`, `relations`, `inventory`, `activity_metrics`), never in `store`.
//!
//! Metric samples (source `sampler`, resource = instance name): per database (label `database`)
//! `pg.db.{xact_commit,xact_rollback,blks_read,blks_hit,tup_returned,tup_fetched,tup_inserted,
//! tup_updated,tup_deleted,temp_files,temp_bytes,deadlocks,blk_read_time,blk_write_time}` (deltas),
//! `pg.db.num_backends`, `pg.db.size_bytes`; `pg.bgwriter.*` deltas; instance gauges `pg.up`,
//! `pg.connections`, `pg.max_connections`, `pg.connections_pct`, `pg.cache_hit_pct`,
//! `pg.replication_lag_seconds`, `pg.wal_bytes`, `pg.longest_xact_seconds`, and from the ASH ticks
//! `pg.sessions.active`, `pg.sessions.cpu` (averages) and `pg.sessions.blocked` (max).

pub mod activity_metrics;
mod arrays;
pub mod ash;
pub mod conn;
pub mod inventory;
pub mod locks;
pub mod relations;
pub mod statements;
mod task;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::cluster::Owned;
use crate::config::SamplerConfig;
use crate::model::Batch;
use crate::secrets::{SealedFor, SecretBox};
use crate::store::{Instance, Store};
use crate::timeseries::MetricWriter;

/// Pause between two task starts of one supervision round.
const START_SPACING: Duration = Duration::from_millis(10);

/// Supervisor of the per-instance sampling tasks.
pub struct Sampler {
    store: Store,
    secrets: SecretBox,
    metrics: MetricWriter,
    batches: mpsc::Sender<Batch>,
    config: SamplerConfig,
    /// How often the instance list is read again (changes take effect within this delay).
    pub poll_interval: Duration,
    /// Longest wait between reconnect attempts (the delay doubles from 1 s up to this).
    pub max_backoff: Duration,
    /// A cluster member's instance leases: only these instances are sampled, each under its
    /// lease generation. `None`: a single host samples every enabled instance.
    leases: Option<watch::Receiver<Owned>>,
}

impl Sampler {
    pub fn new(
        store: Store,
        secrets: SecretBox,
        metrics: MetricWriter,
        batches: mpsc::Sender<Batch>,
        config: SamplerConfig,
    ) -> Sampler {
        Sampler {
            store,
            secrets,
            metrics,
            batches,
            config,
            poll_interval: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            leases: None,
        }
    }

    /// Samples only the instances whose leases `leases` publishes (a cluster member), reacting
    /// at once when they change.
    pub fn with_leases(mut self, leases: watch::Receiver<Owned>) -> Sampler {
        self.leases = Some(leases);
        self
    }

    pub fn with_poll_interval(mut self, every: Duration) -> Sampler {
        self.poll_interval = every;
        self
    }

    pub fn with_max_backoff(mut self, max: Duration) -> Sampler {
        self.max_backoff = max;
        self
    }

    /// Starts supervising on the current runtime. Aborting the handle stops every instance task
    /// at once (tests); a server stops it with `run`'s token instead.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run(CancellationToken::new()))
    }

    /// Supervises until `stop` is cancelled, then lets every instance task finish its current
    /// tick (and hand it to storage) before returning.
    pub async fn run(mut self, stop: CancellationToken) {
        let ctx = Arc::new(task::Context {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            batches: self.batches.clone(),
            config: self.config.clone(),
            max_backoff: self.max_backoff,
            stop: stop.clone(),
            lease: None,
            epoch: tokio::time::Instant::now(),
        });
        // Dropping the set (when this future is aborted) aborts every instance task.
        let mut tasks = JoinSet::new();
        // Per instance: the `updated_at` and lease generation its task runs with.
        let mut running: HashMap<i64, ((i64, Option<i64>), AbortHandle)> = HashMap::new();
        let mut ticker = tokio::time::interval(self.poll_interval);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {}
                Some(()) = leases_changed(&mut self.leases) => {}
            }
            while tasks.try_join_next().is_some() {}
            let instances = match self.store.list_enabled_instances().await {
                Ok(list) => list,
                Err(e) => {
                    // Keep sampling what we have; storage may be back at the next poll.
                    tracing::warn!(error = %e, "sampler cannot list instances");
                    continue;
                }
            };
            let owned = self.leases.as_ref().map(|leases| leases.borrow().clone());
            let lease_of = |id: i64| owned.as_ref().map(|o| o.get(&id).copied());
            // Not leased to this member: not sampled here (`Some(None)`).
            let instances: Vec<Instance> = instances.into_iter().filter(|i| lease_of(i.id) != Some(None)).collect();
            let wanted: HashMap<i64, (i64, Option<i64>)> =
                instances.iter().map(|i| (i.id, (i.updated_at, lease_of(i.id).flatten()))).collect();
            running.retain(|id, (version, handle)| {
                let keep = wanted.get(id) == Some(version);
                if !keep {
                    handle.abort();
                }
                keep
            });
            let mut started = 0usize;
            for instance in instances {
                if running.contains_key(&instance.id) {
                    continue;
                }
                if stop.is_cancelled() {
                    break;
                }
                // At most ~100 new connections a second: a thousand instances registered at once
                // (or a restart) must not storm the monitored servers nor Vigia's own storage.
                if started > 0 {
                    tokio::time::sleep(START_SPACING).await;
                }
                started += 1;
                let (id, version) = (instance.id, (instance.updated_at, lease_of(instance.id).flatten()));
                let ctx = Arc::new(task::Context { lease: version.1, ..(*ctx).clone() });
                if let Some(handle) = self.start(&ctx, &mut tasks, instance).await {
                    running.insert(id, (version, handle));
                }
            }
        }
        let stopping = tasks.len();
        while tasks.join_next().await.is_some() {}
        tracing::info!(tasks = stopping, "sampler stopped");
    }

    /// Starts the task of one instance; `None` when it cannot run (an unreadable password), which
    /// is recorded as the instance's status and not retried until the instance changes.
    async fn start(
        &self,
        ctx: &Arc<task::Context>,
        tasks: &mut JoinSet<()>,
        instance: Instance,
    ) -> Option<AbortHandle> {
        let owner = SealedFor::InstancePassword { tenant_id: instance.tenant_id, instance_id: instance.id };
        let problem = match (self.secrets.open(&instance.password_sealed, &owner), u16::try_from(instance.port)) {
            (Ok(password), Ok(port)) => {
                let target = conn::Target {
                    host: instance.host.clone(),
                    port,
                    user: instance.username.clone(),
                    password,
                    tls: crate::instances::Tls::of(&instance),
                    statement_timeout_ms: self.config.statement_timeout_ms,
                    networks: self.config.target_networks().unwrap_or_default().into(),
                };
                tracing::info!(instance = %instance.name, tenant = instance.tenant_id, "sampling");
                return Some(tasks.spawn(task::run(ctx.clone(), instance, target)));
            }
            (Err(e), _) => format!("cannot open the stored password: {e}"),
            (_, Err(_)) => format!("invalid port {}", instance.port),
        };
        tracing::warn!(instance = %instance.name, error = %problem, "instance not sampled");
        let _ = crate::instances::record_status(&self.store, &instance, false, Some(&problem)).await;
        // A placeholder handle so the instance is not retried every poll: a task that ends at once.
        Some(tasks.spawn(async {}))
    }
}

/// Resolves when a cluster member's leases changed; never for a single host (or once the keeper
/// is gone).
async fn leases_changed(leases: &mut Option<watch::Receiver<Owned>>) -> Option<()> {
    match leases {
        Some(receiver) => receiver.changed().await.ok(),
        None => std::future::pending().await,
    }
}
