//! Alerts: active and history lists, one alert with its events, acknowledge / unacknowledge /
//! clear, counts, custom alerts from external checks (`POST /api/v1/alerts`, deduplicated by key,
//! optionally auto-resolving) and maintenance pauses of an instance
//! (`PATCH /api/v1/instances/{name}/alerting/pause|resume`, `{name}` being the connection name
//! or `<server>@<name>`). Alerts on instances outside the caller's roles are invisible (404).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, LenientJson};
use super::validate::{check_text, page};
use super::{rfc3339, AppContext};
use crate::alerting::machine::{Action, CustomRaise};
use crate::alerting::notify::{self, is_paused, resume as resume_pause, ActError};
use crate::alerting::{AlertState, EventKind, Severity};
use crate::auth::Principal;
use crate::rbac::InstanceScope;
use crate::store::{now_ms, AlertEvent, AlertFilter, AlertRow, Instance};

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub ts: String,
    /// pending, firing, severity, acknowledged, unacknowledged, resolved, cleared, dropped, resumed.
    pub kind: EventKind,
    pub severity: Severity,
    pub value: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertView {
    pub id: i64,
    pub dedup_key: String,
    pub rule_id: Option<i64>,
    pub rule: String,
    pub resource: String,
    pub metric: Option<String>,
    #[schema(value_type = Object)]
    pub labels: serde_json::Value,
    pub state: AlertState,
    pub severity: Severity,
    pub summary: String,
    pub value: Option<f64>,
    pub occurrences: i64,
    pub started_at: String,
    pub updated_at: String,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub auto_resolve_at: Option<String>,
    /// Only on `GET /api/v1/alerts/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

impl From<AlertRow> for AlertView {
    fn from(a: AlertRow) -> AlertView {
        AlertView {
            id: a.id,
            labels: serde_json::from_str(&a.labels).unwrap_or_default(),
            dedup_key: a.dedup_key,
            rule_id: a.rule_id,
            rule: a.rule_name,
            resource: a.resource,
            metric: a.metric,
            state: a.state,
            severity: a.severity,
            summary: a.summary,
            value: a.value,
            occurrences: a.occurrences,
            started_at: rfc3339(a.started_at),
            updated_at: rfc3339(a.updated_at),
            acknowledged_at: a.acknowledged_at.map(rfc3339),
            resolved_at: a.resolved_at.map(rfc3339),
            auto_resolve_at: a.auto_resolve_at.map(rfc3339),
            events: None,
        }
    }
}

impl From<AlertEvent> for EventView {
    fn from(e: AlertEvent) -> EventView {
        EventView { ts: rfc3339(e.ts), kind: e.kind, severity: e.severity, value: e.value }
    }
}

/// Which alerts the caller may see: those on instances in its roles, and those not on instances.
/// Shared with the dashboard's snapshot (`state.rs`) and stream (`events.rs`).
pub(super) struct Visible {
    pub(super) instances: Vec<Instance>,
    pub(super) hidden: HashSet<String>,
}

impl Visible {
    pub(super) async fn of(ctx: &AppContext, caller: &Principal) -> ApiResult<Visible> {
        let instances = ctx.store.list_instances(caller.tenant_id).await?;
        let scope = InstanceScope::for_principal(&ctx.store, caller).await?;
        let hidden = instances.iter().filter(|i| !scope.allows(i)).map(|i| i.name.clone()).collect();
        let instances = instances.into_iter().filter(|i| scope.allows(i)).collect();
        Ok(Visible { instances, hidden })
    }

    pub(super) fn allows(&self, a: &AlertRow) -> bool {
        !self.hidden.contains(&a.resource)
    }

    /// An instance by connection name or `<server>@<name>`.
    pub(super) fn instance(&self, id: &str) -> ApiResult<&Instance> {
        self.instances
            .iter()
            .find(|i| i.name == id || format!("{}@{}", i.host, i.name) == id)
            .ok_or_else(|| AppError::NotFound(format!("instance {id:?} not found")))
    }
}

/// Filters of the alert lists.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    #[param(value_type = Option<AlertState>)]
    pub state: Option<String>,
    #[param(value_type = Option<Severity>)]
    pub severity: Option<String>,
    /// Instance (resource) name.
    pub instance: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

async fn listed(ctx: &AppContext, caller: &Principal, q: AlertQuery, open_only: bool) -> ApiResult<Vec<AlertView>> {
    let state = q.state.as_deref().map(AlertState::parse).transpose().map_err(AppError::BadRequest)?;
    let severity = q.severity.as_deref().map(Severity::parse).transpose().map_err(AppError::BadRequest)?;
    let (limit, offset) = page(q.limit, q.offset, 100, 1000)?;
    let filter = AlertFilter { state, severity, resource: q.instance, open_only, limit, offset };
    let visible = Visible::of(ctx, caller).await?;
    let rows = ctx.store.list_alerts(caller.tenant_id, &filter).await?;
    Ok(rows.into_iter().filter(|a| visible.allows(a)).map(AlertView::from).collect())
}

/// Open alerts (pending, firing, acknowledged), newest first.
#[utoipa::path(get, path = "/api/v1/alerts/active", tag = "alerts", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = [AlertView]), (status = 400, description = "Invalid filter")))]
pub async fn active(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<Vec<AlertView>>> {
    Ok(Json(listed(&ctx, &caller, q, true).await?))
}

/// Every alert, resolved ones included, newest first.
#[utoipa::path(get, path = "/api/v1/alerts/history", tag = "alerts", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = [AlertView]), (status = 400, description = "Invalid filter")))]
pub async fn history(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<Json<Vec<AlertView>>> {
    Ok(Json(listed(&ctx, &caller, q, false).await?))
}

async fn find(ctx: &AppContext, caller: &Principal, id: i64) -> ApiResult<AlertRow> {
    let alert = ctx.store.alert(caller.tenant_id, id).await.map_err(or_not_found("alert"))?;
    if Visible::of(ctx, caller).await?.allows(&alert) {
        Ok(alert)
    } else {
        Err(AppError::not_found("alert"))
    }
}

/// One alert with its events.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertView), (status = 404, description = "No such alert")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertView>> {
    let alert = find(&ctx, &caller, id).await?;
    let events = ctx.store.alert_events(caller.tenant_id, id).await?;
    let mut view = AlertView::from(alert);
    view.events = Some(events.into_iter().map(EventView::from).collect());
    Ok(Json(view))
}

/// Applies a manual action (`alerting::machine::manual`); refused in the alert's state: 409.
async fn act(ctx: &AppContext, caller: &Principal, id: i64, action: Action) -> ApiResult<Json<AlertView>> {
    let alert = find(ctx, caller, id).await?;
    match notify::act(&ctx.store, &alert, action, now_ms()).await {
        Ok(saved) => Ok(Json(saved.into())),
        Err(ActError::Refused(refused)) => Err(AppError::Conflict(refused.to_string())),
        Err(ActError::Store(e)) => Err(e.into()),
    }
}

/// Acknowledges a firing alert (it stays open; no notification).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/acknowledge", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertView), (status = 404, description = "No such alert"),
        (status = 409, description = "The alert is not firing")))]
