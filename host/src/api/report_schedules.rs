//! Report schedules (`/api/v1/reports/schedules…`): a report made and mailed on a cron-like or
//! daily/weekly time, for a period relative to each run (`reports::scheduled`), and the record of
//! its runs. A schedule is its creator's: each run reads with the owner's roles and profile as
//! they are at run time. A caller sees and changes their own schedules; an organization admin
//! sees and changes all of the organization's (to clean up after people). Anyone else's schedule
//! is answered as a missing one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuditTarget};
use super::validate::page;
use super::{rfc3339, AppContext};
use crate::auth::{Principal, Scope};
use crate::reports::scheduled::{Checked, Definition};
use crate::reports::{self, JSON_FORMAT};
use crate::store::{now_ms, DeliveryState, RunRow, ScheduleRow, ScheduleWrite};

/// A schedule as stored, with where it stands.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub id: i64,
    /// The user whose roles and profile the runs read with (the creator).
    pub owner_id: i64,
    #[serde(flatten)]
    pub definition: Definition,
    /// The next run (none when disabled).
    pub next_run_at: Option<String>,
    /// The slot of the latest run queued.
    pub last_run_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(row: ScheduleRow) -> ApiResult<ScheduleView> {
    // Stored definitions were checked when written; one that no longer reads is a host fault.
    let definition = serde_json::from_str(&row.spec)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("report schedule {} is unreadable: {e}", row.id)))?;
    Ok(ScheduleView {
        id: row.id,
        owner_id: row.owner_id,
        definition,
        next_run_at: row.next_run_at.map(rfc3339),
        last_run_at: row.last_run_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    })
}

/// One run of a schedule and its outcome.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RunView {
    pub id: i64,
    /// The slot it ran for.
    pub scheduled_for: String,
    /// The window reported on (both ends inclusive).
    pub from: String,
    pub to: String,
    /// `pending` (waiting for its first attempt or a retry), `sending`, `delivered` or `dead`
    /// (failed for good: the error says why).
    pub state: DeliveryState,
    pub attempts: i64,
    /// When the next attempt is due (pending runs).
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    /// The attached file's name and size, once rendered.
    pub filename: Option<String>,
    pub size_bytes: Option<i64>,
    pub delivered_at: Option<String>,
    pub created_at: String,
}

impl From<RunRow> for RunView {
    fn from(r: RunRow) -> RunView {
        RunView {
            id: r.id,
            scheduled_for: rfc3339(r.scheduled_for),
            from: rfc3339(r.from_ms),
            to: rfc3339(r.to_ms),
            next_attempt_at: (r.state == DeliveryState::Pending).then(|| rfc3339(r.next_attempt_at)),
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            filename: r.filename,
            size_bytes: r.size_bytes,
            delivered_at: r.delivered_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunList {
    pub runs: Vec<RunView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// Most runs answered, newest first (default 20, at most 100).
    pub limit: Option<i64>,
}

/// Whose schedules the caller reaches: their own, or (an organization admin) all.
fn owner_filter(caller: &Principal) -> Option<i64> {
    (!caller.scopes.allows(Scope::Admin)).then_some(caller.user_id)
}

/// Checks a definition, and its format against the loaded reporters when the runtime runs.
fn checked(ctx: &AppContext, definition: Definition) -> ApiResult<Checked> {
    let checked = definition.check()?;
    if let (Some(plugins), false) = (ctx.plugins.as_deref(), checked.format == JSON_FORMAT) {
        reports::pick_renderer(plugins, &checked.format, checked.definition.renderer.as_deref())?;
    }
    Ok(checked)
}

fn write<'a>(checked: &'a Checked, spec: &'a str, now: i64) -> ScheduleWrite<'a> {
    let d = &checked.definition;
    ScheduleWrite { name: &d.name, spec, enabled: d.enabled, next_run_at: checked.next_run_after(now) }
}

/// The caller's report schedules (an admin: the organization's), by name.
#[utoipa::path(get, path = "/api/v1/reports/schedules", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = ScheduleList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<ScheduleList>> {
    let rows = ctx.store.list_schedules(caller.tenant_id, owner_filter(&caller)).await?;
    Ok(Json(ScheduleList { schedules: rows.into_iter().map(view).collect::<ApiResult<_>>()? }))
}

/// Schedules a report: made for `period` at each `when` in `time_zone`, mailed to `recipients`.
#[utoipa::path(post, path = "/api/v1/reports/schedules", tag = "reports", security(("bearer" = [])),
    request_body = Definition,
    responses((status = 201, body = ScheduleView), (status = 400, description = "A field is invalid (named)"),
        (status = 409, description = "The name is taken")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(definition): ApiJson<Definition>,
) -> ApiResult<(StatusCode, AuditTarget, Json<ScheduleView>)> {
    let checked = checked(&ctx, definition)?;
    let spec = checked.to_json();
    let row = ctx.store.create_schedule(caller.tenant_id, caller.user_id, &write(&checked, &spec, now_ms())).await?;
    let target = AuditTarget(format!("id={}", row.id));
    Ok((StatusCode::CREATED, target, Json(view(row)?)))
}

/// One schedule.
#[utoipa::path(get, path = "/api/v1/reports/schedules/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ScheduleView)))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ScheduleView>> {
    let row = ctx.store.schedule(caller.tenant_id, owner_filter(&caller), id).await;
    Ok(Json(view(row.map_err(or_not_found("report schedule"))?)?))
}

/// Replaces a schedule's definition (same body as the creation); its next run is computed anew
/// from now, its history and owner stay.
#[utoipa::path(put, path = "/api/v1/reports/schedules/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = Definition,
    responses((status = 200, body = ScheduleView), (status = 400, description = "A field is invalid (named)"),
        (status = 404, description = "No such schedule"), (status = 409, description = "The name is taken")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(definition): ApiJson<Definition>,
) -> ApiResult<Json<ScheduleView>> {
    let checked = checked(&ctx, definition)?;
    let spec = checked.to_json();
    let write = write(&checked, &spec, now_ms());
    let row = ctx.store.update_schedule(caller.tenant_id, owner_filter(&caller), id, &write).await;
    Ok(Json(view(row.map_err(or_not_found("report schedule"))?)?))
}

/// Deletes a schedule and its history.
#[utoipa::path(delete, path = "/api/v1/reports/schedules/{id}", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "No such schedule")))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let deleted = ctx.store.delete_schedule(caller.tenant_id, owner_filter(&caller), id).await;
    deleted.map_err(or_not_found("report schedule"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A schedule's runs and their outcomes, newest first.
#[utoipa::path(get, path = "/api/v1/reports/schedules/{id}/runs", tag = "reports", security(("bearer" = [])),
    params(("id" = i64, Path), RunQuery), responses((status = 200, body = RunList)))]
pub async fn runs(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> ApiResult<Json<RunList>> {
    let (limit, _) = page(q.limit, None, 20, 100)?;
    let schedule = ctx.store.schedule(caller.tenant_id, owner_filter(&caller), id).await;
    let schedule = schedule.map_err(or_not_found("report schedule"))?;
    let rows = ctx.store.list_runs(schedule.id, limit).await?;
    Ok(Json(RunList { runs: rows.into_iter().map(RunView::from).collect() }))
}
