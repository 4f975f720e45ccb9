//! Cluster members (migration 0018): a host's registration, its heartbeat and its clean stop.

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
}

const HOST_COLUMNS: &str = "id, address, version, started_at, heartbeat_at, stopped_at, key_check";

impl Store {
    /// Registers a host starting now (again, if it was a member before).
    pub async fn register_host(&self, host: &HostRow) -> StoreResult<()> {
        let sql = "INSERT INTO hosts (id, address, version, started_at, heartbeat_at, stopped_at, key_check) \
                   VALUES ($1, $2, $3, $4, $4, NULL, $5) ON CONFLICT (id) DO UPDATE SET address = $2, version = $3, \
                   started_at = $4, heartbeat_at = $4, stopped_at = NULL, key_check = $5";
        on_pool!(self, pool => sqlx::query(sql).bind(&host.id).bind(&host.address).bind(&host.version)
            .bind(host.started_at).bind(&host.key_check).execute(pool).await.map(|_| ()))?;
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

    /// Every registered host, by id.
    pub async fn list_hosts(&self) -> StoreResult<Vec<HostRow>> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM hosts ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostRow>(&sql).fetch_all(pool).await)?)
    }
}
