//! The dashboard's server side through the real router: the sign-in form and its double-submit
//! cookie, the session cookie's attributes, the API accepting that cookie only with the page's
//! CSRF token on state-changing calls, sign-out revoking the session's token, screens refused
//! without their scope, page security headers, and the embedded assets. What the screens do in
//! a browser is tested end to end in tests/e2e/dashboard.rs.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use vigia::auth::session::csrf_token;

use crate::support::{add_user, Backend, Resp, TestApp, PASSWORD};

backend_tests!(
    signing_in_sets_a_strict_http_only_session_that_the_screens_and_the_api_accept,
    the_sign_in_form_refuses_bad_passwords_and_forged_posts_without_a_session,
    a_cookie_alone_cannot_change_anything_without_the_pages_csrf_token,
    signing_out_revokes_the_sessions_token,
    screens_need_a_session_and_their_scope,
    assets_are_embedded_cached_and_validated,
);

fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(path)
}

/// The value of `name` among a response's `Set-Cookie` headers, with the header's attributes.
fn set_cookie<'r>(r: &'r Resp, name: &str) -> Option<&'r str> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie.split(';').next().and_then(|kv| kv.split_once('=')).map(|(_, v)| v).unwrap_or("")
}

/// Fetches the sign-in form and posts `password` for `login` with the form's CSRF value;
/// returns the answer to the post.
async fn sign_in(app: &TestApp, login: &str, password: &str) -> Resp {
    let form = app.send(request(Method::GET, "/sign-in?next=/alerts").body(Body::empty()).unwrap()).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    let pre = cookie_value(set_cookie(&form, "vigia_sign_in").expect("the form's double-submit cookie")).to_string();
    assert!(form.text.contains(&format!("name=\"csrf\" value=\"{pre}\"")), "the form carries the same value");
    // `admin` exists in two tenants here: the organization says which.
    let body = format!("organization=default&username={login}&password={password}&csrf={pre}&next=%2Falerts");
    let post = request(Method::POST, "/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("vigia_sign_in={pre}"))
        .body(Body::from(body))
        .unwrap();
    app.send(post).await
}

async fn with_cookie(app: &TestApp, method: Method, path: &str, token: &str, csrf: Option<&str>) -> Resp {
    let mut req = request(method, path).header(header::COOKIE, format!("theme=dark; vigia_session={token}"));
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    let body = json!({"name": "from the browser", "scopes": ["monitoring:read"]}).to_string();
    app.send(req.header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).unwrap()).await
}

/// Signs `admin` in; returns the session's token.
async fn session(app: &TestApp) -> String {
    let r = sign_in(app, "admin", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    cookie_value(set_cookie(&r, "vigia_session").expect("a session cookie")).to_string()
}

async fn signing_in_sets_a_strict_http_only_session_that_the_screens_and_the_api_accept(b: Backend) {
    let app = TestApp::start(b).await;
    let r = sign_in(&app, "admin", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/alerts", "back to where the visitor was going");
    let cookie = set_cookie(&r, "vigia_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS configured, so not Secure: {cookie}");
    let max_age: i64 = cookie.split("Max-Age=").nth(1).and_then(|v| v.split(';').next()).unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&max_age), "lives as long as the 24 h user token: {max_age}");
    assert!(set_cookie(&r, "vigia_sign_in").is_some_and(|c| c.contains("Max-Age=0")), "the form cookie is dropped");
    let token = cookie_value(cookie);
    assert!(token.starts_with("vgu_"), "a sign-in token: {token}");

    let page = with_cookie(&app, Method::GET, "/alerts", token, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&format!("<meta name=\"csrf-token\" content=\"{}\">", csrf_token(token))));
    let state = with_cookie(&app, Method::GET, "/api/v1/state", token, None).await;
    assert_eq!(state.status, StatusCode::OK, "reads need no CSRF token: {}", state.text);
    assert!(state.json["instances"].is_array());
}

