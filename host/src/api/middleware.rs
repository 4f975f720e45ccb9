//! Middleware: request ids, the host's own HTTP metrics, token/scope authorization, and the
//! audit log of state-changing routes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::endpoints::{access_for, audit_for, Access, Audit};
use super::error::{current_request_id, AppError, REQUEST_ID};
use super::extract::{client_ip, presented_token, session_cookie, AuditNote, AuditTarget, BodyLimit};
use super::AppContext;
use crate::auth::session::{csrf_matches, CSRF_HEADER};
use crate::auth::{secret, Principal};
use crate::store::{now_ms, AuditWrite, TokenKind};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_TARGET_CHARS: usize = 500;

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
    let (token, from_cookie) =
        match presented_token(req.headers()) {
            Some(token) => (token, false),
            None => match session_cookie(req.headers()) {
                Some(token) => (token, true),
                None => return AppError::Unauthorized(
                    "missing token: send Authorization: Bearer <token>, X-API-Token: <token> or user-token: <token>"
                        .into(),
                )
                .into_response(),
            },
        };
    let principal = match ctx.auth.authenticate(token).await {
        Ok(p) => p,
        Err(e) => return AppError::from(e).into_response(),
    };
    // A cookie is sent by the browser whoever made the page: a state-changing call made with
    // one must prove it comes from a page this session was served.
    if from_cookie && !req.method().is_safe() && !csrf_presented(req.headers(), token) {
        return AppError::Forbidden(format!(
            "missing or wrong {CSRF_HEADER} header: a call made with a browser session must send the CSRF token of its page"
        ))
        .into_response();
    }
    // The audit middleware, outside this one, needs to know who called, also when the call is
    // refused here or by the handler (a 403 is a security event too).
    let audited = matches!(audit_for(req.method(), path), Audit::Route(_));
    let mut response = match access {
        Access::Scope(scope) if !principal.scopes.allows(scope) => AppError::MissingScope(scope).into_response(),
        _ => {
            req.extensions_mut().insert(principal.clone());
            next.run(req).await
        }
    };
    if audited {
        response.extensions_mut().insert(principal);
    }
    response
}

fn csrf_presented(headers: &axum::http::HeaderMap, session_token: &str) -> bool {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| csrf_matches(session_token, v))
}

/// Appends the audit entry of a route with an audit action (`endpoints::Audit::Route`) once it
/// answered: the caller `authorize` resolved (tenant, login, token prefix), source IP, request id,
/// action, target (what the handler named, else the path parameters), the keys of the body
/// (never values), and success = status below 400. A call rejected before any caller is known
/// (401) is not recorded: there is no tenant to file it under.
pub async fn audit(State(ctx): State<Arc<AppContext>>, req: Request, next: Next) -> Response {
    let Some(Audit::Route(action)) = req.extensions().get::<MatchedPath>().map(|p| audit_for(req.method(), p.as_str()))
    else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let params = match RawPathParams::from_request_parts(&mut parts, &ctx).await {
        Ok(params) => params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        Err(_) => String::new(),
    };
    let source_ip = client_ip(&parts.extensions);
    let note = AuditNote::default();
    parts.extensions.insert(note.clone());
    let mut response = next.run(Request::from_parts(parts, body)).await;
    // Taken out: what the handler and `authorize` left here is for this layer only.
    let named = response.extensions_mut().remove::<AuditTarget>();
    let Some(caller) = response.extensions_mut().remove::<Principal>() else {
        return response;
    };
    let status = response.status();
    let marker = match caller.token_kind {
        TokenKind::User => secret::USER_TOKEN_MARKER,
        TokenKind::Api => secret::API_TOKEN_MARKER,
    };
    let entry = AuditWrite {
        at: now_ms(),
        tenant_id: caller.tenant_id,
        actor: caller.login,
        token_prefix: Some(format!("{marker}{}", caller.token_prefix)),
        source_ip,
        request_id: current_request_id(),
        action: action.to_string(),
        // Path parameters are the caller's text: bounded like every other field.
        target: named.map_or(params, |t| t.0).chars().take(MAX_TARGET_CHARS).collect(),
        success: status.as_u16() < 400,
        status: i64::from(status.as_u16()),
        details: serde_json::json!({ "keys": note.keys() }).to_string(),
    };
    ctx.audit.record(entry).await;
    response
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
