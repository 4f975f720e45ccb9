//! Maintenance windows: the moves and their 409s (the seed's messages), RFC 3339 times named in
//! errors, the tenant's services only, lists, tenancy, scopes, and the scheduler pass starting
//! and completing windows at their times.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::status::schedule::advance_maintenance;
use vigia::store::now_ms;

use super::{send, service};
use crate::support::{Backend, TestApp};

const HOUR: i64 = 3_600_000;

fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Schedules a window from `start` to `end` (epoch ms) as the admin and returns it.
async fn schedule(app: &TestApp, title: &str, start: i64, end: i64) -> Value {
    let body = json!({"title": title, "scheduled_start": at(start), "scheduled_end": at(end)});
    let r = send(app, Method::POST, "/api/v1/maintenance", &app.admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json
}

async fn maintenance_moves_follow_the_state_machine(b: Backend) {
    let app = TestApp::start(b).await;
    let db = service(&app, &app.admin, "db").await;
    let now = now_ms();
    let body = json!({"title": "Database failover drill", "description": "Read-only for ~6 minutes.",
        "scheduled_start": at(now + HOUR), "scheduled_end": at(now + 2 * HOUR), "visibility": "internal",
        "service_ids": [db], "exclude_from_sla": true, "suppress_alerts": true, "tenant_id": app.other_user.tenant_id});
    let created = send(&app, Method::POST, "/api/v1/maintenance", &app.admin, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let w = &created.json;
    assert_eq!((w["status"].as_str(), w["visibility"].as_str()), (Some("scheduled"), Some("internal")));
    assert_eq!((w["exclude_from_sla"].as_bool(), w["suppress_alerts"].as_bool()), (Some(true), Some(true)));
    assert_eq!(w["scheduled_start"], at(now + HOUR));
    assert_eq!(w["services"], json!([{"id": db, "slug": "db", "name": "Service db"}]));
    let path = format!("/api/v1/maintenance/{}", w["id"]);
    assert_eq!(app.get(&path, &app.other_admin).await.status, StatusCode::NOT_FOUND, "tenant_id ignored");

    let post = |action: &'static str| {
        let path = format!("{path}/{action}");
        let app = &app;
        async move { app.call(Method::POST, &path, Some(&app.admin), None).await }
    };
    let refused = post("complete").await;
    assert_eq!((refused.status, refused.error()), (StatusCode::CONFLICT, "complete only works on active windows"));
    let started = post("start").await;
    assert_eq!((started.status, started.json["status"].as_str()), (StatusCode::OK, Some("active")), "{}", started.text);
    assert!(started.json["actual_start"].is_string() && started.json["actual_end"].is_null(), "{}", started.text);
    let again = post("start").await;
    assert_eq!((again.status, again.error()), (StatusCode::CONFLICT, "start only works on scheduled windows"));
    let completed = post("complete").await;
    assert_eq!((completed.status, completed.json["status"].as_str()), (StatusCode::OK, Some("completed")));
    assert!(completed.json["actual_end"].is_string(), "{}", completed.text);
    for (action, message) in [
        ("start", "start only works on scheduled windows"),
        ("complete", "complete only works on active windows"),
        ("cancel", "cancel only works on scheduled or active windows"),
    ] {
        let r = post(action).await;
        assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, message), "{action} on a completed window");
    }

    let other = schedule(&app, "cancelled", now + HOUR, now + 2 * HOUR).await;
    let other_path = format!("/api/v1/maintenance/{}", other["id"]);
    let r = app.call(Method::POST, &format!("{other_path}/cancel"), Some(&app.admin), None).await;
    assert_eq!(
        (r.status, r.json["status"].as_str(), &r.json["actual_end"]),
        (StatusCode::OK, Some("cancelled"), &Value::Null)
    );
    for (action, message) in
        [("start", "start only works on scheduled windows"), ("complete", "complete only works on active windows")]
    {
        let r = app.call(Method::POST, &format!("{other_path}/{action}"), Some(&app.admin), None).await;
        assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, message), "{action} on a cancelled window");
    }
}

