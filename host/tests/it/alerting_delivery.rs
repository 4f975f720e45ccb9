//! Notification delivery through the REAL `webhook` notifier bundle to a loopback receiver, on
//! both backends: channels (config validated by the plugin's schema, secrets masked), retry of a
//! 5xx with the same idempotency key, permanent 4xx to the dead-letter queue and back, crash
//! reset of in-flight rows, routing filters, maintenance pauses, hot reload of the notifier,
//! grouping windows (`grouping`); and
//! an ignored benchmark:
//!
//! ```text
//! cargo test -p vigia --release --test it alerting_delivery:: -- --ignored --nocapture
//! ```

use crate::alerting_support;
use crate::plugins_support;
use crate::support;

use std::time::Duration;

use alerting_support::{Env, Receiver};
use axum::http::{Method, StatusCode};
use plugins_support::{bundle, init_tracing, set, wait_for, with_custom_section, Sandbox};
use serde_json::{json, Value};
use support::{Backend, TestApp, SECRET_KEY};
use vigia::alerting::Delivery;
use vigia::secrets::SecretBox;

/// A `TestApp` whose plugin runtime runs the real `webhook` bundle (allowed to reach `rx`), a
/// loopback receiver and a delivery worker driven pass by pass (also used by `status::events`).
pub(crate) struct Setup {
    pub(crate) e: Env,
    pub(crate) rx: Receiver,
    pub(crate) delivery: Delivery,
    host: std::sync::Arc<vigia::plugins::PluginHost>,
    sandbox: Sandbox,
}

impl Setup {
    pub(crate) async fn new(backend: Backend) -> Setup {
        init_tracing();
        let rx = Receiver::start().await;
        let sandbox = Sandbox::new();
        sandbox.install("webhook", "webhook", |m| set(m, "capabilities.allowed_outbound_hosts", vec![rx.origin()]));
        let host = sandbox.start().await;
        let mut app = TestApp::start(backend).await;
        let secrets = SecretBox::from_key(&SECRET_KEY);
        app.ctx = vigia::server::context(app.store.clone(), &TestApp::config(), Some(host.clone()), secrets.clone());
        app.router = vigia::api::app(app.ctx.clone());
        let e = Env::new(app, &[("main", "env=prod"), ("other", "env=dev")]).await;
        // A short test schedule: three attempts, no waiting between them.
        let delivery = Delivery::new(e.app.store.clone(), host.clone(), secrets, vec![Duration::ZERO; 3]);
        Setup { e, rx, delivery, host, sandbox }
    }

    pub(crate) async fn channel(&self, body: Value) -> i64 {
        let r = self.e.call(Method::POST, "/api/v1/notifications/channels", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_i64().unwrap()
    }

    async fn stats(&self) -> Value {
        let r = self.e.call(Method::GET, "/api/v1/notifications/queue/stats", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
    }

    pub(crate) async fn history(&self) -> Vec<Value> {
        let r = self.e.call(Method::GET, "/api/v1/notifications/history", None).await;
        r.json.as_array().unwrap().clone()
    }

    pub(crate) async fn run(&self) -> vigia::alerting::delivery::DeliveryReport {
        self.delivery.run_once(vigia::store::now_ms()).await.unwrap()
    }
}

async fn channels_validate_config_and_mask_secrets(backend: Backend) {
    let s = Setup::new(backend).await;
    let id = s
        .channel(
            json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook"), "secret": "s3cret-value"},
            "severities": ["critical"], "tags": "env=prod"}),
        )
        .await;
    let r = s.e.call(Method::GET, &format!("/api/v1/notifications/channels/{id}"), None).await;
    assert_eq!(r.json["config"]["secret"], "********", "{}", r.text);
    assert_eq!(r.json["config"]["url"], s.rx.url("/hook"));
    assert!(!r.text.contains("s3cret-value"));
    assert_eq!(r.json["severities"], json!(["critical"]));
    let stored = s.e.app.store.channel(None, id).await.unwrap();
    assert!(!stored.config_sealed.contains("s3cret-value"), "sealed at rest");

