//! Services of a tenant (migration 0015): slug (unique per tenant), name, visibility, tags (a
//! JSON array), the components their health is made of, the derived `current_status` and its
//! transitions. A service and its components are written in one transaction.

use sqlx::QueryBuilder;

use super::{now_ms, on_pool, ComponentKind, ServiceStatus, Store, StoreError, StoreResult, Visibility};

/// A stored service; `tags` is the JSON array as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ServiceRow {
    pub id: i64,
    pub tenant_id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub tags: String,
    pub current_status: ServiceStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One component of a service.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ComponentRow {
    pub service_id: i64,
    pub kind: ComponentKind,
    pub target: String,
}

/// What an incident or a window links to: enough of a service to name it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceRef {
    /// The incident's or window's id.
    pub owner_id: i64,
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// A service as created or replaced (validated by the caller).
pub struct ServiceWrite<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: Visibility,
    /// JSON array of strings.
    pub tags: &'a str,
    pub components: &'a [(ComponentKind, String)],
}

/// Filters of the service list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ServiceFilter {
    pub status: Option<ServiceStatus>,
    pub visibility: Option<Visibility>,
    /// Case-insensitive substring of the name, slug or description.
    pub search: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The tables linking incidents and windows to services.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    Incident,
    Maintenance,
}

impl Link {
    /// (table, owner column).
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Link::Incident => ("incident_services", "incident_id"),
            Link::Maintenance => ("maintenance_services", "window_id"),
        }
    }
}

const SERVICE_COLUMNS: &str =
    "id, tenant_id, slug, name, description, visibility, tags, current_status, created_at, updated_at";

/// `text` as a LIKE pattern matching it anywhere, its wildcards escaped (with `\`).
fn contains_pattern(text: &str) -> String {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] })
        .collect();
    format!("%{escaped}%")
}

