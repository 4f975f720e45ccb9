//! What a service's derived status and uptime are computed from (migration 0015): every service
//! of every tenant, the open incidents and active maintenance windows on each, its status
//! transitions over a period and the spans excluded from its SLA.

use super::{
    on_pool, IncidentSeverity, IncidentStatus, MaintenanceStatus, ServiceRow, ServiceStatus, Store, StoreResult,
};

impl Store {
    /// Every service of every tenant, by tenant and id (for the status pass).
    pub async fn all_services(&self) -> StoreResult<Vec<ServiceRow>> {
        let sql = "SELECT id, tenant_id, slug, name, description, visibility, tags, current_status, created_at, \
                   updated_at FROM services ORDER BY tenant_id, id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ServiceRow>(sql).fetch_all(pool).await)?)
    }

    /// (service id, incident id, severity) of every incident that is not resolved.
    pub async fn open_incidents_by_service(&self) -> StoreResult<Vec<(i64, i64, IncidentSeverity)>> {
        let sql = "SELECT l.service_id, i.id, i.severity FROM incident_services l \
                   JOIN incidents i ON i.id = l.incident_id WHERE i.status <> $1 ORDER BY l.service_id, i.id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64, IncidentSeverity)>(sql)
            .bind(IncidentStatus::Resolved.as_str()).fetch_all(pool).await)?)
    }

    /// (service id, window id) of every active maintenance window.
    pub async fn active_windows_by_service(&self) -> StoreResult<Vec<(i64, i64)>> {
        let sql = "SELECT l.service_id, w.id FROM maintenance_services l \
                   JOIN maintenance_windows w ON w.id = l.window_id WHERE w.status = $1 ORDER BY l.service_id, w.id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64)>(sql)
            .bind(MaintenanceStatus::Active.as_str()).fetch_all(pool).await)?)
    }

    /// The status transitions of a service that matter for `[from, to)`: the last one at or
    /// before `from` (the status the period starts in) and every one after it, by time.
    pub async fn status_transitions(
        &self,
        service_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<(i64, ServiceStatus)>> {
        let rows = self.status_transitions_of(&[service_id], from, to).await?;
        Ok(rows.into_iter().map(|(_, at, status)| (at, status)).collect())
    }

    /// The spans of the service's maintenance windows excluded from its SLA that ran (an active
    /// one up to `now`).
    pub async fn sla_excluded_spans(&self, service_id: i64, now: i64) -> StoreResult<Vec<(i64, i64)>> {
        let sql = "SELECT w.actual_start, COALESCE(w.actual_end, $2) FROM maintenance_services l \
                   JOIN maintenance_windows w ON w.id = l.window_id \
                   WHERE l.service_id = $1 AND w.exclude_from_sla AND w.actual_start IS NOT NULL ORDER BY 1";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (i64, i64)>(sql).bind(service_id).bind(now).fetch_all(pool).await)?,
        )
    }
}
