//! Alert rules and the alert lifecycle through the real router on both backends: hysteresis,
//! occurrence counts, precedence, overrides, acknowledge/clear, custom alerts with dedup and
//! auto-resolve, status counts. Evaluation is driven pass by pass (`evaluate_once(now)`) over
//! points written through the real `MetricWriter`.

use crate::alerting_support;
use crate::support;

use alerting_support::{tuple, Env};
use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Backend, TestApp};

async fn env(backend: Backend, instances: &[(&str, &str)]) -> Env {
    Env::new(TestApp::start(backend).await, instances).await
}

async fn rules_crud_templates_and_validation(backend: Backend) {
    let e = env(backend, &[]).await;
    let id = e.rule(json!({"template": "connections", "instance": "main"})).await;
    let r = e.call(Method::GET, &format!("/api/v1/alerts/rules/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json["name"].as_str(), r.json["metric"].as_str()), (Some("connections"), Some("pg.connections_pct")));
    assert_eq!(r.json["warning"], json!({"trigger": 80.0, "clear": 75.0}));
    assert_eq!(r.json["occurrences"], 3);

    let dup = e.call(Method::POST, "/api/v1/alerts/rules", Some(json!({"template": "connections"}))).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    let bad = e
        .call(
            Method::POST,
            "/api/v1/alerts/rules",
            Some(json!({"name": "x", "metric": "m", "warning": {"trigger": 1, "clear": 2}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.error().contains("clear"), "{}", bad.text);
    let unknown = e.call(Method::POST, "/api/v1/alerts/rules", Some(json!({"template": "x", "bogus": 1}))).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);

    let put = e
        .call(
            Method::PUT,
            &format!("/api/v1/alerts/rules/{id}"),
            Some(json!({"template": "connections", "occurrences": 1, "tags": "env=prod"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!((put.json["occurrences"].as_i64(), put.json["tags"].as_str()), (Some(1), Some("env=prod")));
    assert!(put.json["instance"].is_null());

    let templates = e.call(Method::GET, "/api/v1/alerts/templates", None).await;
    let names: Vec<&str> = templates.json.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"instance-unreachable") && names.contains(&"long-transaction"));

    // Another tenant sees nothing of it.
    let other = e.app.call(Method::GET, &format!("/api/v1/alerts/rules/{id}"), Some(&e.app.other_admin), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let list = e.call(Method::GET, "/api/v1/alerts/rules", None).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
    assert_eq!(
        e.call(Method::DELETE, &format!("/api/v1/alerts/rules/{id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(e.call(Method::GET, &format!("/api/v1/alerts/rules/{id}"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(e.call(Method::GET, "/api/v1/alerts/rules/abc", None).await.status, StatusCode::BAD_REQUEST);
}

async fn hysteresis_occurrences_and_severity_changes(backend: Backend) {
    let mut e = env(backend, &[("main", "")]).await;
    e.rule(json!({"template": "connections", "occurrences": 2})).await;
    let m = "pg.connections_pct";
    e.eval_with(&[("main", m, 85.0)]).await;
    assert_eq!(e.active_summary().await, [tuple("main", "connections", "pending", "warning")]);
    e.eval_with(&[("main", m, 85.0)]).await;
    assert_eq!(e.active_summary().await, [tuple("main", "connections", "firing", "warning")]);
    // Between clear (75) and trigger (80): no flapping, the alert stays.
    for v in [78.0, 76.0, 79.0] {
        e.eval_with(&[("main", m, v)]).await;
        assert_eq!(e.active_summary().await, [tuple("main", "connections", "firing", "warning")], "at {v}");
    }
    e.eval_with(&[("main", m, 92.0)]).await;
    assert_eq!(e.active_summary().await, [tuple("main", "connections", "firing", "critical")]);
    e.eval_with(&[("main", m, 86.0)]).await; // above the critical clear (85)
    assert_eq!(e.active_summary().await[0].3, "critical");
    e.eval_with(&[("main", m, 80.0)]).await; // below it, above the warning clear
    assert_eq!(e.active_summary().await[0].3, "warning");
    let id = e.active().await[0]["id"].as_i64().unwrap();
    e.eval_with(&[("main", m, 75.0)]).await;
    assert!(e.active().await.is_empty());
    assert_eq!(e.events(id).await, ["pending", "firing", "severity", "severity", "resolved"]);

    // Just above the trigger once, then back below it: occurrences not reached, nothing fires.
    e.eval_with(&[("main", m, 81.0)]).await;
    assert_eq!(e.active_summary().await[0].2, "pending");
    e.eval_with(&[("main", m, 50.0)]).await;
    assert!(e.active().await.is_empty());
    let history = e.call(Method::GET, "/api/v1/alerts/history?state=resolved&limit=10", None).await;
    assert_eq!(history.json.as_array().unwrap().len(), 2, "{}", history.text);
    let firing_only = e.call(Method::GET, "/api/v1/alerts/history?state=resolved&severity=critical", None).await;
    assert_eq!(firing_only.json.as_array().unwrap().len(), 0, "ended as warning: {}", firing_only.text);
    let page = e.call(Method::GET, "/api/v1/alerts/history?limit=1&offset=1", None).await;
    assert_eq!(page.json[0]["id"].as_i64(), Some(id), "newest first: {}", page.text);
    let bad = e.call(Method::GET, "/api/v1/alerts/history?state=burning", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // A stale series is not evaluated: no point in the window, no change.
    e.now += 3_600_000;
    e.eval().await;
    assert!(e.active().await.is_empty());
}

async fn instance_rule_beats_tag_rule_beats_global_rule(backend: Backend) {
    let mut e = env(backend, &[("main", "env=prod"), ("second", "env=prod"), ("third", "env=dev")]).await;
    let lv = |t: f64| json!({"trigger": t, "clear": t - 5.0});
    e.rule(json!({"name": "all", "metric": "load", "warning": lv(50.0)})).await;
    e.rule(json!({"name": "prod", "metric": "load", "warning": lv(70.0), "tags": "env=prod"})).await;
    e.rule(json!({"name": "main-only", "metric": "load", "warning": lv(90.0), "instance": "db1@main"})).await;
    e.eval_with(&[("main", "load", 80.0), ("second", "load", 80.0), ("third", "load", 80.0)]).await;
    assert_eq!(
        e.active_summary().await,
        [tuple("second", "prod", "firing", "warning"), tuple("third", "all", "firing", "warning")]
    );
    e.eval_with(&[("main", "load", 95.0), ("second", "load", 60.0), ("third", "load", 60.0)]).await;
    assert_eq!(
        e.active_summary().await,
        [tuple("main", "main-only", "firing", "warning"), tuple("third", "all", "firing", "warning")]
    );
}

async fn overrides_disable_a_signal_per_resource(backend: Backend) {
    let mut e = env(backend, &[("main", ""), ("second", ""), ("third", "")]).await;
    let id = e
        .rule(json!({"template": "connections", "occurrences": 1,
            "overrides": {"third": -1, "second": {"warning": -1}}}))
        .await;
    let all = |v: f64| {
        [("main", "pg.connections_pct", v), ("second", "pg.connections_pct", v), ("third", "pg.connections_pct", v)]
    };
    e.eval_with(&all(85.0)).await;
    assert_eq!(e.active_summary().await, [tuple("main", "connections", "firing", "warning")]);
    e.eval_with(&all(95.0)).await;
    assert_eq!(
        e.active_summary().await,
        [tuple("main", "connections", "firing", "critical"), tuple("second", "connections", "firing", "critical")]
    );
    // Turning the rule off for `second` while it fires resolves its alert.
    let put = e
        .call(
            Method::PUT,
            &format!("/api/v1/alerts/rules/{id}"),
            Some(json!({"template": "connections", "occurrences": 1, "overrides": {"third": -1, "second": -1}})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    e.eval_with(&all(95.0)).await;
    assert_eq!(e.active_summary().await, [tuple("main", "connections", "firing", "critical")]);
    // Deleting the rule resolves what it had open.
    e.call(Method::DELETE, &format!("/api/v1/alerts/rules/{id}"), None).await;
    e.eval_with(&all(95.0)).await;
    assert!(e.active().await.is_empty());
}

async fn rules_cover_collector_metrics_of_any_resource(backend: Backend) {
    let mut e = env(backend, &[("main", "env=prod")]).await;
    let lv = json!({"trigger": 90, "clear": 80});
    e.rule(json!({"name": "memory", "metric": "redis.memory_pct", "warning": lv})).await;
    e.rule(json!({"name": "prod-memory", "metric": "redis.memory_pct", "warning": lv, "tags": "env=prod"})).await;
    e.rule(json!({"name": "cache", "metric": "redis.memory_pct", "critical": lv, "instance": "redis-2"})).await;
    let m = "redis.memory_pct";
    e.eval_with(&[("redis-1", m, 95.0), ("redis-2", m, 95.0), ("main", m, 95.0)]).await;
    assert_eq!(
        e.active_summary().await,
        [
            tuple("main", "prod-memory", "firing", "warning"),
            tuple("redis-1", "memory", "firing", "warning"),
            tuple("redis-2", "cache", "firing", "critical"),
        ]
    );
}

async fn acknowledge_unacknowledge_and_clear(backend: Backend) {
    let mut e = env(backend, &[("main", "")]).await;
    e.rule(json!({"template": "instance-unreachable", "occurrences": 1})).await;
    e.eval_with(&[("main", "pg.up", 0.0)]).await;
    let id = e.active().await[0]["id"].as_i64().unwrap();
    let path = |action: &str| format!("/api/v1/alerts/{id}/{action}");
    let read_before_ack = e.app.store.alert(e.tenant, id).await.unwrap();
    let r = e.call(Method::POST, &path("acknowledge"), None).await;
    assert_eq!((r.status, r.json["state"].as_str()), (StatusCode::OK, Some("acknowledged")), "{}", r.text);
    // A writer that read the alert before the acknowledgement cannot overwrite it.
    let stale = vigia::store::AlertRow { value: Some(0.5), ..read_before_ack.clone() };
    let err = e.app.store.save_alert(Some(&read_before_ack), &stale, None, e.now).await.unwrap_err();
    assert!(matches!(err, vigia::store::StoreError::Conflict(_)), "{err:?}");
    assert!(r.json["acknowledged_at"].is_string());
    assert_eq!(e.call(Method::POST, &path("acknowledge"), None).await.status, StatusCode::CONFLICT);
    // Evaluation keeps an acknowledged alert acknowledged.
    e.eval_with(&[("main", "pg.up", 0.0)]).await;
    assert_eq!(e.active_summary().await, [tuple("main", "instance-unreachable", "acknowledged", "critical")]);
    let r = e.call(Method::POST, &path("unacknowledge"), None).await;
    assert_eq!(r.json["state"], "firing", "{}", r.text);
    let r = e.call(Method::POST, &path("clear"), None).await;
    assert_eq!((r.status, r.json["state"].as_str()), (StatusCode::OK, Some("resolved")), "{}", r.text);
    assert_eq!(e.call(Method::POST, &path("clear"), None).await.status, StatusCode::CONFLICT);
    // The state machine refuses to acknowledge a resolved alert; the answer names both states.
    let refused = e.call(Method::POST, &path("acknowledge"), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.error().to_string(), format!("alert {id} is resolved; this needs it firing"));
    assert_eq!(e.events(id).await, ["firing", "acknowledged", "unacknowledged", "cleared"]);
    assert!(e.active().await.is_empty());
    // Still down: the next pass opens a new alert.
    e.eval_with(&[("main", "pg.up", 0.0)]).await;
    let again = e.active().await;
    assert_eq!(again.len(), 1);
    assert_ne!(again[0]["id"].as_i64(), Some(id));
    assert_eq!(e.call(Method::POST, "/api/v1/alerts/999999/clear", None).await.status, StatusCode::NOT_FOUND);
    let other = e.app.call(Method::POST, &path("acknowledge"), Some(&e.app.other_admin), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another tenant's alert is missing");
}

async fn custom_alerts_dedup_and_auto_resolve(backend: Backend) {
    let mut e = env(backend, &[("main", "")]).await;
    let first = e.raise("backup-main", "warning", "main", json!({"auto_resolve_seconds": 60})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let id = first.json["id"].as_i64().unwrap();
    let again = e.raise("backup-main", "critical", "main", json!({"auto_resolve_seconds": 60})).await;
    assert_eq!((again.status, again.json["id"].as_i64()), (StatusCode::OK, Some(id)), "{}", again.text);
    assert_eq!(again.json["severity"], "critical");
    assert_eq!(e.active().await.len(), 1, "deduplicated");
    let other = e.raise("backup-other", "info", "nas", json!({})).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_eq!(e.events(id).await, ["firing", "severity"]);

    let status = e.call(Method::GET, "/api/v1/alerts/status", None).await;
    assert_eq!(status.json["firing"], 2, "{}", status.text);
    assert_eq!(status.json["by_severity"], json!({"info": 1, "warning": 0, "critical": 1}));
    assert_eq!(status.json["by_instance"]["main"]["critical"], 1);

    for bad in [
        json!({"dedup_key": "k", "severity": "fatal", "summary": "s", "resource": "r"}),
        json!({"dedup_key": "", "severity": "info", "summary": "s", "resource": "r"}),
        json!({"dedup_key": "k", "severity": "info", "summary": "s", "resource": "r", "auto_resolve_seconds": 0}),
        json!({"dedup_key": "k", "severity": "info", "summary": "s"}),
    ] {
        let r = e.call(Method::POST, "/api/v1/alerts", Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }

    // Not yet due: still open; 60 s after the last raise: resolved.
    e.now = vigia::store::now_ms() + 30_000;
    e.eval().await;
    assert_eq!(e.active().await.len(), 2);
    e.now = vigia::store::now_ms() + 61_000;
    e.eval().await;
    let left = e.active().await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["dedup_key"], "custom:backup-other");
    assert_eq!(e.events(id).await, ["firing", "severity", "resolved"]);
    let reopened = e.raise("backup-main", "warning", "main", json!({})).await;
    assert_eq!(reopened.status, StatusCode::CREATED);
    assert_ne!(reopened.json["id"].as_i64(), Some(id));
}

async fn scopes_guard_alerting_routes(backend: Backend) {
    let e = env(backend, &[]).await;
    let (_, reader) = e.app.api_token(&e.app.admin, &["monitoring:read"]).await;
    let r = e.app.call(Method::GET, "/api/v1/alerts/active", Some(&reader), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r =
        e.app.call(Method::POST, "/api/v1/alerts/rules", Some(&reader), Some(json!({"template": "connections"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = e.app.call(Method::GET, "/api/v1/alerts/active", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

backend_tests!(
    rules_crud_templates_and_validation,
    hysteresis_occurrences_and_severity_changes,
    instance_rule_beats_tag_rule_beats_global_rule,
    overrides_disable_a_signal_per_resource,
    rules_cover_collector_metrics_of_any_resource,
    acknowledge_unacknowledge_and_clear,
    custom_alerts_dedup_and_auto_resolve,
    scopes_guard_alerting_routes,
);
