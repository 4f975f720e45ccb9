//! The workload API (`/ds-api/activity/*`, `/api/v1/activity/*`) over real storage on both
//! backends: known sampler batches go through the real `ActivityWriter` into SQLite or PostgreSQL,
//! and each endpoint must give back exactly what they imply, in JSON and in CSV alike.

use crate::support;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::{Backend, Resp, TestApp};
use vigia::activity::{self, ActivityWriter};
use vigia::config::SamplerConfig;
use vigia::model::*;
use vigia::timeseries::{MetricWriter, Sample};

/// 2026-01-10 10:00:00 UTC.
const T0: i64 = 1_768_039_200_000;
const FROM: &str = "2026-01-10 10:00:00";
const TO: &str = "2026-01-10 11:00:00";

struct Fixture {
    app: TestApp,
    writer: ActivityWriter,
    metrics: MetricWriter,
    sales: InstanceKey,
    crm: InstanceKey,
}

/// Two instances in tenant `default` (`sales`, `crm`) and one in tenant `other`, all pointing
/// at a closed loopback port (storage does not care whether they answer).
async fn fixture(b: Backend) -> Fixture {
    let app = TestApp::start(b).await;
    let mut keys = Vec::new();
    for (name, tags, token) in [
        ("sales", "application=sales,environment=production", app.admin.clone()),
        ("crm", "application=crm,environment=staging", app.admin.clone()),
        ("sales", "application=sales,environment=production", app.other_admin.clone()),
    ] {
        let body = json!({"host": "127.0.0.1", "port": 1, "user": "u", "password": "p", "tags": tags});
        let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&token), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let tenant = if token == app.admin { app.admin_user.tenant_id } else { app.other_user.tenant_id };
        let instance = app.store.instance_by_name(tenant, name).await.unwrap().unwrap();
        keys.push(InstanceKey { tenant_id: tenant, instance_id: instance.id, lease: None });
    }
    let writer = ActivityWriter::start_ingest(app.store.clone());
    let metrics = MetricWriter::start(app.store.clone());
    let (sales, crm) = (keys[0].clone(), keys[1].clone());
    // The other tenant's `sales` has data too: it must never show up in tenant default.
    writer
        .sender()
        .send(Batch::Ash(keys[2].clone(), tick(T0 + 5_000, &[session(999, "Lock", "tuple")])))
        .await
        .unwrap();
    Fixture { app, writer, metrics, sales, crm }
}

fn session(pid: i32, wait_type: &str, wait: &str) -> AshSession {
    AshSession {
        pid,
        backend_start_ms: T0 - 3_600_000 + pid as i64,
        state: "active".into(),
        wait_event_type: wait_type.into(),
        wait_event: wait.into(),
        blocking_pids: if wait_type == "Lock" { vec![pid - 1] } else { vec![] },
        query_id: 1000 + pid as i64,
        database: "shop".into(),
        user: "app".into(),
        application: if pid % 2 == 0 { "billing".into() } else { String::new() },
        client: "10.0.0.7".into(),
        backend_type: "client backend".into(),
        command: "UPDATE".into(),
        query_start_ms: Some(T0 - 500),
        xact_start_ms: Some(T0 - 900),
    }
}

fn tick(ts_ms: i64, sessions: &[AshSession]) -> AshTick {
    AshTick { ts_ms, sessions: sessions.to_vec() }
}

async fn activity(app: &TestApp, endpoint: &str, body: Value) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/ds-api/activity/{endpoint}"))
        .header("user-token", &app.admin)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

/// `body` with the fixture's time range (UTC).
fn range(mut body: Value) -> Value {
    body["from"] = json!(FROM);
    body["to"] = json!(TO);
    body
}

fn ok_rows(r: &Resp) -> &Vec<Value> {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json.as_array().unwrap_or_else(|| panic!("not an array: {}", r.text))
}

/// CSV rows as maps of their non-empty fields.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// JSON rows in the same form: every value as its text.
fn json_as_text(rows: &[Value]) -> Vec<BTreeMap<String, String>> {
    rows.iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect()
        })
        .collect()
}

async fn csv_agrees(app: &TestApp, endpoint: &str, body: Value, json_rows: &[Value]) {
    let mut body = body;
    body["output"] = json!("csv");
    let r = activity(app, endpoint, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert_eq!(csv_rows(&r.text), json_as_text(json_rows), "CSV and JSON of {endpoint} agree");
}

fn counters(calls: i64, total_time: f64, rows: i64) -> StatementCounters {
    StatementCounters { calls, total_time, rows, shared_blks_hit: calls * 10, ..Default::default() }
}

fn delta(queryid: i64, database: &str, c: StatementCounters) -> StatementDelta {
    StatementDelta {
        dbid: 1,
        userid: 2,
        queryid,
        toplevel: true,
        database: database.into(),
        user: "app".into(),
        counters: c,
    }
}

async fn load_statements(f: &Fixture) {
    let tx = f.writer.sender();
    let cycles = [
        vec![
            delta(1, "shop", counters(10, 50.0, 10)),
            delta(2, "shop", counters(100, 20.0, 5)),
            delta(3, "hr", counters(1, 400.0, 1)),
        ],
        vec![delta(1, "shop", counters(5, 25.0, 5)), delta(2, "shop", counters(100, 20.0, 5))],
    ];
    for (i, deltas) in cycles.into_iter().enumerate() {
        let texts = if i == 0 {
            vec![
                (1, "UPDATE stock SET n = n - $1".to_string()),
                (2, "SELECT * FROM stock WHERE id = $1".into()),
                (3, "select pg_sleep($1)".into()),
            ]
        } else {
            vec![]
        };
        let batch = StatementBatch { ts_ms: T0 + (i as i64 + 1) * 60_000, interval_ms: 60_000, deltas, texts };
        tx.send(Batch::Statements(f.sales.clone(), batch)).await.unwrap();
    }
    f.writer.flush().await;
}

#[path = "workload/fresh.rs"]
mod fresh;
#[path = "workload/relations.rs"]
mod relations;
#[path = "workload/reports.rs"]
mod reports;
#[path = "workload/requests.rs"]
mod requests;
#[path = "workload/sessions.rs"]
mod sessions;
#[path = "workload/statements.rs"]
mod statements;