async fn maintenance_times_are_rfc3339_named_and_ordered(b: Backend) {
    let app = TestApp::start(b).await;
    let theirs = service(&app, &app.other_admin, "theirs").await;
    let now = now_ms();
    let (start, end) = (at(now + HOUR), at(now + 2 * HOUR));
    for (body, error) in [
        (
            json!({"title": "t", "scheduled_start": "tomorrow", "scheduled_end": end}),
            "scheduled_start \"tomorrow\" is not an RFC 3339 timestamp",
        ),
        (
            json!({"title": "t", "scheduled_start": start, "scheduled_end": "2026-13-01T00:00:00Z"}),
            "scheduled_end \"2026-13-01T00:00:00Z\" is not an RFC 3339 timestamp",
        ),
        (
            json!({"title": "t", "scheduled_start": end, "scheduled_end": start}),
            "scheduled_end must be after scheduled_start",
        ),
        (
            json!({"title": "t", "scheduled_start": at(now - 2 * HOUR), "scheduled_end": at(now - HOUR)}),
            "is in the past",
        ),
        (
            json!({"title": "t", "scheduled_start": start, "scheduled_end": end, "service_ids": [theirs]}),
            "service_ids: no service",
        ),
        (json!({"title": " ", "scheduled_start": start, "scheduled_end": end}), "title"),
        (json!({"title": "t", "scheduled_start": start}), "scheduled_end"),
    ] {
        let r = send(&app, Method::POST, "/api/v1/maintenance", &app.admin, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.error().contains(error), "{body}: {}", r.text);
    }
    let listed = app.get("/api/v1/maintenance", &app.admin).await;
    assert_eq!(listed.json["total"], 0, "nothing was created: {}", listed.text);
    // Any offset is read as the instant it names.
    let body =
        json!({"title": "t", "scheduled_start": "2099-06-01T04:00:00+02:00", "scheduled_end": "2099-06-01T04:00:00Z"});
    let r = send(&app, Method::POST, "/api/v1/maintenance", &app.admin, body).await;
    assert_eq!(
        (r.status, r.json["scheduled_start"].as_str()),
        (StatusCode::CREATED, Some("2099-06-01T02:00:00.000Z")),
        "{}",
        r.text
    );
}

