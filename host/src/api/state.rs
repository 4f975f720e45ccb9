//! `GET /api/v1/state`: one snapshot of what a dashboard shows, narrowed like every other read —
//! the caller's tenant, then its roles (an instance outside them, and its alerts, are absent),
//! then its scopes (plugins with `settings:read`, services with `read:status`, as their own
//! lists require). `?instance=` narrows it to one instance (the instance screen's facts).
//! Answered with an `ETag` (a hash of the body), so a poll that changed nothing is a 304 without
//! a body. `GET /api/v1/events` streams the changes after it.
//!
//! Active sessions come from the activity writer's memory (fresh ASH), not storage: the stored
//! reading would be up to `ash_chunk_seconds` late.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::alerts::{AlertView, SeverityCounts, Visible};
use super::error::{ApiResult, AppError};
use super::extract::ApiQuery;
use super::{rfc3339, AppContext};
use crate::alerting::notify::is_paused;
use crate::alerting::AlertState;
use crate::auth::{Principal, Scope};
use crate::plugins::{LoadState, PluginStatus};
use crate::store::{now_ms, ServiceFilter, ServiceStatus, Visibility};

/// Older samples are not "now": the instance stopped being sampled (down, disabled, or its
/// sampling is off), and the snapshot says so with `null`.
const ACTIVE_NOW_MAX_AGE_MS: i64 = 30_000;

