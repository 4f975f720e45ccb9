//! Cluster members (migrations 0018–0024): a host's registration, its heartbeat, its clean stop,
//! the leadership marker, the claims of collector runs, and how its plugins directory differs
//! from the bundles stored in the database.

use super::{on_pool, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HostRow {
    pub id: String,
    pub address: String,
    pub version: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
    pub stopped_at: Option<i64>,
    /// Which secret key the host runs with (`cluster::key_check`); empty before migration 0019.
    pub key_check: String,
    /// Since when it leads the cluster (the last host to take the leadership).
    pub leader_since: Option<i64>,
    /// It samples instances (`[sampler] enabled`): only such members hold instance leases.
    pub samples: bool,
    /// How its plugins directory differs from the stored bundles (JSON array, `[]` when in
    /// agreement; `plugins::Divergence`), as its last materialiser pass found it.
    pub plugin_divergence: String,
}

const HOST_COLUMNS: &str =
    "id, address, version, started_at, heartbeat_at, stopped_at, key_check, leader_since, samples, plugin_divergence";

impl Store {
    /// Registers a host starting now (again, if it was a member before).
    pub async fn register_host(&self, host: &HostRow) -> StoreResult<()> {
        let sql = "INSERT INTO hosts (id, address, version, started_at, heartbeat_at, stopped_at, key_check, samples) \
                   VALUES ($1, $2, $3, $4, $4, NULL, $5, $6) ON CONFLICT (id) DO UPDATE SET address = $2, version = $3, \
                   started_at = $4, heartbeat_at = $4, stopped_at = NULL, key_check = $5, leader_since = NULL, samples = $6";
        on_pool!(self, pool => sqlx::query(sql).bind(&host.id).bind(&host.address).bind(&host.version)
            .bind(host.started_at).bind(&host.key_check).bind(host.samples).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Records a heartbeat; `false` if the host is no longer registered (its row was removed).
    pub async fn beat_host(&self, id: &str, now: i64) -> StoreResult<bool> {
        let sql = "UPDATE hosts SET heartbeat_at = $2 WHERE id = $1 AND stopped_at IS NULL";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(now).execute(pool).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Records a clean stop.
    pub async fn stop_host(&self, id: &str, now: i64) -> StoreResult<()> {
        let sql = "UPDATE hosts SET stopped_at = $2 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Records that `id` took the leadership at `now` (and nobody else holds it).
    pub async fn mark_leader(&self, id: &str, now: i64) -> StoreResult<()> {
        let sql = "UPDATE hosts SET leader_since = CASE WHEN id = $1 THEN $2 ELSE NULL END";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Records how host `id`'s plugins directory differs from the stored bundles (JSON).
    pub async fn set_host_plugin_divergence(&self, id: &str, divergence: &str) -> StoreResult<()> {
        let sql = "UPDATE hosts SET plugin_divergence = $2 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(divergence).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Every registered host, by id.
    pub async fn list_hosts(&self) -> StoreResult<Vec<HostRow>> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM hosts ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostRow>(&sql).fetch_all(pool).await)?)
    }

    /// Claims the run of collector `plugin_id` for the interval slot starting at `slot_ms` for
    /// `host`; `false` when another host claimed it first (it runs there).
    pub async fn claim_collector_run(&self, plugin_id: &str, slot_ms: i64, host: &str) -> StoreResult<bool> {
        let sql = "INSERT INTO collector_runs (plugin_id, slot_ms, host) VALUES ($1, $2, $3) \
                   ON CONFLICT (plugin_id, slot_ms) DO NOTHING";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(plugin_id).bind(slot_ms).bind(host).execute(pool).await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Forgets the claims of slots that started before `before`.
    pub async fn prune_collector_runs(&self, before: i64) -> StoreResult<u64> {
        let sql = "DELETE FROM collector_runs WHERE slot_ms < $1";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))?)
    }
}
