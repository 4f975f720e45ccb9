//! Plugin management: list, install (tar.gz bundle or multipart), remove, enable/disable,
//! configuration (validated, secrets masked) and a dry-run `collect`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use serde::Serialize;

use super::error::{ApiResult, AppError};
use super::extract::{read_body_limited, ApiJson, ApiPath, AuditTarget};
use super::AppContext;
use crate::plugins::{CollectContext, InvokeError, PluginError, PluginHost, PluginStatus};
use crate::store::now_ms;

/// Largest plugin bundle accepted (componentize-py components are ~20 MB).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginList {
    plugins: Vec<PluginStatus>,
}

fn host(ctx: &AppContext) -> ApiResult<&Arc<PluginHost>> {
    ctx.plugins.as_ref().ok_or_else(|| AppError::Unavailable("the plugin runtime is not running".into()))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("plugin {id} not found"))
}

/// Every plugin in the plugins directory, loaded or not, with its status and call statistics.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", security(("bearer" = [])), responses((status = 200, body = PluginList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>) -> ApiResult<Json<PluginList>> {
    Ok(Json(PluginList { plugins: host(&ctx)?.list() }))
}

/// One plugin: version, kind, status, last error, capabilities, load time, counters, p50/p99.
#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PluginStatus), (status = 404, description = "No such plugin")))]
pub async fn get(State(ctx): State<Arc<AppContext>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<PluginStatus>> {
    host(&ctx)?.status(&id).map(Json).ok_or_else(|| not_found(&id))
}

/// Installs a plugin bundle: a `.tar.gz` of `plugin.toml` + the `.wasm` as the body, or as the
/// `bundle` field of a multipart form. It is validated (manifest, hash, compilation, world)
/// before anything is written; the answer shows the capabilities it was granted.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/gzip", description = "tar.gz bundle (or multipart/form-data with a `bundle` field)"),
    responses((status = 201, body = PluginStatus), (status = 400, description = "Invalid bundle"), (status = 413, description = "Bundle too large")))]
pub async fn install(
    State(ctx): State<Arc<AppContext>>,
    req: Request,
) -> ApiResult<(StatusCode, AuditTarget, Json<PluginStatus>)> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let headers = req.headers().clone();
    let bytes = read_body_limited(req, MAX_BUNDLE_BYTES).await?;
    let bundle = if is_multipart {
        // The form is parsed from the already size-checked bytes.
        let mut form = Request::new(axum::body::Body::from(bytes));
        *form.headers_mut() = headers;
        multipart_bundle(form).await?
    } else {
        bytes
    };
    if bundle.is_empty() {
        return Err(AppError::BadRequest("empty body: send a .tar.gz plugin bundle".into()));
    }
    let status = host(&ctx)?.install_bundle(&bundle).await.map_err(plugin_error)?;
    tracing::info!(plugin = %status.id, "plugin installed through the API");
    let target = AuditTarget(format!("id={} version={}", status.id, status.version.as_deref().unwrap_or("-")));
    Ok((StatusCode::CREATED, target, Json(status)))
}

