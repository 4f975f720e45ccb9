//! Datasentinel-compatible sign-in (`/ds-api/…`), so its toolkit scripts work unchanged.
//! See docs/datasentinel-toolkit-compat.md for what the toolkit sends and expects.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::audit_log::audited_sign_in;
use super::error::{ApiResult, AppError};
use super::extract::{basic_credentials, client_ip, ApiPath, ApiQuery, ClientIp};
use super::AppContext;
use crate::version;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiBanner {
    status: &'static str,
    message: &'static str,
    version: &'static str,
}

/// API banner; the toolkit probes it (`curl -sf -k https://host/ds-api/`) before anything else.
#[utoipa::path(get, path = "/ds-api/", tag = "datasentinel", responses((status = 200, body = ApiBanner)))]
pub async fn banner() -> Json<ApiBanner> {
    Json(ApiBanner {
        status: "OK",
        message: "Vigia API (Datasentinel-compatible) up and running",
        version: version::VERSION,
    })
}

/// Issues a user token for HTTP Basic credentials: `{"user-token": "…"}`, valid 24 h.
#[utoipa::path(post, path = "/ds-api/user-token", tag = "datasentinel", security(("basic" = [])),
    responses((status = 201, description = "`{\"user-token\": \"…\"}`"), (status = 401, description = "Bad or missing credentials"),
        (status = 429, description = "Login locked, or sign-in rate limit (`Retry-After`)")))]
pub async fn issue(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> ApiResult<Response> {
    issue_for(&ctx, ip, &headers, None, StatusCode::CREATED).await
}

/// Same, naming the organization (tenant) the user belongs to.
#[utoipa::path(post, path = "/ds-api/user-token/{organization}", tag = "datasentinel", security(("basic" = [])),
    params(("organization" = String, Path, description = "Tenant name")),
    responses((status = 201, description = "`{\"user-token\": \"…\"}`"), (status = 401, description = "Bad or missing credentials"),
        (status = 429, description = "Login locked, or sign-in rate limit (`Retry-After`)")))]
pub async fn issue_in(
    State(ctx): State<Arc<AppContext>>,
    ApiPath(organization): ApiPath<String>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> ApiResult<Response> {
    issue_for(&ctx, ip, &headers, Some(&organization), StatusCode::CREATED).await
}

/// `?token=…` describes a user token; without it, HTTP Basic credentials get a new token
/// (the toolkit's first versions used GET for that).
#[utoipa::path(get, path = "/ds-api/user-token", tag = "datasentinel",
    params(("token" = Option<String>, Query, description = "A user token to describe")),
    responses((status = 200, description = "`{\"email\", \"expire_time\", \"organization_name\", \"user\"}` or a new token"),
        (status = 401, description = "Invalid token or credentials"),
        (status = 429, description = "Login locked, or sign-in rate limit (`Retry-After`)")))]
pub async fn show(
    State(ctx): State<Arc<AppContext>>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    req: Request,
) -> ApiResult<Response> {
    let Some(token) = query.get("token") else {
        return issue_for(&ctx, client_ip(req.extensions()), req.headers(), None, StatusCode::OK).await;
    };
    let principal = ctx.auth.authenticate(token).await?;
    let expire_time = principal
        .expires_at
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    Ok(Json(json!({
        "email": principal.email.unwrap_or_else(|| principal.login.clone()),
        "expire_time": expire_time,
        "organization_name": principal.tenant_name,
        "user": principal.login,
    }))
    .into_response())
}

async fn issue_for(
    ctx: &AppContext,
    source_ip: Option<String>,
    headers: &HeaderMap,
    organization: Option<&str>,
    status: StatusCode,
) -> ApiResult<Response> {
    let (login, password) = basic_credentials(headers).ok_or_else(|| {
        AppError::Unauthorized(
            "authentication required: send HTTP Basic username and password (curl -u user:password)".into(),
        )
    })?;
    let (token, _) = audited_sign_in(ctx, source_ip, organization, &login, &password, "ds-api", status).await?;
    Ok((status, Json(json!({ "user-token": token }))).into_response())
}
