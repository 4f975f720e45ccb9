//! Grouping windows per channel (`alerting::grouping`) through the REAL webhook bundle, with
//! flushes driven by explicit times (`Delivery::run_once(now)`): alerts within `group_wait` go in
//! one notification, `group_interval` holds new ones back, `repeat_interval` re-sends an
//! unchanged firing group, resolved alerts go out at the next flush, grouping off is immediate,
//! and a grouped delivery is retried under one idempotency key, also by a restarted worker.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::alerting::delivery::DeliveryReport;
use vigia::alerting::Delivery;

use super::{Backend, Duration, Setup};

const S: i64 = 1000;

impl Setup {
    /// A webhook channel to `/group` with these grouping windows (seconds).
    async fn grouped_channel(&self, wait: u64, interval: u64, repeat: u64) -> i64 {
        self.channel(json!({"name": "grouped", "plugin": "webhook", "config": {"url": self.rx.url("/group")},
            "grouping": {"group_wait_seconds": wait, "group_interval_seconds": interval,
                "repeat_interval_seconds": repeat}}))
            .await
    }

    async fn run_at(&self, now: i64) -> DeliveryReport {
        self.delivery.run_once(now).await.unwrap()
    }

    /// Raises a critical custom alert on `main`; returns its id.
    async fn raise_id(&self, key: &str) -> i64 {
        let r = self.e.raise(key, "critical", "main", json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_i64().unwrap()
    }

    /// (summary, state) of each alert of the last request, sorted.
    fn last_alerts(&self) -> Vec<(String, String)> {
        let seen = self.rx.requests();
        let body = &seen.last().expect("a request").body;
        let mut out: Vec<_> = body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["summary"].as_str().unwrap().to_string(), a["state"].as_str().unwrap().to_string()))
            .collect();
        out.sort();
        out
    }
}

fn firing(keys: &[&str]) -> Vec<(String, String)> {
    keys.iter().map(|k| (format!("{k} failed"), "firing".to_string())).collect()
}