async fn multipart_bundle(req: Request) -> ApiResult<Bytes> {
    let mut form = Multipart::from_request(req, &()).await.map_err(|e| AppError::BadRequest(e.body_text()))?;
    while let Some(field) = form.next_field().await.map_err(|e| AppError::BadRequest(e.body_text()))? {
        if matches!(field.name(), Some("bundle") | Some("file")) {
            return field.bytes().await.map_err(|e| AppError::BadRequest(e.body_text()));
        }
    }
    Err(AppError::BadRequest("multipart form has no `bundle` field".into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Removed {
    removed: String,
}

/// Unloads a plugin and deletes its directory.
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Removed), (status = 404, description = "No such plugin")))]
pub async fn remove(State(ctx): State<Arc<AppContext>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Removed>> {
    host(&ctx)?.remove(&id).await.map_err(plugin_error)?;
    Ok(Json(Removed { removed: id }))
}

/// Enables a plugin (collectors resume on their interval).
#[utoipa::path(patch, path = "/api/v1/plugins/{id}/enable", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PluginStatus), (status = 404, description = "No such plugin")))]
pub async fn enable(State(ctx): State<Arc<AppContext>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<PluginStatus>> {
    set_enabled(&ctx, &id, true).await
}

/// Disables a plugin: it stays installed but serves no calls.
#[utoipa::path(patch, path = "/api/v1/plugins/{id}/disable", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = PluginStatus), (status = 404, description = "No such plugin")))]
pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PluginStatus>> {
    set_enabled(&ctx, &id, false).await
}

async fn set_enabled(ctx: &AppContext, id: &str, enabled: bool) -> ApiResult<Json<PluginStatus>> {
    let plugins = host(ctx)?;
    plugins.set_enabled(id, enabled).await.map_err(plugin_error)?;
    plugins.status(id).map(Json).ok_or_else(|| not_found(id))
}

/// The plugin's configuration (defaults merged), with secret values masked.
#[utoipa::path(get, path = "/api/v1/plugins/{id}/config", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Configuration object"), (status = 404, description = "No such plugin")))]
pub async fn get_config(
    State(ctx): State<Arc<AppContext>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    host(&ctx)?.config(&id, true).await.map(Json).map_err(plugin_error)
}

/// A plugin's configuration schema, for forms (the dashboard renders channel and plugin forms
/// from it). Nothing in it is secret; the paths of secret fields are listed so a form masks them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConfigSchema {
    /// The manifest's JSON Schema of the configuration.
    #[schema(value_type = Object)]
    schema: serde_json::Value,
    /// Each secret field's path from the root (`["smtp", "password"]`).
    secret_paths: Vec<Vec<String>>,
}

/// The plugin's configuration schema and which of its fields are secrets.
#[utoipa::path(get, path = "/api/v1/plugins/{id}/schema", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ConfigSchema), (status = 400, description = "The plugin is not loaded"), (status = 404, description = "No such plugin")))]
pub async fn schema(State(ctx): State<Arc<AppContext>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<ConfigSchema>> {
    let (schema, secret_paths) = host(&ctx)?.schema(&id).map_err(plugin_error)?;
    Ok(Json(ConfigSchema { schema, secret_paths }))
}

/// Replaces the configuration after validating it against the plugin's JSON Schema. Secrets are
/// sealed at rest; sending back the mask keeps a stored secret unchanged.
#[utoipa::path(put, path = "/api/v1/plugins/{id}/config", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Object), responses((status = 200, description = "Stored configuration, secrets masked"),
        (status = 400, description = "Does not match the schema"), (status = 404, description = "No such plugin")))]
pub async fn put_config(
    State(ctx): State<Arc<AppContext>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(config): ApiJson<serde_json::Value>,
) -> ApiResult<Json<serde_json::Value>> {
    let plugins = host(&ctx)?;
    plugins.set_config(&id, config).await.map_err(plugin_error)?;
    plugins.config(&id, true).await.map(Json).map_err(plugin_error)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DryRun {
    #[schema(value_type = Vec<Object>)]
    samples: Vec<crate::plugins::MetricSample>,
    duration_ms: f64,
}

/// Runs a collector once and returns its samples without storing them.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/invoke", tag = "plugins", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = DryRun), (status = 400, description = "Not a collector"), (status = 404, description = "No such plugin"),
        (status = 502, description = "The plugin failed (trap, limit, plugin error)"), (status = 504, description = "The plugin ran past its deadline")))]
pub async fn invoke(State(ctx): State<Arc<AppContext>>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<DryRun>> {
    let started = Instant::now();
    let context = CollectContext { resource: id.clone(), scheduled_at_ms: now_ms(), interval_ms: 60_000 };
    let samples = host(&ctx)?.collect(&id, context).await.map_err(invoke_error)?;
    Ok(Json(DryRun { samples, duration_ms: started.elapsed().as_secs_f64() * 1000.0 }))
}

fn plugin_error(e: PluginError) -> AppError {
    match e {
        PluginError::NotFound(id) => not_found(&id),
        PluginError::Invalid(m) => AppError::BadRequest(m),
        other => AppError::Internal(other.into()),
    }
}

/// A plugin's failure is not the host's: it is reported as 502/504 with the plugin's message.
fn invoke_error(e: InvokeError) -> AppError {
    match e {
        InvokeError::NotFound(id) => not_found(&id),
        InvokeError::Disabled(_) | InvokeError::Failed { .. } => AppError::Conflict(e.to_string()),
        InvokeError::WrongKind { .. } => AppError::BadRequest(e.to_string()),
        InvokeError::Timeout { .. } => AppError::GatewayTimeout(e.to_string()),
        _ => AppError::BadGateway(e.to_string()),
    }
}
