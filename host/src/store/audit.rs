//! The audit log's storage (migration 0013): append-only rows chained by HMAC, and the one-row
//! head every append locks first. The HMAC itself is computed by the caller (`crate::audit`),
//! inside the append's transaction, from the id and previous hmac this module hands it.

use super::{on_pool, Store, StoreResult};

/// One entry to append; `id` and `hmac` are decided inside the append.
#[derive(Debug, Clone)]
pub struct AuditWrite {
    pub at: i64,
    pub tenant_id: i64,
    pub actor: String,
    pub token_prefix: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: String,
    pub action: String,
    pub target: String,
    pub success: bool,
    pub status: i64,
    /// JSON text, stored and signed as given.
    pub details: String,
}

/// A stored entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub tenant_id: i64,
    pub actor: String,
    pub token_prefix: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: String,
    pub action: String,
    pub target: String,
    pub success: bool,
    pub status: i64,
    pub details: String,
    pub hmac: String,
}

impl AuditRow {
    /// The entry as it was written (what the HMAC covers, with `id`).
    pub fn write(&self) -> AuditWrite {
        AuditWrite {
            at: self.at,
            tenant_id: self.tenant_id,
            actor: self.actor.clone(),
            token_prefix: self.token_prefix.clone(),
            source_ip: self.source_ip.clone(),
            request_id: self.request_id.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            success: self.success,
            status: self.status,
            details: self.details.clone(),
        }
    }
}

/// Filters of `GET /api/v1/audit`; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// An action (`token.create`) or its family (`token`).
    pub action: Option<String>,
    pub actor: Option<String>,
    pub success: Option<bool>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

const COLUMNS: &str = "id, at, tenant_id, actor, token_prefix, source_ip, request_id, action, target, success, \
                       status, details, hmac";

impl Store {
    /// Appends one entry: locks the head (so appenders, in this process or another sharing the
    /// database, take turns), asks `sign(id, previous hmac)` for this entry's hmac, inserts the
    /// row and moves the head, in one transaction. Returns the new id.
    pub async fn append_audit(&self, w: &AuditWrite, sign: impl FnOnce(i64, &str) -> String) -> StoreResult<i64> {
        let insert = format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // The UPDATE comes first so it takes the write lock at once (a read first would let two
            // SQLite transactions both read and then fail to upgrade; on PostgreSQL the row lock
            // makes the second appender wait and then read the first one's head).
            let (id, prev): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1 RETURNING last_id, last_hmac",
            )
            .fetch_one(&mut *tx)
            .await?;
            let hmac = sign(id, &prev);
            sqlx::query(&insert)
                .bind(id).bind(w.at).bind(w.tenant_id).bind(&w.actor).bind(&w.token_prefix).bind(&w.source_ip)
                .bind(&w.request_id).bind(&w.action).bind(&w.target).bind(w.success).bind(w.status)
                .bind(&w.details).bind(&hmac)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE audit_head SET last_hmac = $1 WHERE id = 1").bind(&hmac).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A tenant's entries, newest first.
    pub async fn list_audit(&self, tenant_id: i64, f: &AuditFilter) -> StoreResult<Vec<AuditRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE tenant_id = $1 \
             AND ($2 IS NULL OR action = $2 OR action LIKE $2 || '.%') AND ($3 IS NULL OR actor = $3) \
             AND ($4 IS NULL OR success = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at <= $6) \
             ORDER BY id DESC LIMIT $7 OFFSET $8"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AuditRow>(&sql)
            .bind(tenant_id).bind(&f.action).bind(&f.actor).bind(f.success).bind(f.from).bind(f.to)
            .bind(f.limit).bind(f.offset)
            .fetch_all(pool).await)?)
    }

    /// One entry of a tenant (any tenant's with `None`: the operator's offline verification).
    pub async fn audit_entry(&self, tenant_id: Option<i64>, id: i64) -> StoreResult<Option<AuditRow>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2)");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AuditRow>(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await)?,
        )
    }

    /// Up to `limit` entries of the whole chain with `after < id <= until`, in chain order.
    pub async fn audit_chain_page(&self, after: i64, until: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AuditRow>(&sql).bind(after).bind(until).bind(limit).fetch_all(pool).await)?,
        )
    }

    /// The chain's head: the last id handed out and its hmac (`0`, `""` when empty).
    pub async fn audit_head(&self) -> StoreResult<(i64, String)> {
        let sql = "SELECT last_id, last_hmac FROM audit_head WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(sql).fetch_one(pool).await)?)
    }
}
