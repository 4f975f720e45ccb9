//! The native sampler against real private PostgreSQL clusters: an ASH tick sees a row-lock wait
//! with its blocker (and not our own backend), statement deltas stay right across a reset and a
//! server restart, and the supervisor turns `connected` false while a server is down and resumes
//! sampling when it is back.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use support::{Backend, SECRET_KEY};
use vigia::config::SamplerConfig;
use vigia::model::{AshTick, Batch};
use vigia::sampler::activity_metrics::{ActivitySampler, SampleSet, SessionStats};
use vigia::sampler::ash::AshSampler;
use vigia::sampler::conn::{self, Target};
use vigia::sampler::relations::RelationSampler;
use vigia::sampler::statements::{Outcome, StatementSampler};
use vigia::sampler::{inventory, locks, Sampler};
use vigia::secrets::SecretBox;
use vigia::store::InstanceUpdate;
use vigia::timeseries::MetricWriter;
use vigia_testkit::PgCluster;

fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        user: "postgres".into(),
        password: String::new(),
        tls: Default::default(),
        statement_timeout_ms: 2000,
        networks: Vec::new().into(),
    }
}

/// Polls `probe` until it returns `Some`, failing with `what` after `limit`.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.unwrap()
}

#[tokio::test]
async fn ash_shows_a_row_lock_wait_with_its_blocker_and_the_tree() {
    let url = vigia_testkit::fresh_database_url().unwrap();
    let mut holder = PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE t (id int PRIMARY KEY, v int)").execute(&mut holder).await.unwrap();
    sqlx::query("INSERT INTO t VALUES (1, 0)").execute(&mut holder).await.unwrap();
    let holder_pid = pid(&mut holder).await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("UPDATE t SET v = v + 1 WHERE id = 1").execute(&mut holder).await.unwrap();

    let mut waiter = PgConnection::connect(&url).await.unwrap();
    let waiter_pid = pid(&mut waiter).await;
    let blocked = tokio::spawn(async move {
        sqlx::query("UPDATE t SET v = v + 2 WHERE id = 1").execute(&mut waiter).await.map(|_| ())
    });

    let port = vigia_testkit::shared().port();
    let mut sampler_conn = conn::connect(&target(port), "postgres").await.unwrap();
    let own_pid = pid(&mut sampler_conn).await;
    let version = inventory::server_version_num(&mut sampler_conn).await.unwrap();
    let mut ash = AshSampler::new(version, 2048);
    let start = Instant::now();
    let tick: AshTick = loop {
        let tick = ash.tick(&mut sampler_conn, vigia::store::now_ms()).await.unwrap();
        if tick.sessions.iter().any(|s| s.pid == waiter_pid && s.wait_event_type == "Lock") {
            break tick;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the waiter never showed on a lock: {tick:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let waiter = tick.sessions.iter().find(|s| s.pid == waiter_pid).unwrap();
    assert_eq!(waiter.blocking_pids, [holder_pid]);
    assert_eq!((waiter.state.as_str(), waiter.wait_event.as_str()), ("active", "transactionid"));
    assert_eq!(waiter.command, "UPDATE", "command from the query id's text");
    assert_ne!(waiter.query_id, 0);
    assert!(waiter.query_start_ms.is_some() && waiter.backend_start_ms > 0);
    let holder_row = tick.sessions.iter().find(|s| s.pid == holder_pid).expect("holder in the tick");
    assert_eq!(holder_row.state, "idle in transaction");
    assert!(holder_row.blocking_pids.is_empty() && holder_row.xact_start_ms.is_some());
    assert!(tick.sessions.iter().all(|s| s.pid != own_pid && s.application != conn::APPLICATION_NAME));
    assert!(tick.sessions.iter().filter(|s| s.wait_event_type != "Lock").all(|s| s.blocking_pids.is_empty()));

    let trees = locks::build_trees(&tick, 0.0);
    let root = trees.iter().find(|t| t.pid == holder_pid).expect("holder is a root");
    assert_eq!(root.blocked.iter().map(|n| n.pid).collect::<Vec<_>>(), [waiter_pid]);
    assert!(locks::build_trees(&tick, 3600.0).iter().all(|t| t.pid != holder_pid), "an hour-long delay hides it");

    // A second tick reads no text for known ids and still names the command from the cache.
    let again = ash.tick(&mut sampler_conn, vigia::store::now_ms()).await.unwrap();
    assert_eq!(again.sessions.iter().find(|s| s.pid == waiter_pid).unwrap().command, "UPDATE");

    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    blocked.await.unwrap().unwrap();
}

/// Runs the probe statement `n` times on `conn` (one prepared statement, `n` calls).
async fn probe(conn: &mut PgConnection, n: i32) {
    for i in 0..n {
        sqlx::query("SELECT count(*) AS vigia_probe FROM pg_class WHERE oid = $1")
            .bind(i)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

fn batch(outcome: Outcome) -> vigia::model::StatementBatch {
    match outcome {
        Outcome::Batch(b) => {
            assert!(b.interval_ms >= 0);
            for d in &b.deltas {
                let c = &d.counters;
                assert!(c.calls > 0 && c.total_time >= 0.0 && c.rows >= 0 && c.shared_blks_hit >= 0, "{d:?}");
            }
            b
        }
        other => panic!("expected a batch, got {other:?}"),
    }
}

fn probe_calls(b: &vigia::model::StatementBatch, queryid: i64) -> i64 {
    b.deltas.iter().filter(|d| d.queryid == queryid).map(|d| d.counters.calls).sum()
}

#[tokio::test]
async fn statement_deltas_stay_right_across_reset_and_restart() {
    let cluster = PgCluster::start().unwrap();
    let t = target(cluster.port());
    let mut conn = conn::connect(&t, "postgres").await.unwrap();
    let version = inventory::server_version_num(&mut conn).await.unwrap();
    let mut s = StatementSampler::new(version, 2048, 0, 0);

    let missing = s.sample(&mut conn, 0).await.unwrap();
    assert!(matches!(&missing, Outcome::Unavailable(why) if why.contains("not installed")), "{missing:?}");
    cluster.psql("postgres", "CREATE EXTENSION pg_stat_statements").unwrap();
    assert_eq!(s.sample(&mut conn, 1_000).await.unwrap(), Outcome::Baseline);

    let mut app = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    probe(&mut app, 5).await;
    let first = batch(s.sample(&mut conn, 61_000).await.unwrap());
    assert_eq!(first.interval_ms, 60_000);
    let (queryid, text) = first.texts.iter().find(|(_, t)| t.contains("vigia_probe")).expect("probe text").clone();
    assert!(text.starts_with("SELECT count(*)"), "{text}");
    assert_eq!(probe_calls(&first, queryid), 5);

    cluster.psql("postgres", "SELECT pg_stat_statements_reset()").unwrap();
    probe(&mut app, 3).await;
    let after_reset = batch(s.sample(&mut conn, 121_000).await.unwrap());
    assert_eq!(probe_calls(&after_reset, queryid), 3);
    assert!(after_reset.texts.iter().all(|(q, _)| *q != queryid), "a known text is not read again");

    probe(&mut app, 2).await;
    assert_eq!(probe_calls(&batch(s.sample(&mut conn, 181_000).await.unwrap()), queryid), 2);

    cluster.restart_server().unwrap();
    let mut conn = conn::connect(&t, "postgres").await.unwrap();
    let mut app = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    probe(&mut app, 4).await;
    assert_eq!(probe_calls(&batch(s.sample(&mut conn, 241_000).await.unwrap()), queryid), 4);
    probe(&mut app, 1).await;
    assert_eq!(probe_calls(&batch(s.sample(&mut conn, 301_000).await.unwrap()), queryid), 1);
}

#[tokio::test]
async fn stopped_server_turns_connected_false_and_sampling_resumes_after_restart() {
    let cluster = PgCluster::start().unwrap();
    let (store, _dir) = support::fresh_store(Backend::Sqlite).await;
    let tenant = store.ensure_tenant("default").await.unwrap();
    let high = InstanceUpdate { collection_rate: Some("high".into()), ..Default::default() };
    let instance = support::sampled_instance(&store, tenant.id, cluster.port(), &high).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let received: Arc<Mutex<Vec<Batch>>> = Arc::default();
    let sink = received.clone();
    let drain = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            sink.lock().unwrap().push(b);
        }
    });
    let config = SamplerConfig { statement_timeout_ms: 1000, ..SamplerConfig::default() };
    let metrics = MetricWriter::start(store.clone());
    let sampler = Sampler::new(store.clone(), secrets, metrics, tx, config)
        .with_poll_interval(Duration::from_millis(200))
        .with_max_backoff(Duration::from_millis(500))
        .spawn();

    let connected = |want: bool| {
        let store = store.clone();
        move || {
            let store = store.clone();
            async move {
                let i = store.instance_by_name(tenant.id, "pg1").await.unwrap().unwrap();
                (i.connected == want).then_some(i)
            }
        }
    };
    let ash_after = |since_ms: i64| {
        let received = received.clone();
        move || {
            let got = received.lock().unwrap().iter().any(|b| {
                matches!(b, Batch::Ash(k, t) if k.instance_id == instance.id && k.tenant_id == tenant.id && t.ts_ms > since_ms)
            });
            async move { got.then_some(()) }
        }
    };
    let up = eventually("connected = true", Duration::from_secs(10), connected(true)).await;
    assert_eq!(up.last_error, None);
    eventually("a first ASH tick", Duration::from_secs(10), ash_after(0)).await;
    let inventory = eventually("an inventory", Duration::from_secs(10), || {
        let found = received.lock().unwrap().iter().find_map(|b| match b {
            Batch::Inventory(_, inv) => Some(inv.clone()),
            _ => None,
        });
        async move { found }
    })
    .await;
    assert!(inventory.version.starts_with(|c: char| c.is_ascii_digit()) && !inventory.is_replica);
    assert!(inventory.databases.contains_key("postgres") && inventory.settings.contains_key("shared_buffers"));
    assert!(!inventory.statements_available, "the extension is not created on this cluster");
    assert!(inventory.statements_error.as_deref().unwrap_or("").contains("not installed"));

    cluster.stop().unwrap();
    let down = eventually("connected = false", Duration::from_secs(15), connected(false)).await;
    assert!(down.last_error.is_some_and(|e| !e.is_empty()));

    cluster.restart_server().unwrap();
    let restarted_ms = vigia::store::now_ms();
    eventually("connected = true again", Duration::from_secs(15), connected(true)).await;
    eventually("an ASH tick after the restart", Duration::from_secs(10), ash_after(restarted_ms)).await;

    // Disabling the instance stops its task: ticks stop arriving within a poll or two.
    let off = InstanceUpdate { enabled: Some(false), ..Default::default() };
    store.update_instance(tenant.id, "pg1", &off).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let stopped_ms = vigia::store::now_ms();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(ash_after(stopped_ms)().await.is_none(), "a disabled instance is not sampled");

    sampler.abort();
    drain.abort();
}

#[tokio::test]
async fn activity_and_relation_cycles_read_a_real_server() {
    let url = vigia_testkit::fresh_database_url().unwrap();
    let db = url.rsplit('/').next().unwrap().to_string();
    let mut app = PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE items (id int PRIMARY KEY)").execute(&mut app).await.unwrap();
    let t = target(vigia_testkit::shared().port());
    let mut conn = conn::connect(&t, "postgres").await.unwrap();
    let version = inventory::server_version_num(&mut conn).await.unwrap();

    let mut activity = ActivitySampler::new(version);
    let sessions = SessionStats { ticks: 2, active: 3, cpu: 1, blocked_max: 1 };
    let names = |out: &SampleSet<'_>| out.samples.iter().map(|s| s.metric.clone()).collect::<Vec<_>>();
    let mut first = SampleSet { tenant_id: 7, resource: "pg", ts: 1, samples: vec![] };
    activity.sample(&mut conn, &sessions, &mut first).await.unwrap();
    let first_names = names(&first);
    for gauge in [
        "pg.up",
        "pg.connections",
        "pg.max_connections",
        "pg.connections_pct",
        "pg.db.num_backends",
        "pg.longest_xact_seconds",
    ] {
        assert!(first_names.iter().any(|n| n == gauge), "{gauge} missing from {first_names:?}");
    }
    assert!(!first_names.iter().any(|n| n == "pg.db.xact_commit"), "counters need a previous cycle");
    assert!(first.samples.iter().any(|s| s.metric == "pg.sessions.active" && s.value == 1.5));
    let mut second = SampleSet { tenant_id: 7, resource: "pg", ts: 2, samples: vec![] };
    activity.sample(&mut conn, &SessionStats::default(), &mut second).await.unwrap();
    let second_names = names(&second);
    for delta in ["pg.db.xact_commit", "pg.db.blk_read_time", "pg.bgwriter.buffers_alloc", "pg.wal_bytes"] {
        assert!(second_names.iter().any(|n| n == delta), "{delta} missing from {second_names:?}");
    }
    assert!(second.samples.iter().all(|s| s.value >= 0.0 && s.tenant_id == 7 && s.resource == "pg"));
    let commits =
        second.samples.iter().find(|s| s.metric == "pg.db.xact_commit" && s.labels.get("database") == Some(&db));
    assert!(commits.is_some(), "per-database samples carry the database label");

    let mut relations = RelationSampler::default();
    assert_eq!(relations.sample(&mut conn, &t, 1000, 1_000).await.unwrap(), None, "first cycle is a baseline");
    sqlx::query("INSERT INTO items SELECT generate_series(1, 3)").execute(&mut app).await.unwrap();
    // Backends publish their table counters when idle, at most once a second — or up to 10 s
    // later when they flushed less than a second ago (PostgreSQL 15's idle interval), unless
    // asked to flush at their next idle moment (15+; older servers just take longer).
    let _ = sqlx::query("SELECT pg_stat_force_next_flush()").execute(&mut app).await;
    let (start, mut ts) = (Instant::now(), 1_000);
    let items = loop {
        ts += 1_000;
        let batch = relations.sample(&mut conn, &t, 1000, ts).await.unwrap().expect("a batch after the baseline");
        let row = batch.tables.iter().find(|r| r.database == db && r.table == "items").cloned();
        // Every table is in every batch (sizes are gauges); its counters move once the backend flushed.
        if let Some(row) = row.filter(|r| r.n_tup_ins != 0) {
            assert_eq!(row.n_tup_ins, 3, "{row:?}");
            break (row, batch);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the inserts never showed in a table delta");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((items.0.relkind.as_str(), items.0.schema.as_str()), ("table", "public"));
    assert!(items.1.indexes.iter().any(|i| i.database == db && i.index == "items_pkey"));
    assert!(!items.1.skipped_databases.contains(&db));

    let mut strict = RelationSampler::default();
    let skipped = strict.sample(&mut conn, &t, 0, 1).await.unwrap();
    assert_eq!(skipped, None);
    let skipped = strict.sample(&mut conn, &t, 0, 2).await.unwrap().unwrap();
    assert!(skipped.skipped_databases.contains(&db) && skipped.tables.iter().all(|r| r.database != db));
}

/// Cost of one ASH tick with 50 sessions idle in transaction (run with `--ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn ash_tick_cost() {
    let url = vigia_testkit::fresh_database_url().unwrap();
    let mut held = Vec::new();
    for _ in 0..50 {
        let mut c = PgConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut c).await.unwrap();
        sqlx::query("SELECT 1").execute(&mut c).await.unwrap();
        held.push(c);
    }
    let mut conn = conn::connect(&target(vigia_testkit::shared().port()), "postgres").await.unwrap();
    let version = inventory::server_version_num(&mut conn).await.unwrap();
    let mut ash = AshSampler::new(version, 2048);
    let n = 500;
    let start = Instant::now();
    let mut sessions = 0;
    for _ in 0..n {
        sessions += ash.tick(&mut conn, 0).await.unwrap().sessions.len();
    }
    let per_tick = start.elapsed() / n;
    println!("ASH tick: {per_tick:?} per tick (wall, client + server), {} sessions per tick", sessions / n as usize);
}
