//! Incidents (`/api/v1/incidents…`, the seed's contract): the paginated list, the open ones,
//! one with its timeline and affected services (`read:status`); creation, partial change,
//! updates and resolution (`write:incidents`). Status moves go through `status::incident`;
//! an illegal one is a 409 naming the moves allowed. `service_ids` must be the tenant's. Every
//! change is stored through `status::notify`, which queues the events subscribers asked for.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuditTarget, LenientJson};
use super::status_common::{linked, tenant_services, ServiceRefView};
use super::validate::check_text;
use super::validate::{check_len, page, MAX_TEXT};
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::status::incident::{self, Refused};
use crate::status::notify;
use crate::store::{
    now_ms, IncidentFilter, IncidentRow, IncidentSeverity, IncidentStatus, IncidentUpdateRow, Link, UpdateWrite,
    Visibility,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentUpdateView {
    pub id: i64,
    /// The incident's status after this update.
    pub status: IncidentStatus,
    pub message: String,
    pub is_public: bool,
    pub at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub severity: IncidentSeverity,
    pub status: IncidentStatus,
    pub visibility: Visibility,
    pub root_cause: Option<String>,
    pub postmortem: Option<String>,
    /// The services affected.
    pub services: Vec<ServiceRefView>,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    /// The timeline, oldest first; only on single-incident answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates: Option<Vec<IncidentUpdateView>>,
}

fn view(i: IncidentRow, services: Vec<ServiceRefView>) -> IncidentView {
    IncidentView {
        id: i.id,
        title: i.title,
        description: i.description,
        severity: i.severity,
        status: i.status,
        visibility: i.visibility,
        root_cause: i.root_cause,
        postmortem: i.postmortem,
        services,
        created_at: rfc3339(i.created_at),
        updated_at: rfc3339(i.updated_at),
        resolved_at: i.resolved_at.map(rfc3339),
        updates: None,
    }
}

async fn views(ctx: &AppContext, rows: Vec<IncidentRow>) -> ApiResult<Vec<IncidentView>> {
    let ids: Vec<i64> = rows.iter().map(|i| i.id).collect();
    let mut services = linked(ctx, Link::Incident, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|i| {
            let linked = services.remove(&i.id).unwrap_or_default();
            view(i, linked)
        })
        .collect())
}

/// One incident with its services and timeline.
async fn full(ctx: &AppContext, i: IncidentRow) -> ApiResult<IncidentView> {
    let updates = ctx.store.incident_updates(i.id).await?;
    let mut services = linked(ctx, Link::Incident, &[i.id]).await?;
    let services = services.remove(&i.id).unwrap_or_default();
    let mut v = view(i, services);
    v.updates = Some(
        updates
            .into_iter()
            .map(|u: IncidentUpdateRow| IncidentUpdateView {
                id: u.id,
                status: u.status,
                message: u.message,
                is_public: u.is_public,
                at: rfc3339(u.at),
            })
            .collect(),
    );
    Ok(v)
}

async fn find(ctx: &AppContext, caller: &Principal, id: i64) -> ApiResult<IncidentRow> {
    ctx.store.incident(caller.tenant_id, id).await.map_err(or_not_found("incident"))
}

fn refused(r: Refused) -> AppError {
    AppError::Conflict(r.to_string())
}

