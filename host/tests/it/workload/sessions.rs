//! Session history and wait events per bucket, from ASH ticks through the real writer; hourly
//! rollups, retention and lock trees.

use super::*;

backend_tests!(
    session_history_has_the_documented_fields_in_json_and_csv,
    wait_events_average_active_sessions_per_bucket,
    hourly_rollups_and_retention,
    lock_trees_flatten_to_rows,
);

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
    // A metric point is kept as long as the minute rollups (90 days), then purged too.
    let key = vigia::store::SeriesKey {
        tenant_id: f.app.admin_user.tenant_id,
        resource: "sales".into(),
        metric: "pg.connections".into(),
        labels: "{}".into(),
    };
    let series = f.app.store.series_id(&key, None, "test").await.unwrap();
    let point = vigia::store::Point { series_id: series, ts: T0, value: 3.0 };
    f.app.store.insert_points(&[point]).await.unwrap();
    // Past retention everything raw goes; the rollups stay longer.
    let later = T0 + 20 * 86_400_000;
    let deleted = activity::maintain(&f.app.store, &config, later).await.unwrap();
    assert!(deleted > 0);
    let r = activity(&f.app, "session-history", range(json!({}))).await;
    assert_eq!(ok_rows(&r).len(), 0, "raw samples past 14 days are gone");
    let r = activity(&f.app, "top-queries", json!({"from": "2025-12-20", "to": "2026-01-29"})).await;
    assert_eq!(rows_len_calls(&r).0, 3, "hourly statement rollups are kept");
    assert_eq!(f.app.store.count_points(series, T0, T0).await.unwrap(), 1, "metric points outlive raw samples");
    activity::maintain(&f.app.store, &config, T0 + 91 * 86_400_000).await.unwrap();
    assert_eq!(f.app.store.count_points(series, T0, T0).await.unwrap(), 0, "metric points past 90 days are gone");
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