async fn the_sign_in_form_refuses_bad_passwords_and_forged_posts_without_a_session(b: Backend) {
    let app = TestApp::start(b).await;
    let wrong = sign_in(&app, "admin", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("invalid username or password"), "{}", wrong.text);
    assert!(set_cookie(&wrong, "vigia_session").is_none());
    assert!(wrong.text.contains("value=\"admin\""), "the login is kept in the form");

    // A post from elsewhere cannot know the form's cookie.
    let forged = request(Method::POST, "/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("username=admin&password={PASSWORD}&csrf=guess")))
        .unwrap();
    let forged = app.send(forged).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert!(forged.text.contains("did not come from this site"), "{}", forged.text);
    assert!(set_cookie(&forged, "vigia_session").is_none());
}

async fn a_cookie_alone_cannot_change_anything_without_the_pages_csrf_token(b: Backend) {
    let app = TestApp::start(b).await;
    let token = session(&app).await;
    let bare = with_cookie(&app, Method::POST, "/api/v1/tokens", &token, None).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{}", bare.text);
    assert!(bare.error().contains("x-csrf-token"), "{}", bare.text);
    let other = session(&app).await;
    let borrowed = with_cookie(&app, Method::POST, "/api/v1/tokens", &token, Some(&csrf_token(&other))).await;
    assert_eq!(borrowed.status, StatusCode::FORBIDDEN, "another session's token: {}", borrowed.text);
    let listed = app.get("/api/v1/tokens", &app.admin).await;
    assert!(!listed.text.contains("from the browser"), "nothing was created: {}", listed.text);

    let right = with_cookie(&app, Method::POST, "/api/v1/tokens", &token, Some(&csrf_token(&token))).await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.text);
    // A header token needs no CSRF token: no browser attaches it by itself.
    let r = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "ci", "scopes": ["monitoring:read"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn signing_out_revokes_the_sessions_token(b: Backend) {
    let app = TestApp::start(b).await;
    let token = session(&app).await;
    let out = |csrf: String| {
        request(Method::POST, "/sign-out")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("vigia_session={token}"))
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap()
    };
    let forged = app.send(out("0".repeat(40))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert_eq!(app.get("/api/v1/state", &token).await.status, StatusCode::OK, "a forged sign-out changes nothing");

    let r = app.send(out(csrf_token(&token))).await;
    assert_eq!((r.status, &r.headers[header::LOCATION]), (StatusCode::SEE_OTHER, &"/sign-in".parse().unwrap()));
    assert!(set_cookie(&r, "vigia_session").is_some_and(|c| c.contains("Max-Age=0")), "the cookie is cleared");
    let after = app.get("/api/v1/state", &token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "a copied cookie dies with the session: {}", after.text);
    let page = with_cookie(&app, Method::GET, "/", &token, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

async fn screens_need_a_session_and_their_scope(b: Backend) {
    let app = TestApp::start(b).await;
    let anonymous = app.send(request(Method::GET, "/instances/db%201").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers[header::LOCATION], "/sign-in?next=/instances/db%25201");
    // An API token is for automation: it opens no screen.
    let (_, api_token) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let r = with_cookie(&app, Method::GET, "/", &api_token, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    let token = session(&app).await;
    let page = with_cookie(&app, Method::GET, "/admin", &token, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    let reader = add_user(&app.store, app.admin_user.tenant_id, "reader", "read", "data admin").await;
    let r = sign_in(&app, &reader.login, PASSWORD).await;
    let reader_token = cookie_value(set_cookie(&r, "vigia_session").expect("a session")).to_string();
    let admin_page = with_cookie(&app, Method::GET, "/admin", &reader_token, None).await;
    assert_eq!(admin_page.status, StatusCode::FORBIDDEN);
    assert!(admin_page.text.contains("it needs the <code>users:manage</code> scope"), "{}", admin_page.text);
    let overview = with_cookie(&app, Method::GET, "/", &reader_token, None).await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(!overview.text.contains("href=\"/admin\""), "no link to a screen the reader cannot use");
    assert!(overview.text.contains("href=\"/alerts\""));
}

async fn assets_are_embedded_cached_and_validated(b: Backend) {
    let app = TestApp::start(b).await;
    let get = |path: &str, tag: Option<&str>| {
        let mut req = request(Method::GET, path);
        if let Some(tag) = tag {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        req.body(Body::empty()).unwrap()
    };
    let js = app.send(get("/assets/vigia.js", None)).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(js.text.contains("X-CSRF-Token"), "the dashboard script itself");
    let tag = js.headers[header::ETAG].to_str().unwrap().to_string();
    let again = app.send(get("/assets/vigia.js", Some(&tag))).await;
    assert_eq!((again.status, again.text.as_str()), (StatusCode::NOT_MODIFIED, ""));
    let licence = app.send(get("/assets/uPlot.LICENSE", None)).await;
    assert!(licence.text.contains("The MIT License"), "the vendored chart library ships with its licence");
    let chart = app.send(get("/assets/uPlot.iife.min.js", None)).await;
    assert!(chart.status == StatusCode::OK && chart.text.len() > 10_000);
    let missing = app.send(get("/assets/../vigia.toml", None)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let unknown = app.send(get("/assets/secrets.key", None)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.error().contains("no asset named"), "{}", unknown.text);
}
