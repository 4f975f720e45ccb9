//! Alert rules (`/api/v1/alerts/rules[/{id}]`) and the built-in templates
//! (`/api/v1/alerts/templates`). Reading needs `monitoring:read`, changing `settings:write`.
//! Validation, templates and precedence live in `alerting::rules`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath};
use super::{rfc3339, AppContext};
use crate::alerting::rules::{RuleInput, RuleSpec, Template, TEMPLATES};
use crate::auth::Principal;
use crate::store::RuleRow;

/// A stored rule.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub id: i64,
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<RuleRow> for RuleView {
    type Error = AppError;
    fn try_from(r: RuleRow) -> ApiResult<RuleView> {
        let spec = serde_json::from_str(&r.spec).map_err(|e| AppError::Internal(e.into()))?;
        Ok(RuleView { id: r.id, spec, created_at: rfc3339(r.created_at), updated_at: rfc3339(r.updated_at) })
    }
}

fn checked(input: RuleInput) -> ApiResult<(RuleSpec, String)> {
    let spec = input.resolve().map_err(AppError::BadRequest)?;
    let json = serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.into()))?;
    Ok((spec, json))
}

/// The tenant's rules.
#[utoipa::path(get, path = "/api/v1/alerts/rules", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = [RuleView])))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<Vec<RuleView>>> {
    let rows = ctx.store.list_rules(Some(caller.tenant_id)).await?;
    Ok(Json(rows.into_iter().map(RuleView::try_from).collect::<ApiResult<_>>()?))
}

/// Creates a rule: a full definition, or `template` plus what differs from it.
#[utoipa::path(post, path = "/api/v1/alerts/rules", tag = "alerts", security(("bearer" = [])), request_body = RuleInput,
    responses((status = 201, body = RuleView), (status = 400, description = "Invalid rule"),
        (status = 409, description = "A rule has that name")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(input): ApiJson<RuleInput>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let (spec, json) = checked(input)?;
    let row = ctx.store.create_rule(caller.tenant_id, &spec.name, &spec.metric, &json).await?;
    Ok((StatusCode::CREATED, Json(row.try_into()?)))
}

#[utoipa::path(get, path = "/api/v1/alerts/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = RuleView), (status = 404, description = "No such rule")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json(ctx.store.rule(caller.tenant_id, id).await.map_err(or_not_found("rule"))?.try_into()?))
}

/// Replaces a rule (same body as the creation). Its open alerts keep their state.
#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = RuleInput,
    responses((status = 200, body = RuleView), (status = 400, description = "Invalid rule"),
        (status = 404, description = "No such rule")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RuleInput>,
) -> ApiResult<Json<RuleView>> {
    let (spec, json) = checked(input)?;
    let row = ctx.store.update_rule(caller.tenant_id, id, &spec.name, &spec.metric, &json).await;
    Ok(Json(row.map_err(or_not_found("rule"))?.try_into()?))
}

/// Deletes a rule; its open alerts resolve at the next evaluation.
#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "No such rule")))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    ctx.store.delete_rule(caller.tenant_id, id).await.map_err(or_not_found("rule"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The built-in rule templates (create one with `{"template": "<name>"}`).
#[utoipa::path(get, path = "/api/v1/alerts/templates", tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = [Template])))]
pub async fn templates() -> Json<&'static [Template]> {
    Json(TEMPLATES)
}
