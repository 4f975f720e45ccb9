//! Table and index activity, instance activity from the `pg.*` series, inventory, data size and
//! top consumers, and the `server` endpoint without a host collector.

use super::*;

backend_tests!(
    tables_and_indexes_activity,
    instance_activity_inventory_data_size_and_consumers,
    server_without_host_collector_says_so,
);

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
