//! The public status page in a real headless browser (Debian's chromium through chromedriver):
//! against the real binary, a tenant with public and internal services, incidents and
//! maintenance; the page renders what is public, shows nothing internal, needs no script, and
//! axe-core finds no WCAG 2.1 A/AA or best-practice violation. A screenshot is kept for people.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::e2e_support::browser::Browser;
use crate::e2e_support::Server;

/// POSTs `body` to `path` as `token`; returns the created thing.
async fn create(server: &Server, token: &str, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{path}");
    r.json().await.unwrap()
}

/// A tenant with every kind of public and internal item.
async fn populate(server: &Server, token: &str) {
    let mut ids = Vec::new();
    for (slug, name, description) in [
        ("web", "Web shop", "The storefront and checkout"),
        ("api", "Public API", "REST API for partners"),
        ("reports", "Reporting", "Nightly reports"),
    ] {
        let body = json!({"slug": slug, "name": name, "description": description});
        ids.push(create(server, token, "/api/v1/services", body).await["id"].as_i64().unwrap());
    }
    let body = json!({"slug": "ledger", "name": "Internal ledger", "visibility": "internal"});
    let ledger = create(server, token, "/api/v1/services", body).await["id"].as_i64().unwrap();
    let body = json!({"title": "Elevated API error rate", "description": "Some API calls fail with 503.",
        "severity": "major_outage", "service_ids": [ids[1], ledger]});
    let incident = create(server, token, "/api/v1/incidents", body).await["id"].as_i64().unwrap();
    let update = json!({"status": "identified", "message": "A bad deploy; rolling back.", "is_public": true});
    let updates = format!("/api/v1/incidents/{incident}/updates");
    create(server, token, &updates, update).await;
    let update = json!({"status": "identified", "message": "Internal: ledger replica lag", "is_public": false});
    create(server, token, &updates, update).await;
    let body = json!({"title": "Ledger reconciliation", "visibility": "internal", "service_ids": [ledger]});
    create(server, token, "/api/v1/incidents", body).await;
    let at = |hours: i64| vigia::store::rfc3339(vigia::store::now_ms() + hours * 3_600_000);
    let body = json!({"title": "Database upgrade to PostgreSQL 17", "description": "Reporting is read-only.",
        "scheduled_start": at(24), "scheduled_end": at(26), "service_ids": [ids[2]]});
    create(server, token, "/api/v1/maintenance", body).await;
    let body = json!({"title": "Ledger disk swap", "visibility": "internal", "scheduled_start": at(24),
        "scheduled_end": at(25), "service_ids": [ledger]});
    create(server, token, "/api/v1/maintenance", body).await;
}

#[tokio::test]
async fn the_public_page_renders_public_items_only_and_is_accessible() {
    let dir = tempfile::tempdir().unwrap();
    // A one-second cache, so the page shows the derived status as soon as the status pass ran.
    let server = Server::start(dir.path(), "[status_page]\ncache_seconds = 1\n");
    let token = server.admin_token().await;
    populate(&server, &token).await;
    // The status pass (every 5 s) derives the API's status from the incident on it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let data: Value =
            reqwest::get(format!("{}/status/default.json", server.base)).await.unwrap().json().await.unwrap();
        if data["status"] == "major_outage" {
            break;
        }
        assert!(Instant::now() < deadline, "the status pass never derived the outage: {data}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let browser = Browser::start().await;
    browser.client.goto(&format!("{}/status/default", server.base)).await.unwrap();
    assert_eq!(browser.client.title().await.unwrap(), "default status");
    let text = browser.visible_text().await;
    for shown in [
        "Major outage",
        "Web shop",
        "Public API",
        "Reporting",
        "Elevated API error rate",
        "A bad deploy; rolling back.",
        "Database upgrade to PostgreSQL 17",
        "Past incidents",
    ] {
        assert!(text.contains(shown), "{shown:?} not shown:\n{text}");
    }
    let source = browser.client.source().await.unwrap();
    for hidden in ["Internal ledger", "ledger", "Ledger", "replica lag"] {
        assert!(!source.contains(hidden), "{hidden:?} is in the page");
    }
    let bars = browser.client.find_all(Locator::Css("div.bar")).await.unwrap();
    assert_eq!(bars.len(), 3, "one uptime bar per public service");
    for bar in bars {
        assert_eq!(bar.find_all(Locator::Css("span")).await.unwrap().len(), 90);
        let label = bar.attr("aria-label").await.unwrap().unwrap_or_default();
        assert!(label.starts_with("Uptime over the last 90 days: "), "{label}");
    }
    let scripts = browser.client.execute("return document.scripts.length", vec![]).await.unwrap();
    assert_eq!(scripts, json!(0), "the page reads without JavaScript: it has none");
    // Tall enough for the whole page in one picture.
    browser.client.set_window_size(1280, 2000).await.unwrap();
    let shot = browser.screenshot("status_page").await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core: {}", serde_json::to_string_pretty(&violations).unwrap());
    eprintln!("status page screenshot: {}", shot.display());
    browser.close().await;
}