/// Most services a snapshot lists (a tenant's whole catalogue, in practice).
const MAX_SERVICES: i64 = 10_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstanceState {
    /// Connection name.
    pub name: String,
    /// `<server>@<name>`.
    pub pg_instance: String,
    pub tags: String,
    pub enabled: bool,
    /// At the last connection check (the sampler's, or the API's on create/update).
    pub connected: bool,
    pub last_error: Option<String>,
    pub checked_at: Option<String>,
    /// `server_version` from the last inventory, once the sampler has read one.
    pub version: Option<String>,
    pub collection_rate: String,
    /// Sessions active at the latest ASH sample, when one was taken in the last
    /// `ACTIVE_NOW_MAX_AGE_MS` / 1000 seconds (30); `null` otherwise (not sampled, or down).
    pub active_sessions: Option<usize>,
    /// When that sample was taken.
    pub active_sessions_at: Option<String>,
    /// Open alerts on it that fire or are acknowledged (pending ones are not counted).
    pub open_alerts: SeverityCounts,
    /// Its notifications are paused (maintenance).
    pub paused: bool,
    /// End of the pause; `null` while paused means until resumed.
    pub paused_until: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceState {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub visibility: Visibility,
    pub current_status: ServiceStatus,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct Totals {
    pub instances: usize,
    pub connected: usize,
    /// Enabled instances that are not connected.
    pub disconnected: usize,
    /// Open alerts that fire or are acknowledged, by severity.
    pub alerts: SeverityCounts,
    pub pending_alerts: usize,
    pub acknowledged_alerts: usize,
    /// Plugins that failed to load (only with `settings:read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_plugins: Option<usize>,
    /// Services not `operational` (only with `read:status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services_not_operational: Option<usize>,
}

/// The dashboard's snapshot. Lists are in a stable order (instances and services by name,
/// alerts newest first, plugins by id), so an unchanged state hashes to the same `ETag`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct StateView {
    pub instances: Vec<InstanceState>,
    /// Open alerts (pending, firing, acknowledged) the caller may see, newest first.
    pub alerts: Vec<AlertView>,
    /// Every plugin with its status, last error and call statistics; absent without
    /// `settings:read` (or when the plugin runtime is not running).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Vec<PluginStatus>>,
    /// The tenant's services with their derived status; absent without `read:status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceState>>,
    pub totals: Totals,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// Only this instance (connection name or `<server>@<name>`): its state, its open alerts and
    /// totals over them, without plugins or services. 404 when the caller cannot see it.
    #[param(min_length = 1, pattern = r"\S")]
    pub instance: Option<String>,
}

async fn snapshot(ctx: &AppContext, caller: &Principal, only: Option<&str>) -> ApiResult<StateView> {
    let mut visible = Visible::of(ctx, caller).await?;
    // Narrowed to one instance: its alerts only (not those on no instance).
    let mut one = None;
    if let Some(id) = only {
        if id.trim().is_empty() {
            return Err(AppError::BadRequest("instance must name an instance".into()));
        }
        let instance = visible.instance(id)?.clone();
        one = Some(instance.name.clone());
        visible.instances = vec![instance];
    }
    let mut totals = Totals::default();
    let mut alerts: Vec<_> = ctx
        .store
        .open_alerts(Some(caller.tenant_id))
        .await?
        .into_iter()
        .filter(|a| visible.allows(a) && one.as_ref().is_none_or(|name| a.resource == *name))
        .collect();
    let mut by_instance: HashMap<String, SeverityCounts> = HashMap::new();
    for a in &alerts {
        match a.state {
            AlertState::Pending => totals.pending_alerts += 1,
            _ => {
                if a.state == AlertState::Acknowledged {
                    totals.acknowledged_alerts += 1;
                }
                totals.alerts.add(a.severity);
                by_instance.entry(a.resource.clone()).or_default().add(a.severity);
            }
        }
    }
    alerts.sort_by(|x, y| y.started_at.cmp(&x.started_at).then(y.id.cmp(&x.id)));

    let ids: Vec<i64> = visible.instances.iter().map(|i| i.id).collect();
    let versions: BTreeMap<i64, String> =
        ctx.store.inventories(&ids).await?.into_iter().map(|inv| (inv.instance_id, inv.version)).collect();
    let pauses = ctx.store.list_pauses(Some(caller.tenant_id)).await?;
    let now = now_ms();
    let active = ctx.fresh_ash.active_sessions_now(&ids);
    let mut instances: Vec<InstanceState> = visible
        .instances
        .iter()
        .map(|i| {
            let paused = is_paused(&pauses, caller.tenant_id, &i.name, now);
            let until = pauses.iter().find(|(_, r, _)| *r == i.name).and_then(|(_, _, u)| *u);
            let now_active = active.get(&i.id).filter(|a| now - a.ts_ms <= ACTIVE_NOW_MAX_AGE_MS);
            InstanceState {
                name: i.name.clone(),
                pg_instance: format!("{}@{}", i.host, i.name),
                tags: i.tags.clone(),
                enabled: i.enabled,
                connected: i.connected,
                last_error: i.last_error.clone(),
                checked_at: i.checked_at.map(rfc3339),
                version: versions.get(&i.id).filter(|v| !v.is_empty()).cloned(),
                collection_rate: i.collection_rate.clone(),
                active_sessions: now_active.map(|a| a.sessions),
                active_sessions_at: now_active.map(|a| rfc3339(a.ts_ms)),
                open_alerts: by_instance.remove(&i.name).unwrap_or_default(),
                paused,
                paused_until: until.filter(|_| paused).map(rfc3339),
            }
        })
        .collect();
    instances.sort_by(|a, b| a.name.cmp(&b.name));
    totals.instances = instances.len();
    totals.connected = instances.iter().filter(|i| i.connected).count();
    totals.disconnected = instances.iter().filter(|i| i.enabled && !i.connected).count();

    let plugins = match (&ctx.plugins, caller.scopes.allows(Scope::SettingsRead)) {
        (Some(host), true) if only.is_none() => {
            let mut list = host.list();
            list.sort_by(|a, b| a.id.cmp(&b.id));
            totals.failed_plugins = Some(list.iter().filter(|p| p.status == LoadState::Failed).count());
            Some(list)
        }
        _ => None,
    };
    let services = match caller.scopes.allows(Scope::ReadStatus) && only.is_none() {
        true => {
            let filter = ServiceFilter { limit: MAX_SERVICES, ..ServiceFilter::default() };
            let (rows, _) = ctx.store.list_services(caller.tenant_id, &filter).await?;
            let list: Vec<ServiceState> = rows
                .into_iter()
                .map(|s| ServiceState {
                    id: s.id,
                    slug: s.slug,
                    name: s.name,
                    visibility: s.visibility,
                    current_status: s.current_status,
                })
                .collect();
            totals.services_not_operational =
                Some(list.iter().filter(|s| s.current_status != ServiceStatus::Operational).count());
            Some(list)
        }
        false => None,
    };
    let alerts = alerts.into_iter().map(AlertView::from).collect();
    Ok(StateView { instances, alerts, plugins, services, totals })
}

/// A strong validator: the hash of the body itself, so equal bodies have equal tags whichever
/// process or moment produced them.
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` names `tag` (or is `*`). Weak tags compare by their opaque part, as
/// RFC 9110 asks for this header.
fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
        },
    )
}

/// Everything a dashboard shows, as one snapshot: instances (connected, last error, version,
/// collection rate, active sessions now, open alerts by severity, pause), the open alerts,
/// plugins (with `settings:read`), services (with `read:status`) and totals, narrowed by the
/// caller's roles; with `instance`, of that instance alone. Send the `ETag` back as
/// `If-None-Match`: an unchanged state is a 304 without a body.
#[utoipa::path(get, path = "/api/v1/state", tag = "state", security(("bearer" = [])),
    params(StateQuery, ("If-None-Match" = Option<String>, Header, description = "The ETag of a snapshot already held")),
    responses(
        (status = 200, body = StateView, headers(("ETag" = String, description = "Hash of the body"))),
        (status = 304, description = "Not modified: the snapshot matching If-None-Match is current",
            headers(("ETag" = String))),
        (status = 404, description = "`instance` names no instance the caller may see")))]
pub async fn state(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(query): ApiQuery<StateQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let view = snapshot(&ctx, &caller, query.instance.as_deref()).await?;
    let body = serde_json::to_vec(&view).map_err(|e| AppError::Internal(e.into()))?;
    let tag = etag(&body);
    let tag_value = HeaderValue::from_str(&tag).map_err(|e| AppError::Internal(e.into()))?;
    if not_modified(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag_value)]).into_response());
    }
    let json = HeaderValue::from_static("application/json");
    Ok((StatusCode::OK, [(header::ETAG, tag_value), (header::CONTENT_TYPE, json)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let tag = etag(b"{}");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).expect("header"));
            h
        };
        assert!(not_modified(&with(&tag), &tag));
        assert!(not_modified(&with(&format!("\"x\", W/{tag}")), &tag));
        assert!(not_modified(&with("*"), &tag));
        assert!(!not_modified(&with("\"x\""), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
        assert_ne!(etag(b"{}"), etag(b"[]"));
    }
}
