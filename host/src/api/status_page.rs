//! The public status page (`GET /status/{tenant}`, no token): the HTML page, the same data as
//! JSON (`/status/{tenant}.json`) and an Atom feed of public incidents (`/status/{tenant}.atom`),
//! rendered from `status::page` and cached per page and format: served stale while one new
//! rendering runs in the background once `cache_seconds` have passed, so a crowd of visitors
//! during an outage costs one rendering per period and none of them waits for it (concurrent
//! first visits wait for the one rendering in flight). Unknown tenants and tenants without a
//! public service look alike.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use moka::future::Cache;

use super::error::{ApiResult, AppError};
use super::extract::ApiPath;
use super::AppContext;
use crate::status::page::{
    public_feed, public_status, PublicFeed, PublicService, PublicStatus, StatusPageConfig, BAR_DAYS,
};
use crate::store::{now_ms, IncidentSeverity, IncidentStatus, MaintenanceStatus, ServiceStatus, Store};

/// Most pages kept rendered (per tenant and format, unknown names included).
const CACHE_ENTRIES: u64 = 10_000;
/// Longest tenant name a page is looked up for.
const MAX_NAME: usize = 100;

/// The three renderings of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Format {
    Html,
    Json,
    Atom,
}

impl Format {
    /// The tenant and the format a `{page}` segment names (`acme`, `acme.json`, `acme.atom`).
    fn of(page: &str) -> (&str, Format) {
        if let Some(t) = page.strip_suffix(".json") {
            (t, Format::Json)
        } else if let Some(t) = page.strip_suffix(".atom") {
            (t, Format::Atom)
        } else {
            (page, Format::Html)
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
            Format::Atom => "application/atom+xml; charset=utf-8",
        }
    }
}

/// A page as rendered: `None` when there is no such page (cached too, so unknown names do not
/// reach the store), and when it was rendered.
#[derive(Clone)]
struct Rendered {
    body: Option<Bytes>,
    at: Instant,
}

type Key = (String, Format);

/// Rendered pages, served stale while they are rendered again in the background: past
/// `cache_seconds` a request still gets the page at once and starts one new rendering (at most
/// one per page at a time), so no visitor but the very first waits for a rendering. A page
/// nobody asks for leaves the cache after `IDLE_SECONDS`.
pub struct StatusPages {
    config: StatusPageConfig,
    cache: Cache<Key, Rendered>,
    /// Pages whose new rendering is in flight.
    refreshing: Arc<Mutex<HashSet<Key>>>,
}

/// How long a page nobody asks for stays rendered.
const IDLE_SECONDS: u64 = 300;

impl StatusPages {
    pub fn new(config: &StatusPageConfig) -> StatusPages {
        let idle = Duration::from_secs(IDLE_SECONDS.max(config.cache_seconds));
        StatusPages {
            config: config.clone(),
            cache: Cache::builder().max_capacity(CACHE_ENTRIES).time_to_idle(idle).build(),
            refreshing: Arc::default(),
        }
    }

    /// Renders `page` (`<tenant>`, `.json`, `.atom`) now, around the cache: what a background
    /// rendering costs (the benchmark's measure). `None` when there is no such page.
    pub async fn render_now(&self, store: &Store, page: &str) -> anyhow::Result<Option<Bytes>> {
        let (tenant, format) = Format::of(page);
        render(store, tenant, format).await
    }

    fn fresh_for(&self) -> Duration {
        Duration::from_secs(self.config.cache_seconds.max(1))
    }

    /// Renders `key` again in a task of its own unless that is already under way.
    fn refresh(&self, store: Store, key: Key) {
        let started = self.refreshing.lock().is_ok_and(|mut set| set.insert(key.clone()));
        if !started {
            return;
        }
        let (cache, refreshing) = (self.cache.clone(), self.refreshing.clone());
        tokio::spawn(async move {
            match rendered(store, key.0.clone(), key.1).await {
                Ok(page) => cache.insert(key.clone(), page).await,
                Err(e) => tracing::warn!(error = %e, page = %key.0, "status page not rendered again"),
            }
            if let Ok(mut set) = refreshing.lock() {
                set.remove(&key);
            }
        });
    }
}

