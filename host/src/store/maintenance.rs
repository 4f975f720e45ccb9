//! Maintenance windows of a tenant (migration 0015) and the services they cover. A move
//! (`status::maintenance`) is written only over the status it was computed from, so the
//! scheduler and a person acting at the same moment cannot both move a window. The notifications
//! of a move (`NoticeWrite`, built by `status::notify`) are queued in its transaction.

use sqlx::QueryBuilder;

use super::outbox::queue_notices;
use super::services::{replace_links, Link};
use super::{on_pool, MaintenanceStatus, NoticeWrite, Store, StoreError, StoreResult, Visibility};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MaintenanceRow {
    pub id: i64,
    pub tenant_id: i64,
    pub title: String,
    pub description: String,
    pub scheduled_start: i64,
    pub scheduled_end: i64,
    pub actual_start: Option<i64>,
    pub actual_end: Option<i64>,
    pub status: MaintenanceStatus,
    pub visibility: Visibility,
    pub exclude_from_sla: bool,
    pub suppress_alerts: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[cfg(test)]
impl MaintenanceRow {
    /// A scheduled window (id 3) from 1,000 to 2,000 ms, for unit tests of its state machine.
    pub(crate) fn example() -> MaintenanceRow {
        MaintenanceRow {
            id: 3,
            tenant_id: 1,
            title: "Failover drill".into(),
            description: String::new(),
            scheduled_start: 1_000,
            scheduled_end: 2_000,
            actual_start: None,
            actual_end: None,
            status: MaintenanceStatus::Scheduled,
            visibility: Visibility::Public,
            exclude_from_sla: true,
            suppress_alerts: false,
            created_at: 0,
            updated_at: 0,
        }
    }
}

/// Filters of the window list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct MaintenanceFilter {
    pub status: Option<MaintenanceStatus>,
    pub limit: i64,
    pub offset: i64,
}

pub(super) const WINDOW_COLUMNS: &str =
    "id, tenant_id, title, description, scheduled_start, scheduled_end, actual_start, \
    actual_end, status, visibility, exclude_from_sla, suppress_alerts, created_at, updated_at";

impl Store {
    /// Stores a new window (`w.id` is ignored) with the services it covers.
    pub async fn create_maintenance(&self, w: &MaintenanceRow, service_ids: &[i64]) -> StoreResult<MaintenanceRow> {
        let sql = format!(
            "INSERT INTO maintenance_windows (tenant_id, title, description, scheduled_start, scheduled_end, \
             actual_start, actual_end, status, visibility, exclude_from_sla, suppress_alerts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {WINDOW_COLUMNS}"
        );
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, MaintenanceRow>(&sql)
                .bind(w.tenant_id).bind(&w.title).bind(&w.description).bind(w.scheduled_start).bind(w.scheduled_end)
                .bind(w.actual_start).bind(w.actual_end).bind(w.status.as_str()).bind(w.visibility.as_str())
                .bind(w.exclude_from_sla).bind(w.suppress_alerts).bind(w.created_at).bind(w.updated_at)
                .fetch_one(&mut *tx).await?;
            replace_links!(tx, Link::Maintenance, row.id, service_ids);
            tx.commit().await?;
            row
        }))
    }

    /// Writes the moved window `w` if its stored status is still `was`, with the notifications
    /// of the move: `None` when it is not (someone else moved it first), `NotFound` when it is gone.
    pub async fn save_maintenance_move(
        &self,
        w: &MaintenanceRow,
        was: MaintenanceStatus,
        notices: &NoticeWrite<'_, MaintenanceRow>,
    ) -> StoreResult<Option<MaintenanceRow>> {
        let sql = format!(
            "UPDATE maintenance_windows SET status = $3, actual_start = $4, actual_end = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2 AND status = $7 RETURNING {WINDOW_COLUMNS}"
        );
        let saved = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query_as::<_, MaintenanceRow>(&sql)
                .bind(w.tenant_id).bind(w.id).bind(w.status.as_str()).bind(w.actual_start).bind(w.actual_end)
                .bind(w.updated_at).bind(was.as_str())
                .fetch_optional(&mut *tx).await?;
            if let Some(row) = &row {
                if !notices.channels.is_empty() {
                    queue_notices!(tx, row.tenant_id, notices.channels, &(notices.notice)(row, None), row.updated_at);
                }
                tx.commit().await?;
            }
            row
        });
        if saved.is_none() {
            self.maintenance(w.tenant_id, w.id).await?;
        }
        Ok(saved)
    }

    pub async fn maintenance(&self, tenant_id: i64, id: i64) -> StoreResult<MaintenanceRow> {
        let sql = format!("SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, pool => sqlx::query_as::<_, MaintenanceRow>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// A page of the tenant's windows, latest scheduled start first, and how many match in all.
    pub async fn list_maintenance(
        &self,
        tenant_id: i64,
        f: &MaintenanceFilter,
    ) -> StoreResult<(Vec<MaintenanceRow>, i64)> {
        // A macro, not a closure: the builder's database type differs per backend.
        macro_rules! filtered {
            ($select:expr) => {{
                let mut q =
                    QueryBuilder::new(format!("SELECT {} FROM maintenance_windows WHERE tenant_id = ", $select));
                q.push_bind(tenant_id);
                if let Some(s) = f.status {
                    q.push(" AND status = ").push_bind(s.as_str());
                }
                q
            }};
        }
        Ok(on_pool!(self, pool => {
            let mut q = filtered!(WINDOW_COLUMNS);
            q.push(" ORDER BY scheduled_start DESC, id DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
            let rows = q.build_query_as::<MaintenanceRow>().fetch_all(pool).await?;
            let total = filtered!("COUNT(*)").build_query_scalar::<i64>().fetch_one(pool).await?;
            (rows, total)
        }))
    }

    /// The tenant's scheduled windows that start after `now`, soonest first.
    pub async fn upcoming_maintenance(&self, tenant_id: i64, now: i64) -> StoreResult<Vec<MaintenanceRow>> {
        let sql = format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE tenant_id = $1 AND status = $2 \
             AND scheduled_start > $3 ORDER BY scheduled_start, id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MaintenanceRow>(&sql)
            .bind(tenant_id).bind(MaintenanceStatus::Scheduled.as_str()).bind(now).fetch_all(pool).await)?)
    }

    /// Windows of every tenant the scheduler has to move at `now`: scheduled ones whose start has
    /// come, active ones whose end has passed.
    pub async fn due_maintenance(&self, now: i64) -> StoreResult<Vec<MaintenanceRow>> {
        let sql = format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows \
             WHERE (status = $1 AND scheduled_start <= $3) OR (status = $2 AND scheduled_end <= $3) ORDER BY id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MaintenanceRow>(&sql)
            .bind(MaintenanceStatus::Scheduled.as_str()).bind(MaintenanceStatus::Active.as_str()).bind(now)
            .fetch_all(pool).await)?)
    }
}
