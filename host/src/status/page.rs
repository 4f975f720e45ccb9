//! What a tenant's public status page shows (issue 9), as data: the HTML page, its JSON twin and
//! the Atom feed are renderings of `PublicStatus` / `PublicFeed` (`api::status_page`). Only
//! public things are read: public services, public incidents with their public updates (and, of
//! the services they affect, the public ones), public maintenance windows. A tenant without a
//! public service has no page, so an unknown tenant and a private one look the same.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::uptime::{daily_uptime, uptime};
use crate::store::{
    rfc3339, IncidentRow, IncidentSeverity, IncidentStatus, IncidentUpdateRow, Link, MaintenanceRow, MaintenanceStatus,
    PublicIncidents, ServiceFilter, ServiceRow, ServiceStatus, Store, StoreResult, Tenant, Visibility,
};

/// Days of history in a service's uptime bar.
pub const BAR_DAYS: usize = 90;
/// Most services a page lists.
pub const MAX_SERVICES: i64 = 200;
/// Most incidents a page lists (open ones, then those resolved in the last `RECENT_DAYS`).
pub const MAX_INCIDENTS: i64 = 50;
/// How long a resolved incident stays on the page.
pub const RECENT_DAYS: i64 = 14;
/// Most maintenance windows a page lists.
pub const MAX_WINDOWS: i64 = 20;
/// Entries of the Atom feed.
pub const FEED_ENTRIES: i64 = 50;

const DAY_MS: i64 = 86_400_000;

/// `[status_page]`: the public status pages (`/status/{tenant}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusPageConfig {
    /// Serve the public pages. Off, `/status/…` answers 404 for every tenant.
    pub enabled: bool,
    /// Seconds a rendered page is served before it is rendered again (at least 1). The new
    /// rendering runs in the background while visitors still get the previous one, so a flood
    /// of visitors costs one rendering per page per period and nobody waits for it.
    pub cache_seconds: u64,
}

impl Default for StatusPageConfig {
    fn default() -> Self {
        StatusPageConfig { enabled: true, cache_seconds: 5 }
    }
}

