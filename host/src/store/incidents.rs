//! Incidents of a tenant (migration 0015) with their timeline (`incident_updates`) and the
//! services they affect. A change is written whole, with the update it appends and the services
//! it links, in one transaction, and only over the version it was computed from (the incident's
//! status and `updated_at`), so two concurrent moves cannot both apply. The notifications of the
//! change (`NoticeWrite`, built by `status::notify`) are queued in the same transaction.

use sqlx::QueryBuilder;

use super::outbox::queue_notices;
use super::services::{replace_links, Link};
use super::{on_pool, IncidentSeverity, IncidentStatus, NoticeWrite, Store, StoreError, StoreResult, Visibility};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub tenant_id: i64,
    pub title: String,
    pub description: String,
    pub severity: IncidentSeverity,
    pub status: IncidentStatus,
    pub visibility: Visibility,
    pub root_cause: Option<String>,
    pub postmortem: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

#[cfg(test)]
impl IncidentRow {
    /// An investigating, degraded, public incident (id 5), for unit tests of its state machine.
    pub(crate) fn example() -> IncidentRow {
        IncidentRow {
            id: 5,
            tenant_id: 1,
            title: "Deploy failed".into(),
            description: String::new(),
            severity: IncidentSeverity::Degraded,
            status: IncidentStatus::Investigating,
            visibility: Visibility::Public,
            root_cause: None,
            postmortem: None,
            created_at: 0,
            updated_at: 0,
            resolved_at: None,
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct IncidentUpdateRow {
    pub id: i64,
    pub incident_id: i64,
    pub status: IncidentStatus,
    pub message: String,
    pub is_public: bool,
    pub at: i64,
}

/// An update to append with a change.
pub struct UpdateWrite<'a> {
    pub status: IncidentStatus,
    pub message: &'a str,
    pub is_public: bool,
}

/// Filters of the incident list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<IncidentSeverity>,
    /// Only incidents that are not resolved.
    pub open_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Appends an update to an incident's timeline inside the open transaction `$tx` and gives its
/// id (a macro because the transaction types differ per backend).
macro_rules! append_update {
    ($tx:ident, $incident_id:expr, $u:expr, $at:expr) => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO incident_updates (incident_id, status, message, is_public, at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind($incident_id)
        .bind($u.status.as_str())
        .bind($u.message)
        .bind($u.is_public)
        .bind($at)
        .fetch_one(&mut *$tx)
        .await?
    };
}

pub(super) const INCIDENT_COLUMNS: &str =
    "id, tenant_id, title, description, severity, status, visibility, root_cause, \
    postmortem, created_at, updated_at, resolved_at";

impl Store {
    /// Stores a new incident (`i.id` is ignored) with its first update, affected services and
    /// the notifications of its creation.
    pub async fn create_incident(
        &self,
        i: &IncidentRow,
        first: &UpdateWrite<'_>,
        service_ids: &[i64],
        notices: &NoticeWrite<'_, IncidentRow>,
    ) -> StoreResult<IncidentRow> {
        let sql = format!(
            "INSERT INTO incidents (tenant_id, title, description, severity, status, visibility, root_cause, \
             postmortem, created_at, updated_at, resolved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             RETURNING {INCIDENT_COLUMNS}"
        );
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, IncidentRow>(&sql)
                .bind(i.tenant_id).bind(&i.title).bind(&i.description).bind(i.severity.as_str())
                .bind(i.status.as_str()).bind(i.visibility.as_str()).bind(&i.root_cause).bind(&i.postmortem)
                .bind(i.created_at).bind(i.updated_at).bind(i.resolved_at)
                .fetch_one(&mut *tx).await?;
            let update_id = append_update!(tx, row.id, first, row.updated_at);
            replace_links!(tx, Link::Incident, row.id, service_ids);
            if !notices.channels.is_empty() {
                queue_notices!(tx, row.tenant_id, notices.channels, &(notices.notice)(&row, Some(update_id)), row.updated_at);
            }
            tx.commit().await?;
            row
        }))
    }

    /// Writes `i` over the stored incident if it is still the version `(was_status, was_updated_at)`,
    /// appending `update`, replacing the linked services when given and queuing `notices` (if
    /// any). `NotFound` when it is gone, `Conflict` when it changed in between.
    pub async fn save_incident(
        &self,
        i: &IncidentRow,
        was: (IncidentStatus, i64),
        update: Option<&UpdateWrite<'_>>,
        service_ids: Option<&[i64]>,
        notices: Option<&NoticeWrite<'_, IncidentRow>>,
    ) -> StoreResult<IncidentRow> {
        let sql = format!(
            "UPDATE incidents SET title = $3, description = $4, severity = $5, status = $6, visibility = $7, \
             root_cause = $8, postmortem = $9, updated_at = $10, resolved_at = $11 \
             WHERE tenant_id = $1 AND id = $2 AND status = $12 AND updated_at = $13 RETURNING {INCIDENT_COLUMNS}"
        );
        let saved = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, IncidentRow>(&sql)
                .bind(i.tenant_id).bind(i.id).bind(&i.title).bind(&i.description).bind(i.severity.as_str())
                .bind(i.status.as_str()).bind(i.visibility.as_str()).bind(&i.root_cause).bind(&i.postmortem)
                .bind(i.updated_at).bind(i.resolved_at).bind(was.0.as_str()).bind(was.1)
                .fetch_optional(&mut *tx).await?;
            if let Some(row) = &row {
                let update_id = match update {
                    Some(u) => Some(append_update!(tx, row.id, u, row.updated_at)),
                    None => None,
                };
                if let Some(ids) = service_ids {
                    replace_links!(tx, Link::Incident, row.id, ids);
                }
                if let Some(n) = notices.filter(|n| !n.channels.is_empty()) {
                    queue_notices!(tx, row.tenant_id, n.channels, &(n.notice)(row, update_id), row.updated_at);
                }
                tx.commit().await?;
            }
            row
        });
        match saved {
            Some(row) => Ok(row),
            None => {
                self.incident(i.tenant_id, i.id).await?;
                Err(StoreError::Conflict(format!("incident {} changed meanwhile; read it and try again", i.id)))
            }
        }
    }

    pub async fn incident(&self, tenant_id: i64, id: i64) -> StoreResult<IncidentRow> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, pool => sqlx::query_as::<_, IncidentRow>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// A page of the tenant's incidents, newest first, and how many match in all.
    pub async fn list_incidents(&self, tenant_id: i64, f: &IncidentFilter) -> StoreResult<(Vec<IncidentRow>, i64)> {
        // A macro, not a closure: the builder's database type differs per backend.
        macro_rules! filtered {
            ($select:expr) => {{
                let mut q = QueryBuilder::new(format!("SELECT {} FROM incidents WHERE tenant_id = ", $select));
                q.push_bind(tenant_id);
                if let Some(s) = f.status {
                    q.push(" AND status = ").push_bind(s.as_str());
                }
                if let Some(s) = f.severity {
                    q.push(" AND severity = ").push_bind(s.as_str());
                }
                if f.open_only {
                    q.push(" AND status <> ").push_bind(IncidentStatus::Resolved.as_str());
                }
                q
            }};
        }
        Ok(on_pool!(self, pool => {
            let mut q = filtered!(INCIDENT_COLUMNS);
            q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
            let rows = q.build_query_as::<IncidentRow>().fetch_all(pool).await?;
            let total = filtered!("COUNT(*)").build_query_scalar::<i64>().fetch_one(pool).await?;
            (rows, total)
        }))
    }

    /// The timeline of an incident, oldest first.
    pub async fn incident_updates(&self, incident_id: i64) -> StoreResult<Vec<IncidentUpdateRow>> {
        let sql = "SELECT id, incident_id, status, message, is_public, at FROM incident_updates \
                   WHERE incident_id = $1 ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IncidentUpdateRow>(sql).bind(incident_id).fetch_all(pool).await)?)
    }
}
