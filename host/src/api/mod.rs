//! The REST API: the only module that knows axum. `app(ctx)` builds the whole router (so tests
//! drive it with `oneshot`); `endpoints` holds the access rule of every route.

mod activity;
mod alert_rules;
mod alerts;
mod audit_log;
mod cluster;
mod ds;
pub mod endpoints;
pub mod error;
mod events;
mod extract;
mod health;
mod incidents;
mod instance_body;
mod instance_toggles;
mod instances;
mod maintenance;
mod meta;
mod metrics;
mod middleware;
mod notifications;
mod openapi;
mod plugins;
pub mod rate_limit;
mod report_schedules;
mod reports;
mod roles;
mod security;
mod security_status;
mod services;
mod state;
mod status_common;
pub mod status_page;
mod tokens;
mod users;
mod validate;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::{middleware as mw, Extension, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::health::Readiness;
use crate::plugins::PluginHost;
use crate::secrets::SecretBox;
use crate::store::Store;

pub use audit_log::audited_sign_in;
pub use error::{ApiResult, AppError};
pub use extract::{cookie, read_body_limited, session_cookie, ClientIp};
pub use middleware::REQUEST_ID_HEADER;

/// Everything handlers share.
pub struct AppContext {
    pub store: Store,
    /// The signed audit log every state-changing route and sign-in appends to.
    pub audit: AuditLog,
    /// The plugin runtime; `None` in tests that do not need it (plugin routes then answer 503).
    pub plugins: Option<Arc<PluginHost>>,
    pub auth: Authenticator,
    /// Seals monitored servers' passwords at rest (and opens them for connection checks).
    pub secrets: SecretBox,
    pub readiness: Readiness,
    pub metrics: PrometheusHandle,
    pub max_body_bytes: usize,
    pub started: Instant,
    /// `[sampler] target_networks`: where connection tests may connect (empty: anywhere).
    pub target_networks: Arc<[ipnet::IpNet]>,
    /// What the security posture reports of the configuration.
    pub facts: crate::security::HostFacts,
    /// `[server.rate_limit]`; `None` when it is off.
    pub limits: Option<Arc<rate_limit::RateLimits>>,
    pub status_pages: status_page::StatusPages,
    /// Cancelled when the server stops: the event streams, which never end by themselves, end
    /// then, so a stop does not wait out the grace period for open dashboards.
    pub stopping: tokio_util::sync::CancellationToken,
    /// ASH ticks the activity writer holds and has not stored yet; the workload API merges them
    /// with the stored chunks. `serve` starts its writer feeding this one.
    pub fresh_ash: crate::activity::FreshAsh,
    /// `[reports]`: which mail plugin mails reports.
    pub reports: crate::config::ReportsConfig,
    /// This host as a cluster member (`[cluster] enabled`), or `None` when it runs alone.
    pub cluster: Option<crate::cluster::Local>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vigia API", description = "Self-hosted monitoring platform: REST API for automation."),
    modifiers(&SecuritySchemes),
    tags((name = "health"), (name = "meta"), (name = "auth"), (name = "tokens"), (name = "security"), (name = "users"), (name = "roles"), (name = "metrics"), (name = "plugins"), (name = "instances"), (name = "activity"), (name = "reports"), (name = "cluster"), (name = "alerts"), (name = "notifications"), (name = "audit"),
         (name = "state", description = "The dashboard's snapshot and live event stream"),
         (name = "status", description = "Services, incidents and maintenance windows"),
         (name = "datasentinel", description = "Datasentinel-compatible endpoints"))
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
    }
}

