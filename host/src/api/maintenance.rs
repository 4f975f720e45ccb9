//! Maintenance windows (`/api/v1/maintenance…`, the seed's contract): the paginated list, the
//! upcoming ones, one with its services (`read:status`); scheduling and the `start`, `complete`,
//! `cancel` moves (`write:maintenance`) through `status::maintenance`, refused with the seed's
//! 409 ("complete only works on active windows"). The scheduler makes the same moves at the
//! window's times (`status::schedule`); both store a move through `status::notify`, which queues
//! the events subscribers asked for.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuditTarget};
use super::status_common::{linked, tenant_services, ServiceRefView};
use super::validate::check_text;
use super::validate::{check_len, page, timestamp, MAX_TEXT};
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::status::maintenance::{apply, Action};
use crate::status::{notify, suppress};
use crate::store::{now_ms, Link, MaintenanceFilter, MaintenanceRow, MaintenanceStatus, Visibility};

#[derive(Serialize, utoipa::ToSchema)]
pub struct MaintenanceView {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub scheduled_start: String,
    pub scheduled_end: String,
    /// When it really started and ended (started by hand or by the scheduler).
    pub actual_start: Option<String>,
    pub actual_end: Option<String>,
    pub status: MaintenanceStatus,
    pub visibility: Visibility,
    /// Its time does not count against the services' uptime.
    pub exclude_from_sla: bool,
    /// Alert notifications of the services' instances are paused for its duration.
    pub suppress_alerts: bool,
    /// The services it covers.
    pub services: Vec<ServiceRefView>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(w: MaintenanceRow, services: Vec<ServiceRefView>) -> MaintenanceView {
    MaintenanceView {
        id: w.id,
        title: w.title,
        description: w.description,
        scheduled_start: rfc3339(w.scheduled_start),
        scheduled_end: rfc3339(w.scheduled_end),
        actual_start: w.actual_start.map(rfc3339),
        actual_end: w.actual_end.map(rfc3339),
        status: w.status,
        visibility: w.visibility,
        exclude_from_sla: w.exclude_from_sla,
        suppress_alerts: w.suppress_alerts,
        services,
        created_at: rfc3339(w.created_at),
        updated_at: rfc3339(w.updated_at),
    }
}

async fn views(ctx: &AppContext, rows: Vec<MaintenanceRow>) -> ApiResult<Vec<MaintenanceView>> {
    let ids: Vec<i64> = rows.iter().map(|w| w.id).collect();
    let mut services = linked(ctx, Link::Maintenance, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|w| {
            let linked = services.remove(&w.id).unwrap_or_default();
            view(w, linked)
        })
        .collect())
}

async fn one(ctx: &AppContext, w: MaintenanceRow) -> ApiResult<MaintenanceView> {
    let mut services = linked(ctx, Link::Maintenance, &[w.id]).await?;
    let linked = services.remove(&w.id).unwrap_or_default();
    Ok(view(w, linked))
}

/// Filters of the window list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceQuery {
    pub status: Option<MaintenanceStatus>,
    /// At most this many (default 50), latest scheduled start first.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MaintenanceList {
    pub maintenance: Vec<MaintenanceView>,
    /// How many windows match the filters in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The tenant's windows, latest scheduled start first.
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "status", security(("bearer" = [])), params(MaintenanceQuery),
    responses((status = 200, body = MaintenanceList)))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<MaintenanceQuery>,
) -> ApiResult<Json<MaintenanceList>> {
    let (limit, offset) = page(q.limit, q.offset, 50, 200)?;
    let filter = MaintenanceFilter { status: q.status, limit, offset };
    let (rows, total) = ctx.store.list_maintenance(caller.tenant_id, &filter).await?;
    Ok(Json(MaintenanceList { maintenance: views(&ctx, rows).await?, total, limit, offset }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UpcomingMaintenance {
    pub maintenance: Vec<MaintenanceView>,
}

/// Scheduled windows that have not started yet, soonest first (no pagination).
#[utoipa::path(get, path = "/api/v1/maintenance/upcoming", tag = "status", security(("bearer" = [])),
    responses((status = 200, body = UpcomingMaintenance)))]
pub async fn upcoming(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<UpcomingMaintenance>> {
    let rows = ctx.store.upcoming_maintenance(caller.tenant_id, now_ms()).await?;
    Ok(Json(UpcomingMaintenance { maintenance: views(&ctx, rows).await? }))
}

/// One window with its services.
#[utoipa::path(get, path = "/api/v1/maintenance/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = MaintenanceView)))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MaintenanceView>> {
    let w = ctx.store.maintenance(caller.tenant_id, id).await.map_err(or_not_found("maintenance window"))?;
    Ok(Json(one(&ctx, w).await?))
}

/// Body of a window's scheduling. A `tenant_id` is ignored: the tenant is the token's.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenance {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// RFC 3339 (UTC).
    #[schema(format = DateTime)]
    pub scheduled_start: String,
    /// RFC 3339 (UTC), after `scheduled_start` and not in the past.
    #[schema(format = DateTime)]
    pub scheduled_end: String,
    /// `public` (the default) or `internal`.
    #[serde(default = "public")]
    pub visibility: Visibility,
    /// The services it covers: services of the caller's tenant.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub service_ids: Vec<i64>,
    /// Its time does not count against the services' uptime (default false).
    #[serde(default)]
    pub exclude_from_sla: bool,
    /// Pause alert notifications of the services' instances for its duration (default false).
    #[serde(default)]
    pub suppress_alerts: bool,
    /// Ignored: the tenant is always the token's.
    #[serde(default)]
    #[allow(dead_code)] // Read only to be ignored, as the seed's contract says.
    pub tenant_id: Option<i64>,
}

