//! Storage benchmarks of the native sampler's data (ignored by default; numbers go to
//! BENCHMARKS.md). Run: `cargo test -p vigia --release --test it activity_bench:: -- --ignored --nocapture --test-threads 1`
//! - bytes per instance-day of ASH at 1 s with 10 active sessions (SQLite file and chunk payload);
//! - ingest rate of session samples through `ActivityWriter` into SQLite and PostgreSQL;
//! - `session-history` over that instance-day: raw samples (JSON) and wait events per bucket;
//! - the writer's CPU per instance-second at 1 s ASH, with and without tail persistence.

use crate::bench_support::{Workload, DAY_START};
use crate::support;

use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::json;
use support::{Backend, TestApp};
use tower::ServiceExt;
use vigia::activity::ActivityWriter;
use vigia::config::SamplerConfig;
use vigia::model::{Batch, InstanceKey};

async fn instance(app: &TestApp, name: &str) -> InstanceKey {
    let body = json!({"host": "127.0.0.1", "port": 1, "user": "u", "password": "p", "tags": "environment=bench"});
    let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await;
    assert!(r.status.is_success(), "{}", r.text);
    let i = app.store.instance_by_name(app.admin_user.tenant_id, name).await.unwrap().unwrap();
    InstanceKey { tenant_id: i.tenant_id, instance_id: i.id, lease: None }
}

fn sqlite_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn instance_day_bytes_and_session_history_latency() {
    let app = TestApp::start(Backend::Sqlite).await;
    let key = instance(&app, "bench").await;
    let writer = ActivityWriter::start_ingest(app.store.clone());
    let dir = app.data_dir().to_path_buf();
    writer.flush().await;
    let before = sqlite_bytes(&dir);
    let mut load = Workload::new(42);
    let started = Instant::now();
    let tx = writer.sender();
    for s in 0..86_400 {
        tx.send(Batch::Ash(key.clone(), load.tick(DAY_START + s * 1000))).await.unwrap();
    }
    writer.flush().await;
    let ingest = started.elapsed();
    app.store.checkpoint().await;
    let after = sqlite_bytes(&dir);
    let (chunk_bytes, sessions) = app.store.ash_storage(key.instance_id).await.unwrap();
    println!("instance-day at 1 s, 10 active sessions: {sessions} session samples in {ingest:?}");
    println!(
        "  ASH chunk payload {:.2} MiB ({:.2} bytes/sample); SQLite files grew {:.2} MiB (chunks, minute rollups, strings, indexes)",
        chunk_bytes as f64 / 1048576.0,
        chunk_bytes as f64 / sessions as f64,
        (after - before) as f64 / 1048576.0
    );
    for (label, body) in [
        // Raw samples are bounded per request (`workload::MAX_SAMPLES`): an hour (36,000) at a time.
        (
            "session-history raw samples of 1 h, JSON",
            json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:59:59"}),
        ),
        (
            "session-history raw samples of 1 h, CSV",
            json!({"from": "2026-01-10 10:00:00", "to": "2026-01-10 10:59:59", "output": "csv"}),
        ),
        (
            "session-history wait events per 5 min, JSON",
            json!({"from": "2026-01-10", "to": "2026-01-10", "compute": "wait-events"}),
        ),
        (
            "session-history wait events per minute, JSON",
            json!({"from": "2026-01-10", "to": "2026-01-10", "compute": "wait-events", "bucket": 60}),
        ),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/ds-api/activity/session-history")
                .header("user-token", &app.admin)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            // Time to the last byte of the answer (not parsing it, which is the client's cost).
            let t = Instant::now();
            let response = app.router.clone().oneshot(req).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            times.push(t.elapsed());
            assert_eq!(status.as_u16(), 201, "{}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
            size = bytes.len();
        }
        times.sort();
        println!("  {label}: median {:?} (min {:?}), {:.1} MiB answer", times[2], times[0], size as f64 / 1048576.0);
    }
}

async fn ingest_rate(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut keys = Vec::new();
    for i in 0..100 {
        keys.push(instance(&app, &format!("i{i}")).await);
    }
    let writer = ActivityWriter::start_ingest(app.store.clone());
    let mut loads: Vec<Workload> = (0..100).map(|i| Workload::new(i + 1)).collect();
    // Ticks prepared beforehand: only the writer is measured.
    let mut batches = Vec::new();
    for s in 0..120 {
        for (key, load) in keys.iter().zip(loads.iter_mut()) {
            batches.push(Batch::Ash(key.clone(), load.tick(DAY_START + s * 1000)));
        }
    }
    let rows: usize = batches.iter().map(|b| if let Batch::Ash(_, t) = b { t.sessions.len() } else { 0 }).sum();
    let tx = writer.sender();
    let started = Instant::now();
    for b in batches {
        tx.send(b).await.unwrap();
    }
    writer.flush().await;
    let elapsed = started.elapsed();
    println!(
        "{backend:?}: {rows} session samples (100 instances × 120 ticks × 10 sessions) stored in {elapsed:?}: {:.0} rows/s",
        rows as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn ingest_rate_sqlite() {
    ingest_rate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn ingest_rate_postgres() {
    ingest_rate(Backend::Postgres).await;
}

/// Host CPU per instance-second of 1 s ASH through the real writer (1,000 instances of 10
/// sessions, ticks paced in real time for 20 s), with the open chunks' tail persisted every
/// `tail` seconds (0: never). The process CPU includes making the ticks, the same in every run:
/// the difference between runs is the tail's cost.
async fn writer_cpu(backend: Backend, tail: u64) {
    const INSTANCES: usize = 1000;
    const SECONDS: u64 = 20;
    let app = TestApp::start(backend).await;
    let mut keys = Vec::new();
    for i in 0..INSTANCES {
        keys.push(instance(&app, &format!("i{i}")).await);
    }
    let config = SamplerConfig { ash_tail_seconds: tail, ..SamplerConfig::default() };
    let writer = ActivityWriter::start(app.store.clone(), &config);
    let mut loads: Vec<Workload> = (0..INSTANCES as u64).map(|i| Workload::new(i + 1)).collect();
    let tx = writer.sender();
    let (cpu_before, started) = (support::cpu_seconds("self"), Instant::now());
    for s in 0..SECONDS {
        let now = vigia::store::now_ms();
        for (key, load) in keys.iter().zip(loads.iter_mut()) {
            tx.send(Batch::Ash(key.clone(), load.tick(now))).await.unwrap();
        }
        tokio::time::sleep_until((started + std::time::Duration::from_secs(s + 1)).into()).await;
    }
    writer.flush().await;
    let cpu = support::cpu_seconds("self") - cpu_before;
    let segments = app.store.ash_tail_segments().await.unwrap().len();
    println!(
        "{backend:?}, tail every {tail} s: {INSTANCES} instances × {SECONDS} s in {:?}: {cpu:.2} s CPU, {:.1} µs per instance-second ({segments} tail segments left after the flush)",
        started.elapsed(),
        cpu * 1e6 / (INSTANCES as f64 * SECONDS as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn writer_cpu_with_and_without_tail_sqlite() {
    writer_cpu(Backend::Sqlite, 0).await;
    writer_cpu(Backend::Sqlite, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn writer_cpu_with_and_without_tail_postgres() {
    writer_cpu(Backend::Postgres, 0).await;
    writer_cpu(Backend::Postgres, 5).await;
}