async fn the_scheduler_starts_and_completes_windows_at_their_times(b: Backend) {
    let app = TestApp::start(b).await;
    let now = now_ms();
    let soon = schedule(&app, "soon", now + HOUR, now + 2 * HOUR).await;
    let later = schedule(&app, "later", now + 3 * HOUR, now + 4 * HOUR).await;
    let theirs = send(
        &app,
        Method::POST,
        "/api/v1/maintenance",
        &app.other_admin,
        json!({"title": "theirs", "scheduled_start": at(now + HOUR), "scheduled_end": at(now + 5 * HOUR)}),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    let status = |w: &Value| {
        let path = format!("/api/v1/maintenance/{}", w["id"]);
        let app = &app;
        async move { app.get(&path, &app.admin).await.json["status"].as_str().unwrap().to_string() }
    };
    let upcoming = app.get("/api/v1/maintenance/upcoming", &app.admin).await;
    let titles: Vec<&str> =
        upcoming.json["maintenance"].as_array().unwrap().iter().map(|w| w["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["soon", "later"], "soonest first, only the tenant's: {}", upcoming.text);

    assert_eq!(advance_maintenance(&app.store, now + HOUR - 1).await.unwrap(), 0);
    assert_eq!(advance_maintenance(&app.store, now + HOUR).await.unwrap(), 2, "soon and theirs start");
    assert_eq!((status(&soon).await, status(&later).await), ("active".into(), "scheduled".into()));
    let started = app.get(&format!("/api/v1/maintenance/{}", soon["id"]), &app.admin).await;
    assert_eq!(started.json["actual_start"], at(now + HOUR));
    assert_eq!(advance_maintenance(&app.store, now + HOUR + 1).await.unwrap(), 0, "nothing twice");
    let upcoming = app.get("/api/v1/maintenance/upcoming", &app.admin).await;
    assert_eq!(upcoming.json["maintenance"].as_array().unwrap().len(), 1, "{}", upcoming.text);

    // The host was down through `later`: it starts and completes in the same pass.
    assert_eq!(advance_maintenance(&app.store, now + 4 * HOUR).await.unwrap(), 3);
    assert_eq!((status(&soon).await, status(&later).await), ("completed".into(), "completed".into()));
    let done = app.get(&format!("/api/v1/maintenance/{}", later["id"]), &app.admin).await;
    assert_eq!(
        (done.json["actual_start"].as_str(), done.json["actual_end"].as_str()),
        (Some(at(now + 4 * HOUR).as_str()), Some(at(now + 4 * HOUR).as_str()))
    );
    let theirs_now = app.get(&format!("/api/v1/maintenance/{}", theirs.json["id"]), &app.other_admin).await;
    assert_eq!(theirs_now.json["status"], "active", "its end has not come: {}", theirs_now.text);
}

async fn maintenance_lists_paginate_hide_other_tenants_and_need_their_scopes(b: Backend) {
    let app = TestApp::start(b).await;
    let now = now_ms();
    let first = schedule(&app, "first", now + HOUR, now + 2 * HOUR).await;
    schedule(&app, "second", now + 2 * HOUR, now + 3 * HOUR).await;
    let third = schedule(&app, "third", now + 3 * HOUR, now + 4 * HOUR).await;
    app.call(Method::POST, &format!("/api/v1/maintenance/{}/cancel", third["id"]), Some(&app.admin), None).await;

    let all = app.get("/api/v1/maintenance", &app.admin).await;
    assert_eq!((all.json["total"].as_i64(), all.json["limit"].as_i64()), (Some(3), Some(50)), "{}", all.text);
    assert_eq!(all.json["maintenance"][0]["title"], "third", "latest start first");
    let page = app.get("/api/v1/maintenance?status=scheduled&limit=1&offset=1", &app.admin).await;
    assert_eq!(
        (page.json["total"].as_i64(), page.json["maintenance"][0]["title"].as_str()),
        (Some(2), Some("first")),
        "{}",
        page.text
    );
    assert_eq!(app.get("/api/v1/maintenance?limit=200", &app.admin).await.status, StatusCode::OK);
    for query in ["limit=0", "limit=201", "offset=-1", "status=done"] {
        let r = app.get(&format!("/api/v1/maintenance?{query}"), &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
    }
    assert_eq!(app.get("/api/v1/maintenance", &app.other_admin).await.json["total"], 0);

    let path = format!("/api/v1/maintenance/{}", first["id"]);
    let r = app.get(&path, &app.other_admin).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "maintenance window not found"));
    for action in ["start", "complete", "cancel"] {
        let r = app.call(Method::POST, &format!("{path}/{action}"), Some(&app.other_admin), None).await;
        assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "maintenance window not found"), "{action}");
    }
    let (_, reader) = app.api_token(&app.admin, &["read:status"]).await;
    assert_eq!(app.get(&path, &reader).await.status, StatusCode::OK);
    let body = json!({"title": "t", "scheduled_start": at(now + HOUR), "scheduled_end": at(now + 2 * HOUR)});
    let r = send(&app, Method::POST, "/api/v1/maintenance", &reader, body.clone()).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "missing required scope: write:maintenance"));
    for action in ["start", "complete", "cancel"] {
        let r = app.call(Method::POST, &format!("{path}/{action}"), Some(&reader), None).await;
        assert_eq!(
            (r.status, r.error()),
            (StatusCode::FORBIDDEN, "missing required scope: write:maintenance"),
            "{action}"
        );
    }
    let (_, incidents) = app.api_token(&app.admin, &["write:incidents", "read:status"]).await;
    let r = send(&app, Method::POST, "/api/v1/maintenance", &incidents, body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "write:incidents does not schedule maintenance");
    assert_eq!(app.get(&path, &app.admin).await.json["status"], "scheduled", "nothing moved");
}

backend_tests!(
    maintenance_moves_follow_the_state_machine,
    maintenance_times_are_rfc3339_named_and_ordered,
    the_scheduler_starts_and_completes_windows_at_their_times,
    maintenance_lists_paginate_hide_other_tenants_and_need_their_scopes,
);