/// A tenant's public status page: HTML, or JSON / Atom by the name's suffix.
#[utoipa::path(get, path = "/status/{page}", tag = "status",
    params(("page" = String, Path, max_length = 105,
        description = "The tenant's name; `<name>.json` for the same data as JSON, `<name>.atom` for an Atom feed of its public incidents")),
    responses((status = 200, description = "The page, its JSON form or its feed", content(
        (String = "text/html"), (PublicStatus = "application/json"), (String = "application/atom+xml"))),
        (status = 404, description = "No public status page by that name")))]
pub async fn page(State(ctx): State<Arc<AppContext>>, ApiPath(page): ApiPath<String>) -> ApiResult<Response> {
    let (tenant, format) = Format::of(&page);
    let pages = &ctx.status_pages;
    // No tenant name is empty, longer or holds control characters (PostgreSQL refuses NUL).
    if !pages.config.enabled
        || tenant.is_empty()
        || tenant.chars().count() > MAX_NAME
        || tenant.contains(char::is_control)
    {
        return Err(not_found());
    }
    let key = (tenant.to_owned(), format);
    let page = pages
        .cache
        .try_get_with(key.clone(), rendered(ctx.store.clone(), tenant.to_owned(), format))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering the status page: {e}")))?;
    if page.at.elapsed() >= pages.fresh_for() {
        pages.refresh(ctx.store.clone(), key);
    }
    let body = page.body.ok_or_else(not_found)?;
    let max_age = format!("public, max-age={}", pages.config.cache_seconds.max(1));
    Ok(([(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CACHE_CONTROL, max_age)], body)
        .into_response())
}

fn not_found() -> AppError {
    AppError::NotFound("no public status page by that name".into())
}

/// Reads and renders one page now.
async fn rendered(store: Store, tenant: String, format: Format) -> anyhow::Result<Rendered> {
    let at = Instant::now();
    Ok(Rendered { body: render(&store, &tenant, format).await?, at })
}

/// Reads and renders one page; `None` when the tenant has none.
async fn render(store: &Store, tenant: &str, format: Format) -> anyhow::Result<Option<Bytes>> {
    let now = now_ms();
    let body = match format {
        Format::Html => public_status(store, tenant, now).await?.map(|s| html(&s)).transpose()?,
        Format::Json => public_status(store, tenant, now).await?.map(|s| serde_json::to_string(&s)).transpose()?,
        Format::Atom => public_feed(store, tenant, now).await?.map(|f| atom(&f)),
    };
    Ok(body.map(Bytes::from))
}

fn html(s: &PublicStatus) -> anyhow::Result<String> {
    let (resolved, open): (Vec<_>, Vec<_>) = s.incidents.iter().partition(|i| i.status == IncidentStatus::Resolved);
    let page = StatusPageHtml {
        s,
        base: format!("/status/{}", s.tenant),
        active_incidents: open,
        resolved_incidents: resolved,
    };
    Ok(page.render()?)
}

/// The HTML page (`host/templates/status_page.html`); the methods are the template's wording.
#[derive(Template)]
#[template(path = "status_page.html")]
struct StatusPageHtml<'a> {
    s: &'a PublicStatus,
    /// `/status/<tenant>`, the links' stem.
    base: String,
    active_incidents: Vec<&'a crate::status::page::PublicIncident>,
    resolved_incidents: Vec<&'a crate::status::page::PublicIncident>,
}

