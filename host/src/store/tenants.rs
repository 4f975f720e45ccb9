//! Tenants: every resource belongs to one; `default` is created on first start.

use super::{now_ms, on_pool, Store, StoreError, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

impl Store {
    pub async fn create_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let sql = "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id, name, created_at";
        on_pool!(self, pool => sqlx::query_as::<_, Tenant>(sql).bind(name).bind(now_ms()).fetch_one(pool).await)
            .map_err(|e| StoreError::conflict_on_unique(e, format!("tenant {name:?} already exists")))
    }

    /// Returns the tenant, creating it if needed (idempotent, race-safe).
    pub async fn ensure_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let sql = "INSERT INTO tenants (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql).bind(name).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        self.tenant_by_name(name).await?.ok_or(StoreError::NotFound)
    }

    pub async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<Tenant>> {
        let sql = "SELECT id, name, created_at FROM tenants WHERE name = $1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Tenant>(sql).bind(name).fetch_optional(pool).await)?)
    }

    pub async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = "SELECT id, name, created_at FROM tenants ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Tenant>(sql).fetch_all(pool).await)?)
    }
}