fn public() -> Visibility {
    Visibility::Public
}

/// Schedules a window (201); the scheduler starts and completes it at its times.
#[utoipa::path(post, path = "/api/v1/maintenance", tag = "status", security(("bearer" = [])),
    request_body = NewMaintenance, responses((status = 201, body = MaintenanceView)))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<NewMaintenance>,
) -> ApiResult<(StatusCode, AuditTarget, Json<MaintenanceView>)> {
    check_text("title", &body.title, 200)?;
    check_len("description", Some(&body.description), MAX_TEXT)?;
    let start = timestamp("scheduled_start", &body.scheduled_start)?;
    let end = timestamp("scheduled_end", &body.scheduled_end)?;
    if end <= start {
        return Err(AppError::BadRequest("scheduled_end must be after scheduled_start".into()));
    }
    let now = now_ms();
    if end <= now {
        return Err(AppError::BadRequest(format!("scheduled_end {:?} is in the past", body.scheduled_end)));
    }
    let service_ids = tenant_services(&ctx, caller.tenant_id, &body.service_ids).await?;
    let new = MaintenanceRow {
        id: 0,
        tenant_id: caller.tenant_id,
        title: body.title.trim().to_string(),
        description: body.description,
        scheduled_start: start,
        scheduled_end: end,
        actual_start: None,
        actual_end: None,
        status: MaintenanceStatus::Scheduled,
        visibility: body.visibility,
        exclude_from_sla: body.exclude_from_sla,
        suppress_alerts: body.suppress_alerts,
        created_at: now,
        updated_at: now,
    };
    let row = ctx.store.create_maintenance(&new, &service_ids).await?;
    let target = AuditTarget(format!("id={}", row.id));
    Ok((StatusCode::CREATED, target, Json(one(&ctx, row).await?)))
}

/// Applies `action` to the caller's window `id`: 404, 409 when its status does not allow it.
async fn act(ctx: &AppContext, caller: &Principal, id: i64, action: Action) -> ApiResult<Json<MaintenanceView>> {
    let not_found = or_not_found("maintenance window");
    let current = ctx.store.maintenance(caller.tenant_id, id).await.map_err(&not_found)?;
    let next = apply(&current, action, now_ms()).map_err(|r| AppError::Conflict(r.to_string()))?;
    match notify::move_maintenance(&ctx.store, &next, current.status).await.map_err(&not_found)? {
        Some(saved) => {
            // The move stands even if this fails: it is logged, and the window's answer is the truth.
            if let Err(e) = suppress::after_move(&ctx.store, &saved, now_ms()).await {
                tracing::warn!(window = saved.id, error = %e, "pausing or resuming the window's alerts failed");
            }
            Ok(Json(one(ctx, saved).await?))
        }
        // Moved by someone else (or the scheduler) in between: judged on what it is now.
        None => {
            let now = ctx.store.maintenance(caller.tenant_id, id).await.map_err(&not_found)?;
            let refused = apply(&now, action, now_ms()).err();
            let message =
                refused.map_or_else(|| format!("window {id} changed meanwhile; try again"), |r| r.to_string());
            Err(AppError::Conflict(message))
        }
    }
}

/// Starts a scheduled window now (409 otherwise: "start only works on scheduled windows").
#[utoipa::path(post, path = "/api/v1/maintenance/{id}/start", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MaintenanceView), (status = 409, description = "The window is not scheduled")))]
pub async fn start(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MaintenanceView>> {
    act(&ctx, &caller, id, Action::Start).await
}

/// Completes an active window now (409 otherwise: "complete only works on active windows").
#[utoipa::path(post, path = "/api/v1/maintenance/{id}/complete", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MaintenanceView), (status = 409, description = "The window is not active")))]
pub async fn complete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MaintenanceView>> {
    act(&ctx, &caller, id, Action::Complete).await
}

/// Cancels a scheduled or active window (409 otherwise).
#[utoipa::path(post, path = "/api/v1/maintenance/{id}/cancel", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = MaintenanceView), (status = 409, description = "The window is over")))]
pub async fn cancel(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MaintenanceView>> {
    act(&ctx, &caller, id, Action::Cancel).await
}
