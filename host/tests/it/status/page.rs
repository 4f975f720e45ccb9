//! The public status page (`/status/{tenant}`, `.json`, `.atom`) without a token: only public
//! services, incidents, updates and windows appear; unknown and private tenants look alike; the
//! 90-day bar is each day's exact uptime from the transitions; pages are cached; the operator can
//! turn the pages off. (The page in a real browser, with an accessibility check:
//! `tests/e2e/status_page.rs`.)

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::store::{now_ms, ServiceStatus};

use super::send;
use crate::support::{Backend, Resp, TestApp};

const DAY: i64 = 86_400_000;

async fn public(app: &TestApp, path: &str) -> Resp {
    app.call(Method::GET, path, None, None).await
}

/// Creates what `body` says at `path` as the admin; returns the answer's JSON.
async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let r = send(app, Method::POST, path, &app.admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
    r.json
}

/// A tenant with public and internal things of every kind; returns (public service id, the
/// public incident's id).
async fn mixed_tenant(app: &TestApp) -> (i64, i64) {
    let shop =
        created(app, "/api/v1/services", json!({"slug": "shop", "name": "Shop", "description": "Orders & payments"}))
            .await["id"]
            .as_i64()
            .unwrap();
    let vault =
        created(app, "/api/v1/services", json!({"slug": "vault", "name": "Secret vault", "visibility": "internal"}))
            .await["id"]
            .as_i64()
            .unwrap();
    let incident = json!({"title": "Checkout errors", "description": "Payments fail for some cards <b>now</b>",
        "severity": "partial_outage", "service_ids": [shop, vault]});
    let public_incident = created(app, "/api/v1/incidents", incident).await["id"].as_i64().unwrap();
    let update =
        json!({"status": "identified", "message": "Internal note: card processor key rotated", "is_public": false});
    let path = format!("/api/v1/incidents/{public_incident}/updates");
    created(app, &path, update).await;
    let update = json!({"status": "monitoring", "message": "A fix is deployed", "is_public": true});
    created(app, &path, update).await;
    let hidden = json!({"title": "Vault rotation failed", "visibility": "internal", "service_ids": [vault]});
    created(app, "/api/v1/incidents", hidden).await;
    let hour = 3_600_000;
    let at = |ms: i64| vigia::store::rfc3339(ms);
    let window = json!({"title": "Database upgrade", "scheduled_start": at(now_ms() + hour),
        "scheduled_end": at(now_ms() + 2 * hour), "service_ids": [shop]});
    created(app, "/api/v1/maintenance", window).await;
    let window = json!({"title": "Vault re-keying", "visibility": "internal", "scheduled_start": at(now_ms() + hour),
        "scheduled_end": at(now_ms() + 2 * hour), "service_ids": [vault]});
    created(app, "/api/v1/maintenance", window).await;
    (shop, public_incident)
}

/// What no public rendering may contain.
const INTERNAL: [&str; 5] = ["Secret vault", "vault", "Internal note", "Vault rotation", "Vault re-keying"];

