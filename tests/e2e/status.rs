//! End-to-end test of the status side (issue 9) with the real `vigia` binary and a private
//! PostgreSQL cluster: a service made of a registered instance turns `major_outage` when the
//! server stops and `operational` again when it restarts; its uptime is what the recorded
//! transitions give by hand; a maintenance window with `suppress_alerts` starts and completes by
//! itself, shows the service `under_maintenance`, and keeps the webhook receiver silent while an
//! alert on the instance fires during it, the alert being notified once after its end.

use crate::alerting_support;
use crate::e2e_support;

use std::path::Path;
use std::time::{Duration, Instant};

use alerting_support::Receiver;
use chrono::{DateTime, Utc};
use e2e_support::{place_webhook, Client, Server, PATIENCE};
use serde_json::{json, Value};
use vigia_testkit::PgCluster;

/// The monitored instance's connection name.
const INSTANCE: &str = "orders-db";

/// Short cycles so the test runs in about a minute: `pg.up` (what the `instance-unreachable`
/// rule reads) every second from the activity cycle, rules evaluated every second, deliveries
/// polled every 50 ms; the other sampler cycles are out of the way. The status pass runs every
/// 5 s (not configurable). The operator lets plugins reach the loopback receiver.
const CONFIG: &str = "[sampler]\nactivity_interval_seconds = 1\nstatements_interval_seconds = 600\n\
     inventory_interval_seconds = 600\ntables_interval_seconds = 600\n\n\
     [alerting]\nevaluation_interval_seconds = 1\nretry_schedule_seconds = [0, 0, 0]\ndelivery_poll_ms = 50\n\n\
     [plugins.policy]\nprivate_networks = [\"127.0.0.0/8\"]\n";

/// Queries only this test makes.
impl Client {
    /// Waits until the outbox has nothing pending or in flight; returns the queue stats.
    async fn drained(&self) -> Value {
        self.poll("/api/v1/notifications/queue/stats", "outbox drained", |s| s["pending"] == 0 && s["sending"] == 0)
            .await
    }

