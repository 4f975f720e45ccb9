//! What a tenant's public status page reads (issue 9), each in one query for all the page's
//! services or incidents at once, so the page costs a fixed number of queries however many
//! services it shows: status transitions and SLA-excluded spans of many services, the public
//! incidents that are open or recently resolved, the latest ones (the Atom feed), their public
//! updates, and the public windows that are active or still to come.

use sqlx::QueryBuilder;

use super::incidents::INCIDENT_COLUMNS;
use super::maintenance::WINDOW_COLUMNS;
use super::{
    on_pool, IncidentRow, IncidentStatus, IncidentUpdateRow, MaintenanceRow, MaintenanceStatus, ServiceStatus, Store,
    StoreResult, Visibility,
};

/// `" IN ($n, …)"` over `ids` (never empty: callers return early).
fn push_in<'a, DB: sqlx::Database>(q: &mut QueryBuilder<'a, DB>, ids: &'a [i64])
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    q.push(" IN (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
}

/// Which public incidents a page lists.
#[derive(Debug, Clone, Copy)]
pub enum PublicIncidents {
    /// Not resolved, or resolved at or after this time; newest first.
    OpenOrResolvedSince(i64),
    /// The most recently updated, whatever their status (a feed).
    LatestUpdated,
}

impl Store {
    /// (service id, time, status) of the transitions of `service_ids` that matter for
    /// `[from, to)`: per service the last one at or before `from` and every one after it, by
    /// service then time. Two index range scans: the rows inside the period, and per service the
    /// one row the period starts in (a bound on both sides of `at`, so years of history before
    /// `from` are never read).
    pub async fn status_transitions_of(
        &self,
        service_ids: &[i64],
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<(i64, i64, ServiceStatus)>> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (starts, inside) = on_pool!(self, pool => {
            let mut q = QueryBuilder::new("");
            for (n, id) in service_ids.iter().enumerate() {
                if n > 0 {
                    q.push(" UNION ALL ");
                }
                q.push("SELECT * FROM (SELECT service_id, at, status FROM service_status_transitions WHERE service_id = ")
                    .push_bind(*id)
                    .push(" AND at <= ")
                    .push_bind(from)
                    .push(format!(" ORDER BY at DESC, id DESC LIMIT 1) AS s{n}"));
            }
            let starts = q.build_query_as::<(i64, i64, ServiceStatus)>().fetch_all(pool).await?;
            let mut q = QueryBuilder::new("SELECT service_id, at, status FROM service_status_transitions WHERE service_id");
            push_in(&mut q, service_ids);
            q.push(" AND at > ").push_bind(from).push(" AND at < ").push_bind(to);
            q.push(" ORDER BY service_id, at, id");
            (starts, q.build_query_as::<(i64, i64, ServiceStatus)>().fetch_all(pool).await?)
        });
        let mut all = starts;
        all.extend(inside);
        // Stable: per service, the starting row (at <= from) sorts before the rows inside.
        all.sort_by_key(|&(service, at, _)| (service, at));
        Ok(all)
    }

    /// (service id, start, end) of the windows excluded from the SLA of `service_ids` that ran
    /// (an active one up to `now`).
    pub async fn sla_excluded_spans_of(&self, service_ids: &[i64], now: i64) -> StoreResult<Vec<(i64, i64, i64)>> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT l.service_id, w.actual_start, COALESCE(w.actual_end, ");
            q.push_bind(now).push(
                ") FROM maintenance_services l JOIN maintenance_windows w ON w.id = l.window_id \
                 WHERE w.exclude_from_sla AND w.actual_start IS NOT NULL AND l.service_id",
            );
            push_in(&mut q, service_ids);
            q.push(" ORDER BY 1, 2");
            q.build_query_as::<(i64, i64, i64)>().fetch_all(pool).await?
        }))
    }

    /// At most `limit` of the tenant's public incidents, as `which` says.
    pub async fn public_incidents(
        &self,
        tenant_id: i64,
        which: PublicIncidents,
        limit: i64,
    ) -> StoreResult<Vec<IncidentRow>> {
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE tenant_id = "));
            q.push_bind(tenant_id).push(" AND visibility = ").push_bind(Visibility::Public.as_str());
            match which {
                PublicIncidents::OpenOrResolvedSince(since) => {
                    q.push(" AND (status <> ").push_bind(IncidentStatus::Resolved.as_str());
                    q.push(" OR resolved_at >= ").push_bind(since).push(") ORDER BY id DESC");
                }
                PublicIncidents::LatestUpdated => {
                    q.push(" ORDER BY updated_at DESC, id DESC");
                }
            }
            q.push(" LIMIT ").push_bind(limit);
            q.build_query_as::<IncidentRow>().fetch_all(pool).await?
        }))
    }

    /// The public updates of these incidents, by incident then time.
    pub async fn public_updates_of(&self, incident_ids: &[i64]) -> StoreResult<Vec<IncidentUpdateRow>> {
        if incident_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT id, incident_id, status, message, is_public, at FROM incident_updates WHERE is_public \
                 AND incident_id",
            );
            push_in(&mut q, incident_ids);
            q.push(" ORDER BY incident_id, id");
            q.build_query_as::<IncidentUpdateRow>().fetch_all(pool).await?
        }))
    }

    /// At most `limit` of the tenant's public windows that are active, or scheduled to end after
    /// `now`, soonest first.
    pub async fn public_maintenance(&self, tenant_id: i64, now: i64, limit: i64) -> StoreResult<Vec<MaintenanceRow>> {
        let sql = format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE tenant_id = $1 AND visibility = $2 \
             AND (status = $3 OR (status = $4 AND scheduled_end > $5)) ORDER BY scheduled_start, id LIMIT $6"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MaintenanceRow>(&sql)
            .bind(tenant_id).bind(Visibility::Public.as_str()).bind(MaintenanceStatus::Active.as_str())
            .bind(MaintenanceStatus::Scheduled.as_str()).bind(now).bind(limit)
            .fetch_all(pool).await)?)
    }
}
