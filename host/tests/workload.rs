//! The workload API (`/ds-api/activity/*`, `/api/v1/activity/*`) over real storage on both
//! backends: known sampler batches go through the real `ActivityWriter` into SQLite or PostgreSQL,
//! and each endpoint must give back exactly what they imply, in JSON and in CSV alike.

mod support;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::{Backend, Resp, TestApp};
use vigia::activity::{self, ActivityWriter};
use vigia::config::SamplerConfig;
use vigia::model::*;
use vigia::timeseries::{MetricWriter, Sample};

backend_tests!(
    session_history_has_the_documented_fields_in_json_and_csv,
    wait_events_average_active_sessions_per_bucket,
    top_queries_sum_deltas_sort_and_limit,
    queries_summary_and_one_query,
    tables_and_indexes_activity,
    instance_activity_inventory_data_size_and_consumers,
    server_without_host_collector_says_so,
    filters_tenancy_and_profiles,
    bad_requests_name_the_problem,
    native_get_with_query_string_and_accept_csv,
    hourly_rollups_and_retention,
    lock_trees_flatten_to_rows,
    roles_narrow_workload_to_their_instances,
);

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
        keys.push(InstanceKey { tenant_id: tenant, instance_id: instance.id });
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

async fn session_history_has_the_documented_fields_in_json_and_csv(b: Backend) {
    let f = fixture(b).await;
    let tx = f.writer.sender();
    for i in 0..3 {
        let ts = T0 + 60_000 + i * 1000;
        tx.send(Batch::Ash(
            f.sales.clone(),
            tick(ts, &[session(4242, "CPU", "CPU"), session(4243, "Lock", "transactionid")]),
        ))
        .await
        .unwrap();
    }
    tx.send(Batch::Ash(f.crm.clone(), tick(T0 + 60_000, &[session(7, "IO", "DataFileRead")]))).await.unwrap();
    f.writer.flush().await;

    let body = range(
        json!({"utc_time": true, "filters": [{"tag": "pg_instance", "value": "127.0.0.1@sales"}], "output": "json"}),
    );
    for endpoint in ["session-history", "sessions-workload"] {
        let r = activity(&f.app, endpoint, body.clone()).await;
        let rows = ok_rows(&r);
        assert_eq!(rows.len(), 6, "3 ticks × 2 sessions of sales only: {}", r.text);
        let first = &rows[0];
        let expected = json!({
            "time": "2026-01-10T10:01:00Z", "queryid": "5242", "application_name": "billing",
            "client_host_name": "10.0.0.7", "command_type": "UPDATE", "database": "shop",
            "pg_instance": "127.0.0.1@sales", "process_id": "4242 - sales", "server": "127.0.0.1",
            "user_name": "app", "wait_event": "CPU", "wait_event_type": "CPU", "state": "active",
            "backend_type": "client backend", "application": "sales", "environment": "production"
        });
        assert_eq!(first, &expected, "{}", r.text);
        let blocked = rows.iter().find(|r| r["process_id"] == "4243 - sales").unwrap();
        assert_eq!((&blocked["wait_event_type"], &blocked["blocking_pids"]), (&json!("Lock"), &json!("4242")));
        assert_eq!(blocked["application_name"], "N/A", "an empty application shows as N/A");
        csv_agrees(&f.app, endpoint, body.clone(), rows).await;
    }
    // Outside the range: nothing; a database filter that matches nothing: nothing.
    let r = activity(&f.app, "session-history", json!({"from": "2026-01-10 09:00", "to": "2026-01-10 09:59"})).await;
    assert_eq!(ok_rows(&r).len(), 0);
    let r =
        activity(&f.app, "session-history", range(json!({"filters": [{"tag": "database", "value": "other"}]}))).await;
    assert_eq!(ok_rows(&r).len(), 0);
    let r = activity(&f.app, "session-history", range(json!({"database": "shop"}))).await;
    assert_eq!(ok_rows(&r).len(), 7, "both instances of tenant default, not the other tenant's");
}

