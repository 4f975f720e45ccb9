//! Health probes: `/health` (load balancers), `/health/live`, `/health/ready`, and the token ping.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use super::AppContext;
use crate::auth::Principal;
use crate::health::ReadinessReport;

const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// Load-balancer probe: plain text, no storage access.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process serves traffic", body = String, content_type = "text/plain")))]
pub async fn health() -> impl IntoResponse {
    ([NO_STORE, (header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK")
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Live {
    status: &'static str,
}

/// Liveness probe in the shape Kubernetes expects.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Live)))]
pub async fn live() -> impl IntoResponse {
    ([NO_STORE], Json(Live { status: "ok" }))
}

/// Readiness: 200 when every dependency check passes, 503 with per-check details otherwise.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "All checks pass", body = ReadinessReport),
    (status = 503, description = "A check failed", body = ReadinessReport)))]
pub async fn ready(State(ctx): State<Arc<AppContext>>) -> impl IntoResponse {
    let report = ctx.readiness.run().await;
    let status = if report.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [NO_STORE], Json(report))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenPing {
    ok: bool,
    tenant_id: i64,
    tenant: String,
    token_prefix: String,
    scopes: Vec<&'static str>,
}

/// Token-verifying ping: confirms the token works and says what it carries.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", security(("bearer" = [])), responses(
    (status = 200, body = TokenPing), (status = 401, description = "Missing, unknown, expired or revoked token")))]
pub async fn api_health(principal: Principal) -> Json<TokenPing> {
    Json(TokenPing {
        ok: true,
        tenant_id: principal.tenant_id,
        tenant: principal.tenant_name,
        token_prefix: principal.token_prefix,
        scopes: principal.scopes.names(),
    })
}