impl StatusPageHtml<'_> {
    fn banner(&self) -> &'static str {
        match self.s.status {
            ServiceStatus::Operational => "All systems operational",
            ServiceStatus::DegradedPerformance => "Degraded performance",
            ServiceStatus::PartialOutage => "Partial outage",
            ServiceStatus::MajorOutage => "Major outage",
            ServiceStatus::UnderMaintenance => "Maintenance in progress",
        }
    }

    fn status_label(&self, s: &ServiceStatus) -> &'static str {
        match s {
            ServiceStatus::Operational => "Operational",
            ServiceStatus::DegradedPerformance => "Degraded performance",
            ServiceStatus::PartialOutage => "Partial outage",
            ServiceStatus::MajorOutage => "Major outage",
            ServiceStatus::UnderMaintenance => "Under maintenance",
        }
    }

    fn incident_state(&self, s: &IncidentStatus) -> &'static str {
        match s {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
        }
    }

    fn severity_label(&self, s: &IncidentSeverity) -> &'static str {
        match s {
            IncidentSeverity::Informational => "Informational",
            IncidentSeverity::Degraded => "Degraded",
            IncidentSeverity::PartialOutage => "Partial outage",
            IncidentSeverity::MajorOutage => "Major outage",
            IncidentSeverity::Critical => "Critical",
        }
    }

    fn window_state(&self, s: &MaintenanceStatus) -> &'static str {
        match s {
            MaintenanceStatus::Scheduled => "Scheduled",
            MaintenanceStatus::Active => "In progress",
            MaintenanceStatus::Completed => "Completed",
            MaintenanceStatus::Cancelled => "Cancelled",
        }
    }

    /// `2026-11-30T10:15:00.000Z` as `2026-11-30 10:15 UTC`.
    fn human(&self, rfc3339: &str) -> String {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|_| rfc3339.to_owned())
    }

    fn percent(&self, p: &Option<f64>) -> String {
        match p {
            Some(p) if *p >= 100.0 => "100 %".into(),
            Some(p) => format!("{p:.2} %"),
            None => "no data".into(),
        }
    }

    /// The colour class of a day's cell: thresholds a reader of status pages expects.
    fn day_class(&self, p: &Option<f64>) -> &'static str {
        match p {
            None => "u-none",
            Some(p) if *p >= 99.9 => "u-ok",
            Some(p) if *p >= 99.0 => "u-minor",
            Some(p) if *p >= 90.0 => "u-partial",
            Some(_) => "u-major",
        }
    }

    /// The bar's text equivalent: the period's figure and the days that fell short.
    fn bar_summary(&self, svc: &PublicService) -> String {
        let short = svc.days.iter().filter(|d| d.uptime.is_some_and(|p| p < 99.9)).count();
        format!(
            "Uptime over the last {BAR_DAYS} days: {}; {short} day{} below 99.9 %",
            self.percent(&svc.uptime_90d),
            if short == 1 { "" } else { "s" }
        )
    }
}

/// The Atom feed (RFC 4287): one entry per incident, its public updates as the content.
fn atom(f: &PublicFeed) -> String {
    use atom_syndication::{Entry, Feed, Link, Person, Text};
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap_or_default();
    let base = format!("/status/{}", f.tenant);
    let entries = f
        .incidents
        .iter()
        .map(|i| {
            let timeline: Vec<String> =
                i.updates.iter().map(|u| format!("{} — {}: {}", u.at, u.status, u.message)).collect();
            Entry {
                id: format!("urn:vigia:status:{}:incident:{}", f.tenant, i.id),
                title: Text::plain(format!("{} ({})", i.title, i.status)),
                updated: time(&i.updated_at),
                published: Some(time(&i.created_at)),
                links: vec![Link { href: format!("{base}#incident-{}", i.id), ..Link::default() }],
                summary: i.updates.first().map(|u| Text::plain(u.message.clone())),
                content: Some(atom_syndication::Content {
                    value: Some(timeline.join("\n")),
                    content_type: Some("text".into()),
                    ..Default::default()
                }),
                ..Entry::default()
            }
        })
        .collect();
    let feed = Feed {
        id: format!("urn:vigia:status:{}", f.tenant),
        title: Text::plain(format!("{} status: incidents", f.tenant)),
        updated: f.incidents.first().map(|i| time(&i.updated_at)).unwrap_or_else(|| time(&f.generated_at)),
        authors: vec![Person { name: f.tenant.clone(), ..Person::default() }],
        links: vec![
            Link { href: format!("{base}.atom"), rel: "self".into(), ..Link::default() },
            Link { href: base, rel: "alternate".into(), mime_type: Some("text/html".into()), ..Link::default() },
        ],
        entries,
        ..Feed::default()
    };
    feed.to_string()
}