/// Filters of the incident list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    pub status: Option<IncidentStatus>,
    pub severity: Option<IncidentSeverity>,
    /// At most this many (default 50), newest first.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<IncidentView>,
    /// How many incidents match the filters in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The tenant's incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "status", security(("bearer" = [])), params(IncidentQuery),
    responses((status = 200, body = IncidentList)))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<IncidentList>> {
    let (limit, offset) = page(q.limit, q.offset, 50, 200)?;
    let filter = IncidentFilter { status: q.status, severity: q.severity, open_only: false, limit, offset };
    let (rows, total) = ctx.store.list_incidents(caller.tenant_id, &filter).await?;
    Ok(Json(IncidentList { incidents: views(&ctx, rows).await?, total, limit, offset }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ActiveIncidents {
    pub incidents: Vec<IncidentView>,
}

/// Every incident that is not resolved, newest first (no pagination).
#[utoipa::path(get, path = "/api/v1/incidents/active", tag = "status", security(("bearer" = [])),
    responses((status = 200, body = ActiveIncidents)))]
pub async fn active(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<ActiveIncidents>> {
    let filter = IncidentFilter { open_only: true, limit: i64::MAX, ..IncidentFilter::default() };
    let (rows, _) = ctx.store.list_incidents(caller.tenant_id, &filter).await?;
    Ok(Json(ActiveIncidents { incidents: views(&ctx, rows).await? }))
}

/// One incident with its timeline and affected services.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = IncidentView)))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<IncidentView>> {
    let i = find(&ctx, &caller, id).await?;
    Ok(Json(full(&ctx, i).await?))
}

/// Body of an incident creation. A `tenant_id` is ignored: the tenant is the token's.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// The public headline.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// Context for the timeline: the first update's message.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// Default `informational`.
    #[serde(default = "informational")]
    pub severity: IncidentSeverity,
    /// `public` (the default) or `internal`.
    #[serde(default = "public")]
    pub visibility: Visibility,
    /// The services affected: services of the caller's tenant.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub service_ids: Vec<i64>,
    /// Ignored: the tenant is always the token's.
    #[serde(default)]
    #[allow(dead_code)] // Read only to be ignored, as the seed's contract says.
    pub tenant_id: Option<i64>,
}

fn informational() -> IncidentSeverity {
    IncidentSeverity::Informational
}

fn public() -> Visibility {
    Visibility::Public
}

fn yes() -> bool {
    true
}

/// Opens an incident (`investigating`), its description as the first update.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "status", security(("bearer" = [])), request_body = NewIncident,
    responses((status = 201, body = IncidentView)))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<NewIncident>,
) -> ApiResult<(StatusCode, AuditTarget, Json<IncidentView>)> {
    check_text("title", &body.title, 200)?;
    check_len("description", Some(&body.description), MAX_TEXT)?;
    let service_ids = tenant_services(&ctx, caller.tenant_id, &body.service_ids).await?;
    let now = now_ms();
    let new = IncidentRow {
        id: 0,
        tenant_id: caller.tenant_id,
        title: body.title.trim().to_string(),
        description: body.description.clone(),
        severity: body.severity,
        status: IncidentStatus::Investigating,
        visibility: body.visibility,
        root_cause: None,
        postmortem: None,
        created_at: now,
        updated_at: now,
        resolved_at: None,
    };
    let message = if body.description.trim().is_empty() { new.title.clone() } else { body.description.clone() };
    let first = UpdateWrite { status: IncidentStatus::Investigating, message: &message, is_public: true };
    let row = notify::create_incident(&ctx.store, &new, &first, &service_ids).await?;
    let target = AuditTarget(format!("id={}", row.id));
    Ok((StatusCode::CREATED, target, Json(full(&ctx, row).await?)))
}

/// Body of a partial change: only the fields present (and not null) change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub severity: Option<IncidentSeverity>,
    pub visibility: Option<Visibility>,
    /// A move of the state machine (`investigating → identified → monitoring → resolved`,
    /// `resolved → investigating`); it adds a public update to the timeline.
    pub status: Option<IncidentStatus>,
    #[schema(max_length = 5000)]
    pub root_cause: Option<String>,
    #[schema(max_length = 5000)]
    pub postmortem: Option<String>,
    /// Replaces the services affected.
    #[schema(max_items = 100)]
    pub service_ids: Option<Vec<i64>>,
    /// Ignored: the tenant is always the token's.
    #[allow(dead_code)] // Read only to be ignored, as the seed's contract says.
    pub tenant_id: Option<i64>,
}

/// The timeline entry of a move made without a message.
fn moved_to(status: IncidentStatus) -> String {
    format!("Status changed to {status}.")
}

/// Changes the fields present; a status change must be a legal move (409 otherwise).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = IncidentPatch,
    responses((status = 200, body = IncidentView), (status = 409, description = "Not a legal move from the current status")))]
