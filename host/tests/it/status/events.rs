//! Status events to subscribers through the REAL `webhook` bundle to a loopback receiver, on
//! both backends: a channel asking for `incidents` and `maintenance` receives incident created →
//! updated → resolved and maintenance started → completed (by the API and by the scheduler) and
//! cancelled, in order, with the labels of the convention (`wit/README.md`, "Status events"); a
//! default channel receives none of them but still its alerts (now with their `dedup_key`);
//! another tenant's channel receives nothing; delivery history and the dead-letter queue show
//! labels as an object; bad `events` values are a 400 naming the value.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::status::schedule::advance_maintenance;
use vigia::store::now_ms;

use super::{send, service};
use crate::alerting_delivery::Setup;
use crate::support::{Backend, TestApp};

const HOUR: i64 = 3_600_000;

fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Setup {
    /// A call as the default tenant's admin, asserting `expected`.
    async fn ok(&self, method: Method, path: &str, body: Option<Value>, expected: StatusCode) -> Value {
        let r = self.e.call(method, path, body).await;
        assert_eq!(r.status, expected, "{path}: {}", r.text);
        r.json
    }

    /// Delivers everything queued as of `now` (one pass at a time: the order of arrival is the
    /// order of the events); returns how many were delivered.
    async fn drain(&self, now: i64) -> usize {
        let mut delivered = 0;
        loop {
            let r = self.delivery.run_once(now).await.unwrap();
            assert_eq!((r.retried, r.dead), (0, 0), "every delivery succeeds");
            if r.delivered == 0 {
                return delivered;
            }
            delivered += r.delivered;
        }
    }

    /// The alert objects of every request the receiver saw at `path`, in order.
    fn seen_at(&self, path: &str) -> Vec<Value> {
        let requests = self.rx.requests().into_iter().filter(|r| r.path == path);
        requests.map(|r| r.body["alerts"][0].clone()).collect()
    }
}

fn events_of(alerts: &[Value]) -> Vec<&str> {
    alerts.iter().map(|a| a["labels"]["event"].as_str().unwrap_or("?")).collect()
}

