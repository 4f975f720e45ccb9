//! Dashboard benchmarks (issue 14; ignored by default; numbers go to BENCHMARKS.md). Run:
//! `cargo test -p vigia --release --test it dashboard_bench:: -- --ignored --nocapture --test-threads 1`
//!
//! A tenant with 1,000 instances written straight through the store (tags such as
//! `environment=production`; 98 % connected with an inventory, the rest down with an error; most
//! with active sessions "now" in the fresh ASH) and 60 open alerts raised through the API; one
//! instance also holds a full day of 1 s ASH with 10 active sessions (86,400 ticks). Through the
//! real router (`oneshot`) with the admin's session cookie, as the browser sends it, on each backend:
//! - `GET /api/v1/state`: latency (to the last byte) without and with `Accept-Encoding: gzip`,
//!   body bytes raw and gzip, and the 304 answered to `If-None-Match`;
//! - the overview shell `GET /`: latency and bytes;
//! - the instance page's 24 h ASH chart, `GET /api/v1/activity/session-history?compute=wait-events
//!   &bucket=300&…&filters=name=…`: latency and bytes; and the bytes of all the instance page's
//!   API calls.

use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{DateTime, SecondsFormat};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vigia::activity::ActivityWriter;
use vigia::config::SamplerConfig;
use vigia::model::{AshTick, Batch, InstanceKey};
use vigia::store::{Instance, InventoryRow, NewInstance};

use crate::bench_support::{pct, Workload, DAY_START};
use crate::support::{ash_session, Backend, TestApp};

const INSTANCES: usize = 1_000;
/// Instances with an open alert (one each, every third critical).
const ALERTED: usize = 60;
/// Timed requests per measure (after `WARM_UP` untimed ones).
const RUNS: usize = 50;
const WARM_UP: usize = 3;
const DAY_MS: i64 = 86_400_000;

/// What an inventory holds (`sampler/inventory.rs`), so rows weigh what real ones do.
const SETTINGS: &str = "shared_buffers effective_cache_size work_mem maintenance_work_mem max_connections \
     max_worker_processes max_parallel_workers max_parallel_workers_per_gather wal_level max_wal_size \
     min_wal_size checkpoint_timeout checkpoint_completion_target synchronous_commit fsync \
     full_page_writes random_page_cost effective_io_concurrency default_statistics_target autovacuum \
     autovacuum_max_workers autovacuum_naptime track_io_timing track_activity_query_size \
     shared_preload_libraries pg_stat_statements.max pg_stat_statements.track compute_query_id \
     max_replication_slots max_wal_senders hot_standby statement_timeout \
     idle_in_transaction_session_timeout lock_timeout log_min_duration_statement jit";

fn name(i: usize) -> String {
    format!("{}-{i:04}", ["sales", "billing", "search", "auth", "ledger"][i % 5])
}

fn tags(i: usize) -> String {
    let env = ["production", "production", "staging", "development"][i % 4];
    let region = ["eu-west-1", "us-east-1", "ap-south-1"][i % 3];
    format!("application=app{:02},environment={env},region={region}", i % 40)
}

fn down(i: usize) -> bool {
    i % 50 == 7
}

fn inventory(instance_id: i64, i: usize, now: i64) -> InventoryRow {
    let settings: serde_json::Map<String, Value> = SETTINGS
        .split_whitespace()
        .enumerate()
        .map(|(k, s)| (s.to_string(), json!([format!("{}", 128 * (k + 1)), "kB"])))
        .collect();
    let databases = json!({"postgres": 7_602_463, "template1": 7_455_011, "sales": 5_368_709_120_i64 + i as i64});
    InventoryRow {
        instance_id,
        ts: now - 60_000,
        version: "16.4".into(),
        version_full:
            "PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit".into(),
        server_version_num: 160_004,
        start_time: now - 30 * DAY_MS,
        is_replica: i % 10 == 9,
        max_connections: 200,
        databases: databases.to_string(),
        settings: Value::Object(settings).to_string(),
        statements_available: true,
        statements_error: None,
    }
}