    /// Open alerts on the instance in state `state`.
    async fn alerts_in(&self, state: &str) -> Vec<Value> {
        let active = self.get("/api/v1/alerts/active").await;
        active
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["resource"] == INSTANCE && a["state"] == state)
            .cloned()
            .collect()
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Milliseconds of an RFC 3339 time the API answered.
fn ms(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("a time: {v}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}")).timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The service's recorded transitions (time, status), read from the server's SQLite store: the
/// API does not list them, and the uptime must be checked against exactly these.
async fn transitions(dir: &Path, service: i64) -> Vec<(i64, String)> {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};
    let mut conn =
        SqliteConnectOptions::new().filename(dir.join("data/vigia.db")).read_only(true).connect().await.unwrap();
    let sql = "SELECT at, status FROM service_status_transitions WHERE service_id = $1 ORDER BY at, id";
    let rows = sqlx::query_as::<_, (i64, String)>(sql).bind(service).fetch_all(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    rows
}

/// The uptime percentage of a service created at `t0` and down over `[t1, t2)`, asked at `now`
/// (every period reaches back before `t0`, so the time known is `now - t0`).
fn uptime_at(t0: i64, t1: i64, t2: i64, now: i64) -> f64 {
    let known = (now - t0) as f64;
    100.0 * (known - (t2 - t1) as f64) / known
}

/// The webhook deliveries of the instance's alerts (body `alerts[0]`) from index `from` on.
fn delivered_alerts(rx: &Receiver, from: usize) -> Vec<Value> {
    rx.requests().into_iter().skip(from).map(|r| r.body["alerts"][0].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_status_uptime_and_a_suppressing_maintenance_window_follow_a_real_outage() {
    let started = Instant::now();
    let rx = Receiver::start().await;
    let cluster = PgCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    place_webhook(dir.path(), &rx.origin());
    let server = Server::start(dir.path(), CONFIG);
    let log = || std::fs::read_to_string(dir.path().join("vigia.log")).unwrap_or_default();
    let c = Client::new(&server).await;

    // The instance (ASH every second, so a lost connection is seen within a second), a channel
    // to the receiver, a rule firing when the sampler cannot connect, and the service.
    let body = json!({"host": "127.0.0.1", "port": cluster.port(), "user": "postgres", "password": "x"});
    let instance = c.call(reqwest::Method::POST, &format!("/api/v1/instances/{INSTANCE}"), Some(body), 201).await;
    assert_eq!(instance["connected"], true, "{instance}");
    c.call(reqwest::Method::PATCH, &format!("/api/v1/instances/{INSTANCE}/collection-rate/high"), None, 200).await;
    c.post(
        "/api/v1/notifications/channels",
        json!({"name": "ops", "plugin": "webhook", "config": {"url": rx.url("/hook")}}),
    )
    .await;
    c.post("/api/v1/alerts/rules", json!({"template": "instance-unreachable", "instance": INSTANCE, "occurrences": 1}))
        .await;
    let service = c
        .post(
            "/api/v1/services",
            json!({"slug": "orders", "name": "Orders", "components": [{"kind": "instance", "target": INSTANCE}]}),
        )
        .await;
    let id = service["id"].as_i64().unwrap();
    let t0 = ms(&service["created_at"]);
    let path = format!("/api/v1/services/{id}");
    assert_eq!(service["current_status"], "operational", "{service}");

    // The sampler watches the instance: `pg.up` is 1.
    c.poll(&format!("/api/v1/metrics/history?resource={INSTANCE}&metric=pg.up&range=1h"), "pg.up sampled", |h| {
        h["series"][0]["points"].as_array().and_then(|p| p.last()).is_some_and(|p| p[1] == 1.0)
    })
    .await;
    c.poll(&path, "operational", |s| s["current_status"] == "operational").await;

    // 1. The server stops: the service is in a major outage (its one component is down), and the
    //    alert, not suppressed, reaches the receiver.
    let stop_at = now_ms();
    cluster.stop().unwrap();
    c.poll(&path, "major_outage after the stop", |s| s["current_status"] == "major_outage").await;
    let seen_down = now_ms();
    let firing = rx.wait_for(1).await;
    assert_eq!(firing[0].body["alerts"][0]["resource"], INSTANCE, "{:?}", firing[0].body);
    assert_eq!(firing[0].body["alerts"][0]["state"], "firing", "{:?}", firing[0].body);

    // 2. It restarts: operational again once connected and the alert resolved.
    let restart_at = now_ms();
    cluster.restart_server().unwrap();
    c.poll(&path, "operational after the restart", |s| s["current_status"] == "operational").await;
    let seen_up = now_ms();
    let resolved = rx.wait_for(2).await;
    assert_eq!(resolved[1].body["alerts"][0]["state"], "resolved", "{:?}", resolved[1].body);

    // 3. Uptime. The transitions are: operational at t0 (creation), major_outage at t1 and
    //    operational at t2, with stop_at <= t1 <= seen_down and restart_at <= t2 <= seen_up.
    //    Every period (24 h, 7 d, 30 d) reaches back before t0, so the time known is now - t0 and
    //    the time down t2 - t1: uptime(now) = 100 * (now - t0 - (t2 - t1)) / (now - t0), which grows
    //    with `now`, the server's clock while it answered, somewhere in [asked, answered]. The
    //    answer is rounded to 3 decimals, so it lies within 0.0005 of [uptime(asked), uptime(answered)].
    let recorded = transitions(dir.path(), id).await;
    let statuses: Vec<&str> = recorded.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(statuses, ["operational", "major_outage", "operational"], "{recorded:?}");
    let (t1, t2) = (recorded[1].0, recorded[2].0);
    assert_eq!(recorded[0].0, t0, "the first transition is the creation");
    assert!((stop_at..=seen_down).contains(&t1), "down at {t1}: stopped {stop_at}, seen {seen_down}");
    assert!((restart_at..=seen_up).contains(&t2), "up at {t2}: restarted {restart_at}, seen {seen_up}");
    let asked = now_ms();
    let uptime = c.get(&format!("{path}/uptime")).await;
    let answered = now_ms();
    assert_eq!(uptime["service_id"], id);
    let day = uptime["uptime_24h"].as_f64().unwrap_or_else(|| panic!("a 24 h uptime: {uptime}"));
    let (low, high) = (uptime_at(t0, t1, t2, asked) - 0.0005, uptime_at(t0, t1, t2, answered) + 0.0005);
    assert!((low..=high).contains(&day), "uptime {day}, by hand in [{low}, {high}] ({recorded:?})");
    // What the observations alone allow: the outage lasted at least from the down status seen to
    // the restart, at most from the stop to the up status seen.
    let (most, least) = (uptime_at(t0, seen_down, restart_at, answered), uptime_at(t0, stop_at, seen_up, asked));
    assert!(least - 0.0005 <= day && day <= most + 0.0005, "uptime {day} outside [{least}, {most}]");
    assert!(day < 100.0, "{uptime}");
    assert_eq!(uptime["uptime_7d"], uptime["uptime_24h"], "{uptime}");
    assert_eq!(uptime["uptime_30d"], uptime["uptime_24h"], "{uptime}");

    // 4. A window with `suppress_alerts`, a few seconds ahead. Every notification so far is
    //    delivered, so the receiver's count only moves for what happens from here.
    let stats = c.drained().await;
    let before = rx.requests().len();
    assert_eq!(stats["delivered"], before as i64, "{stats}");
    let start = now_ms() + 3_000;
    let end = start + 25_000;
    let body = json!({"title": "Failover drill", "scheduled_start": rfc3339(start), "scheduled_end": rfc3339(end),
        "service_ids": [id], "suppress_alerts": true});
    let window = c.post("/api/v1/maintenance", body).await;
    assert_eq!(window["status"], "scheduled", "{window}");
    let wpath = format!("/api/v1/maintenance/{}", window["id"]);

    // It starts by itself (the status pass, every 5 s); the service is under maintenance and the
    // instance's notifications paused.
    let active = c.poll(&wpath, "the window started", |w| w["status"] != "scheduled").await;
    assert_eq!(active["status"], "active", "{active}");
    let actual_start = ms(&active["actual_start"]);
    // The status pass runs every 5 s: loosely bounded, for a loaded machine.
    assert!((start..start + 30_000).contains(&actual_start), "started {actual_start}, scheduled {start}");
    c.poll(&path, "under_maintenance", |s| s["current_status"] == "under_maintenance").await;
    let alerting = c.get("/api/v1/alerts/status").await;
    assert!(alerting["paused"].as_array().unwrap().contains(&json!(INSTANCE)), "{alerting}");
    assert!(now_ms() < end - 10_000, "too little of the window left to check anything: {active}\n{}", log());

    // The server stops during the window: the alert fires, and nothing reaches the receiver.
    cluster.stop().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while c.alerts_in("firing").await.is_empty() {
        assert!(Instant::now() < deadline, "the alert never fired during the window\n{}", log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let fired_at = now_ms();
    assert!(fired_at < end - 2_000, "the alert fired too late in the window to check silence: {fired_at} vs {end}");
    // Until the window's end: the receiver hears nothing and the service stays under maintenance.
    while now_ms() < end {
        let s = c.get(&path).await;
        if now_ms() < end {
            assert_eq!(s["current_status"], "under_maintenance", "{s}");
        }
        assert_eq!(
            rx.requests().len(),
            before,
            "a notification during the window: {:?}",
            delivered_alerts(&rx, before)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(rx.requests().len(), before, "a notification during the window: {:?}", delivered_alerts(&rx, before));

    // It completes by itself; the service is down again (the server still is), and the
    // still-firing alert is notified once, after the end.
    let done = c.poll(&wpath, "the window completed", |w| w["status"] != "active").await;
    assert_eq!(done["status"], "completed", "{done}");
    let actual_end = ms(&done["actual_end"]);
    assert!((end..end + 30_000).contains(&actual_end), "completed {actual_end}, scheduled end {end}");
    c.poll(&path, "major_outage after the window", |s| s["current_status"] == "major_outage").await;
    rx.wait_for(before + 1).await;
    let stats = c.drained().await;
    let news = delivered_alerts(&rx, before);
    assert_eq!(news.len(), 1, "one notification after the window: {news:?}");
    assert_eq!(stats["delivered"], (before + 1) as i64, "{stats}");
    assert_eq!((news[0]["resource"].as_str(), news[0]["state"].as_str()), (Some(INSTANCE), Some("firing")), "{news:?}");
    let alerting = c.get("/api/v1/alerts/status").await;
    assert!(!alerting["paused"].as_array().unwrap().contains(&json!(INSTANCE)), "{alerting}");
    eprintln!(
        "status e2e: outage of {:.1} s recorded, uptime {day} %, window started {:.1} s and completed {:.1} s after \
         its times, alert fired {:.1} s before its end; {:.1} s in all",
        (t2 - t1) as f64 / 1000.0,
        (actual_start - start) as f64 / 1000.0,
        (actual_end - end) as f64 / 1000.0,
        (end - fired_at) as f64 / 1000.0,
        started.elapsed().as_secs_f64()
    );
}