pub async fn acknowledge(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertView>> {
    act(&ctx, &caller, id, Action::Acknowledge).await
}

/// Takes an acknowledgement back: the alert is firing again.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/unacknowledge", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertView), (status = 404, description = "No such alert"),
        (status = 409, description = "The alert is not acknowledged")))]
pub async fn unacknowledge(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertView>> {
    act(&ctx, &caller, id, Action::Unacknowledge).await
}

/// Resolves an open alert by hand (a rule alert opens again if its condition persists).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/clear", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = AlertView), (status = 404, description = "No such alert"),
        (status = 409, description = "The alert is already resolved")))]
pub async fn clear(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertView>> {
    act(&ctx, &caller, id, Action::Clear).await
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct SeverityCounts {
    pub info: i64,
    pub warning: i64,
    pub critical: i64,
}

impl SeverityCounts {
    pub(super) fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::Warning => self.warning += 1,
            Severity::Info => self.info += 1,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertStatus {
    /// Open alerts that are firing or acknowledged (pending ones are counted apart).
    pub firing: i64,
    pub pending: i64,
    pub acknowledged: i64,
    pub by_severity: SeverityCounts,
    pub by_instance: BTreeMap<String, SeverityCounts>,
    /// Instances whose notifications are paused now.
    pub paused: Vec<String>,
}

/// Counts of open alerts by severity and by instance (pending alerts excluded from those).
#[utoipa::path(get, path = "/api/v1/alerts/status", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = AlertStatus)))]
pub async fn status(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<AlertStatus>> {
    let visible = Visible::of(&ctx, &caller).await?;
    let mut s = AlertStatus {
        firing: 0,
        pending: 0,
        acknowledged: 0,
        by_severity: SeverityCounts::default(),
        by_instance: BTreeMap::new(),
        paused: Vec::new(),
    };
    for a in ctx.store.open_alerts(Some(caller.tenant_id)).await?.iter().filter(|a| visible.allows(a)) {
        match a.state {
            AlertState::Pending => {
                s.pending += 1;
                continue;
            }
            AlertState::Acknowledged => s.acknowledged += 1,
            // Open alerts are never resolved.
            AlertState::Firing | AlertState::Resolved => s.firing += 1,
        }
        s.by_severity.add(a.severity);
        s.by_instance.entry(a.resource.clone()).or_default().add(a.severity);
    }
    let pauses = ctx.store.list_pauses(Some(caller.tenant_id)).await?;
    let now = now_ms();
    s.paused = pauses
        .iter()
        .filter(|(t, r, _)| is_paused(&pauses, *t, r, now) && !visible.hidden.contains(r))
        .map(|(_, r, _)| r.clone())
        .collect();
    Ok(Json(s))
}

/// An alert raised by an external check.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomAlert {
    /// While an alert with this key is open, raising it again updates it instead of opening another.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub dedup_key: String,
    #[schema(value_type = Severity)]
    pub severity: String,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub summary: String,
    /// What the alert is about: an instance name (routing by tags then applies) or anything else.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub resource: String,
    /// Resolve by itself this many seconds after the last time it was raised (at most 30 days).
    #[schema(minimum = 1, maximum = 2592000)]
    pub auto_resolve_seconds: Option<u64>,
}

/// Raises (201) or updates (200) a custom alert. A severity change is recorded and notified.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), request_body = CustomAlert,
    responses((status = 201, body = AlertView), (status = 200, body = AlertView, description = "Updated the open alert"),
        (status = 400, description = "Invalid alert")))]
pub async fn raise(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<CustomAlert>,
) -> ApiResult<(StatusCode, Json<AlertView>)> {
    let severity = Severity::parse(&body.severity).map_err(AppError::BadRequest)?;
    let bad = |m: &str| Err(AppError::BadRequest(m.into()));
    check_text("dedup_key", &body.dedup_key, 200)?;
    check_text("summary", &body.summary, 2000)?;
    check_text("resource", &body.resource, 200)?;
    if body.auto_resolve_seconds.is_some_and(|s| s == 0 || s > 30 * 86400) {
        return bad("auto_resolve_seconds must be 1 to 2592000 (30 days)");
    }
    let now = now_ms();
    let custom = CustomRaise {
        tenant_id: caller.tenant_id,
        dedup_key: body.dedup_key,
        severity,
        summary: body.summary,
        resource: body.resource,
        auto_resolve_at: body.auto_resolve_seconds.map(|s| now.saturating_add_unsigned(s * 1000)),
    };
    let (alert, opened) = notify::raise(&ctx.store, custom, now).await?;
    let status = if opened { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(alert.into())))
}