/// The tenant's instances, their status, inventories and open alerts; returns the instances.
async fn seed(app: &TestApp) -> Vec<Instance> {
    let (tenant, now) = (app.admin_user.tenant_id, vigia::store::now_ms());
    let mut instances = Vec::with_capacity(INSTANCES);
    for i in 0..INSTANCES {
        let (name, tags) = (name(i), tags(i));
        let new = NewInstance { name: &name, host: "10.20.0.1", port: 5432, username: "vigia", tags: &tags };
        let created = app.store.create_instance(tenant, &new, |_| "sealed".into()).await.unwrap();
        let error = down(i).then_some("connection refused: is the server running on 10.20.0.1:5432?");
        app.store.set_instance_status(tenant, created.id, !down(i), error).await.unwrap();
        if !down(i) {
            app.store.upsert_inventory(&inventory(created.id, i, now)).await.unwrap();
        }
        instances.push(created);
    }
    for k in 0..ALERTED {
        let severity = if k % 3 == 0 { "critical" } else { "warning" };
        let body = json!({"dedup_key": format!("replication-lag-{k}"), "severity": severity,
            "summary": "Replication lag above 30 s on the standby", "resource": name(k * 16 + 3)});
        let r = app.call(Method::POST, "/api/v1/alerts", Some(&app.admin), Some(body)).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    instances
}

/// One tick "now" for every connected instance (0–11 active sessions), so the snapshot shows
/// active sessions as it does under a running sampler (ticks older than 30 s are not "now").
async fn tick_now(writer: &ActivityWriter, instances: &[Instance]) {
    let now = vigia::store::now_ms();
    let tx = writer.sender();
    for (i, inst) in instances.iter().enumerate().filter(|(i, _)| !down(*i)) {
        let sessions = (0..(i % 12) as i32).map(|pid| ash_session(pid, now, now - 60_000)).collect();
        let key = InstanceKey { tenant_id: inst.tenant_id, instance_id: inst.id, lease: None };
        tx.send(Batch::Ash(key, AshTick { ts_ms: now, sessions })).await.unwrap();
    }
}

/// A day of 1 s ASH of a busy instance (10 active sessions) through the real writer.
async fn store_day(app: &TestApp, inst: &Instance) {
    let writer = ActivityWriter::start_ingest(app.store.clone());
    let key = InstanceKey { tenant_id: inst.tenant_id, instance_id: inst.id, lease: None };
    let (tx, mut load) = (writer.sender(), Workload::new(42));
    for s in 0..86_400 {
        tx.send(Batch::Ash(key.clone(), load.tick(DAY_START + s * 1000))).await.unwrap();
    }
    writer.flush().await;
}

struct Answer {
    status: StatusCode,
    ms: f64,
    bytes: Vec<u8>,
    gzip: bool,
    etag: Option<String>,
}

/// `GET path` with the admin's session cookie (and `headers`), timed to the body's last byte.
async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::COOKIE, format!("vigia_session={}", app.admin))
        .header(header::ACCEPT, "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Body::empty()).unwrap();
    let t = Instant::now();
    let response = app.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let h = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let gzip = h.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip");
    let etag = h.get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
    Answer { status, ms, bytes, gzip, etag }
}

/// `RUNS` timed GETs after `WARM_UP` untimed ones, each asserted `want`; the last answer too.
async fn series(app: &TestApp, path: &str, headers: &[(&str, &str)], want: StatusCode) -> (Vec<f64>, Answer) {
    let mut samples = Vec::with_capacity(RUNS);
    let mut last = None;
    for n in 0..WARM_UP + RUNS {
        let a = get(app, path, headers).await;
        assert_eq!(a.status, want, "{path}: {}", String::from_utf8_lossy(&a.bytes[..a.bytes.len().min(300)]));
        if n >= WARM_UP {
            samples.push(a.ms);
        }
        last = Some(a);
    }
    (samples, last.unwrap())
}

fn report(what: &str, samples: &mut [f64], bytes: Option<usize>) {
    let size = bytes.map(|b| format!("  {:>9} B", thousands(b))).unwrap_or_default();
    println!(
        "{what:<58} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms (n={}){size}",
        pct(samples, 0.5),
        pct(samples, 0.99),
        pct(samples, 1.0),
        samples.len()
    );
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a gzip body");
    out
}

fn iso(ms: i64) -> String {
    // As the page's `encodeURIComponent(date.toISOString())` writes it.
    DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(SecondsFormat::Millis, true).replace(':', "%3A")
}