async fn the_page_shows_public_items_only(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, incident) = mixed_tenant(&app).await;

    let page = public(&app, "/status/default").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.headers["cache-control"].to_str().unwrap().starts_with("public, max-age="));
    for shown in ["Shop", "Orders &#38; payments", "Checkout errors", "A fix is deployed", "Database upgrade"] {
        assert!(page.text.contains(shown), "{shown:?} missing from the page");
    }
    assert!(page.text.contains("&#60;b&#62;now&#60;/b&#62;") && !page.text.contains("<b>now"), "text is escaped");
    assert!(!page.text.contains("<script"), "the page needs no script");

    let data = public(&app, "/status/default.json").await;
    assert_eq!((data.status, data.headers["content-type"].to_str().unwrap()), (StatusCode::OK, "application/json"));
    let d = &data.json;
    assert_eq!(d["tenant"], "default");
    let slugs: Vec<&str> = d["services"].as_array().unwrap().iter().map(|s| s["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["shop"]);
    assert_eq!(d["services"][0]["days"].as_array().unwrap().len(), 90);
    let incidents = d["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!((incidents[0]["id"].as_i64(), incidents[0]["status"].as_str()), (Some(incident), Some("monitoring")));
    assert_eq!(incidents[0]["services"], json!([{"slug": "shop", "name": "Shop"}]), "the internal one left out");
    let messages: Vec<&str> =
        incidents[0]["updates"].as_array().unwrap().iter().map(|u| u["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["A fix is deployed", "Payments fail for some cards <b>now</b>"], "newest first, public only");
    let windows: Vec<&str> =
        d["maintenance"].as_array().unwrap().iter().map(|w| w["title"].as_str().unwrap()).collect();
    assert_eq!(windows, ["Database upgrade"]);

    let feed = public(&app, "/status/default.atom").await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(feed.headers["content-type"], "application/atom+xml; charset=utf-8");
    assert!(feed.text.starts_with("<?xml") && feed.text.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_eq!(feed.text.matches("<entry>").count(), 1, "{}", feed.text);
    assert!(feed.text.contains(&format!("urn:vigia:status:default:incident:{incident}")));
    assert!(feed.text.contains("Checkout errors (monitoring)") && feed.text.contains("&lt;b&gt;now"), "{}", feed.text);

    for (path, text) in [("html", &page.text), ("json", &data.text), ("atom", &feed.text)] {
        for hidden in INTERNAL {
            assert!(!text.contains(hidden), "{hidden:?} shown in the {path} rendering");
        }
    }
}

async fn unknown_private_and_disabled_pages_are_the_same_404(b: Backend) {
    let app = TestApp::start(b).await;
    let unknown = public(&app, "/status/nobody").await;
    assert_eq!((unknown.status, unknown.error()), (StatusCode::NOT_FOUND, "no public status page by that name"));
    // `other` exists but has only an internal service: no page, and nothing tells it apart.
    let body = json!({"slug": "core", "name": "Core", "visibility": "internal"});
    assert_eq!(send(&app, Method::POST, "/api/v1/services", &app.other_admin, body).await.status, StatusCode::CREATED);
    for path in ["/status/other", "/status/other.json", "/status/other.atom", "/status/.json"] {
        let r = public(&app, path).await;
        assert_eq!((r.status, r.text.as_str()), (unknown.status, unknown.text.as_str()), "{path}");
    }
    let long = format!("/status/{}", "a".repeat(200));
    assert_eq!(public(&app, &long).await.status, StatusCode::NOT_FOUND);

    let mut config = TestApp::config();
    config.status_page.enabled = false;
    let off = TestApp::start_with(b, config).await;
    created(&off, "/api/v1/services", json!({"slug": "shop", "name": "Shop"})).await;
    let r = public(&off, "/status/default").await;
    assert_eq!((r.status, r.text.as_str()), (unknown.status, unknown.text.as_str()), "pages turned off");
}

async fn the_bar_shows_each_days_exact_uptime_and_pages_are_cached(b: Backend) {
    let app = TestApp::start(b).await;
    let id = created(&app, "/api/v1/services", json!({"slug": "api", "name": "API"})).await["id"].as_i64().unwrap();
    let now = now_ms();
    let today = now - now.rem_euclid(DAY);
    // Up from three days ago; down from 06:00 to 12:00 two days ago (a quarter of that day).
    let record = |at: i64, s: ServiceStatus| {
        let store = app.store.clone();
        async move { store.record_service_status(id, at, s, "test").await.unwrap() }
    };
    record(today - 3 * DAY, ServiceStatus::Operational).await;
    record(today - 2 * DAY + DAY / 4, ServiceStatus::MajorOutage).await;
    record(today - 2 * DAY + DAY / 2, ServiceStatus::Operational).await;

    let d = public(&app, "/status/default.json").await.json;
    let days = d["services"][0]["days"].as_array().unwrap();
    let day = |back: usize| &days[days.len() - 1 - back];
    let date = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d").to_string();
    assert_eq!(day(0)["date"], date(today));
    assert_eq!(day(2)["date"], date(today - 2 * DAY));
    assert_eq!((day(4)["uptime"].clone(), day(3)["uptime"].clone()), (Value::Null, json!(100.0)), "no data before");
    assert_eq!(day(2)["uptime"], 75.0, "six hours down of twenty-four");
    assert_eq!((day(1)["uptime"].clone(), day(0)["uptime"].clone()), (json!(100.0), json!(100.0)));
    let known = (now - (today - 3 * DAY)) as f64;
    let want = ((known - (DAY / 4) as f64) * 100.0 / known * 1000.0).round() / 1000.0;
    assert_eq!(d["services"][0]["uptime_90d"].as_f64(), Some(want));
    assert_eq!(d["status"], "operational");
    let html = public(&app, "/status/default").await.text;
    assert!(html.contains(&format!("title=\"{}: 75.00 %\"", date(today - 2 * DAY))), "the day's cell says it");
    assert!(html.contains("All systems operational"));

    // Within the cache period (5 s by default) the page is the one rendered; after it, a new one.
    record(now_ms(), ServiceStatus::MajorOutage).await;
    assert_eq!(public(&app, "/status/default.json").await.json["status"], "operational", "served from the cache");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = public(&app, "/status/default").await;
        if r.text.contains("<h2 id=\"overall\">Major outage</h2>") {
            assert_eq!(r.headers["cache-control"], "public, max-age=5");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the cached page never expired");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

backend_tests!(
    the_page_shows_public_items_only,
    unknown_private_and_disabled_pages_are_the_same_404,
    the_bar_shows_each_days_exact_uptime_and_pages_are_cached,
);
