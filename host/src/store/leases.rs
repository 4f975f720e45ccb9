//! Instance leases (migration 0019): which cluster member samples which instance. Every time in
//! here is the database's clock (`now_sql`), never a host's, so hosts with skewed clocks agree on
//! when a lease lapses; the fence on PostgreSQL (`vigia_fence`) reads the same clock.

use super::{on_pool, Db, Store, StoreResult};

/// One instance's lease.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    pub instance_id: i64,
    pub owner: String,
    /// Grows at every change of owner.
    pub generation: i64,
    /// Database milliseconds; lapsed at or after this.
    pub expires_at: i64,
}

/// The leases as the database sees them at `now` (its clock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseView {
    pub now: i64,
    pub leases: Vec<LeaseRow>,
}

impl Store {
    /// The database clock in milliseconds, as SQL of this backend.
    fn now_sql(&self) -> &'static str {
        match self.db {
            Db::Postgres(_) => "vigia_now_ms()",
            Db::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// Every lease, and the database's clock read in the same round trip's neighbourhood.
    pub async fn lease_view(&self) -> StoreResult<LeaseView> {
        let now_sql = format!("SELECT {}", self.now_sql());
        let now: i64 = on_pool!(self, pool => sqlx::query_scalar(&now_sql).fetch_one(pool).await)?;
        let sql = "SELECT instance_id, owner, generation, expires_at FROM instance_leases ORDER BY instance_id";
        let leases = on_pool!(self, pool => sqlx::query_as::<_, LeaseRow>(sql).fetch_all(pool).await)?;
        Ok(LeaseView { now, leases })
    }

    /// Ids of the instances sampling applies to (enabled ones), in id order.
    pub async fn enabled_instance_ids(&self) -> StoreResult<Vec<i64>> {
        let sql = "SELECT id FROM instances WHERE enabled = $1 ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(true).fetch_all(pool).await)?)
    }

    /// Takes the leases of `instance_ids` that are free or lapsed for `owner`, for `ttl_ms`; a
    /// lease held by anyone (`owner` included) and not lapsed is left alone. Answers the
    /// (instance, generation) pairs taken, each a new generation.
    pub async fn claim_leases(&self, owner: &str, instance_ids: &[i64], ttl_ms: i64) -> StoreResult<Vec<(i64, i64)>> {
        let now = self.now_sql();
        let sql = format!(
            "INSERT INTO instance_leases (instance_id, owner, generation, expires_at) VALUES ($1, $2, 1, {now} + $3) \
             ON CONFLICT (instance_id) DO UPDATE SET owner = excluded.owner, \
             generation = instance_leases.generation + 1, expires_at = excluded.expires_at \
             WHERE instance_leases.expires_at <= {now} RETURNING instance_id, generation"
        );
        let mut taken = Vec::new();
        for &id in instance_ids {
            let row: Option<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(&sql)
                .bind(id).bind(owner).bind(ttl_ms).fetch_optional(pool).await)?;
            taken.extend(row);
        }
        Ok(taken)
    }

    /// Extends every lease `owner` holds and has not let lapse by `ttl_ms`; answers the
    /// (instance, generation) pairs it still holds.
    pub async fn renew_leases(&self, owner: &str, ttl_ms: i64) -> StoreResult<Vec<(i64, i64)>> {
        let now = self.now_sql();
        let sql = format!(
            "UPDATE instance_leases SET expires_at = {now} + $2 WHERE owner = $1 AND expires_at > {now} \
             RETURNING instance_id, generation"
        );
        let mut held: Vec<(i64, i64)> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(owner).bind(ttl_ms).fetch_all(pool).await)?;
        held.sort_unstable();
        Ok(held)
    }

    /// Lets `owner`'s leases of `instance_ids` lapse now, for the next owner to take at once.
    pub async fn release_leases(&self, owner: &str, instance_ids: &[i64]) -> StoreResult<()> {
        let sql = "UPDATE instance_leases SET expires_at = 0 WHERE owner = $1 AND instance_id = $2";
        for &id in instance_ids {
            on_pool!(self, pool => sqlx::query(sql).bind(owner).bind(id).execute(pool).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Lets every lease of `owner` lapse now (a clean stop hands everything over).
    pub async fn release_all_leases(&self, owner: &str) -> StoreResult<u64> {
        let sql = "UPDATE instance_leases SET expires_at = 0 WHERE owner = $1 AND expires_at > 0";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(owner).execute(pool).await.map(|r| r.rows_affected()))?)
    }
}
