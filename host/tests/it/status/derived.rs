//! Derived status: a service's `current_status` follows its instances (connected, open alerts),
//! the incidents and maintenance on it, every change is a transition, and uptime is computed
//! from those transitions. The status pass is driven by hand (`refresh_statuses(now)`).

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::secrets::{SealedFor, SecretBox};
use vigia::status::refresh::{refresh_statuses, uptimes};
use vigia::store::{NewInstance, Store};

use super::send;
use crate::support::{Backend, TestApp, SECRET_KEY};

/// A connected, enabled instance of the tenant with these tags; returns its id.
async fn instance(store: &Store, tenant_id: i64, name: &str, tags: &str) -> i64 {
    let new = NewInstance { name, host: "db.example", port: 5432, username: "u", tags };
    let secrets = SecretBox::from_key(&SECRET_KEY);
    let seal = |instance_id| secrets.seal("p", &SealedFor::InstancePassword { tenant_id, instance_id });
    let id = store.create_instance(tenant_id, &new, seal).await.unwrap().id;
    store.set_instance_status(tenant_id, id, true, None).await.unwrap();
    id
}

async fn a_services_status_is_derived_and_its_transitions_give_its_uptime(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    instance(&app.store, tenant, "db1", "env=prod").await;
    let db2 = instance(&app.store, tenant, "db2", "env=prod").await;
    instance(&app.store, tenant, "dev1", "env=dev").await;
    let body = json!({"slug": "shop", "name": "Shop", "components": [{"kind": "selector", "target": "env=prod"}]});
    let created = send(&app, Method::POST, "/api/v1/services", &app.admin, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_i64().unwrap();
    let path = format!("/api/v1/services/{id}");
    let c = app.store.service(tenant, id).await.unwrap().created_at;
    let status = |at: i64| {
        let (app, path) = (&app, &path);
        async move {
            refresh_statuses(&app.store, at).await.unwrap();
            app.get(path, &app.admin).await.json["current_status"].as_str().unwrap().to_string()
        }
    };

    assert_eq!(status(c + 500).await, "operational");
    let alert = json!({"dedup_key": "k", "severity": "critical", "summary": "down", "resource": "db1"});
    let raised = send(&app, Method::POST, "/api/v1/alerts", &app.admin, alert).await;
    assert_eq!(raised.status, StatusCode::CREATED, "{}", raised.text);
    assert_eq!(status(c + 1_000).await, "partial_outage", "one of two production instances down");
    assert_eq!(refresh_statuses(&app.store, c + 1_500).await.unwrap(), 0, "no change, no transition");
    app.store.set_instance_status(tenant, db2, false, Some("refused")).await.unwrap();
    assert_eq!(status(c + 3_000).await, "major_outage", "both down");
    let listed = app.get("/api/v1/services?status=major_outage", &app.admin).await;
    assert_eq!(listed.json["total"], 1, "{}", listed.text);
    let cleared =
        app.call(Method::POST, &format!("/api/v1/alerts/{}/clear", raised.json["id"]), Some(&app.admin), None).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    app.store.set_instance_status(tenant, db2, true, None).await.unwrap();
    assert_eq!(status(c + 4_000).await, "operational");

    let incident = json!({"title": "slow", "severity": "degraded", "service_ids": [id]});
    let opened = send(&app, Method::POST, "/api/v1/incidents", &app.admin, incident).await;
    assert_eq!(status(c + 5_000).await, "degraded_performance", "an open incident sets it");
    let window = json!({"title": "upgrade", "service_ids": [id], "scheduled_start": "2099-01-01T00:00:00Z",
        "scheduled_end": "2099-01-01T01:00:00Z"});
    let scheduled = send(&app, Method::POST, "/api/v1/maintenance", &app.admin, window).await;
    let window_path = format!("/api/v1/maintenance/{}", scheduled.json["id"]);
    app.call(Method::POST, &format!("{window_path}/start"), Some(&app.admin), None).await;
    assert_eq!(status(c + 6_000).await, "under_maintenance", "maintenance beats the incident");
    app.call(Method::POST, &format!("{window_path}/complete"), Some(&app.admin), None).await;
    let incident_path = format!("/api/v1/incidents/{}", opened.json["id"]);
    for step in ["identified", "monitoring", "resolved"] {
        let r = send(&app, Method::PATCH, &incident_path, &app.admin, json!({"status": step})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(status(c + 8_000).await, "operational");

    // Up: 0–1 s, 4–5 s, 8–10 s and degraded 5–6 s (7 s); down: 1–4 s and maintenance 6–8 s (5 s).
    let [day, week, month] = uptimes(&app.store, id, c + 12_000).await.unwrap();
    assert_eq!(day, Some(7_000.0 * 100.0 / 12_000.0));
    assert_eq!((week, month), (day, day));

    let r = app.get(&format!("{path}/uptime"), &app.other_admin).await;
    assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "service not found"));
    let (_, reader) = app.api_token(&app.admin, &["read:status"]).await;
    let r = app.get(&format!("{path}/uptime"), &reader).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["service_id"], id);
    for key in ["uptime_24h", "uptime_7d", "uptime_30d"] {
        assert!(r.json[key].is_number(), "{key}: {}", r.text);
    }
}

