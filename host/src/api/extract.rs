//! Request extractors that fail with `AppError` (JSON bodies, path, query, the caller, Basic auth,
//! the client's address), and what they tell the audit log (`AuditNote`, `AuditTarget`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap};
use axum::response::{IntoResponseParts, ResponseParts};
use base64::Engine;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use super::error::AppError;
use crate::auth::Principal;

/// A JSON body whatever the Content-Type (curl's `-d` sends form encoding). Errors name the
/// position (`trailing comma at line 3 column 1`) or the field; oversized bodies are 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body read the way Datasentinel's toolkit writes it: an empty body (or `null`) is `{}` (it sends
/// `Content-Type: application/json` with nothing on some writes) and a trailing comma before `}`
/// or `]` is allowed, because the documented example body for connections has one.
pub struct LenientJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for LenientJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
            return parse_json(b"{}").map(LenientJson);
        }
        parse_json(&without_trailing_commas(&bytes)).map(LenientJson)
    }
}

/// Blanks commas that directly precede `}` or `]` outside strings (blanked, not removed, so error
/// positions still point at the original text).
fn without_trailing_commas(json: &[u8]) -> Vec<u8> {
    let mut out = json.to_vec();
    let (mut in_string, mut escaped, mut pending) = (false, false, None::<usize>);
    for (i, &c) in json.iter().enumerate() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => {
                in_string = true;
                pending = None;
            }
            b',' => pending = Some(i),
            b'}' | b']' => {
                if let Some(at) = pending.take() {
                    out[at] = b' ';
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => pending = None,
        }
    }
    out
}

/// Reads the whole body within the configured limit (`[server] max_body_bytes`).
pub async fn read_body<S: Send + Sync>(req: Request, _state: &S) -> Result<Bytes, AppError> {
    let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(usize::MAX);
    let note = req.extensions().get::<AuditNote>().cloned();
    let bytes = read_body_limited(req, limit).await?;
    if let Some(note) = note {
        note.record_keys(&bytes);
    }
    Ok(bytes)
}

/// What the audit middleware learns from the handler's body: the keys of the JSON object read,
/// and of the objects inside it (`config.webhook_url`), never a value. The middleware puts one in
/// the request of every audited route; `read_body` fills it.
#[derive(Clone, Default)]
pub struct AuditNote(Arc<Mutex<Vec<String>>>);

/// Keys are the caller's text: bounded so a body of many long keys cannot bloat the log.
const MAX_NOTED_KEYS: usize = 50;
const MAX_KEY_CHARS: usize = 64;

impl AuditNote {
    fn record_keys(&self, body: &[u8]) {
        let Ok(serde_json::Value::Object(top)) = serde_json::from_slice(&without_trailing_commas(body)) else {
            return;
        };
        let short = |k: &str| k.chars().take(MAX_KEY_CHARS).collect::<String>();
        let mut keys = Vec::new();
        for (key, value) in &top {
            keys.push(short(key));
            if let serde_json::Value::Object(inner) = value {
                keys.extend(inner.keys().map(|k| format!("{}.{}", short(key), short(k))));
            }
        }
        keys.sort();
        keys.truncate(MAX_NOTED_KEYS);
        if let Ok(mut noted) = self.0.lock() {
            *noted = keys;
        }
    }

    pub fn keys(&self) -> Vec<String> {
        self.0.lock().map(|k| k.clone()).unwrap_or_default()
    }
}

/// Names what a call acted on when its path does not (a new token's id, a new user's login): a
/// response part the audit middleware prefers to the path parameters.
#[derive(Clone)]
pub struct AuditTarget(pub String);

impl IntoResponseParts for AuditTarget {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// The peer's IP address, when the server runs with connection info (tests through `oneshot`
/// have none). Proxy headers are not trusted: anyone can send them.
pub fn client_ip(extensions: &Extensions) -> Option<String> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// `client_ip` as an extractor, for handlers that record their own audit entries.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}

/// Reads the whole body, answering 413 past `limit` bytes (checked on the declared length first,
/// then while streaming, so a lying or absent Content-Length cannot get past it).
pub async fn read_body_limited(req: Request, limit: usize) -> Result<Bytes, AppError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(AppError::PayloadTooLarge(limit)),
        Err(e) => Err(AppError::BadRequest(format!("could not read request body: {e}"))),
    }
}

/// Parses a JSON body with an error that says where it is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::BadRequest("request body is empty: expected a JSON object".into()));
    }
    serde_json::from_slice(bytes).or_else(|first| {
        let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| invalid_json(&first))?;
        if !super::validate::integral_floats_as_integers(&mut value) {
            return Err(invalid_json(&first));
        }
        serde_json::from_value(value).map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
    })
}

fn invalid_json(e: &serde_json::Error) -> AppError {
    AppError::BadRequest(format!("invalid JSON body: {e}"))
}

/// The configured body limit, put in request extensions so a 413 can say what the limit is.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `Path` with JSON errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// `Query` with JSON errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

/// The authenticated caller, put in the request by the authorization middleware.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| AppError::Unauthorized("authentication required".into()))
    }
}

/// The token a request presents: `Authorization: Bearer`, `X-API-Token` or `user-token`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    bearer
        .or_else(|| headers.get("x-api-token").and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get("user-token").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The token a request authenticates with: a header's, else the browser session's cookie.
pub fn caller_token(headers: &HeaderMap) -> Option<&str> {
    presented_token(headers).or_else(|| session_cookie(headers))
}

/// A browser session's token: the `vigia_session` cookie (see `auth::session`).
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, crate::auth::session::SESSION_COOKIE)
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// HTTP Basic credentials, if the request carries them.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

#[cfg(test)]
mod tests {
    use super::{without_trailing_commas, AuditNote};

    #[test]
    fn audit_notes_keep_keys_never_values() {
        let note = AuditNote::default();
        note.record_keys(br#"{"password": "hunter2", "config": {"webhook_url": "https://secret"}, "n": 1,}"#);
        assert_eq!(note.keys(), ["config", "config.webhook_url", "n", "password"]);
        note.record_keys(b"[1, 2]");
        assert_eq!(note.keys().len(), 4, "not an object: nothing noted");
    }

    #[test]
    fn trailing_commas_are_blanked_outside_strings_only() {
        let fixed = without_trailing_commas(b"{\"a\": [1, 2,],\n \"b\": \",}\",\n}");
        assert_eq!(String::from_utf8(fixed).unwrap(), "{\"a\": [1, 2 ],\n \"b\": \",}\" \n}");
        assert_eq!(without_trailing_commas(b"{\"a\": \"x\\\",\"}"), b"{\"a\": \"x\\\",\"}");
    }
}