async fn subscribed_channels_receive_status_events_in_order(b: Backend) {
    let s = Setup::new(b).await;
    let status = json!({"name": "status", "plugin": "webhook", "config": {"url": s.rx.url("/status")},
        "events": ["maintenance", "incidents", "maintenance"]});
    let created = s.ok(Method::POST, "/api/v1/notifications/channels", Some(status), StatusCode::CREATED).await;
    assert_eq!(created["events"], json!(["incidents", "maintenance"]), "a set, in vocabulary order");
    let ops = json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/ops")}});
    let ops = s.ok(Method::POST, "/api/v1/notifications/channels", Some(ops), StatusCode::CREATED).await;
    assert_eq!(ops["events"], json!(["alerts"]), "default: alerts only, as before");
    let theirs = json!({"name": "theirs", "plugin": "webhook", "config": {"url": s.rx.url("/theirs")},
        "events": ["alerts", "incidents", "maintenance"]});
    let r =
        s.e.app.call(Method::POST, "/api/v1/notifications/channels", Some(&s.e.app.other_admin), Some(theirs)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let listed = s.ok(Method::GET, "/api/v1/notifications/channels", None, StatusCode::OK).await;
    let events: Vec<&Value> = listed.as_array().unwrap().iter().map(|c| &c["events"]).collect();
    assert_eq!(events, [&json!(["alerts"]), &json!(["incidents", "maintenance"])], "by name: ops, status");

    // An incident: created, updated (a message with a move, a new severity), resolved.
    let api = service(&s.e.app, &s.e.app.admin, "api").await;
    let db = service(&s.e.app, &s.e.app.admin, "db").await;
    let body = json!({"title": "Checkout errors", "description": "5xx on checkout.", "severity": "major_outage",
        "visibility": "internal", "service_ids": [db, api]});
    let incident = s.ok(Method::POST, "/api/v1/incidents", Some(body), StatusCode::CREATED).await;
    let path = format!("/api/v1/incidents/{}", incident["id"]);
    s.drain(now_ms()).await;
    let update = json!({"status": "identified", "message": "A bad deploy.", "is_public": false});
    s.ok(Method::POST, &format!("{path}/updates"), Some(update), StatusCode::CREATED).await;
    s.drain(now_ms()).await;
    s.ok(Method::PATCH, &path, Some(json!({"title": "Checkout errors (EU)"})), StatusCode::OK).await;
    assert_eq!(s.drain(now_ms()).await, 0, "a new title tells subscribers nothing");
    s.ok(Method::PATCH, &path, Some(json!({"severity": "degraded"})), StatusCode::OK).await;
    s.drain(now_ms()).await;
    s.ok(Method::PATCH, &path, Some(json!({"status": "monitoring"})), StatusCode::OK).await;
    s.drain(now_ms()).await;
    let resolution = json!({"root_cause": "Config drift."});
    s.ok(Method::POST, &format!("{path}/resolve"), Some(resolution), StatusCode::OK).await;
    s.drain(now_ms()).await;

    let seen = s.seen_at("/status");
    assert_eq!(
        events_of(&seen),
        ["incident.created", "incident.updated", "incident.updated", "incident.updated", "incident.resolved"]
    );
    let first = &seen[0];
    let id = format!("incident-{}", incident["id"]);
    assert_eq!((first["id"].as_str(), first["rule"].as_str()), (Some(id.as_str()), Some("incident")));
    assert_eq!((first["resource"].as_str(), first["severity"].as_str()), (Some("api,db"), Some("critical")));
    assert_eq!((first["state"].as_str(), first["summary"].as_str()), (Some("firing"), Some("Checkout errors")));
    assert_eq!(first["description"], "5xx on checkout.");
    let dedup = format!("incident:{}", incident["id"]);
    assert_eq!(
        first["labels"],
        json!({"kind": "incident", "event": "incident.created", "status": "investigating",
            "incident_severity": "major_outage", "visibility": "internal", "services": "api,db", "dedup_key": dedup})
    );
    assert_eq!((first["kind"].as_str(), first["dedup_key"].as_str()), (Some("incident"), Some(dedup.as_str())));
    assert_eq!(
        (seen[1]["description"].as_str(), seen[1]["labels"]["status"].as_str()),
        (Some("A bad deploy."), Some("identified"))
    );
    assert_eq!(
        (seen[2]["severity"].as_str(), seen[2]["description"].as_str()),
        (Some("warning"), Some("Severity changed to degraded."))
    );
    assert_eq!(seen[3]["labels"]["status"], "monitoring");
    let last = &seen[4];
    assert_eq!((last["state"].as_str(), last["labels"]["status"].as_str()), (Some("resolved"), Some("resolved")));
    assert!(last["resolved_at_ms"].is_i64(), "{last}");
    let keys: std::collections::BTreeSet<_> = s.rx.requests().into_iter().filter_map(|r| r.idempotency_key).collect();
    assert_eq!(keys.len(), 5, "one idempotency key per event");

    // A window: started by hand, completed by the scheduler; another cancelled before it started.
    let now = now_ms();
    let body = json!({"title": "Failover drill", "scheduled_start": at(now + HOUR), "scheduled_end": at(now + 2 * HOUR),
        "service_ids": [db]});
    let window = s.ok(Method::POST, "/api/v1/maintenance", Some(body), StatusCode::CREATED).await;
    assert_eq!(s.drain(now_ms()).await, 0, "scheduling is not an event");
    s.ok(Method::POST, &format!("/api/v1/maintenance/{}/start", window["id"]), None, StatusCode::OK).await;
    s.drain(now_ms()).await;
    assert_eq!(advance_maintenance(&s.e.app.store, now + 2 * HOUR).await.unwrap(), 1);
    // Queued at the scheduler's (future) time: delivered as of then.
    s.drain(now + 2 * HOUR).await;
    let body =
        json!({"title": "Disk swap", "scheduled_start": at(now + 5 * HOUR), "scheduled_end": at(now + 6 * HOUR)});
    let other = s.ok(Method::POST, "/api/v1/maintenance", Some(body), StatusCode::CREATED).await;
    s.ok(Method::POST, &format!("/api/v1/maintenance/{}/cancel", other["id"]), None, StatusCode::OK).await;
    s.drain(now + 2 * HOUR).await;

    let windows: Vec<Value> = s.seen_at("/status").split_off(5);
    assert_eq!(events_of(&windows), ["maintenance.started", "maintenance.completed", "maintenance.cancelled"]);
    let started = &windows[0];
    assert_eq!((started["rule"].as_str(), started["resource"].as_str()), (Some("maintenance"), Some("db")));
    assert_eq!((started["severity"].as_str(), started["state"].as_str()), (Some("info"), Some("firing")));
    assert_eq!((started["kind"].as_str(), started["summary"].as_str()), (Some("maintenance"), Some("Failover drill")));
    assert_eq!(started["labels"]["scheduled_end"], at(now + 2 * HOUR));
    assert_eq!(
        (started["labels"]["status"].as_str(), started["labels"]["visibility"].as_str()),
        (Some("active"), Some("public"))
    );
    assert_eq!(
        (windows[1]["state"].as_str(), windows[1]["labels"]["status"].as_str()),
        (Some("resolved"), Some("completed"))
    );
    assert_eq!((windows[2]["resource"].as_str(), windows[2]["labels"]["services"].as_str()), (Some("*"), Some("")));

    // The default channel heard none of it, the other tenant's nothing at all; alerts still reach
    // the default channel only, with their dedup key.
    assert!(s.seen_at("/ops").is_empty() && s.seen_at("/theirs").is_empty(), "{:?}", s.rx.requests());
    let r = s.e.raise("backup", "critical", "main", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(s.drain(now_ms()).await, 1);
    let alerts = s.seen_at("/ops");
    assert_eq!(alerts.len(), 1, "{:?}", s.rx.requests());
    assert_eq!(s.seen_at("/status").len(), 8, "a status channel does not carry alerts");
    assert_eq!((alerts[0]["kind"].as_str(), alerts[0]["dedup_key"].as_str()), (Some("alert"), Some("custom:backup")));
    assert_eq!(alerts[0]["labels"], json!({"event": "firing", "dedup_key": "custom:backup"}));
    assert_eq!(alerts[0]["resource"], "main");
    assert!(s.seen_at("/theirs").is_empty());
}

async fn deliveries_show_labels_as_an_object(b: Backend) {
    let s = Setup::new(b).await;
    let body = json!({"name": "all", "plugin": "webhook", "config": {"url": s.rx.url("/all")},
        "events": ["alerts", "incidents"]});
    s.channel(body).await;
    s.rx.script(&[400, 400]);
    s.e.raise("disk", "critical", "main", json!({})).await;
    s.ok(Method::POST, "/api/v1/incidents", Some(json!({"title": "Slow API"})), StatusCode::CREATED).await;
    let r = s.run().await;
    assert_eq!((r.delivered, r.dead), (0, 2), "a 4xx is permanent");

    let dlq = s.ok(Method::GET, "/api/v1/notifications/dlq", None, StatusCode::OK).await;
    let dead = dlq.as_array().unwrap();
    assert_eq!(dead.len(), 2, "{dlq}");
    let (incident, alert) = (&dead[0]["alert"], &dead[1]["alert"]);
    assert_eq!(alert["labels"], json!({"event": "firing", "dedup_key": "custom:disk"}), "{dlq}");
    assert_eq!(incident["labels"]["event"], "incident.created", "{dlq}");
    assert!(incident["labels"].is_object() && incident["labels"]["kind"] == "incident", "{dlq}");
    let history = s.history().await;
    assert!(history.iter().all(|d| d["alert"]["labels"].is_object()), "{history:?}");

    // Retried from the DLQ, they go out with the same shape as the webhook body.
    s.ok(Method::POST, "/api/v1/notifications/dlq/retry", None, StatusCode::OK).await;
    assert_eq!(s.run().await.delivered, 2);
    let sent = s.rx.requests().into_iter().filter(|r| r.status == 200).map(|r| r.body["alerts"][0]["labels"].clone());
    let mut sent: Vec<Value> = sent.collect();
    sent.sort_by_key(|l| l["event"].as_str().map(String::from));
    assert_eq!(sent[0], json!({"event": "firing", "dedup_key": "custom:disk"}));
}

/// Bad `events` are refused before the plugin is looked at (no plugin runtime needed here).
async fn bad_channel_events_are_refused_naming_the_value(b: Backend) {
    let app = TestApp::start(b).await;
    let path = "/api/v1/notifications/channels";
    let id = crate::support::bare_channel(&app.store, app.admin_user.tenant_id, "ops").await;
    for (events, needle) in [
        (json!(["alerts", "pages"]), "events: unknown event \"pages\": use alerts, incidents or maintenance"),
        (json!([]), "events must name at least one of alerts, incidents or maintenance"),
        (json!("alerts"), "invalid JSON body"),
        (json!([7]), "invalid JSON body"),
    ] {
        let body = json!({"name": "x", "plugin": "webhook", "config": {}, "events": events});
        let r = send(&app, Method::POST, path, &app.admin, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.error().contains(needle), "{body}: {}", r.text);
        let r = send(&app, Method::PUT, &format!("{path}/{id}"), &app.admin, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.error().contains(needle), "{body}: {}", r.text);
    }
    // The document declares what the handler enforces (the API fuzz test checks against it).
    let doc = app.get("/api/v1/openapi.json", &app.admin).await;
    let events = &doc.json["components"]["schemas"]["ChannelBody"]["properties"]["events"];
    assert_eq!(events["minItems"], 1, "{events}");
    assert_eq!(
        doc.json["components"]["schemas"]["ChannelEvent"]["enum"],
        json!(["alerts", "incidents", "maintenance"])
    );
}

// Multi-threaded: the plugin runtime and the receiver run beside the first two.
mt_backend_tests!(
    subscribed_channels_receive_status_events_in_order,
    deliveries_show_labels_as_an_object,
    bad_channel_events_are_refused_naming_the_value,
);