pub async fn patch(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<IncidentPatch>,
) -> ApiResult<Json<IncidentView>> {
    if let Some(title) = &body.title {
        check_text("title", title, 200)?;
    }
    check_len("description", body.description.as_deref(), MAX_TEXT)?;
    check_len("root_cause", body.root_cause.as_deref(), MAX_TEXT)?;
    check_len("postmortem", body.postmortem.as_deref(), MAX_TEXT)?;
    let current = find(&ctx, &caller, id).await?;
    let service_ids = match &body.service_ids {
        Some(ids) => Some(tenant_services(&ctx, caller.tenant_id, ids).await?),
        None => None,
    };
    // Later than the version it replaces, even within its millisecond: a change without an update
    // is told apart by its time (`status::notify`).
    let now = now_ms().max(current.updated_at + 1);
    let mut next = incident::step(&current, body.status.unwrap_or(current.status), now).map_err(refused)?;
    next.title = body.title.map_or(next.title, |t| t.trim().to_string());
    next.description = body.description.unwrap_or(next.description);
    next.severity = body.severity.unwrap_or(next.severity);
    next.visibility = body.visibility.unwrap_or(next.visibility);
    next.root_cause = body.root_cause.or(next.root_cause);
    next.postmortem = body.postmortem.or(next.postmortem);
    let message = moved_to(next.status);
    let update = (next.status != current.status).then(|| UpdateWrite {
        status: next.status,
        message: &message,
        is_public: true,
    });
    let saved = notify::save_incident(&ctx.store, &current, &next, update.as_ref(), service_ids.as_deref())
        .await
        .map_err(or_not_found("incident"))?;
    Ok(Json(full(&ctx, saved).await?))
}

/// Body of a timeline update.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    /// The incident's status after the update (absent: unchanged); a change must be a legal move.
    pub status: Option<IncidentStatus>,
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub message: String,
    /// Shown on the status page (default true).
    #[serde(default = "yes")]
    pub is_public: bool,
}

/// Appends an update to the timeline, moving the incident to its status (201).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = NewUpdate,
    responses((status = 201, body = IncidentView), (status = 409, description = "Not a legal move from the current status")))]
pub async fn add_update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<NewUpdate>,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    check_text("message", &body.message, MAX_TEXT)?;
    let current = find(&ctx, &caller, id).await?;
    let next = incident::step(&current, body.status.unwrap_or(current.status), now_ms()).map_err(refused)?;
    let update = UpdateWrite { status: next.status, message: &body.message, is_public: body.is_public };
    let saved = notify::save_incident(&ctx.store, &current, &next, Some(&update), None)
        .await
        .map_err(or_not_found("incident"))?;
    Ok((StatusCode::CREATED, Json(full(&ctx, saved).await?)))
}

/// Optional body of the resolution.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    #[schema(max_length = 5000)]
    pub root_cause: Option<String>,
    /// Text or a link to it.
    #[schema(max_length = 5000)]
    pub postmortem: Option<String>,
}

/// Resolves a monitoring incident, with its root cause and postmortem (409 from another status).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Option<Resolution>,
    responses((status = 200, body = IncidentView), (status = 409, description = "Not a legal move from the current status")))]
pub async fn resolve(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    LenientJson(body): LenientJson<Resolution>,
) -> ApiResult<Json<IncidentView>> {
    check_len("root_cause", body.root_cause.as_deref(), MAX_TEXT)?;
    check_len("postmortem", body.postmortem.as_deref(), MAX_TEXT)?;
    let current = find(&ctx, &caller, id).await?;
    let next = incident::resolve(&current, body.root_cause, body.postmortem, now_ms()).map_err(refused)?;
    let message = moved_to(next.status);
    let update = UpdateWrite { status: next.status, message: &message, is_public: true };
    let saved = notify::save_incident(&ctx.store, &current, &next, Some(&update), None)
        .await
        .map_err(or_not_found("incident"))?;
    Ok(Json(full(&ctx, saved).await?))
}
