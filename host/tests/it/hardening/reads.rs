//! Hole 7 (session-history): raw samples are bounded per request. A range holding more than
//! `MAX_SAMPLES` is refused before anything is decoded, naming the limit and what to do instead;
//! the aggregated view of the same range still answers (from the rollups).

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::activity::ActivityWriter;
use vigia::model::*;
use vigia::workload::MAX_SAMPLES;

use crate::support::{ash_session, Backend, TestApp};

/// 2026-01-10 10:00:00 UTC.
const T0: i64 = 1_768_039_200_000;
const SESSIONS: i32 = 500;
const TICKS: i64 = 120;

fn session(pid: i32, ts_ms: i64) -> AshSession {
    AshSession {
        wait_event_type: "IO".into(),
        wait_event: "DataFileRead".into(),
        query_id: 7,
        query_start_ms: Some(ts_ms - 10),
        xact_start_ms: Some(ts_ms - 10),
        ..ash_session(pid, ts_ms, T0 - 3_600_000)
    }
}

async fn raw_session_samples_are_bounded_per_request(b: Backend) {
    let app = TestApp::start(b).await;
    let body = json!({"host": "127.0.0.1", "port": 1, "user": "u", "password": "p"});
    let r = app.call(Method::POST, "/api/v1/instances/busy", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let instance = app.store.instance_by_name(app.admin_user.tenant_id, "busy").await.unwrap().unwrap();
    let key = InstanceKey { tenant_id: app.admin_user.tenant_id, instance_id: instance.id, lease: None };
    let writer = ActivityWriter::start_ingest(app.store.clone());
    for t in 0..TICKS {
        let ts_ms = T0 + t * 1000;
        let tick = AshTick { ts_ms, sessions: (0..SESSIONS).map(|pid| session(pid, ts_ms)).collect() };
        writer.sender().send(Batch::Ash(key.clone(), tick)).await.unwrap();
    }
    writer.flush().await;
    assert!(i64::from(SESSIONS) * TICKS > MAX_SAMPLES);

    let range = json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:02:00"});
    let r = app.call(Method::POST, "/api/v1/activity/session-history", Some(&app.admin), Some(range.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", &r.text[..r.text.len().min(300)]);
    assert_eq!(
        r.error(),
        format!(
            "session-history reads at most {MAX_SAMPLES} session samples per request and this one covers about 60000: \
             narrow \"from\"/\"to\" (a range at a time) or use \"compute\": \"wait-events\""
        )
    );
    // Half the range fits; the aggregated view of all of it answers from the rollups.
    let half = json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:00:59"});
    let r = app.call(Method::POST, "/api/v1/activity/session-history", Some(&app.admin), Some(half)).await;
    assert_eq!((r.status, r.json.as_array().map(Vec::len)), (StatusCode::OK, Some(30_000)));
    let mut waits = range;
    waits["compute"] = json!("wait-events");
    let r = app.call(Method::POST, "/api/v1/activity/session-history", Some(&app.admin), Some(waits)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json[0]["wait_event"], "DataFileRead", "{}", r.text);
}

backend_tests!(raw_session_samples_are_bounded_per_request);
