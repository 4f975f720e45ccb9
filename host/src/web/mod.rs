//! The dashboard: the only module that renders HTML for signed-in people (the public status page
//! is the API's, `api::status_page`). Each screen is a small server-rendered shell — navigation,
//! the caller, the session's CSRF token — that `assets/vigia.js` fills from the REST API with the
//! session cookie, so nothing a screen shows or does is out of reach of automation: the screens
//! hold no data path of their own. `app(ctx)` is the API with the screens beside it.

mod assets;
mod session;

use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Path, Request};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self as mw, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::{self, AppContext};
use crate::auth::Scope;
pub use session::Session;

/// Forms on these pages are a few fields; nothing bigger is read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The API and the screens.
pub fn app(ctx: Arc<AppContext>) -> Router {
    api::app_with(ctx, routes())
}

fn routes() -> Router<Arc<AppContext>> {
    Router::new()
        .route("/", get(|s: Session| async move { screen(s, Screen::Overview, "") }))
        .route(
            "/instances/{name}",
            get(|s: Session, Path(name): Path<String>| async move { screen(s, Screen::Instance, &name) }),
        )
        .route("/alerts", get(|s: Session| async move { screen(s, Screen::Alerts, "") }))
        .route("/notifications", get(|s: Session| async move { screen(s, Screen::Notifications, "") }))
        .route("/plugins", get(|s: Session| async move { screen(s, Screen::Plugins, "") }))
        .route("/admin", get(|s: Session| async move { screen(s, Screen::Admin, "") }))
        .route("/sign-in", get(session::form).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/assets/{file}", get(assets::serve))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(mw::from_fn(page_headers))
}

/// The screens, in navigation order (the instance screen is reached from the overview).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Overview,
    Instance,
    Alerts,
    Notifications,
    Plugins,
    Admin,
}

impl Screen {
    const NAV: [Screen; 5] = [Screen::Overview, Screen::Alerts, Screen::Notifications, Screen::Plugins, Screen::Admin];

    fn id(self) -> &'static str {
        match self {
            Screen::Overview => "overview",
            Screen::Instance => "instance",
            Screen::Alerts => "alerts",
            Screen::Notifications => "notifications",
            Screen::Plugins => "plugins",
            Screen::Admin => "admin",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Instance => "Instance",
            Screen::Alerts => "Alerts",
            Screen::Notifications => "Notifications",
            Screen::Plugins => "Plugins",
            Screen::Admin => "Administration",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Screen::Overview | Screen::Instance => "/",
            Screen::Alerts => "/alerts",
            Screen::Notifications => "/notifications",
            Screen::Plugins => "/plugins",
            Screen::Admin => "/admin",
        }
    }

    /// What the screen's main API calls need (the API checks every call anyway; this only keeps
    /// people from screens that could show them nothing but refusals).
    fn needs(self) -> Scope {
        match self {
            Screen::Overview | Screen::Instance | Screen::Alerts => Scope::MonitoringRead,
            Screen::Notifications | Screen::Plugins => Scope::SettingsRead,
            Screen::Admin => Scope::UsersManage,
        }
    }
}

struct NavItem {
    label: &'static str,
    href: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "web/screen.html")]
struct ScreenPage<'a> {
    screen: &'static str,
    title: String,
    subject: &'a str,
    nav: Vec<NavItem>,
    login: &'a str,
    tenant: &'a str,
    scopes: String,
    csrf: &'a str,
    assets: &'static str,
    refused: Option<&'static str>,
}

fn screen(session: Session, screen: Screen, subject: &str) -> Response {
    let scopes = session.caller.scopes;
    let nav = Screen::NAV
        .iter()
        .filter(|s| scopes.allows(s.needs()))
        .map(|&s| NavItem { label: s.title(), href: s.href(), current: s.href() == screen.href() })
        .collect();
    let allowed = scopes.allows(screen.needs());
    let title = if subject.is_empty() { screen.title().to_owned() } else { subject.to_owned() };
    let page = ScreenPage {
        screen: screen.id(),
        title,
        subject,
        nav,
        login: &session.caller.login,
        tenant: &session.caller.tenant_name,
        scopes: scopes.names().join(" "),
        csrf: &session.csrf,
        assets: assets::version(),
        refused: (!allowed).then(|| screen.needs().as_str()),
    };
    let status = if allowed { StatusCode::OK } else { StatusCode::FORBIDDEN };
    (status, render(&page)).into_response()
}

/// Renders a template; a template that cannot render is a bug, answered as a 500 page.
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a dashboard template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// Pages load nothing from elsewhere and run no inline script; they are never framed, and
/// signed-in pages are not cached by shared caches.
async fn page_headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    if !is_asset {
        set(
            headers,
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        );
        set(headers, header::X_FRAME_OPTIONS, "DENY");
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}