/// Every route with its OpenAPI operation; the path strings come from the `utoipa::path`
/// attributes, so the router and the document cannot disagree.
fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(health::api_health))
        .routes(routes!(meta::version))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(meta::metrics))
        .routes(routes!(tokens::sign_in))
        .routes(routes!(tokens::create, tokens::list))
        .routes(routes!(tokens::revoke))
        .routes(routes!(security_status::status))
        .routes(routes!(security::reset_lockout))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(roles::list, roles::create_native))
        .routes(routes!(roles::get, roles::update_native, roles::delete_native))
        .routes(routes!(plugins::list, plugins::install))
        .routes(routes!(plugins::get, plugins::remove))
        .routes(routes!(plugins::enable))
        .routes(routes!(plugins::disable))
        .routes(routes!(plugins::get_config, plugins::put_config))
        .routes(routes!(plugins::schema))
        .routes(routes!(plugins::invoke))
        .routes(routes!(metrics::history))
        .routes(routes!(metrics::stats))
        .routes(routes!(instances::list))
        .routes(routes!(instances::test_connection))
        .routes(routes!(instances::get, instances::create_native, instances::update_native, instances::delete_native))
        .routes(routes!(instance_toggles::enable))
        .routes(routes!(instance_toggles::disable))
        .routes(routes!(instance_toggles::enable_samples))
        .routes(routes!(instance_toggles::disable_samples))
        .routes(routes!(instance_toggles::enable_lock_monitoring))
        .routes(routes!(instance_toggles::disable_lock_monitoring))
        .routes(routes!(instance_toggles::lock_monitoring_delay))
        .routes(routes!(instance_toggles::enable_table_monitoring))
        .routes(routes!(instance_toggles::disable_table_monitoring))
        .routes(routes!(instance_toggles::enable_query_monitoring))
        .routes(routes!(instance_toggles::disable_query_monitoring))
        .routes(routes!(instance_toggles::enable_query_monitoring_optimize))
        .routes(routes!(instance_toggles::disable_query_monitoring_optimize))
        .routes(routes!(instance_toggles::query_monitoring_min_calls))
        .routes(routes!(instance_toggles::query_monitoring_min_time))
        .routes(routes!(instance_toggles::collection_rate))
        .routes(routes!(alert_rules::list, alert_rules::create))
        .routes(routes!(alert_rules::get, alert_rules::update, alert_rules::delete))
        .routes(routes!(alert_rules::templates))
        .routes(routes!(alerts::raise))
        .routes(routes!(alerts::active))
        .routes(routes!(alerts::history))
        .routes(routes!(alerts::status))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::unacknowledge))
        .routes(routes!(alerts::clear))
        .routes(routes!(alerts::pause))
        .routes(routes!(alerts::resume))
        .routes(routes!(notifications::list, notifications::create))
        .routes(routes!(notifications::get, notifications::update, notifications::delete))
        .routes(routes!(notifications::test))
        .routes(routes!(notifications::history))
        .routes(routes!(notifications::stats))
        .routes(routes!(notifications::dlq))
        .routes(routes!(notifications::dlq_retry))
        .routes(routes!(notifications::dlq_delete))
        .routes(routes!(services::list, services::create))
        .routes(routes!(services::get, services::update, services::delete))
        .routes(routes!(services::uptime))
        .routes(routes!(incidents::list, incidents::create))
        .routes(routes!(incidents::active))
        .routes(routes!(incidents::get, incidents::patch))
        .routes(routes!(incidents::add_update))
        .routes(routes!(incidents::resolve))
        .routes(routes!(maintenance::list, maintenance::create))
        .routes(routes!(maintenance::upcoming))
        .routes(routes!(maintenance::get))
        .routes(routes!(maintenance::start))
        .routes(routes!(maintenance::complete))
        .routes(routes!(maintenance::cancel))
        .routes(routes!(status_page::page))
        .routes(routes!(state::state))
        .routes(routes!(events::events))
        .routes(routes!(audit_log::list))
        .routes(routes!(audit_log::verify))
        .routes(routes!(ds::banner))
        .routes(routes!(ds::issue, ds::show))
        .routes(routes!(ds::issue_in))
        .routes(routes!(instances::ds_create, instances::ds_show, instances::ds_update, instances::ds_delete))
        .routes(routes!(instances::ds_disable))
        .routes(routes!(instances::ds_enable))
        .routes(routes!(roles::ds_create, roles::ds_show, roles::ds_update, roles::ds_delete))
        .routes(routes!(users::ds_create, users::ds_show, users::ds_update, users::ds_delete))
        .routes(routes!(activity::ds_activity))
        .routes(routes!(activity::post_activity, activity::get_activity))
        .routes(routes!(reports::create))
        .routes(routes!(reports::renderers))
        .routes(routes!(report_schedules::list, report_schedules::create))
        .routes(routes!(report_schedules::get, report_schedules::update, report_schedules::delete))
        .routes(routes!(report_schedules::runs))
        .routes(routes!(cluster::cluster))
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().split_for_parts().1;
    openapi::complete(&mut doc);
    doc
}

/// Builds the application router: the API alone.
pub fn app(ctx: Arc<AppContext>) -> Router {
    app_with(ctx, Router::new())
}

/// The API with `pages` beside it (the dashboard: `web::app`). The pages share the outer layers
/// (request ids, rate limits, tracing, the JSON fallback) but not the API's access table: they
/// authenticate with the session cookie themselves.
pub fn app_with(ctx: Arc<AppContext>, pages: Router<Arc<AppContext>>) -> Router {
    let (router, mut doc) = routes().split_for_parts();
    openapi::complete(&mut doc);
    let doc = Arc::new(doc.to_pretty_json().expect("OpenAPI document serializes"));
    router
        .route_layer(mw::from_fn_with_state(ctx.clone(), middleware::authorize))
        .route_layer(mw::from_fn(middleware::observe))
        .route_layer(mw::from_fn_with_state(ctx.clone(), middleware::audit))
        .merge(pages)
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::wrong_method)
        .layer(Extension(doc))
        // Bodies are read by our own extractors, which enforce `max_body_bytes` (and the larger
        // bundle limit on plugin installs) and answer 413 as JSON.
        .layer(DefaultBodyLimit::disable())
        // Before routing and authorization, so a flood is refused as cheaply as possible.
        .layer(mw::from_fn_with_state(ctx.clone(), rate_limit::limit))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(mw::from_fn_with_state(ctx.clone(), middleware::request_id))
        // gzip for clients that ask (a dashboard's state of 1,000 instances shrinks ~10×); the
        // default predicate leaves event streams, images and tiny bodies alone.
        .layer(CompressionLayer::new())
        .with_state(ctx)
}

pub(crate) use crate::store::rfc3339;