/// Writes the components of service `$id` inside the open transaction `$tx` (a macro because
/// the transaction types differ per backend), replacing what was there.
macro_rules! replace_components {
    ($tx:ident, $id:expr, $components:expr) => {{
        sqlx::query("DELETE FROM service_components WHERE service_id = $1").bind($id).execute(&mut *$tx).await?;
        for (kind, target) in $components {
            sqlx::query(
                "INSERT INTO service_components (service_id, kind, target) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(kind.as_str())
            .bind(target.as_str())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    /// `Conflict` when the tenant already has a service with this slug.
    pub async fn create_service(&self, tenant_id: i64, w: &ServiceWrite<'_>) -> StoreResult<ServiceRow> {
        let sql = format!(
            "INSERT INTO services (tenant_id, slug, name, description, visibility, tags, current_status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {SERVICE_COLUMNS}"
        );
        let taken = |e| StoreError::conflict_on_unique(e, format!("a service has the slug {:?}", w.slug));
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, ServiceRow>(&sql)
                .bind(tenant_id).bind(w.slug).bind(w.name).bind(w.description).bind(w.visibility.as_str())
                .bind(w.tags).bind(ServiceStatus::Operational.as_str()).bind(now_ms())
                .fetch_one(&mut *tx).await.map_err(taken)?;
            replace_components!(tx, row.id, w.components);
            // Its first transition: uptime is known from its creation on.
            sqlx::query("INSERT INTO service_status_transitions (service_id, at, status, cause) VALUES ($1, $2, $3, $4)")
                .bind(row.id).bind(row.created_at).bind(row.current_status.as_str()).bind("service created")
                .execute(&mut *tx).await?;
            tx.commit().await?;
            row
        }))
    }

    /// Replaces a service and its components; `NotFound`, or `Conflict` on a taken slug.
    pub async fn update_service(&self, tenant_id: i64, id: i64, w: &ServiceWrite<'_>) -> StoreResult<ServiceRow> {
        let sql = format!(
            "UPDATE services SET slug = $3, name = $4, description = $5, visibility = $6, tags = $7, updated_at = $8 \
             WHERE tenant_id = $1 AND id = $2 RETURNING {SERVICE_COLUMNS}"
        );
        let taken = |e| StoreError::conflict_on_unique(e, format!("a service has the slug {:?}", w.slug));
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, ServiceRow>(&sql)
                .bind(tenant_id).bind(id).bind(w.slug).bind(w.name).bind(w.description).bind(w.visibility.as_str())
                .bind(w.tags).bind(now_ms())
                .fetch_optional(&mut *tx).await.map_err(taken)?.ok_or(StoreError::NotFound)?;
            replace_components!(tx, row.id, w.components);
            tx.commit().await?;
            row
        }))
    }

    /// Deletes a service with its components, links and transitions.
    pub async fn delete_service(&self, tenant_id: i64, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM services WHERE tenant_id = $1 AND id = $2";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn service(&self, tenant_id: i64, id: i64) -> StoreResult<ServiceRow> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, pool => sqlx::query_as::<_, ServiceRow>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// A page of the tenant's services by name, and how many match in all.
    pub async fn list_services(&self, tenant_id: i64, f: &ServiceFilter) -> StoreResult<(Vec<ServiceRow>, i64)> {
        let pattern = f.search.as_deref().map(contains_pattern);
        // A macro, not a closure: the builder's database type differs per backend.
        macro_rules! filtered {
            ($select:expr) => {{
                let mut q = QueryBuilder::new(format!("SELECT {} FROM services WHERE tenant_id = ", $select));
                q.push_bind(tenant_id);
                if let Some(s) = f.status {
                    q.push(" AND current_status = ").push_bind(s.as_str());
                }
                if let Some(v) = f.visibility {
                    q.push(" AND visibility = ").push_bind(v.as_str());
                }
                if let Some(p) = &pattern {
                    q.push(" AND (LOWER(name) LIKE ").push_bind(p.clone()).push(" ESCAPE '\\'");
                    q.push(" OR LOWER(slug) LIKE ").push_bind(p.clone()).push(" ESCAPE '\\'");
                    q.push(" OR LOWER(description) LIKE ").push_bind(p.clone()).push(" ESCAPE '\\')");
                }
                q
            }};
        }
        Ok(on_pool!(self, pool => {
            let mut q = filtered!(SERVICE_COLUMNS);
            q.push(" ORDER BY name, id LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
            let rows = q.build_query_as::<ServiceRow>().fetch_all(pool).await?;
            let total = filtered!("COUNT(*)").build_query_scalar::<i64>().fetch_one(pool).await?;
            (rows, total)
        }))
    }

    /// The components of these services.
    pub async fn components_of(&self, service_ids: &[i64]) -> StoreResult<Vec<ComponentRow>> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT service_id, kind, target FROM service_components WHERE service_id IN (");
            let mut ids = q.separated(", ");
            for id in service_ids {
                ids.push_bind(*id);
            }
            q.push(") ORDER BY service_id, id");
            q.build_query_as::<ComponentRow>().fetch_all(pool).await?
        }))
    }

    /// Which of `ids` are services of the tenant (the others are missing or another tenant's).
    pub async fn existing_service_ids(&self, tenant_id: i64, ids: &[i64]) -> StoreResult<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT id FROM services WHERE tenant_id = ");
            q.push_bind(tenant_id).push(" AND id IN (");
            let mut sep = q.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            q.push(") ORDER BY id");
            q.build_query_scalar::<i64>().fetch_all(pool).await?
        }))
    }

    /// The services linked to these incidents or windows, by owner then name.
    pub async fn linked_services(&self, link: Link, owner_ids: &[i64]) -> StoreResult<Vec<ServiceRef>> {
        if owner_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (table, owner) = link.table();
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(format!(
                "SELECT l.{owner} AS owner_id, s.id, s.slug, s.name FROM {table} l JOIN services s ON s.id = l.service_id \
                 WHERE l.{owner} IN ("
            ));
            let mut sep = q.separated(", ");
            for id in owner_ids {
                sep.push_bind(*id);
            }
            q.push(") ORDER BY 1, s.name, s.id");
            q.build_query_as::<ServiceRef>().fetch_all(pool).await?
        }))
    }

    /// Records a change of a service's derived status and makes it current, in one transaction.
    pub async fn record_service_status(
        &self,
        service_id: i64,
        at: i64,
        status: ServiceStatus,
        cause: &str,
    ) -> StoreResult<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE services SET current_status = $2 WHERE id = $1")
                .bind(service_id).bind(status.as_str()).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO service_status_transitions (service_id, at, status, cause) VALUES ($1, $2, $3, $4)")
                .bind(service_id).bind(at).bind(status.as_str()).bind(cause).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Replaces the services linked to `$owner` in `$link`'s table inside the open transaction `$tx`.
macro_rules! replace_links {
    ($tx:ident, $link:expr, $owner:expr, $service_ids:expr) => {{
        let (table, column) = $crate::store::services::link_table($link);
        sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1")).bind($owner).execute(&mut *$tx).await?;
        for service_id in $service_ids {
            sqlx::query(&format!("INSERT INTO {table} ({column}, service_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"))
                .bind($owner)
                .bind(*service_id)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(super) use replace_links;

/// (table, owner column) of a link, for `replace_links!`.
pub(super) fn link_table(link: Link) -> (&'static str, &'static str) {
    link.table()
}
