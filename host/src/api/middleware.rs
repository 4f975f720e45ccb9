//! Middleware: request ids, the host's own HTTP metrics, and token/scope authorization.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::endpoints::{access_for, Access};
use super::error::{AppError, REQUEST_ID};
use super::extract::{presented_token, BodyLimit};
use super::AppContext;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Gives every request an id (a sane incoming `X-Request-Id` is kept, so a proxy's id follows the
/// request), makes it visible to handlers and the trace span, and echoes it on the response.
pub async fn request_id(State(ctx): State<Arc<AppContext>>, mut req: Request, next: Next) -> Response {
    let incoming = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok());
    let id = match incoming {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            id.to_string()
        }
        _ => uuid::Uuid::new_v4().simple().to_string(),
    };
    let header = HeaderValue::from_str(&id).expect("request ids are ASCII");
    req.headers_mut().insert(REQUEST_ID_HEADER, header.clone());
    req.extensions_mut().insert(BodyLimit(ctx.max_body_bytes));
    let mut response = REQUEST_ID.scope(id, next.run(req)).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, header);
    response
}

/// Counts requests by route and status and records their latency.
pub async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("vigia_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("vigia_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Enforces the access rule of the matched route (see `endpoints`): unknown routes are denied,
/// tokens are resolved through the cached authenticator, scopes checked against the table.
pub async fn authorize(State(ctx): State<Arc<AppContext>>, mut req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str()) else {
        return AppError::NotFound("no such endpoint".into()).into_response();
    };
    let access = match access_for(req.method(), path) {
        Some(access) => access,
        None => {
            tracing::error!(path, "route has no access rule in api::endpoints; denying");
            return AppError::Forbidden("endpoint has no access rule".into()).into_response();
        }
    };
    if access == Access::Public {
        return next.run(req).await;
    }
    let Some(token) = presented_token(req.headers()) else {
        return AppError::Unauthorized(
            "missing token: send Authorization: Bearer <token>, X-API-Token: <token> or user-token: <token>".into(),
        )
        .into_response();
    };
    let principal = match ctx.auth.authenticate(token).await {
        Ok(p) => p,
        Err(e) => return AppError::from(e).into_response(),
    };
    if let Access::Scope(scope) = access {
        if !principal.scopes.allows(scope) {
            return AppError::MissingScope(scope).into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// JSON answer for paths no route matches.
pub async fn no_route(req: Request) -> Response {
    AppError::NotFound(format!("no route for {} {}", req.method(), req.uri().path())).into_response()
}

/// JSON answer for a known path called with the wrong method.
pub async fn wrong_method(req: Request) -> Response {
    let body = serde_json::json!({ "error": format!("method {} not allowed on {}", req.method(), req.uri().path()) });
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}