/// Optional body of the pause.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// End of the pause: RFC 3339 (`YYYY-MM-DD HH:MI`, UTC, is accepted too). Absent: until resumed.
    #[schema(format = DateTime)]
    pub until: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PauseView {
    /// `<server>@<name>`.
    pub instance: String,
    pub paused: bool,
    pub until: Option<String>,
}

fn parse_until(text: &str, now: i64) -> ApiResult<i64> {
    let ms = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map(|t| t.and_utc().timestamp_millis())
        })
        .map_err(|_| AppError::BadRequest(format!("until {text:?}: use RFC 3339 or YYYY-MM-DD HH:MI (UTC)")))?;
    if ms <= now {
        return Err(AppError::BadRequest(format!("until {text:?} is in the past")));
    }
    Ok(ms)
}

/// Pauses notifications of an instance for maintenance: evaluation continues and alerts stay
/// visible, but nothing is sent until the pause ends.
#[utoipa::path(patch, path = "/api/v1/instances/{name}/alerting/pause", tag = "alerts", security(("bearer" = [])),
    params(("name" = String, Path, description = "Connection name or <server>@<name>")), request_body = Option<PauseBody>,
    responses((status = 200, body = PauseView), (status = 400, description = "Invalid until"),
        (status = 404, description = "No such instance")))]
pub async fn pause(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    LenientJson(body): LenientJson<PauseBody>,
) -> ApiResult<Json<PauseView>> {
    let visible = Visible::of(&ctx, &caller).await?;
    let instance = visible.instance(&name)?;
    let until = body.until.as_deref().map(|u| parse_until(u, now_ms())).transpose()?;
    ctx.store.set_pause(caller.tenant_id, &instance.name, until).await?;
    let id = format!("{}@{}", instance.host, instance.name);
    Ok(Json(PauseView { instance: id, paused: true, until: until.map(rfc3339) }))
}

/// Ends a pause; each alert of the instance still firing is notified once.
#[utoipa::path(patch, path = "/api/v1/instances/{name}/alerting/resume", tag = "alerts", security(("bearer" = [])),
    params(("name" = String, Path, description = "Connection name or <server>@<name>")),
    responses((status = 200, body = PauseView), (status = 404, description = "No such instance")))]
pub async fn resume(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<PauseView>> {
    let visible = Visible::of(&ctx, &caller).await?;
    let instance = visible.instance(&name)?;
    resume_pause(&ctx.store, caller.tenant_id, &instance.name, now_ms()).await?;
    let id = format!("{}@{}", instance.host, instance.name);
    Ok(Json(PauseView { instance: id, paused: false, until: None }))
}