    for (body, needle) in [
        (json!({"name": "x", "plugin": "webhook", "config": {"url": 5}}), "schema"),
        (json!({"name": "x", "plugin": "webhook", "config": {"secret": 987654321}}), "details hidden"),
        (json!({"name": "x", "plugin": "nope", "config": {}}), "not installed"),
        (json!({"name": "x", "plugin": "webhook", "severities": ["loud"]}), "severity"),
        (json!({"name": "x", "plugin": "webhook", "tags": "env"}), "tags"),
    ] {
        let r = s.e.call(Method::POST, "/api/v1/notifications/channels", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.error().contains(needle), "{body}: {}", r.text);
        assert!(!r.text.contains("987654321"), "a secret is never echoed: {}", r.text);
    }
    // Replacing without `config` keeps the stored one (secret included).
    let put =
        s.e.call(
            Method::PUT,
            &format!("/api/v1/notifications/channels/{id}"),
            Some(json!({"name": "ops2", "plugin": "webhook"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!((put.json["name"].as_str(), put.json["config"]["secret"].as_str()), (Some("ops2"), Some("********")));
    let test = s.e.call(Method::POST, &format!("/api/v1/notifications/channels/{id}/test"), None).await;
    assert_eq!((test.status, test.json["detail"].as_str()), (StatusCode::OK, Some("HTTP 200")), "{}", test.text);
    assert_eq!(s.rx.requests().len(), 1);
    assert_eq!(
        s.e.call(Method::DELETE, &format!("/api/v1/notifications/channels/{id}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(s.e.call(Method::GET, "/api/v1/notifications/channels", None).await.json.as_array().unwrap().is_empty());
}

async fn server_error_is_retried_and_delivered_once_by_key(backend: Backend) {
    let s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    // Critical only: a warning alert must not reach it.
    s.channel(json!({"name": "pager", "plugin": "webhook", "config": {"url": s.rx.url("/pager")}, "severities": ["critical"]}))
        .await;
    s.rx.script(&[500, 200]);
    let r = s.e.raise("backup", "warning", "main", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(s.stats().await["pending"], 1, "one transition, one routed channel");

    let first = s.run().await;
    assert_eq!((first.delivered, first.retried, first.dead), (0, 1, 0));
    let second = s.run().await;
    assert_eq!((second.delivered, second.retried, second.dead), (1, 0, 0));
    assert_eq!(s.run().await.delivered, 0, "nothing left");

    let seen = s.rx.requests();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    assert!(seen.iter().all(|r| r.path == "/hook"), "{seen:?}");
    assert_eq!(seen[0].idempotency_key, seen[1].idempotency_key, "same key on retry");
    assert_eq!(s.rx.accepted().len(), 1, "delivered exactly once by idempotency key");
    assert_eq!(seen[1].body["alerts"][0]["summary"], "backup failed");
    assert_eq!(seen[1].body["attempt"], 2);

    let history = s.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!((history[0]["state"].as_str(), history[0]["attempts"].as_i64()), (Some("delivered"), Some(2)));
    assert_eq!(history[0]["idempotency_key"].as_str(), seen[0].idempotency_key.as_deref());
    let ready = s.e.app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(ready.json["checks"]["outbox"]["status"], "ok", "{}", ready.text);

    // A critical change reaches both channels.
    s.e.raise("backup", "critical", "main", json!({})).await;
    assert_eq!(s.stats().await["pending"], 2);
    assert_eq!(s.run().await.delivered, 2);
    assert_eq!(s.rx.accepted().len(), 3);
}

async fn permanent_failure_goes_to_dlq_and_retry_from_the_api_delivers(backend: Backend) {
    let s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    s.rx.script(&[400]);
    s.e.raise("disk", "critical", "main", json!({})).await;
    let r = s.run().await;
    assert_eq!((r.delivered, r.retried, r.dead), (0, 0, 1), "a 4xx is permanent: no retry");
    assert_eq!(s.run().await.dead, 0);
    let dlq = s.e.call(Method::GET, "/api/v1/notifications/dlq", None).await;
    let dead = dlq.json.as_array().unwrap();
    assert_eq!(dead.len(), 1, "{}", dlq.text);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("400"), "{}", dlq.text);
    assert_eq!(s.stats().await["dead"], 1);

    let retry = s.e.call(Method::POST, "/api/v1/notifications/dlq/retry", Some(json!({"ids": [dead[0]["id"]]}))).await;
    assert_eq!((retry.status, retry.json["count"].as_u64()), (StatusCode::OK, Some(1)), "{}", retry.text);
    assert_eq!(s.run().await.delivered, 1);
    assert_eq!(s.rx.accepted().len(), 1);
    assert!(s.e.call(Method::GET, "/api/v1/notifications/dlq", None).await.json.as_array().unwrap().is_empty());

    // Retryable failures run out of attempts (three in the test schedule), then dead-letter; delete empties it.
    s.rx.script(&[503, 503, 503]);
    s.e.raise("disk2", "critical", "main", json!({})).await;
    for expected in [(0, 1, 0), (0, 1, 0), (0, 0, 1)] {
        let r = s.run().await;
        assert_eq!((r.delivered, r.retried, r.dead), expected);
    }
    let deleted = s.e.call(Method::POST, "/api/v1/notifications/dlq/delete", None).await;
    assert_eq!(deleted.json["count"], 1, "{}", deleted.text);
    assert_eq!(s.stats().await["dead"], 0);
}

async fn rows_left_sending_by_a_crash_are_delivered_after_restart(backend: Backend) {
    let s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    s.e.raise("a", "critical", "main", json!({})).await;
    s.e.raise("b", "critical", "main", json!({})).await;
    // A worker claims the rows, then the process dies before delivering them.
    let claimed = s.e.app.store.claim_due(vigia::store::now_ms(), 10, None).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(s.run().await.delivered, 0, "claimed rows are not claimed twice");
    assert_eq!(s.stats().await["sending"], 2);
    // The restart queues them again and the worker delivers them.
    s.delivery.clone().start(Duration::from_millis(20)).await.unwrap();
    s.rx.wait_for(2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.stats().await["delivered"] != 2 {
        assert!(std::time::Instant::now() < deadline, "{}", s.stats().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.rx.accepted().len(), 2);
}

/// Cluster members claim rows under their id: a member starting again queues only its own
/// in-flight rows, and the leader's sweep queues those of members no longer alive.
async fn in_flight_rows_are_queued_again_only_for_their_own_claimer_or_a_dead_one(backend: Backend) {
    let s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    let store = &s.e.app.store;
    s.e.raise("a", "critical", "main", json!({})).await;
    assert_eq!(store.claim_due(vigia::store::now_ms(), 10, Some("host-a")).await.unwrap().len(), 1);
    s.e.raise("b", "critical", "main", json!({})).await;
    assert_eq!(store.claim_due(vigia::store::now_ms(), 10, Some("host-b")).await.unwrap().len(), 1);
    assert_eq!(store.reset_sending(Some("host-c")).await.unwrap(), 0, "c restarting leaves a's and b's rows");
    assert_eq!(store.reset_sending(Some("host-a")).await.unwrap(), 1, "a restarting queues its own again");
    assert_eq!(s.stats().await["sending"], 1);
    let live = ["host-a".to_string(), "host-b".to_string()];
    assert_eq!(store.requeue_orphans(&live).await.unwrap(), (0, 0), "b is alive: its row stays in flight");
    assert_eq!(store.requeue_orphans(&live[..1]).await.unwrap(), (1, 0), "b died: its row is queued again");
    assert_eq!(s.stats().await["sending"], 0);
    assert_eq!(s.stats().await["pending"], 2);
}

/// A member claiming while another member's claim holds some due rows locked takes other rows
/// at once (PostgreSQL `FOR UPDATE SKIP LOCKED`), a full batch, instead of waiting for those
/// rows and coming back short once the other claim commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_skips_rows_another_member_is_claiming() {
    use sqlx::{Connection, Row};
    let s = Setup::new(Backend::Postgres).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    for i in 0..20 {
        s.e.raise(&format!("alert-{i}"), "critical", "main", json!({})).await;
    }
    let mut other = sqlx::PgConnection::connect(&s.e.app.db_url).await.unwrap();
    let mut claiming = other.begin().await.unwrap();
    let lock = "SELECT id FROM notification_outbox WHERE state = 'pending' ORDER BY id LIMIT 10 FOR UPDATE";
    let locked: Vec<i64> =
        sqlx::query(lock).fetch_all(&mut *claiming).await.unwrap().iter().map(|r| r.get(0)).collect();
    let claim = s.e.app.store.claim_due(vigia::store::now_ms(), 10, Some("host-b"));
    let claimed = tokio::time::timeout(Duration::from_secs(5), claim)
        .await
        .expect("the claim waited for rows another member is claiming")
        .unwrap();
    assert_eq!(claimed.len(), 10, "a short batch while 10 other rows were due");
    assert!(claimed.iter().all(|r| !locked.contains(&r.id)), "claimed a row another member holds");
    claiming.rollback().await.unwrap();
}

async fn pause_suppresses_notifications_and_resume_notifies_once(backend: Backend) {
    let mut s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    s.e.rule(json!({"template": "connections", "occurrences": 1})).await;
    let until = (chrono::Utc::now() + chrono::Duration::hours(2)).format("%Y-%m-%d %H:%M").to_string();
    let r = s.e.call(Method::PATCH, "/api/v1/instances/db1@main/alerting/pause", Some(json!({"until": until}))).await;
    assert_eq!((r.status, r.json["instance"].as_str()), (StatusCode::OK, Some("db1@main")), "{}", r.text);
    assert!(r.json["until"].is_string());
    let past =
        s.e.call(Method::PATCH, "/api/v1/instances/main/alerting/pause", Some(json!({"until": "2001-01-01 00:00"})))
            .await;
    assert_eq!(past.status, StatusCode::BAD_REQUEST);
    let missing = s.e.call(Method::PATCH, "/api/v1/instances/nope/alerting/pause", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Paused: evaluated and visible, but nothing queued or sent (not even the severity change).
    s.e.eval_with(&[("main", "pg.connections_pct", 85.0), ("other", "pg.connections_pct", 85.0)]).await;
    s.e.eval_with(&[("main", "pg.connections_pct", 95.0), ("other", "pg.connections_pct", 85.0)]).await;
    assert_eq!(s.e.active().await.len(), 2);
    let status = s.e.call(Method::GET, "/api/v1/alerts/status", None).await;
    assert_eq!(status.json["paused"], json!(["main"]), "{}", status.text);
    assert_eq!(s.run().await.delivered, 1, "only the unpaused instance's alert");
    let seen = s.rx.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["alerts"][0]["resource"], "other");

    let r = s.e.call(Method::PATCH, "/api/v1/instances/main/alerting/resume", None).await;
    assert_eq!((r.status, r.json["paused"].as_bool()), (StatusCode::OK, Some(false)), "{}", r.text);
    assert_eq!(s.run().await.delivered, 1, "the still-firing alert, once");
    let seen = s.rx.requests();
    assert_eq!(seen.len(), 2);
    let alert = &seen[1].body["alerts"][0];
    assert_eq!((alert["resource"].as_str(), alert["severity"].as_str()), (Some("main"), Some("critical")));
    assert_eq!(alert["labels"]["event"], "resumed", "{alert}");
    // Resuming again sends nothing more.
    s.e.call(Method::PATCH, "/api/v1/instances/main/alerting/resume", None).await;
    assert_eq!(s.run().await.delivered, 0);

    // A pause that expires ends at the next evaluation and notifies then.
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    s.e.call(Method::PATCH, "/api/v1/instances/main/alerting/pause", Some(json!({"until": soon}))).await;
    s.e.now = vigia::store::now_ms() + 120_000;
    s.e.eval_with(&[("main", "pg.connections_pct", 95.0)]).await;
    // Queued at the evaluation's (future) time: deliver as of then.
    assert_eq!(s.delivery.run_once(s.e.now).await.unwrap().delivered, 1);
    assert_eq!(s.rx.requests().len(), 3);
}

async fn hot_reload_of_the_notifier_during_deliveries_loses_nothing(backend: Backend) {
    const N: usize = 1000;
    let s = Setup::new(backend).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    for i in 0..N {
        let r = s.e.raise(&format!("check-{i}"), "critical", "nas", json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    assert_eq!(s.stats().await["pending"], N);
    // A third goes through the first version.
    while s.rx.accepted().len() < N / 3 {
        s.run().await;
    }
    // A batch is in flight (slow receiver) while the new version replaces the old one.
    s.rx.set_delay(Duration::from_millis(300));
    let delivery = s.delivery.clone();
    let in_flight = tokio::spawn(async move { delivery.run_once(vigia::store::now_ms()).await.unwrap() });
    let (mut manifest, wasm) = bundle("webhook");
    set(&mut manifest, "capabilities.allowed_outbound_hosts", vec![s.rx.origin()]);
    let new_wasm = with_custom_section(&wasm, "v2");
    let new_sha = plugins_support::sha256_hex(&new_wasm);
    s.sandbox.write("webhook", &manifest, &new_wasm);
    wait_for(&s.host, "webhook", "the new version", |st| {
        st.is_some_and(|st| st.wasm_sha256.as_deref() == Some(&new_sha))
    })
    .await;
    let batch = in_flight.await.unwrap();
    assert_eq!((batch.delivered, batch.dead), (32, 0), "the batch taken before the swap finished");
    // The rest through the new version.
    s.rx.set_delay(Duration::ZERO);
    loop {
        let r = s.run().await;
        assert_eq!(r.dead, 0);
        if r.delivered + r.retried == 0 {
            break;
        }
    }
    let stats = s.stats().await;
    assert_eq!((stats["delivered"].as_u64(), stats["dead"].as_u64()), (Some(N as u64), Some(0)), "{stats}");
    assert_eq!(s.rx.accepted().len(), N, "every alert arrived");
}

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// Alert transition → webhook received latency (worker running, no grouping), then sustained
/// deliveries/s draining a full outbox through the Wasm webhook notifier (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn delivery_benchmark() {
    let n: usize = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let latency_n = (n / 10).max(10);
    let s = Setup::new(Backend::Sqlite).await;
    s.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": s.rx.url("/hook")}})).await;
    s.delivery.clone().start(Duration::from_millis(200)).await.unwrap();
    let mut latencies = Vec::with_capacity(latency_n);
    for i in 0..latency_n {
        let started = std::time::Instant::now();
        let r = s.e.raise(&format!("latency-{i}"), "critical", "nas", json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED);
        let seen = s.rx.wait_for(i + 1).await;
        latencies.push((seen[i].at - started).as_secs_f64() * 1e3);
    }
    println!(
        "\n== alert transition -> webhook received ({latency_n} alerts, one at a time): p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut latencies, 0.5),
        pct(&mut latencies, 0.99)
    );

    let t = Setup::new(Backend::Sqlite).await;
    t.channel(json!({"name": "ops", "plugin": "webhook", "config": {"url": t.rx.url("/hook")}})).await;
    for i in 0..n {
        t.e.raise(&format!("bulk-{i}"), "critical", "nas", json!({})).await;
    }
    let started = std::time::Instant::now();
    let mut delivered = 0;
    while delivered < n {
        delivered += t.run().await.delivered;
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(t.rx.accepted().len(), n);
    println!("== sustained delivery: {n} notifications in {secs:.2} s = {:.0} deliveries/s\n", n as f64 / secs);
}

mt_backend_tests!(
    hot_reload_of_the_notifier_during_deliveries_loses_nothing,
    channels_validate_config_and_mask_secrets,
    server_error_is_retried_and_delivered_once_by_key,
    permanent_failure_goes_to_dlq_and_retry_from_the_api_delivers,
    rows_left_sending_by_a_crash_are_delivered_after_restart,
    in_flight_rows_are_queued_again_only_for_their_own_claimer_or_a_dead_one,
    pause_suppresses_notifications_and_resume_notifies_once,
);

#[path = "alerting_delivery/grouping.rs"]
mod grouping;
