//! End-to-end: the real `vigia` binary delivers an alert through the real `webhook` notifier,
//! and a notification in flight when the process is killed (`kill -9`) is delivered after the
//! restart with the same idempotency key: nothing lost, the only duplicate is the one in flight.

use crate::alerting_support;
use crate::e2e_support;

use std::time::{Duration, Instant};

use alerting_support::Receiver;
use e2e_support::{place_webhook, Server};
use serde_json::{json, Value};

/// Faster retries; the operator lets plugins reach the loopback receiver.
const ALERTING: &str = "[alerting]\nretry_schedule_seconds = [0, 0, 0]\ndelivery_poll_ms = 50\n\n[plugins.policy]\nprivate_networks = [\"127.0.0.0/8\"]\n";

async fn stats(http: &reqwest::Client, server: &Server, token: &str) -> Value {
    let url = format!("{}/api/v1/notifications/queue/stats", server.base);
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

/// Polls the queue stats until `pred` holds (15 s at most).
async fn wait_stats(http: &reqwest::Client, server: &Server, token: &str, pred: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let s = stats(http, server, token).await;
        if pred(&s) {
            return;
        }
        assert!(Instant::now() < deadline, "queue never reached the expected state: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_notification_survives_kill_9_and_is_delivered_after_restart() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    place_webhook(dir.path(), &rx.origin());
    let http = reqwest::Client::new();

    let server = Server::start(dir.path(), ALERTING);
    let token = server.admin_token().await;
    let channel = json!({"name": "ops", "plugin": "webhook", "config": {"url": rx.url("/hook")}});
    let r = http.post(format!("{}/api/v1/notifications/channels", server.base)).bearer_auth(&token).json(&channel);
    assert_eq!(r.send().await.unwrap().status(), 201);

    // First alert: delivered by the running worker.
    let raise = |key: &str| json!({"dedup_key": key, "severity": "critical", "summary": key, "resource": "nas"});
    let r = http.post(format!("{}/api/v1/alerts", server.base)).bearer_auth(&token).json(&raise("first"));
    assert_eq!(r.send().await.unwrap().status(), 201);
    rx.wait_for(1).await;
    wait_stats(&http, &server, &token, |s| s["delivered"] == 1).await;

    // Second alert: the receiver hangs, so the delivery is in flight when the host is killed.
    rx.script(&[0]);
    let r = http.post(format!("{}/api/v1/alerts", server.base)).bearer_auth(&token).json(&raise("second"));
    assert_eq!(r.send().await.unwrap().status(), 201);
    rx.wait_for(2).await;
    wait_stats(&http, &server, &token, |s| s["sending"] == 1).await;
    drop(server); // SIGKILL

    let server = Server::start(dir.path(), ALERTING);
    let token = server.admin_token().await;
    wait_stats(&http, &server, &token, |s| s["delivered"] == 2 && s["sending"] == 0 && s["pending"] == 0).await;
    let seen = rx.requests();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1].idempotency_key, seen[2].idempotency_key, "the in-flight delivery, sent again");
    assert_ne!(seen[0].idempotency_key, seen[1].idempotency_key);
    assert_eq!(rx.accepted().len(), 2, "0 lost");
    assert_eq!(seen[2].body["alerts"][0]["summary"], "second");
}