async fn a_service_without_recorded_status_has_no_uptime(b: Backend) {
    let app = TestApp::start(b).await;
    let created = send(&app, Method::POST, "/api/v1/services", &app.admin, json!({"slug": "new", "name": "New"})).await;
    let id = created.json["id"].as_i64().unwrap();
    let c = app.store.service(app.admin_user.tenant_id, id).await.unwrap().created_at;
    // Before its creation nothing is known: no figure rather than 100 %.
    assert_eq!(uptimes(&app.store, id, c).await.unwrap(), [None, None, None]);
    assert_eq!(uptimes(&app.store, id, c + 1_000).await.unwrap(), [Some(100.0), Some(100.0), Some(100.0)]);
}

/// The tenant's pauses: (instance, until).
async fn pauses(app: &TestApp) -> Vec<(String, Option<i64>)> {
    let all = app.store.list_pauses(Some(app.admin_user.tenant_id)).await.unwrap();
    all.into_iter().map(|(_, resource, until)| (resource, until)).collect()
}

async fn a_window_suppressing_alerts_pauses_its_instances_for_its_duration(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    for (name, tags) in [("db1", "env=prod"), ("db2", "env=prod"), ("dev1", "env=dev")] {
        instance(&app.store, tenant, name, tags).await;
    }
    let body = json!({"slug": "shop", "name": "Shop", "components": [{"kind": "selector", "target": "env=prod"}]});
    let service = send(&app, Method::POST, "/api/v1/services", &app.admin, body).await.json["id"].as_i64().unwrap();
    // Paused by hand until resumed: the window does not shorten that.
    app.store.set_pause(tenant, "db2", None).await.unwrap();
    let window = |suppress: bool, start: String, end: String| json!({"title": "w", "service_ids": [service], "suppress_alerts": suppress, "scheduled_start": start, "scheduled_end": end});
    let (start, end) = ("2099-01-01T00:00:00Z".to_string(), "2099-01-01T01:00:00Z".to_string());
    let end_ms = chrono::DateTime::parse_from_rfc3339(&end).unwrap().timestamp_millis();

    let quiet =
        send(&app, Method::POST, "/api/v1/maintenance", &app.admin, window(false, start.clone(), end.clone())).await;
    app.call(Method::POST, &format!("/api/v1/maintenance/{}/start", quiet.json["id"]), Some(&app.admin), None).await;
    assert_eq!(pauses(&app).await, [("db2".to_string(), None)], "without suppress_alerts nothing is paused");

    let w = send(&app, Method::POST, "/api/v1/maintenance", &app.admin, window(true, start, end)).await;
    let path = format!("/api/v1/maintenance/{}", w.json["id"]);
    let started = app.call(Method::POST, &format!("{path}/start"), Some(&app.admin), None).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(pauses(&app).await, [("db1".to_string(), Some(end_ms)), ("db2".to_string(), None)]);
    let status = app.get("/api/v1/alerts/status", &app.admin).await;
    assert_eq!(status.json["paused"], json!(["db1", "db2"]), "{}", status.text);
    let completed = app.call(Method::POST, &format!("{path}/complete"), Some(&app.admin), None).await;
    assert_eq!(completed.status, StatusCode::OK, "{}", completed.text);
    assert_eq!(pauses(&app).await, [("db2".to_string(), None)], "its own pause lifted, the other kept");

    // The scheduler does the same at the window's times.
    let now = vigia::store::now_ms();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
    let hour = 3_600_000;
    let timed =
        send(&app, Method::POST, "/api/v1/maintenance", &app.admin, window(true, at(now + hour), at(now + 2 * hour)))
            .await;
    assert_eq!(timed.status, StatusCode::CREATED, "{}", timed.text);
    let timed_end =
        chrono::DateTime::parse_from_rfc3339(timed.json["scheduled_end"].as_str().unwrap()).unwrap().timestamp_millis();
    vigia::status::schedule::advance_maintenance(&app.store, now + hour).await.unwrap();
    assert_eq!(pauses(&app).await, [("db1".to_string(), Some(timed_end)), ("db2".to_string(), None)]);
    vigia::status::schedule::advance_maintenance(&app.store, now + 2 * hour).await.unwrap();
    assert_eq!(pauses(&app).await, [("db2".to_string(), None)]);
}

backend_tests!(
    a_services_status_is_derived_and_its_transitions_give_its_uptime,
    a_service_without_recorded_status_has_no_uptime,
    a_window_suppressing_alerts_pauses_its_instances_for_its_duration,
);
