//! Metadata endpoints: version, the OpenAPI document and Prometheus metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Serialize;

use super::AppContext;
use crate::version;

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionInfo {
    version: &'static str,
    build_time: &'static str,
    git_commit: &'static str,
}

/// Version, build time and git commit of this binary.
#[utoipa::path(get, path = "/api/v1/version", tag = "meta", responses((status = 200, body = VersionInfo)))]
pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo { version: version::VERSION, build_time: version::BUILD_TIME, git_commit: version::GIT_COMMIT })
}

/// The OpenAPI 3.1 description of this API, generated from the code.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI document")))]
pub async fn openapi_json(Extension(doc): Extension<Arc<String>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned())
}

/// The host's own metrics in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus exposition", body = String, content_type = "text/plain")))]
pub async fn metrics(State(ctx): State<Arc<AppContext>>) -> impl IntoResponse {
    let (open, idle) = ctx.store.pool_stats();
    metrics::gauge!("vigia_storage_pool_connections", "state" => "open").set(open as f64);
    metrics::gauge!("vigia_storage_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("vigia_uptime_seconds").set(ctx.started.elapsed().as_secs_f64());
    ctx.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], ctx.metrics.render())
}