async fn wait_events_average_active_sessions_per_bucket(b: Backend) {
    let f = fixture(b).await;
    let tx = f.writer.sender();
    // Minute 1: 60 ticks, 2 on CPU each tick and 1 on a lock every other tick. Minute 2: 60 idle ticks.
    for i in 0..120 {
        let ts = T0 + i * 1000;
        let mut s = Vec::new();
        if i < 60 {
            s.extend([session(10, "CPU", "CPU"), session(11, "CPU", "CPU")]);
            if i % 2 == 0 {
                s.push(session(12, "Lock", "tuple"));
            }
        }
        tx.send(Batch::Ash(f.sales.clone(), tick(ts, &s))).await.unwrap();
    }
    f.writer.flush().await;
    let filters = json!([{"tag": "name", "value": "sales"}]);
    for bucket in [60, 30] {
        // 60 s buckets come from the minute rollups, 30 s ones from the raw chunks: same answer.
        let body = range(json!({"compute": "wait-events", "bucket": bucket, "filters": filters}));
        let r = activity(&f.app, "session-history", body.clone()).await;
        let rows = ok_rows(&r);
        let by_key: BTreeMap<(String, String), f64> = rows
            .iter()
            .map(|r| {
                (
                    (r["time"].as_str().unwrap().to_string(), r["wait_event"].as_str().unwrap().to_string()),
                    r["active_sessions"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            by_key.get(&("2026-01-10T10:00:00Z".into(), "CPU".into())),
            Some(&2.0),
            "bucket {bucket}: {}",
            r.text
        );
        assert_eq!(
            by_key.get(&("2026-01-10T10:00:00Z".into(), "tuple".into())),
            Some(&0.5),
            "bucket {bucket}: {}",
            r.text
        );
        assert!(
            by_key.keys().all(|(t, _)| t.as_str() < "2026-01-10T10:01:00Z"),
            "the idle minute has no rows: {}",
            r.text
        );
        csv_agrees(&f.app, "session-history", body, rows).await;
    }
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

async fn top_queries_sum_deltas_sort_and_limit(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let r = activity(&f.app, "top-queries", range(json!({"by": "total_time", "limit": 10})));
    let r = r.await;
    let rows = ok_rows(&r);
    let order: Vec<&str> = rows.iter().map(|r| r["queryid"].as_str().unwrap()).collect();
    assert_eq!(order, ["3", "1", "2"], "by total_time: 400, 75, 40: {}", r.text);
    let q1 = &rows[1];
    assert_eq!((q1["calls"].clone(), q1["total_time"].clone(), q1["rows"].clone()), (json!(15), json!(75), json!(15)));
    assert_eq!(q1["shared_blks_hit"], 150);
    assert_eq!(q1["text"], "UPDATE stock SET n = n - $1");
    assert_eq!(q1["query_md5_id"], activity::text_md5("UPDATE stock SET n = n - $1"));
    assert_eq!(
        (q1["database"].clone(), q1["user"].clone(), q1["pg_instance"].clone()),
        (json!("shop"), json!("app"), json!("127.0.0.1@sales"))
    );
    csv_agrees(&f.app, "top-queries", range(json!({"by": "total_time", "limit": 10})), rows).await;

    let r = activity(&f.app, "top-queries", range(json!({"by": "calls", "limit": 1}))).await;
    assert_eq!(ok_rows(&r).len(), 1);
    assert_eq!(ok_rows(&r)[0]["queryid"], "2");
    assert_eq!(ok_rows(&r)[0]["calls"], 200);
    let r = activity(&f.app, "top-queries", range(json!({"database": "hr"}))).await;
    assert_eq!(ok_rows(&r).iter().map(|r| r["queryid"].clone()).collect::<Vec<_>>(), [json!("3")]);
}

async fn queries_summary_and_one_query(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let r = activity(&f.app, "queries-summary", range(json!({}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 2, "{}", r.text);
    let shop = rows.iter().find(|r| r["database"] == "shop").unwrap();
    assert_eq!((shop["calls"].clone(), shop["total_time"].clone()), (json!(215), json!(115)));
    // Mean time per call: 5 ms (15 calls), 0.2 ms (200 calls) → 90th percentile 0.2, 99th 5.
    assert_eq!((shop["perc_90"].as_f64(), shop["perc_99"].as_f64()), (Some(0.2), Some(5.0)), "{}", r.text);
    csv_agrees(&f.app, "queries-summary", range(json!({})), rows).await;

    let md5 = activity::text_md5("SELECT * FROM stock WHERE id = $1");
    let r = activity(&f.app, "query", range(json!({"query_md5_id": md5}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 1, "{}", r.text);
    assert_eq!((rows[0]["queryid"].clone(), rows[0]["calls"].clone()), (json!("2"), json!(200)));
    let r = activity(&f.app, "query", range(json!({"queryid": 3}))).await;
    assert_eq!(ok_rows(&r)[0]["text"], "select pg_sleep($1)");
    let r = activity(&f.app, "query", range(json!({}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("query_md5_id"), "{}", r.text);
}

async fn tables_and_indexes_activity(b: Backend) {
    let f = fixture(b).await;
    let table = |name: &str, hits: i64, size: i64| TableActivity {
        database: "shop".into(),
        schema: "public".into(),
        table: name.into(),
        relid: 100 + hits,
        relkind: "table".into(),
        size_bytes: size,
        heap_blks_hit: hits,
        seq_scan: 1,
        last_autovacuum_ms: Some(T0),
        ..Default::default()
    };
    let index = |name: &str, scans: i64| IndexActivity {
        database: "shop".into(),
        schema: "public".into(),
        table: "stock".into(),
        index: name.into(),
        idx_scan: scans,
        idx_blks_hit: scans * 3,
        size_bytes: 8192,
        ..Default::default()
    };
    for (i, grow) in [(1, 0), (2, 8192)] {
        let batch = RelationBatch {
            ts_ms: T0 + i * 60_000,
            interval_ms: 60_000,
            tables: vec![table("stock", 50, 16384 + grow), table("orders", 10, 8192)],
            indexes: vec![index("stock_pkey", 7), index("stock_idx", 1)],
            skipped_databases: vec![],
        };
        f.writer.sender().send(Batch::Relations(f.sales.clone(), batch)).await.unwrap();
    }
    f.writer.flush().await;
    let r = activity(&f.app, "tables", range(json!({"by": "heap_blks_hit", "limit": 40}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.iter().map(|r| r["rel_name"].clone()).collect::<Vec<_>>(), [json!("stock"), json!("orders")]);
    let stock = &rows[0];
    assert_eq!(
        (stock["heap_blks_hit"].clone(), stock["seq_scan"].clone(), stock["size"].clone()),
        (json!(100), json!(2), json!(24576)),
        "counters add up, the size is the latest level: {}",
        r.text
    );
    assert_eq!(
        (stock["schema_name"].clone(), stock["relkind"].clone(), stock["last_autovacuum"].clone()),
        (json!("public"), json!("table"), json!("2026-01-10T10:00:00Z"))
    );
    csv_agrees(&f.app, "tables", range(json!({"by": "heap_blks_hit", "limit": 40})), rows).await;
    let r = activity(&f.app, "indexes", range(json!({"by": "idx_scan"}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows[0]["index_rel_name"], "stock_pkey");
    assert_eq!((rows[0]["idx_scan"].clone(), rows[0]["idx_blks_hit"].clone()), (json!(14), json!(42)));
    let r = activity(&f.app, "tables", range(json!({"by": "bogus"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("\"bogus\"") && r.error().contains("heap_blks_hit"), "{}", r.text);
}

fn sample(f: &Fixture, instance: &str, metric: &str, database: Option<&str>, ts: i64, value: f64) -> Sample {
    Sample {
        tenant_id: f.sales.tenant_id,
        resource: instance.into(),
        metric: metric.into(),
        labels: database.map(|d| [("database".to_string(), d.to_string())].into()).unwrap_or_default(),
        unit: None,
        ts,
        value,
    }
}

async fn instance_activity_inventory_data_size_and_consumers(b: Backend) {
    let f = fixture(b).await;
    let mut samples = Vec::new();
    for minute in 0..3 {
        let ts = T0 + minute * 60_000 + 5_000;
        for (db, commits) in [("shop", 100.0), ("hr", 10.0)] {
            samples.push(sample(&f, "sales", "pg.db.xact_commit", Some(db), ts, commits));
            samples.push(sample(&f, "sales", "pg.db.blks_hit", Some(db), ts, commits * 2.0));
            samples.push(sample(&f, "sales", "pg.db.num_backends", Some(db), ts, 3.0));
        }
        samples.push(sample(&f, "sales", "pg.bgwriter.buffers_alloc", None, ts, 7.0));
        samples.push(sample(&f, "sales", "pg.wal_bytes", None, ts, 1000.0));
        samples.push(sample(&f, "crm", "pg.wal_bytes", None, ts, 10.0));
    }
    samples.push(sample(&f, "sales", "pg.db.size_bytes", Some("shop"), T0 + 10_000, 5.0e6));
    samples.push(sample(&f, "sales", "pg.db.size_bytes", Some("shop"), T0 + 20_000, 6.0e6));
    f.metrics.write(samples, "sampler").await;
    f.metrics.flush().await;
    let mut settings = BTreeMap::new();
    settings.insert("shared_buffers".to_string(), ("16384".to_string(), Some("8kB".to_string())));
    let inventory = Inventory {
        ts_ms: T0,
        version: "15.19".into(),
        version_full: "PostgreSQL 15.19 on x86_64".into(),
        server_version_num: 150019,
        start_time_ms: T0 - 86_400_000 - 3_723_000,
        is_replica: false,
        max_connections: 100,
        databases: [("shop".to_string(), 6_000_000), ("hr".to_string(), 1_000_000)].into(),
        settings,
        statements_available: true,
        statements_error: None,
    };
    f.writer.sender().send(Batch::Inventory(f.sales.clone(), inventory)).await.unwrap();
    load_statements(&f).await;

    let r = activity(&f.app, "pg-instance", range(json!({"compute": "details"}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 3, "one row a minute: {}", r.text);
    assert_eq!(
        (rows[0]["database"].clone(), rows[0]["xact_commit"].clone(), rows[0]["num_backends"].clone()),
        (json!("all"), json!(110), json!(6))
    );
    assert_eq!(rows[0]["time"], "2026-01-10T10:00:00Z");
    csv_agrees(&f.app, "pg-instance", range(json!({"compute": "details"})), rows).await;
    let r = activity(&f.app, "pg-instance", range(json!({"compute": "summary", "database": "shop"}))).await;
    let rows = ok_rows(&r);
    assert_eq!(
        (rows[0]["database"].clone(), rows[0]["xact_commit"].clone(), rows[0]["num_backends"].clone()),
        (json!("shop"), json!(300), json!(3)),
        "{}",
        r.text
    );
    let r = activity(&f.app, "pg-background", range(json!({"compute": "summary"}))).await;
    assert_eq!(ok_rows(&r)[0]["buffers_alloc"], 21);

    let r = activity(&f.app, "pg-instance-infos", range(json!({}))).await;
    let rows = ok_rows(&r);
    let sales = rows.iter().find(|r| r["pg_instance"] == "127.0.0.1@sales").unwrap();
    assert_eq!(
        (sales["version"].clone(), sales["type"].clone(), sales["size"].clone()),
        (json!("15.19"), json!("primary"), json!(7_000_000))
    );
    assert_eq!(sales["tags"], r#"{"application":"sales","environment":"production"}"#);
    assert_eq!(sales["settings"], r#"{"shared_buffers":["16384","8kB"]}"#, "settings that matter");
    assert_eq!(sales["wal_size"], 3000);
    assert_eq!(sales["start_time"], "2026-01-09 08:57:57");
    let uptime = sales["uptime"].as_str().unwrap();
    let (days, clock) = uptime.split_once(" days ").unwrap();
    assert!(days.parse::<u32>().unwrap() >= 1 && clock.len() == 8, "{uptime}");
    let crm = rows.iter().find(|r| r["pg_instance"] == "127.0.0.1@crm").unwrap();
    assert!(crm.get("version").is_none(), "no inventory yet: {crm}");

    let r = activity(&f.app, "data-size", range(json!({"compute": "summary"}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 1, "{}", r.text);
    assert_eq!(
        (
            rows[0]["data_size"].clone(),
            rows[0]["database"].clone(),
            rows[0]["pg_version"].clone(),
            rows[0]["application"].clone()
        ),
        (json!(6_000_000), json!("shop"), json!("15.19"), json!("sales"))
    );

    let body = range(json!({"group_by": "environment", "by": "wal_size", "limit": 10}));
    let r = activity(&f.app, "top-consumers", body.clone()).await;
    let rows = ok_rows(&r);
    assert_eq!(
        rows.iter().map(|r| r["tag"].clone()).collect::<Vec<_>>(),
        [json!("production"), json!("staging")],
        "{}",
        r.text
    );
    let prod = &rows[0];
    assert_eq!(
        (prod["instances"].clone(), prod["wal_size"].clone(), prod["db_time"].clone()),
        (json!(1), json!(3000), json!(515))
    );
    assert_eq!((prod["memory_size"].clone(), prod["cache_blocks_hit"].clone()), (json!(134_217_728), json!(660)));
    csv_agrees(&f.app, "top-consumers", body, rows).await;
}

async fn server_without_host_collector_says_so(b: Backend) {
    let f = fixture(b).await;
    let r = activity(&f.app, "server", range(json!({}))).await;
    assert_eq!(ok_rows(&r).len(), 0);
    let notice = r.headers.get("x-vigia-notice").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(notice.contains("no host collector") && notice.contains("127.0.0.1"), "{notice:?}");
    // A host collector writing host.* metrics for the server fills it in.
    let samples = vec![
        sample(&f, "127.0.0.1", "host.os_user", None, T0 + 1000, 40.0),
        sample(&f, "127.0.0.1", "host.os_user", None, T0 + 2000, 60.0),
    ];
    f.metrics.write(samples, "host-collector").await;
    f.metrics.flush().await;
    let r = activity(&f.app, "server", range(json!({"compute": "summary"}))).await;
    assert_eq!(ok_rows(&r), &vec![json!({"server": "127.0.0.1", "os_user": 50})]);
    assert!(r.headers.get("x-vigia-notice").is_none());
}

async fn filters_tenancy_and_profiles(b: Backend) {
    let f = fixture(b).await;
    f.writer.sender().send(Batch::Ash(f.crm.clone(), tick(T0 + 1000, &[session(5, "CPU", "CPU")]))).await.unwrap();
    f.writer.sender().send(Batch::Ash(f.sales.clone(), tick(T0 + 1000, &[session(6, "CPU", "CPU")]))).await.unwrap();
    f.writer.flush().await;
    let names =
        |r: &Resp| ok_rows(r).iter().map(|r| r["pg_instance"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let r =
        activity(&f.app, "session-history", range(json!({"filters": [{"tag": "environment", "value": "staging"}]})))
            .await;
    assert_eq!(names(&r), ["127.0.0.1@crm"]);
    let both = json!([{"tag": "environment", "value": "staging"}, {"tag": "application", "value": "sales"}]);
    let r = activity(&f.app, "session-history", range(json!({"filters": both}))).await;
    assert!(names(&r).is_empty(), "filters are ANDed");
    let r =
        activity(&f.app, "session-history", range(json!({"filters": [{"tag": "server", "value": "127.0.0.1"}]}))).await;
    assert_eq!(names(&r).len(), 2, "tenant default's two instances; the other tenant's pid 999 never");
    assert!(!r.text.contains("999"));
    // The other tenant sees only its own.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ds-api/activity/session-history")
        .header("user-token", &f.app.other_admin)
        .header("content-type", "application/json")
        .body(Body::from(range(json!({})).to_string()))
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!(ok_rows(&r).len(), 1);
    assert_eq!(ok_rows(&r)[0]["process_id"], "999 - sales");
    // A developer reads sessions and queries, not tables (Datasentinel's developer profile).
    let dev = support::add_user(&f.app.store, f.app.admin_user.tenant_id, "dev", "read", "developer").await;
    let token = f.app.ctx.auth.issue_user_token(&dev).await.unwrap().0;
    for (endpoint, status) in
        [("session-history", StatusCode::OK), ("top-queries", StatusCode::OK), ("tables", StatusCode::FORBIDDEN)]
    {
        let r = f
            .app
            .call(Method::POST, &format!("/api/v1/activity/{endpoint}"), Some(&token), Some(range(json!({}))))
            .await;
        assert_eq!(r.status, status, "{endpoint}: {}", r.text);
    }
    let r = f.app.call(Method::POST, "/api/v1/activity/tables", Some(&token), Some(json!({}))).await;
    assert_eq!(r.error(), "missing required scope: settings:read");
    let r = f.app.call(Method::POST, "/ds-api/activity/session-history", None, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn bad_requests_name_the_problem(b: Backend) {
    let f = fixture(b).await;
    for (endpoint, body, status, needle) in [
        ("session-history", json!({"from": "2020-021-20"}), StatusCode::BAD_REQUEST, "\"from\""),
        ("session-history", json!({"from": "2020-01-22", "to": "2020-01-21"}), StatusCode::BAD_REQUEST, "after"),
        ("session-history", json!({"output": "xml"}), StatusCode::BAD_REQUEST, "output"),
        ("session-history", json!({"frm": "2020-01-22"}), StatusCode::BAD_REQUEST, "frm"),
        ("session-history", json!({"compute": "everything"}), StatusCode::BAD_REQUEST, "compute"),
        ("session-history", json!({"filters": [{"tag": "", "value": "x"}]}), StatusCode::BAD_REQUEST, "tag"),
        ("top-queries", json!({"limit": -1}), StatusCode::BAD_REQUEST, "limit"),
        ("top-queries", json!({"by": "speed"}), StatusCode::BAD_REQUEST, "total_time"),
        ("pg-instance", json!({"compute": "weekly"}), StatusCode::BAD_REQUEST, "summary"),
        ("top-consumers", json!({"by": "vibes"}), StatusCode::BAD_REQUEST, "db_time"),
        ("nonsense", json!({}), StatusCode::NOT_FOUND, "session-history"),
        ("full-report", json!({}), StatusCode::NOT_FOUND, "report"),
    ] {
        let r = activity(&f.app, endpoint, body.clone()).await;
        assert_eq!(r.status, status, "{endpoint} {body}: {}", r.text);
        assert!(r.error().contains(needle), "{endpoint} {body}: {}", r.text);
    }
    // The toolkit's empty body (and trailing commas) are accepted: the last hour, JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ds-api/activity/top-queries")
        .header("user-token", &f.app.admin)
        .header("content-type", "application/json")
        .body(Body::from(""))
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::CREATED, json!([])), "{}", r.text);
}

async fn native_get_with_query_string_and_accept_csv(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let path = "/api/v1/activity/top-queries?from=2026-01-10%2010:00&to=2026-01-10%2011:00&by=calls&limit=2&filters=name%3Dsales";
    let r = f.app.get(path, &f.app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let json_rows = r.json.as_array().unwrap().clone();
    assert_eq!(json_rows.len(), 2);
    assert_eq!(json_rows[0]["queryid"], "2");
    let req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", f.app.admin))
        .header("accept", "text/csv")
        .body(Body::empty())
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(csv_rows(&r.text), json_as_text(&json_rows));
    let r = f.app.get("/api/v1/activity/top-queries?filters=oops", &f.app.admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("oops"), "{}", r.text);
    let r = f.app.get("/api/v1/activity/top-queries?limit=abc", &f.app.admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

async fn hourly_rollups_and_retention(b: Backend) {
    let f = fixture(b).await;
    for i in 0..120 {
        let ts = T0 + i * 60_000; // two hours, one tick a minute, one session on CPU
        f.writer.sender().send(Batch::Ash(f.sales.clone(), tick(ts, &[session(1, "CPU", "CPU")]))).await.unwrap();
    }
    load_statements(&f).await;
    f.writer.flush().await;
    let config = SamplerConfig::default();
    activity::maintain(&f.app.store, &config, T0 + 2 * 3_600_000).await.unwrap();
    // A 40-day range makes hourly buckets come from the hourly rollups.
    let body = json!({"from": "2025-12-20", "to": "2026-01-29", "compute": "wait-events", "bucket": 3600, "filters": [{"tag": "name", "value": "sales"}]});
    let r = activity(&f.app, "session-history", body).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 2, "two hours: {}", r.text);
    assert!(rows.iter().all(|r| r["active_sessions"] == 1.0 && r["samples"] == 60), "{}", r.text);
    let r = activity(&f.app, "top-queries", json!({"from": "2025-12-20", "to": "2026-01-29"})).await;
    assert_eq!(rows_len_calls(&r), (3, 215 + 1), "hourly statement rollups hold the same totals");
    // Past retention everything raw goes; the rollups stay longer.
    let later = T0 + 20 * 86_400_000;
    let deleted = activity::maintain(&f.app.store, &config, later).await.unwrap();
    assert!(deleted > 0);
    let r = activity(&f.app, "session-history", range(json!({}))).await;
    assert_eq!(ok_rows(&r).len(), 0, "raw samples past 14 days are gone");
    let r = activity(&f.app, "top-queries", json!({"from": "2025-12-20", "to": "2026-01-29"})).await;
    assert_eq!(rows_len_calls(&r).0, 3, "hourly statement rollups are kept");
}

fn rows_len_calls(r: &Resp) -> (usize, i64) {
    let rows = ok_rows(r);
    (rows.len(), rows.iter().map(|r| r["calls"].as_i64().unwrap()).sum())
}

fn node(pid: i32, waiting: f64, blocked: Vec<LockNode>) -> LockNode {
    LockNode {
        pid,
        user: "app".into(),
        database: "shop".into(),
        state: if blocked.is_empty() { "active".into() } else { "idle in transaction".into() },
        wait_event_type: if pid == 100 { "Client".into() } else { "Lock".into() },
        wait_event: if pid == 100 { "ClientRead".into() } else { "transactionid".into() },
        waiting_seconds: waiting,
        query_id: pid as i64 * 10,
        blocked,
    }
}

async fn lock_trees_flatten_to_rows(b: Backend) {
    let f = fixture(b).await;
    let tree = node(100, 0.0, vec![node(101, 42.5, vec![node(102, 40.0, vec![])]), node(103, 35.0, vec![])]);
    f.writer
        .sender()
        .send(Batch::Locks(f.sales.clone(), LockSnapshot { ts_ms: T0 + 30_000, roots: vec![tree] }))
        .await
        .unwrap();
    f.writer.flush().await;
    let r = activity(&f.app, "locks", range(json!({}))).await;
    let rows = ok_rows(&r);
    let shape: Vec<(i64, Option<i64>, i64)> = rows
        .iter()
        .map(|r| (r["pid"].as_i64().unwrap(), r["blocked_by"].as_i64(), r["depth"].as_i64().unwrap()))
        .collect();
    assert_eq!(shape, [(100, None, 0), (101, Some(100), 1), (102, Some(101), 2), (103, Some(100), 1)], "{}", r.text);
    assert_eq!((rows[1]["waiting_seconds"].clone(), rows[1]["queryid"].clone()), (json!(42.5), json!("1010")));
    assert_eq!(rows[0]["time"], "2026-01-10T10:00:30Z");
    csv_agrees(&f.app, "locks", range(json!({})), rows).await;
    let r = activity(&f.app, "locks", range(json!({"filters": [{"tag": "name", "value": "crm"}]}))).await;
    assert!(ok_rows(&r).is_empty());
}

async fn roles_narrow_workload_to_their_instances(b: Backend) {
    let f = fixture(b).await;
    for key in [&f.sales, &f.crm] {
        f.writer.sender().send(Batch::Ash(key.clone(), tick(T0 + 1000, &[session(5, "CPU", "CPU")]))).await.unwrap();
    }
    load_statements(&f).await;
    let access = json!([{"filters": [{"tag": "environment", "value": "staging"}]}]);
    let r = f
        .app
        .call(Method::POST, "/api/v1/roles", Some(&f.app.admin), Some(json!({"name": "staging", "access": access})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = json!({"login": "stager", "password": support::PASSWORD, "privilege": "read", "roles": ["staging"]});
    let r = f.app.call(Method::POST, "/api/v1/users", Some(&f.app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = f.app.store.user_by_login(f.app.admin_user.tenant_id, "stager").await.unwrap().unwrap();
    let token = f.app.ctx.auth.issue_user_token(&user).await.unwrap().0;
    let r = f.app.call(Method::POST, "/api/v1/activity/session-history", Some(&token), Some(range(json!({})))).await;
    let seen: Vec<&str> = r.json.as_array().unwrap().iter().map(|r| r["pg_instance"].as_str().unwrap()).collect();
    assert_eq!(seen, ["127.0.0.1@crm"], "{}", r.text);
    // Asking for an out-of-scope instance by name gives nothing, like a missing one.
    let body = range(json!({"filters": [{"tag": "name", "value": "sales"}]}));
    let r = f.app.call(Method::POST, "/api/v1/activity/top-queries", Some(&token), Some(body)).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!([])), "{}", r.text);
    let r = f.app.call(Method::POST, "/api/v1/activity/top-queries", Some(&f.app.admin), Some(range(json!({})))).await;
    assert_eq!(r.json.as_array().unwrap().len(), 3, "the unrestricted admin sees sales' statements");
}
