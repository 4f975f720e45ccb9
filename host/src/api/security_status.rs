//! `GET /api/v1/security/status`: the host's security posture (see `crate::security`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::error::ApiResult;
use super::AppContext;
use crate::security::{self, Posture};

/// TLS, authentication, the first admin's password, rate limiting, plugins beyond a strict
/// policy and key file permissions, as this host sees them now.
#[utoipa::path(get, path = "/api/v1/security/status", tag = "security", security(("bearer" = [])),
    responses((status = 200, body = Posture), (status = 401, description = "Missing or bad token"),
        (status = 403, description = "The token lacks plugins:manage (the operator's)")))]
pub async fn status(State(ctx): State<Arc<AppContext>>) -> ApiResult<Json<Posture>> {
    let plugins = ctx.plugins.as_ref().map(|p| p.list()).unwrap_or_default();
    let default = ctx.store.ensure_tenant(crate::bootstrap::DEFAULT_TENANT).await?;
    Ok(Json(security::assess(&ctx.facts, &plugins, &ctx.store, default.id).await?))
}