async fn grouped_alerts_wait_interval_repeat_and_resolve(backend: Backend) {
    let s = Setup::new(backend).await;
    s.grouped_channel(30, 300, 3600).await;
    let t0 = vigia::store::now_ms();
    let a = s.raise_id("a").await;
    s.raise_id("b").await;
    s.raise_id("c").await;
    assert_eq!(s.stats().await["pending"], 0, "grouped: nothing queued before the flush");
    assert_eq!(s.run_at(t0 + 10 * S).await.delivered, 0, "within group_wait");
    assert!(s.rx.requests().is_empty());

    // group_wait passed (with a margin for slow requests): ONE notification with the three alerts.
    assert_eq!(s.run_at(t0 + 40 * S).await.delivered, 1);
    assert_eq!(s.rx.requests().len(), 1);
    assert_eq!(s.last_alerts(), firing(&["a", "b", "c"]));
    assert_eq!(s.run_at(t0 + 41 * S).await.delivered, 0, "flushed once");

    // A new alert after the flush waits for group_interval (from the flush at t0 + 40 s).
    s.raise_id("d").await;
    let flushed = t0 + 40 * S;
    assert_eq!(s.run_at(flushed + 60 * S).await.delivered, 0);
    assert_eq!(s.run_at(flushed + 299 * S).await.delivered, 0);
    assert_eq!(s.run_at(flushed + 300 * S).await.delivered, 1);
    assert_eq!(s.last_alerts(), firing(&["a", "b", "c", "d"]));
    let flushed = flushed + 300 * S;

    // Unchanged and still firing: re-sent after repeat_interval, not before.
    assert_eq!(s.run_at(flushed + 3599 * S).await.delivered, 0);
    assert_eq!(s.run_at(flushed + 3600 * S).await.delivered, 1);
    assert_eq!(s.last_alerts(), firing(&["a", "b", "c", "d"]));
    let flushed = flushed + 3600 * S;

    // A resolved alert goes out at the next flush (group_interval after the last), then leaves.
    let r = s.e.call(Method::POST, &format!("/api/v1/alerts/{a}/clear"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(s.run_at(flushed + 299 * S).await.delivered, 0);
    assert_eq!(s.run_at(flushed + 300 * S).await.delivered, 1);
    let mut expected = firing(&["b", "c", "d"]);
    expected.insert(0, ("a failed".into(), "resolved".into()));
    assert_eq!(s.last_alerts(), expected);
    let flushed = flushed + 300 * S;
    assert_eq!(s.run_at(flushed + 3600 * S).await.delivered, 1, "repeat without the resolved alert");
    assert_eq!(s.last_alerts(), firing(&["b", "c", "d"]));

    let keys: std::collections::BTreeSet<_> = s.rx.requests().into_iter().filter_map(|r| r.idempotency_key).collect();
    assert_eq!(keys.len(), 5, "one key per flush: {keys:?}");
    assert_eq!(s.rx.accepted().len(), 5);
    let history = s.history().await;
    assert_eq!(history.len(), 5);
    assert!(history[0]["alert"].is_array(), "a grouped delivery shows its alerts");
}

async fn group_starts_over_once_every_alert_resolved(backend: Backend) {
    let s = Setup::new(backend).await;
    s.grouped_channel(30, 300, 0).await;
    let t0 = vigia::store::now_ms();
    let a = s.raise_id("a").await;
    assert_eq!(s.run_at(t0 + 40 * S).await.delivered, 1);
    s.e.call(Method::POST, &format!("/api/v1/alerts/{a}/clear"), None).await;
    assert_eq!(s.run_at(t0 + 339 * S).await.delivered, 0, "group_interval after the flush");
    assert_eq!(s.run_at(t0 + 340 * S).await.delivered, 1);
    assert_eq!(s.last_alerts(), [("a failed".to_string(), "resolved".to_string())]);
    assert_eq!(s.run_at(t0 + 100_000 * S).await.delivered, 0, "no repeat interval, nothing firing");
    // A new alert opens a new group: group_wait again, from its own time.
    let t1 = vigia::store::now_ms();
    s.raise_id("b").await;
    assert_eq!(s.run_at(t1 + 29 * S).await.delivered, 0);
    assert_eq!(s.run_at(t1 + 40 * S).await.delivered, 1);
    assert_eq!(s.last_alerts(), firing(&["b"]));
}

async fn grouping_off_delivers_at_once_and_is_validated(backend: Backend) {
    let s = Setup::new(backend).await;
    let off = s.grouped_channel(0, 0, 0).await;
    let r = s.e.call(Method::GET, &format!("/api/v1/notifications/channels/{off}"), None).await;
    assert_eq!(r.json["grouping"], Value::Null, "{}", r.text);
    s.raise_id("a").await;
    assert_eq!(s.stats().await["pending"], 1, "queued at once");
    assert_eq!(s.run().await.delivered, 1);
    assert_eq!(s.last_alerts(), firing(&["a"]));

    let defaults = s
        .channel(json!({"name": "defaults", "plugin": "webhook", "config": {"url": s.rx.url("/d")}, "grouping": {}}))
        .await;
    let r = s.e.call(Method::GET, &format!("/api/v1/notifications/channels/{defaults}"), None).await;
    assert_eq!(
        r.json["grouping"],
        json!({"group_wait_seconds": 30, "group_interval_seconds": 300, "repeat_interval_seconds": 14400}),
        "Alertmanager's defaults: {}",
        r.text
    );
    for (grouping, needle) in
        [(json!({"group_wait": 5}), "unknown field"), (json!({"group_wait_seconds": 10_000_000}), "at most")]
    {
        let body = json!({"name": "bad", "plugin": "webhook", "grouping": grouping});
        let r = s.e.call(Method::POST, "/api/v1/notifications/channels", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert!(r.text.contains(needle), "{}", r.text);
    }
    // Replacing without `grouping` turns it off.
    let put =
        s.e.call(
            Method::PUT,
            &format!("/api/v1/notifications/channels/{defaults}"),
            Some(json!({"name": "defaults", "plugin": "webhook"})),
        )
        .await;
    assert_eq!((put.status, &put.json["grouping"]), (StatusCode::OK, &Value::Null), "{}", put.text);
}

async fn grouped_delivery_retried_once_by_key_after_restart(backend: Backend) {
    let s = Setup::new(backend).await;
    s.grouped_channel(30, 300, 0).await;
    let t0 = vigia::store::now_ms();
    s.raise_id("a").await;
    s.raise_id("b").await;
    // A new worker (as after a restart) finds the group in the store.
    let restarted = Delivery::new(
        s.e.app.store.clone(),
        s.host.clone(),
        vigia::secrets::SecretBox::from_key(&super::SECRET_KEY),
        vec![Duration::ZERO; 3],
    );
    s.rx.script(&[500, 200]);
    let first = restarted.run_once(t0 + 40 * S).await.unwrap();
    assert_eq!((first.delivered, first.retried, first.dead), (0, 1, 0));
    let second = restarted.run_once(t0 + 41 * S).await.unwrap();
    assert_eq!((second.delivered, second.retried, second.dead), (1, 0, 0));
    assert_eq!(restarted.run_once(t0 + 100_000 * S).await.unwrap(), DeliveryReport::default(), "no repeat");

    let seen = s.rx.requests();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(seen[0].idempotency_key, seen[1].idempotency_key, "same key on retry");
    assert!(seen[0].idempotency_key.as_deref().unwrap().starts_with("vigia-group-channel-"), "{seen:?}");
    assert_eq!(s.rx.accepted().len(), 1, "delivered once by idempotency key");
    assert_eq!(s.last_alerts(), firing(&["a", "b"]));
    assert_eq!(seen[1].body["attempt"], 2);
}

mt_backend_tests!(
    grouped_alerts_wait_interval_repeat_and_resolve,
    group_starts_over_once_every_alert_resolved,
    grouping_off_delivers_at_once_and_is_validated,
    grouped_delivery_retried_once_by_key_after_restart,
);
