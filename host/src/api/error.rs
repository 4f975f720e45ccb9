//! `AppError`: every failure the API can answer, rendered as `{"error": "…"}` with the right status.
//! Internal errors are logged once with the request id and shown to the client only as that id.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth::{AuthError, Scope};
use crate::store::StoreError;

tokio::task_local! {
    /// The current request's id, set by the request-id middleware for the whole handler.
    pub static REQUEST_ID: String;
}

/// The current request id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field, limit or resource concerned.
    pub error: String,
    /// On server errors only: the id to look for in the host's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("missing required scope: {0}")]
    MissingScope(Scope),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the {0}-byte limit")]
    PayloadTooLarge(usize),
    /// 429 with `Retry-After` (whole seconds, at least 1).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: std::time::Duration },
    #[error("{0}")]
    Unavailable(String),
    /// Something the host called (a plugin) failed; the message is the callee's, shown as is.
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    GatewayTimeout(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn not_found(what: &str) -> AppError {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::MissingScope(_) | AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status.is_server_error() {
            let request_id = current_request_id();
            tracing::error!(%request_id, error = ?self, "request failed");
            let message = match &self {
                AppError::Unavailable(m) | AppError::BadGateway(m) | AppError::GatewayTimeout(m) => m.clone(),
                _ => "internal server error".to_string(),
            };
            ErrorBody { error: message, request_id: Some(request_id) }
        } else {
            ErrorBody { error: self.to_string(), request_id: None }
        };
        let retry_after = match &self {
            AppError::TooManyRequests { retry_after, .. } => Some(retry_after.as_secs_f64().ceil().max(1.0) as u64),
            _ => None,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("not found".into()),
            StoreError::Conflict(m) => AppError::Conflict(m),
            other => AppError::Internal(other.into()),
        }
    }
}

/// Maps `StoreError::NotFound` to a 404 naming `what` (other errors as usual).
pub fn or_not_found(what: &'static str) -> impl Fn(StoreError) -> AppError {
    move |e| match e {
        StoreError::NotFound => AppError::not_found(what),
        other => other.into(),
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::UnknownToken => AppError::Unauthorized("invalid token".into()),
            AuthError::Expired | AuthError::Revoked | AuthError::BadCredentials => {
                AppError::Unauthorized(e.to_string())
            }
            AuthError::LockedOut { retry_after } => AppError::TooManyRequests { message: e.to_string(), retry_after },
            // Password checks free up within tens of milliseconds.
            AuthError::Busy => {
                AppError::TooManyRequests { message: e.to_string(), retry_after: std::time::Duration::from_secs(1) }
            }
            AuthError::Store(s) => s.into(),
            AuthError::Internal(i) => AppError::Internal(i),
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for AppError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        AppError::BadRequest(format!("invalid path parameter: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        AppError::BadRequest(format!("invalid query string: {}", e.body_text()))
    }
}

pub type ApiResult<T> = Result<T, AppError>;
