//! Durability of Active Session History through the real `ActivityWriter` on both backends: the
//! open chunk's persisted tail survives a crash and is merged into a closed chunk at the next start
//! (rollups counted once); sampling gaps are inferred and recorded, and answered by
//! `session-history` with `gaps: true` without changing the rows.

use crate::support;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{Backend, TestApp};
use vigia::activity::ActivityWriter;
use vigia::config::SamplerConfig;
use vigia::model::*;

backend_tests!(
    a_crash_keeps_the_persisted_tail,
    gaps_are_recorded_and_answered_on_request,
    gaps_option_is_refused_where_it_means_nothing,
);

/// 2026-01-10 10:00:00 UTC.
const T0: i64 = 1_768_039_200_000;

async fn instance(app: &TestApp) -> InstanceKey {
    let body = json!({"host": "127.0.0.1", "port": 1, "user": "u", "password": "p"});
    let r = app.call(Method::POST, "/api/v1/instances/busy", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let instance = app.store.instance_by_name(app.admin_user.tenant_id, "busy").await.unwrap().unwrap();
    InstanceKey { tenant_id: app.admin_user.tenant_id, instance_id: instance.id, lease: None }
}

fn tick(ts_ms: i64, pid: i32) -> AshTick {
    AshTick { ts_ms, sessions: vec![support::ash_session(pid, ts_ms, T0 - 3_600_000)] }
}

/// A writer persisting its tail every second, with minute chunks.
fn writer(app: &TestApp) -> ActivityWriter {
    ActivityWriter::start(app.store.clone(), &SamplerConfig { ash_tail_seconds: 1, ..SamplerConfig::default() })
}

async fn send(writer: &ActivityWriter, batch: Batch) {
    writer.sender().send(batch).await.unwrap();
}

async fn a_crash_keeps_the_persisted_tail(b: Backend) {
    let app = TestApp::start(b).await;
    let key = instance(&app).await;
    let first = writer(&app);
    for s in 0..5 {
        send(&first, Batch::Ash(key.clone(), tick(T0 + s * 1000, 7))).await;
    }
    // Wait for the tail to hold all five ticks (persisted on the writer's 1 s beat).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ticks: i64 = app.store.ash_tail_segments().await.unwrap().iter().map(|s| s.ticks).sum();
        if ticks == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the tail holds {ticks} of 5 ticks");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.halt_without_flush().await;
    assert!(app.store.ash_chunks(&[key.instance_id], T0, T0 + 60_000).await.unwrap().is_empty(), "no cut happened");

    // The next writer merges the tail into a closed chunk before anything else.
    let second = writer(&app);
    second.flush().await;
    let chunks = app.store.ash_chunks(&[key.instance_id], T0, T0 + 60_000).await.unwrap();
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    assert_eq!((chunks[0].start_ts, chunks[0].end_ts, chunks[0].ticks, chunks[0].sessions), (T0, T0 + 4000, 5, 5));
    assert!(app.store.ash_tail_segments().await.unwrap().is_empty(), "the tail was consumed");

    // Sampling goes on in the same minute: a second chunk, and the minute's rollups count each
    // tick once (recovered 5 + new 3).
    for s in 30..33 {
        send(&second, Batch::Ash(key.clone(), tick(T0 + s * 1000, 7))).await;
    }
    second.flush().await;
    let rollups = app.store.ash_rollups(&[key.instance_id], 60, T0, T0).await.unwrap();
    let totals = rollups.iter().find(|r| r.wait_event_type == 0 && r.wait_event == 0).expect("a totals row");
    assert_eq!((totals.ticks, totals.sessions), (8, 8), "{rollups:?}");
    let r = history(&app, json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:01:00"})).await;
    assert_eq!(r.as_array().unwrap().len(), 8, "every stored tick is answered: {r}");
}

async fn history(app: &TestApp, body: Value) -> Value {
    let r = app.call(Method::POST, "/api/v1/activity/session-history", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
}

async fn gaps_are_recorded_and_answered_on_request(b: Backend) {
    let app = TestApp::start(b).await;
    let key = instance(&app).await;
    let writer = writer(&app);
    let cadence = Batch::Cadence(key.clone(), Cadence { interval_ms: 1000 });
    send(&writer, cadence.clone()).await;
    for ms in [0, 1000, 2000, 6000, 7000] {
        send(&writer, Batch::Ash(key.clone(), tick(T0 + ms, 7))).await;
    }
    let outage = Gap { start_ts: T0 + 8000, end_ts: T0 + 20_000, reason: GapReason::Unreachable };
    send(&writer, Batch::Gap(key.clone(), outage)).await;
    send(&writer, Batch::Ash(key.clone(), tick(T0 + 20_000, 7))).await;
    writer.flush().await;
    // A restart of Vigia: a new writer learns from storage up to when the instance is covered.
    writer.shutdown().await.expect("the writer was running");
    let writer = self::writer(&app);
    send(&writer, cadence).await;
    send(&writer, Batch::Ash(key.clone(), tick(T0 + 50_000, 7))).await;
    writer.flush().await;

    let window = json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:02:00"});
    let plain = history(&app, window.clone()).await;
    assert_eq!(plain.as_array().map(Vec::len), Some(7), "the Datasentinel shape is unchanged: {plain}");
    let mut with_gaps = window.clone();
    with_gaps["gaps"] = json!(true);
    let answer = history(&app, with_gaps).await;
    assert_eq!(answer["rows"], plain, "the rows are the same");
    let gaps: Vec<(String, String, String, f64)> = answer["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["pg_instance"], "127.0.0.1@busy");
            let text = |k: &str| g[k].as_str().unwrap().to_string();
            (text("from"), text("to"), text("reason"), g["seconds"].as_f64().unwrap())
        })
        .collect();
    let t = |s: u32| format!("2026-01-10T10:00:{s:02}Z");
    assert_eq!(
        gaps,
        vec![
            (t(2), t(6), "skipped".into(), 4.0),
            (t(8), t(20), "unreachable".into(), 12.0),
            (t(20), t(50), "host_down".into(), 30.0),
        ]
    );
    // Another tenant sees none of it.
    let r = app
        .call(
            Method::POST,
            "/api/v1/activity/session-history",
            Some(&app.other_admin),
            Some(json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:02:00", "gaps": "true"})),
        )
        .await;
    assert_eq!(r.json, json!({"rows": [], "gaps": []}), "{}", r.text);
}

async fn gaps_option_is_refused_where_it_means_nothing(b: Backend) {
    let app = TestApp::start(b).await;
    let cases = [
        ("/api/v1/activity/top-queries", json!({"gaps": true}), "only answered by session-history"),
        ("/api/v1/activity/session-history", json!({"gaps": true, "output": "csv"}), "JSON only"),
        ("/api/v1/activity/session-history", json!({"gaps": "maybe"}), "expected true or false"),
    ];
    for (path, body, message) in cases {
        let r = app.call(Method::POST, path, Some(&app.admin), Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {body}: {}", r.text);
        assert!(r.error().contains(message), "{path} {body}: {}", r.text);
    }
}