/// A tenant's public status at one moment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicStatus {
    pub tenant: String,
    /// When this was read (RFC 3339, UTC).
    pub generated_at: String,
    /// The worst status among the services (`under_maintenance` ranks below any outage).
    pub status: ServiceStatus,
    pub services: Vec<PublicService>,
    /// Open incidents, then those resolved in the last 14 days; newest first.
    pub incidents: Vec<PublicIncident>,
    /// Active windows and those still to come, soonest first.
    pub maintenance: Vec<PublicWindow>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicService {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub status: ServiceStatus,
    /// Percent up over the 90 days of the bar; `null` without any recorded status.
    pub uptime_90d: Option<f64>,
    /// One entry per UTC day, oldest first, today last.
    pub days: Vec<DayUptime>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayUptime {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Percent up that day; `null` where no recorded status covers it.
    pub uptime: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicIncident {
    pub id: i64,
    pub title: String,
    pub severity: IncidentSeverity,
    pub status: IncidentStatus,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    /// The public services it affects.
    pub services: Vec<PublicServiceRef>,
    /// Its public updates, newest first.
    pub updates: Vec<PublicUpdate>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicUpdate {
    pub status: IncidentStatus,
    pub message: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicWindow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: MaintenanceStatus,
    pub scheduled_start: String,
    pub scheduled_end: String,
    pub services: Vec<PublicServiceRef>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicServiceRef {
    pub slug: String,
    pub name: String,
}

/// The Atom feed's content: the latest public incidents.
#[derive(Debug, Clone)]
pub struct PublicFeed {
    pub tenant: String,
    pub generated_at: String,
    pub incidents: Vec<PublicIncident>,
}

/// How bad a status looks on the page's banner: outages over maintenance over the rest.
fn rank(s: ServiceStatus) -> u8 {
    match s {
        ServiceStatus::Operational => 0,
        ServiceStatus::UnderMaintenance => 1,
        ServiceStatus::DegradedPerformance => 2,
        ServiceStatus::PartialOutage => 3,
        ServiceStatus::MajorOutage => 4,
    }
}

/// The tenant and its public services, or `None` when it has no page.
async fn public_services(store: &Store, tenant: &str) -> StoreResult<Option<(Tenant, Vec<ServiceRow>)>> {
    let Some(tenant) = store.tenant_by_name(tenant).await? else { return Ok(None) };
    let filter =
        ServiceFilter { visibility: Some(Visibility::Public), limit: MAX_SERVICES, ..ServiceFilter::default() };
    let (mut services, _) = store.list_services(tenant.id, &filter).await?;
    if services.is_empty() {
        return Ok(None);
    }
    services.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(Some((tenant, services)))
}

/// The public status of `tenant` at `now`, or `None` when it has no page.
pub async fn public_status(store: &Store, tenant: &str, now: i64) -> StoreResult<Option<PublicStatus>> {
    let Some((tenant, services)) = public_services(store, tenant).await? else { return Ok(None) };
    let public: HashMap<i64, &ServiceRow> = services.iter().map(|s| (s.id, s)).collect();
    let rows = store
        .public_incidents(tenant.id, PublicIncidents::OpenOrResolvedSince(now - RECENT_DAYS * DAY_MS), MAX_INCIDENTS)
        .await?;
    let incidents = with_updates(store, rows, &public).await?;
    let windows = store.public_maintenance(tenant.id, now, MAX_WINDOWS).await?;
    let maintenance = windows_with_services(store, windows, &public).await?;
    let status =
        services.iter().map(|s| s.current_status).max_by_key(|s| rank(*s)).unwrap_or(ServiceStatus::Operational);
    Ok(Some(PublicStatus {
        tenant: tenant.name,
        generated_at: rfc3339(now),
        status,
        services: with_uptime(store, &services, now).await?,
        incidents,
        maintenance,
    }))
}

/// The Atom feed of `tenant` at `now`, or `None` when it has no page.
pub async fn public_feed(store: &Store, tenant: &str, now: i64) -> StoreResult<Option<PublicFeed>> {
    let Some((tenant, services)) = public_services(store, tenant).await? else { return Ok(None) };
    let public: HashMap<i64, &ServiceRow> = services.iter().map(|s| (s.id, s)).collect();
    let rows = store.public_incidents(tenant.id, PublicIncidents::LatestUpdated, FEED_ENTRIES).await?;
    Ok(Some(PublicFeed {
        tenant: tenant.name,
        generated_at: rfc3339(now),
        incidents: with_updates(store, rows, &public).await?,
    }))
}

/// The services with their 90-day bars: two queries for all of them.
async fn with_uptime(store: &Store, services: &[ServiceRow], now: i64) -> StoreResult<Vec<PublicService>> {
    let today = now - now.rem_euclid(DAY_MS);
    let first_day = today - (BAR_DAYS as i64 - 1) * DAY_MS;
    let ids: Vec<i64> = services.iter().map(|s| s.id).collect();
    let mut transitions: HashMap<i64, Vec<(i64, ServiceStatus)>> = HashMap::new();
    for (service, at, status) in store.status_transitions_of(&ids, first_day, now).await? {
        transitions.entry(service).or_default().push((at, status));
    }
    let mut excluded: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for (service, start, end) in store.sla_excluded_spans_of(&ids, now).await? {
        excluded.entry(service).or_default().push((start, end));
    }
    let dates: Vec<String> = (0..BAR_DAYS as i64)
        .map(|d| {
            chrono::DateTime::from_timestamp_millis(first_day + d * DAY_MS)
                .unwrap_or_default()
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect();
    Ok(services
        .iter()
        .map(|s| {
            let t = transitions.get(&s.id).map(Vec::as_slice).unwrap_or_default();
            let x = excluded.get(&s.id).map(Vec::as_slice).unwrap_or_default();
            let days = daily_uptime(t, x, first_day, DAY_MS, BAR_DAYS, now);
            PublicService {
                slug: s.slug.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                status: s.current_status,
                uptime_90d: uptime(t, x, first_day, now).map(round3),
                days: dates
                    .iter()
                    .zip(days)
                    .map(|(date, uptime)| DayUptime { date: date.clone(), uptime: uptime.map(round3) })
                    .collect(),
            }
        })
        .collect())
}

/// Three decimals: exact to well under a second a day, without float noise.
fn round3(p: f64) -> f64 {
    (p * 1000.0).round() / 1000.0
}

/// The public services linked to each owner (incident or window), by owner id.
async fn public_links(
    store: &Store,
    link: Link,
    owners: &[i64],
    public: &HashMap<i64, &ServiceRow>,
) -> StoreResult<HashMap<i64, Vec<PublicServiceRef>>> {
    let mut by_owner: HashMap<i64, Vec<PublicServiceRef>> = HashMap::new();
    for r in store.linked_services(link, owners).await? {
        if public.contains_key(&r.id) {
            by_owner.entry(r.owner_id).or_default().push(PublicServiceRef { slug: r.slug, name: r.name });
        }
    }
    Ok(by_owner)
}

/// Incidents with their public updates (newest first) and public services.
async fn with_updates(
    store: &Store,
    rows: Vec<IncidentRow>,
    public: &HashMap<i64, &ServiceRow>,
) -> StoreResult<Vec<PublicIncident>> {
    let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
    let mut services = public_links(store, Link::Incident, &ids, public).await?;
    let mut updates: HashMap<i64, Vec<PublicUpdate>> = HashMap::new();
    for IncidentUpdateRow { incident_id, status, message, at, .. } in store.public_updates_of(&ids).await? {
        updates.entry(incident_id).or_default().push(PublicUpdate { status, message, at: rfc3339(at) });
    }
    Ok(rows
        .into_iter()
        .map(|i| PublicIncident {
            id: i.id,
            title: i.title,
            severity: i.severity,
            status: i.status,
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
            resolved_at: i.resolved_at.map(rfc3339),
            services: services.remove(&i.id).unwrap_or_default(),
            updates: updates.remove(&i.id).map(|u| u.into_iter().rev().collect()).unwrap_or_default(),
        })
        .collect())
}

/// Windows with their public services.
async fn windows_with_services(
    store: &Store,
    rows: Vec<MaintenanceRow>,
    public: &HashMap<i64, &ServiceRow>,
) -> StoreResult<Vec<PublicWindow>> {
    let ids: Vec<i64> = rows.iter().map(|w| w.id).collect();
    let mut services = public_links(store, Link::Maintenance, &ids, public).await?;
    Ok(rows
        .into_iter()
        .map(|w| PublicWindow {
            id: w.id,
            title: w.title,
            description: w.description,
            status: w.status,
            scheduled_start: rfc3339(w.scheduled_start),
            scheduled_end: rfc3339(w.scheduled_end),
            services: services.remove(&w.id).unwrap_or_default(),
        })
        .collect())
}