const GZIP: (&str, &str) = ("accept-encoding", "gzip, deflate, br, zstd");

/// Median milliseconds of 20 runs of `f`.
async fn median_ms(mut f: impl AsyncFnMut()) -> f64 {
    let mut samples = Vec::with_capacity(20);
    for _ in 0..20 {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    pct(&mut samples, 0.5)
}

/// Where a snapshot's time goes: the store reads it makes, each alone, and the hashing and
/// compression of its body (`raw`), outside the router.
async fn state_parts(app: &TestApp, instances: &[Instance], raw: &[u8]) {
    use sha2::Digest;
    use std::io::Write;
    let tenant = app.admin_user.tenant_id;
    let ids: Vec<i64> = instances.iter().map(|i| i.id).collect();
    let list = median_ms(async || drop(app.store.list_instances(tenant).await.unwrap())).await;
    let inventories = median_ms(async || drop(app.store.inventories(&ids).await.unwrap())).await;
    let alerts = median_ms(async || drop(app.store.open_alerts(Some(tenant)).await.unwrap())).await;
    let hash = median_ms(async || {
        std::hint::black_box(sha2::Sha256::digest(raw));
    })
    .await;
    let gzip = median_ms(async || {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(raw).unwrap();
        drop(z.finish().unwrap());
    })
    .await;
    println!(
        "  parts (p50 of 20): list_instances {list:.2} ms, inventories {inventories:.2} ms, open_alerts \
         {alerts:.2} ms; SHA-256 of the body {hash:.2} ms, gzip (flate2 level 6) {gzip:.2} ms"
    );
}

async fn overview(app: &TestApp, live: &ActivityWriter, instances: &[Instance]) {
    println!("-- overview: GET /api/v1/state, then the shell GET /");
    tick_now(live, instances).await;
    live.flush().await;
    let first = get(app, "/api/v1/state", &[]).await;
    let state: Value = serde_json::from_slice(&first.bytes).unwrap();
    let listed = state["instances"].as_array().unwrap();
    let active = listed.iter().filter(|i| i["active_sessions"].is_number()).count();
    println!(
        "state: {} instances ({} connected, {active} with active sessions now), {} open alerts, first request {:.1} ms",
        listed.len(),
        state["totals"]["connected"],
        state["alerts"].as_array().unwrap().len(),
        first.ms
    );
    assert_eq!(listed.len(), INSTANCES);
    let (mut raw_ms, raw) = series(app, "/api/v1/state", &[], StatusCode::OK).await;
    assert!(!raw.gzip, "no gzip unless asked");
    report("GET /api/v1/state (identity)", &mut raw_ms, Some(raw.bytes.len()));
    let (mut gz_ms, gz) = series(app, "/api/v1/state", &[GZIP], StatusCode::OK).await;
    assert!(gz.gzip, "content-encoding: gzip when the browser accepts it");
    let inflated = gunzip(&gz.bytes);
    assert!(serde_json::from_slice::<Value>(&inflated).is_ok(), "the gzip body is the JSON snapshot");
    report("GET /api/v1/state (Accept-Encoding: gzip)", &mut gz_ms, Some(gz.bytes.len()));
    println!(
        "  state body: {} B raw, {} B gzip ({:.1}×), {} B per instance raw",
        thousands(inflated.len()),
        thousands(gz.bytes.len()),
        inflated.len() as f64 / gz.bytes.len() as f64,
        inflated.len() / INSTANCES
    );
    state_parts(app, instances, &inflated).await;
    // Ticks again: a 304 needs the snapshot of the tag, and "now" lasts 30 s.
    tick_now(live, instances).await;
    live.flush().await;
    let tag = get(app, "/api/v1/state", &[GZIP]).await.etag.expect("an ETag");
    let (mut nm_ms, nm) =
        series(app, "/api/v1/state", &[GZIP, ("if-none-match", tag.as_str())], StatusCode::NOT_MODIFIED).await;
    report("GET /api/v1/state, If-None-Match → 304", &mut nm_ms, Some(nm.bytes.len()));

    let (mut shell_ms, shell) = series(app, "/", &[], StatusCode::OK).await;
    report("GET / (overview shell, identity)", &mut shell_ms, Some(shell.bytes.len()));
    let (mut shell_gz_ms, shell_gz) = series(app, "/", &[GZIP], StatusCode::OK).await;
    report("GET / (overview shell, gzip)", &mut shell_gz_ms, Some(shell_gz.bytes.len()));
    println!(
        "  overview page without its (cached) assets and the event stream: shell + state = {} B gzip ({} B identity)",
        thousands(shell_gz.bytes.len() + gz.bytes.len()),
        thousands(shell.bytes.len() + raw.bytes.len())
    );
}

async fn instance_page(app: &TestApp, inst: &Instance) {
    println!("-- instance page of {}: the 24 h ASH chart (86,400 ticks × 10 sessions stored)", inst.name);
    let filters = format!("filters=name%3D{}", inst.name);
    let day = format!("from={}&to={}&{filters}", iso(DAY_START), iso(DAY_START + DAY_MS));
    let ash = format!("/api/v1/activity/session-history?compute=wait-events&bucket=300&{day}");
    let (mut ms, raw) = series(app, &ash, &[], StatusCode::OK).await;
    let rows: Value = serde_json::from_slice(&raw.bytes).unwrap();
    let rows = rows.as_array().expect("rows");
    let buckets: std::collections::BTreeSet<&str> = rows.iter().filter_map(|r| r["time"].as_str()).collect();
    let sessions: f64 = rows.iter().filter_map(|r| r["active_sessions"].as_f64()).sum();
    println!("  {} rows, {} five-minute buckets, {sessions:.0} active sessions summed", rows.len(), buckets.len());
    assert_eq!(buckets.len(), 288, "a bucket every 5 minutes of the day");
    report("session-history 24 h wait-events/300 s (identity)", &mut ms, Some(raw.bytes.len()));
    let (mut gz_ms, gz) = series(app, &ash, &[GZIP], StatusCode::OK).await;
    assert!(gz.gzip && gunzip(&gz.bytes) == raw.bytes, "the same rows, compressed");
    report("session-history 24 h wait-events/300 s (gzip)", &mut gz_ms, Some(gz.bytes.len()));

    // Every API call the instance page makes on open (24 h range), as its script does.
    let hour = format!("from={}&to={}&{filters}", iso(DAY_START + DAY_MS - 3_600_000), iso(DAY_START + DAY_MS));
    let calls = [
        format!("/api/v1/instances/{}", inst.name),
        format!("/api/v1/state?instance={}", inst.name),
        ash.clone(),
        format!("/api/v1/activity/top-queries?limit=20&{day}"),
        format!("/api/v1/activity/locks?{hour}"),
        format!("/api/v1/activity/tables?{hour}&limit=20"),
        format!("/api/v1/activity/indexes?{hour}&limit=20"),
        format!("/api/v1/activity/pg-instance-infos?{hour}"),
    ];
    let (mut total, mut total_raw) = (0, 0);
    for path in &calls {
        let (a, r) = (get(app, path, &[GZIP]).await, get(app, path, &[]).await);
        println!(
            "  {:>9} B gzip {:>9} B identity  {} {}",
            thousands(a.bytes.len()),
            thousands(r.bytes.len()),
            a.status.as_u16(),
            path.split('?').next().unwrap()
        );
        total += a.bytes.len();
        total_raw += r.bytes.len();
    }
    println!("  instance page API calls: {} B gzip ({} B identity)", thousands(total), thousands(total_raw));
}

async fn dashboard(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Instant::now();
    let instances = seed(&app).await;
    println!(
        "\n== {b:?}: seeded {INSTANCES} instances and {ALERTED} open alerts in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    store_day(&app, &instances[0]).await;
    println!("stored a day of 1 s ASH (10 sessions) for {} in {:.1} s", instances[0].name, t.elapsed().as_secs_f64());
    // A writer feeding the API's fresh ASH, as `serve` runs it (its tail off: nothing on disk
    // competes with the measures).
    let config = SamplerConfig { ash_tail_seconds: 0, ..SamplerConfig::default() };
    let live = ActivityWriter::start_feeding(app.store.clone(), &config, &app.ctx.fresh_ash);
    overview(&app, &live, &instances).await;
    instance_page(&app, &instances[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn sqlite() {
    dashboard(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn postgres() {
    dashboard(Backend::Postgres).await;
}
