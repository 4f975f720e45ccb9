//! The first-party plugins (`plugins/{http-check,webhook,csv,redis}`) through the real plugin
//! runtime: their built bundles, loopback servers written here, and the host's public API.

use crate::plugins_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hmac::Mac;
use plugins_support::*;
use serde_json::json;
use vigia::alerting::AlertState;
use vigia::plugins::{
    Alert, CollectContext, ErrorKind, InvokeError, LoadState, MetricSample, Notification, PluginHost, ReportRequest,
    Series, Severity,
};

fn ctx() -> CollectContext {
    CollectContext { resource: "test".into(), scheduled_at_ms: 0, interval_ms: 1000 }
}

/// The value of sample `name` labelled `target=<target>`, if there is one.
fn value(samples: &[MetricSample], name: &str, target: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.iter().any(|(k, v)| k == "target" && v == target))
        .map(|s| s.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_reports_up_status_latency_and_is_confined_to_allowed_hosts() {
    init_tracing();
    let server = Server::start(&[("/ok", 200), ("/down", 503)]).await;
    let forbidden = Server::start(&[("/ok", 200)]).await;
    let sb = Sandbox::new();
    // Only the first server: the bundle's default ("http://127.0.0.1:*") would allow both.
    sb.install("http-check", "http-check", |m| set(m, "capabilities.allowed_outbound_hosts", vec![server.origin()]));
    let host = sb.start().await;
    assert_eq!(host.status("http-check").unwrap().status, LoadState::Loaded);
    host.set_config(
        "http-check",
        json!({"targets": [
            {"name": "api", "url": server.url("/ok")},
            {"name": "broken", "url": server.url("/down")},
            {"name": "elsewhere", "url": forbidden.url("/ok")},
        ], "timeout_ms": 5000}),
    )
    .await
    .unwrap();
    let s = host.collect("http-check", ctx()).await.unwrap();

    // A 200: up, with its status and a latency in ms.
    assert_eq!(value(&s, "http.up", "api"), Some(1.0), "{s:?}");
    assert_eq!(value(&s, "http.status", "api"), Some(200.0), "{s:?}");
    let latency = s.iter().find(|x| x.name == "http.latency_ms" && x.labels.contains(&("target".into(), "api".into())));
    let latency = latency.expect("latency sample");
    assert!(latency.value >= 0.0 && latency.value < 5000.0, "{latency:?}");
    assert_eq!(latency.unit.as_deref(), Some("ms"));
    // A 503: a response, but down.
    assert_eq!(value(&s, "http.up", "broken"), Some(0.0), "{s:?}");
    assert_eq!(value(&s, "http.status", "broken"), Some(503.0), "{s:?}");
    assert!(value(&s, "http.latency_ms", "broken").is_some());
    // Not allow-listed: no response (so no status), down, and never reached.
    assert_eq!(value(&s, "http.up", "elsewhere"), Some(0.0), "{s:?}");
    assert_eq!(value(&s, "http.status", "elsewhere"), None, "{s:?}");
    assert!(value(&s, "http.latency_ms", "elsewhere").is_some());
    assert_eq!(s.len(), 3 + 3 + 2, "{s:?}");

    let paths: Vec<(String, String)> = server.requests().into_iter().map(|r| (r.method, r.path)).collect();
    assert_eq!(paths, [("GET".to_string(), "/ok".to_string()), ("GET".to_string(), "/down".to_string())]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(forbidden.connections.load(Ordering::SeqCst), 0, "the forbidden server never saw a connection");
    assert!(forbidden.requests().is_empty());
}

fn notification(key: &str) -> Notification {
    let hot = |id: &str, severity| Alert { summary: "CPU \"hot\"".into(), ..alert(id, severity, AlertState::Firing) };
    Notification {
        idempotency_key: key.into(),
        channel: "ops".into(),
        attempt: 2,
        alerts: vec![hot("alert-1", Severity::Critical), hot("alert-2", Severity::Warning)],
    }
}

fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_posts_signed_json_with_the_idempotency_key() {
    init_tracing();
    let server = Server::start(&[("/hook", 200)]).await;
    let sb = Sandbox::new();
    sb.install("webhook", "webhook", |m| set(m, "capabilities.allowed_outbound_hosts", vec![server.origin()]));
    let host = sb.start().await;
    host.set_config(
        "webhook",
        json!({"url": server.url("/hook"), "secret": "s3cret", "headers": {"X-Team": "ops"}, "timeout_ms": 5000}),
    )
    .await
    .unwrap();
    let receipt = host.deliver("webhook", notification("notif-42")).await.unwrap();
    assert_eq!(receipt.detail, "HTTP 200");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let req = &requests[0];
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hook"));
    let body: serde_json::Value = serde_json::from_slice(&req.body).expect("JSON body");
    let ids: Vec<&str> = body["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["alert-1", "alert-2"], "{body}");
    assert_eq!(body["alerts"][0]["severity"], "critical");
    assert_eq!(body["alerts"][0]["summary"], "CPU \"hot\"");
    assert_eq!((body["idempotency_key"].as_str(), body["channel"].as_str()), (Some("notif-42"), Some("ops")));
    assert_eq!(body["attempt"], 2);
    assert_eq!(req.headers.get("idempotency-key").map(String::as_str), Some("notif-42"));
    assert_eq!(req.headers.get("x-team").map(String::as_str), Some("ops"));
    let expected = format!("sha256={}", hmac_sha256_hex(b"s3cret", &req.body));
    assert_eq!(req.headers.get("x-vigia-signature"), Some(&expected), "signature over the exact body bytes");
    assert_ne!(expected, format!("sha256={}", hmac_sha256_hex(b"other", &req.body)));

    // Without a secret, nothing is signed.
    host.set_config("webhook", json!({"url": server.url("/hook")})).await.unwrap();
    host.deliver("webhook", notification("notif-43")).await.unwrap();
    let unsigned = server.requests().pop().unwrap();
    assert_eq!(unsigned.headers.get("idempotency-key").map(String::as_str), Some("notif-43"));
    assert!(!unsigned.headers.contains_key("x-vigia-signature"), "{:?}", unsigned.headers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_maps_server_errors_to_retryable_and_client_errors_to_permanent() {
    init_tracing();
    let server = Server::start(&[("/fail", 500), ("/reject", 400)]).await;
    let sb = Sandbox::new();
    sb.install("webhook", "webhook", |m| set(m, "capabilities.allowed_outbound_hosts", vec![server.origin()]));
    let host = sb.start().await;

    host.set_config("webhook", json!({"url": server.url("/fail")})).await.unwrap();
    match host.deliver("webhook", notification("n-500")).await.unwrap_err() {
        InvokeError::Plugin { kind, message } => {
            assert_eq!(kind, ErrorKind::Retryable, "{message}");
            assert!(message.contains("500"), "{message}");
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }

    host.set_config("webhook", json!({"url": server.url("/reject")})).await.unwrap();
    let err = host.deliver("webhook", notification("n-400")).await.unwrap_err();
    assert!(!err.is_retryable());
    match err {
        InvokeError::Plugin { kind, message } => {
            assert_eq!(kind, ErrorKind::Permanent, "{message}");
            assert!(message.contains("400"), "{message}");
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/fail", "/reject"], "one attempt each: retrying is the scheduler's job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_renders_one_row_per_point() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("csv", "csv", |_| {});
    let host = sb.start().await;
    let request = ReportRequest {
        title: "Weekly DB report (prod)".into(),
        from_ms: 0,
        to_ms: 1_700_000_000_123,
        parameters: "{}".into(),
        series: vec![
            Series {
                resource: "db1".into(),
                metric: "cpu".into(),
                unit: Some("percent".into()),
                points: vec![(0, 1.5), (60_000, 2.0)],
            },
            Series {
                resource: "web,2".into(),
                metric: "http.latency_ms".into(),
                unit: None,
                points: vec![(1_700_000_000_123, 12.25)],
            },
        ],
    };
    let r = host.render("csv", request).await.unwrap();
    assert_eq!(r.content_type, "text/csv");
    assert_eq!(r.filename, "weekly-db-report-prod.csv");
    let text = String::from_utf8(r.bytes).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        lines,
        [
            "resource,metric,unit,timestamp,value",
            "db1,cpu,percent,1970-01-01T00:00:00.000Z,1.5",
            "db1,cpu,percent,1970-01-01T00:01:00.000Z,2",
            "\"web,2\",http.latency_ms,,2023-11-14T22:13:20.123Z,12.25",
        ],
        "{text:?}"
    );
    assert!(text.ends_with("\r\n"));
}

fn assert_wrong_kind(result: Result<impl std::fmt::Debug, InvokeError>, id: &str, actual: &str, wanted: &str) {
    match result {
        Err(InvokeError::WrongKind { id: got, actual: a, wanted: w }) => {
            assert_eq!((got.as_str(), a, w), (id, actual, wanted))
        }
        other => panic!("{id}: expected WrongKind, got {other:?}"),
    }
}

fn empty_report() -> ReportRequest {
    ReportRequest { title: "t".into(), from_ms: 0, to_ms: 1, parameters: "{}".into(), series: vec![] }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_refuses_the_other_calls() {
    init_tracing();
    let sb = Sandbox::new();
    for id in ["http-check", "webhook", "csv", "redis"] {
        sb.install(id, id, |_| {});
    }
    let host: Arc<PluginHost> = sb.start().await;
    for id in ["http-check", "webhook", "csv", "redis"] {
        assert_eq!(host.status(id).unwrap().status, LoadState::Loaded, "{id}");
    }
    for collector in ["http-check", "redis"] {
        assert_wrong_kind(host.deliver(collector, notification("k")).await, collector, "collector", "notifier");
        assert_wrong_kind(host.render(collector, empty_report()).await, collector, "collector", "reporter");
    }
    assert_wrong_kind(host.collect("webhook", ctx()).await, "webhook", "notifier", "collector");
    assert_wrong_kind(host.render("webhook", empty_report()).await, "webhook", "notifier", "reporter");
    assert_wrong_kind(host.collect("csv", ctx()).await, "csv", "reporter", "collector");
    assert_wrong_kind(host.deliver("csv", notification("k")).await, "csv", "reporter", "notifier");
    // Refused before the guest runs: no call was counted.
    for id in ["http-check", "webhook", "csv", "redis"] {
        assert_eq!(host.status(id).unwrap().calls, 0, "{id}");
    }
    // The right call still works.
    assert!(host.render("csv", empty_report()).await.is_ok());
}
