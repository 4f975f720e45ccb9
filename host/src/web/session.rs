//! Browser sign-in: the form, the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under
//! TLS, living as long as the user token it carries), sign-out (which revokes that token), and
//! `Session`, the extractor every screen starts with. The sign-in form has no session to derive a
//! CSRF token from, so it uses a double-submit cookie scoped to `/sign-in`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::render;
use crate::api::{audited_sign_in, cookie, session_cookie, AppContext, ClientIp};
use crate::auth::secret;
use crate::auth::session::{csrf_matches, csrf_token, pre_session_token, SESSION_COOKIE};
use crate::auth::Principal;
use crate::store::{now_ms, TokenKind};

/// The sign-in form's double-submit cookie.
const SIGN_IN_COOKIE: &str = "vigia_sign_in";

/// A signed-in browser: who it is and the CSRF token its pages carry.
pub struct Session {
    pub caller: Principal,
    pub csrf: String,
}

impl FromRequestParts<Arc<AppContext>> for Session {
    /// Anyone not signed in (or whose session expired or was revoked) is sent to sign in.
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<AppContext>) -> Result<Self, Response> {
        let back = || to_sign_in(parts.uri.path_and_query().map_or("/", |p| p.as_str()));
        let Some(token) = session_cookie(&parts.headers) else { return Err(back()) };
        match ctx.auth.authenticate(token).await {
            // Only sign-in tokens make sessions: an API token is for automation.
            Ok(caller) if caller.token_kind == TokenKind::User => Ok(Session { csrf: csrf_token(token), caller }),
            _ => Err(back()),
        }
    }
}

fn to_sign_in(next: &str) -> Response {
    let query = percent_encoded(next);
    Redirect::to(&format!("/sign-in?next={query}")).into_response()
}

/// Percent-encodes a path for the `next` parameter.
fn percent_encoded(next: &str) -> String {
    next.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a path on this host only (never `//elsewhere` or a URL), with
/// any byte a `Location` header cannot carry (controls, non-ASCII) percent-encoded, so no `next`
/// can make the redirect fail.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p
            .bytes()
            .map(|b| if b.is_ascii_graphic() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect(),
        _ => "/".into(),
    }
}

#[derive(Template)]
#[template(path = "web/sign_in.html")]
struct SignInPage<'a> {
    error: Option<String>,
    next: &'a str,
    csrf: &'a str,
    organization: &'a str,
    username: &'a str,
    assets: &'static str,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /sign-in`.
pub async fn form(State(ctx): State<Arc<AppContext>>, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let next = local_path(q.next.as_deref());
    if let Some(token) = session_cookie(&headers) {
        if ctx.auth.authenticate(token).await.is_ok() {
            return Redirect::to(&next).into_response();
        }
    }
    sign_in_page(StatusCode::OK, None, &next, "", "")
}

fn sign_in_page(status: StatusCode, error: Option<String>, next: &str, organization: &str, username: &str) -> Response {
    let csrf = pre_session_token();
    let page = SignInPage { error, next, csrf: &csrf, organization, username, assets: super::assets::version() };
    let cookie = format!("{SIGN_IN_COOKIE}={csrf}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600");
    let mut response = (status, render(&page)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    organization: String,
    username: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in`: the same checks, lockout and audit entry as `POST /api/v1/auth/token`.
pub async fn sign_in(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    let next = local_path(Some(&f.next));
    if cookie(&headers, SIGN_IN_COOKIE) != Some(f.csrf.as_str()) {
        let error = "the sign-in form expired or did not come from this site: please try again".to_owned();
        return sign_in_page(StatusCode::FORBIDDEN, Some(error), &next, &f.organization, &f.username);
    }
    let organization = Some(f.organization.trim()).filter(|o| !o.is_empty());
    match audited_sign_in(&ctx, ip, organization, f.username.trim(), &f.password, "browser", StatusCode::OK).await {
        Ok((token, expires_at)) => {
            let max_age = ((expires_at - now_ms()) / 1000).max(0);
            let secure = if ctx.facts.tls == "off" { "" } else { "; Secure" };
            let session =
                format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
            let gone = format!("{SIGN_IN_COOKIE}=; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=0");
            let mut response = Redirect::to(&next).into_response();
            for value in [session, gone].iter().filter_map(|c| HeaderValue::from_str(c).ok()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => sign_in_page(e.status(), Some(e.to_string()), &next, &f.organization, &f.username),
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// `POST /sign-out`: revokes the session's token (so a copied cookie dies with it) and clears it.
pub async fn sign_out(State(ctx): State<Arc<AppContext>>, headers: HeaderMap, Form(f): Form<SignOutForm>) -> Response {
    let Some(token) = session_cookie(&headers) else { return Redirect::to("/sign-in").into_response() };
    if !csrf_matches(token, &f.csrf) {
        return (StatusCode::FORBIDDEN, "sign-out refused: the form did not come from this session").into_response();
    }
    if let Ok(caller) = ctx.auth.authenticate(token).await {
        match ctx.store.revoke_token(caller.tenant_id, caller.token_id, Some(caller.user_id)).await {
            Ok(_) => ctx.auth.forget(&secret::hash(token)),
            Err(e) => {
                tracing::warn!(error = %e, login = %caller.login, "could not revoke a signed-out session's token")
            }
        }
    }
    let gone = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, gone)], Redirect::to("/sign-in")).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(super::local_path(Some("/alerts?x=1")), "/alerts?x=1");
        assert_eq!(super::local_path(Some("/a\r\nSet-Cookie: x")), "/a%0D%0ASet-Cookie:%20x", "no header injection");
        assert_eq!(super::local_path(Some("/instances/café")), "/instances/caf%C3%A9");
        for evil in ["//evil.example", "https://evil.example", "/\\evil.example", "alerts"] {
            assert_eq!(super::local_path(Some(evil)), "/", "{evil}");
        }
        assert_eq!(super::percent_encoded("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
