//! Fresh ASH: session-history reads the writer's ticks before their chunk is cut (default 60 s
//! chunks), counts a tick exactly once while its chunk is cut under concurrent reads, and keeps
//! roles and tenants apart for fresh ticks as for stored ones.

use super::*;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vigia::activity::ActiveNow;

backend_tests!(
    fresh_ticks_are_read_before_their_chunk_is_cut,
    a_chunk_being_cut_or_just_stored_counts_once,
    the_state_snapshot_counts_active_sessions_at_the_latest_tick,
);
mod concurrent {
    use super::*;
    mt_backend_tests!(a_chunk_cut_during_reads_counts_each_tick_once);
}

/// A writer with the default chunk length (60 s) whose unflushed ticks the API reads.
fn fresh_writer(f: &Fixture) -> ActivityWriter {
    ActivityWriter::start_feeding(f.app.store.clone(), &SamplerConfig::default(), &f.app.ctx.fresh_ash)
}

async fn history_as(app: &TestApp, token: &str, body: Value) -> Vec<Value> {
    let r = app.call(Method::POST, "/api/v1/activity/session-history", Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json.as_array().unwrap_or_else(|| panic!("not an array: {}", r.text)).clone()
}

/// Polls `probe` until it answers. The deadline is generous (a loaded CI machine), yet far below
/// the 60 s chunk: without the fresh path nothing here would be readable before its cut. How
/// soon ticks are readable is measured, not asserted: BENCHMARKS.md, "Fresh ASH".
async fn soon<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not readable within 15 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rows of session-history per tick time.
fn per_time(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r["time"].as_str().unwrap().to_string()).or_default() += 1;
    }
    out
}

async fn fresh_ticks_are_read_before_their_chunk_is_cut(b: Backend) {
    let f = fixture(b).await;
    let writer = fresh_writer(&f);
    let other = f.app.store.instance_by_name(f.app.other_user.tenant_id, "sales").await.unwrap().unwrap();
    let other = InstanceKey { tenant_id: f.app.other_user.tenant_id, instance_id: other.id, lease: None };
    let tx = writer.sender();
    for i in 0..3 {
        let ts = T0 + 60_000 + i * 1000;
        let sessions = [session(4242, "CPU", "CPU"), session(4243, "Lock", "transactionid")];
        tx.send(Batch::Ash(f.sales.clone(), tick(ts, &sessions))).await.unwrap();
        tx.send(Batch::Ash(f.crm.clone(), tick(ts, &[session(7, "IO", "DataFileRead")]))).await.unwrap();
        tx.send(Batch::Ash(other.clone(), tick(ts, &[session(999, "CPU", "CPU")]))).await.unwrap();
    }
    let sales_only = range(json!({"utc_time": true, "filters": [{"tag": "name", "value": "sales"}]}));
    let admin = f.app.admin.clone();
    let rows = soon("sales' three ticks", async || {
        let rows = history_as(&f.app, &admin, sales_only.clone()).await;
        (rows.len() == 6).then_some(rows)
    })
    .await;
    let ids = [f.sales.instance_id, f.crm.instance_id, other.instance_id];
    assert!(f.app.store.ash_chunks(&ids, 0, i64::MAX).await.unwrap().is_empty(), "nothing is stored yet: all fresh");
    assert_eq!(rows[0]["process_id"], "4242 - sales");
    assert_eq!(rows[0]["time"], "2026-01-10T10:01:00Z");
    assert_eq!(
        (rows[1]["wait_event"].clone(), rows[1]["blocking_pids"].clone()),
        (json!("transactionid"), json!("4242"))
    );
    assert!(rows.iter().all(|r| r["pg_instance"] == "127.0.0.1@sales" && r["environment"] == "production"));
    let whole = history_as(&f.app, &admin, range(json!({}))).await;
    assert_eq!(whole.len(), 9, "sales and crm of tenant default, never the other tenant's: {whole:?}");
    let r = f
        .app
        .call(Method::POST, "/api/v1/activity/session-history", Some(&f.app.other_admin), Some(range(json!({}))))
        .await;
    assert_eq!(r.json.as_array().map(Vec::len), Some(3), "the other tenant sees its own fresh ticks: {}", r.text);

    // Rollup buckets (60 s) and raw buckets (30 s) both count the fresh ticks.
    let wait_events = |bucket: i64| {
        range(
            json!({"utc_time": true, "compute": "wait-events", "bucket": bucket, "filters": [{"tag": "name", "value": "sales"}]}),
        )
    };
    for bucket in [60, 30] {
        let rows = history_as(&f.app, &admin, wait_events(bucket)).await;
        assert_eq!(rows.len(), 2, "bucket {bucket}: {rows:?}");
        assert!(rows.iter().all(|r| r["active_sessions"] == 1.0 && r["samples"] == 3), "bucket {bucket}: {rows:?}");
    }

    // A user whose roles exclude sales sees none of its fresh ticks.
    let access = json!([{"filters": [{"tag": "environment", "value": "staging"}]}]);
    let r = f
        .app
        .call(Method::POST, "/api/v1/roles", Some(&admin), Some(json!({"name": "staging", "access": access})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = json!({"login": "stager", "password": support::PASSWORD, "privilege": "read", "roles": ["staging"]});
    let r = f.app.call(Method::POST, "/api/v1/users", Some(&admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = f.app.store.user_by_login(f.app.admin_user.tenant_id, "stager").await.unwrap().unwrap();
    let stager = f.app.ctx.auth.issue_user_token(&user).await.unwrap().0;
    let seen = history_as(&f.app, &stager, range(json!({}))).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|r| r["pg_instance"] == "127.0.0.1@crm"), "{seen:?}");
    assert!(history_as(&f.app, &stager, sales_only.clone()).await.is_empty(), "sales by name: nothing");
    let r = f.app.call(Method::POST, "/api/v1/activity/session-history", Some(&stager), Some(wait_events(60))).await;
    assert_eq!(r.json, json!([]), "{}", r.text);

    // Active sessions now, from the same memory.
    let now = writer.active_sessions_now(&ids);
    assert_eq!(now[&f.sales.instance_id], ActiveNow { ts_ms: T0 + 62_000, sessions: 2 });
    assert_eq!(now[&f.crm.instance_id], ActiveNow { ts_ms: T0 + 62_000, sessions: 1 });

    // Once the chunks are cut and stored, the same answers, from storage alone.
    writer.flush().await;
    assert_eq!(f.app.store.ash_chunks(&ids, 0, i64::MAX).await.unwrap().len(), 3);
    assert!(f.app.ctx.fresh_ash.ticks(&ids, 0, i64::MAX).is_empty(), "nothing fresh after the cut");
    assert_eq!(history_as(&f.app, &admin, sales_only).await, rows, "stored: the same rows, once each");
    for bucket in [60, 30] {
        let rows = history_as(&f.app, &admin, wait_events(bucket)).await;
        assert!(rows.iter().all(|r| r["samples"] == 3), "bucket {bucket} after the cut: {rows:?}");
    }
}

/// Holds storage's write lock on `ash_chunks` from another connection (readers go on): a chunk
/// cut meanwhile stays in flight until `release`.
enum WriteLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(app: &TestApp, b: Backend) -> WriteLock {
        use sqlx::{Connection, Executor};
        match b {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
                c.execute("BEGIN IMMEDIATE").await.unwrap();
                WriteLock::Sqlite(c)
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
                c.execute("BEGIN").await.unwrap();
                c.execute("LOCK TABLE ash_chunks IN EXCLUSIVE MODE").await.unwrap();
                WriteLock::Postgres(c)
            }
        }
    }

    /// Waits until the writer is stuck on the lock (PostgreSQL shows it; SQLite gets a moment).
    async fn wait_for_writer(&mut self) {
        match self {
            WriteLock::Sqlite(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            WriteLock::Postgres(c) => {
                let sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                           AND query LIKE 'INSERT INTO ash_chunks%'";
                let deadline = Instant::now() + Duration::from_secs(30);
                // This connection is inside the lock's transaction, where pg_stat_activity is a
                // snapshot taken at its first reading: drop it before each look.
                while {
                    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut *c).await.unwrap();
                    sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut *c).await.unwrap() == 0
                } {
                    assert!(Instant::now() < deadline, "the writer never waited for the lock");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    async fn release(self) {
        use sqlx::Executor;
        match self {
            WriteLock::Sqlite(mut c) => c.execute("ROLLBACK").await.map(|_| ()),
            WriteLock::Postgres(mut c) => c.execute("ROLLBACK").await.map(|_| ()),
        }
        .unwrap();
    }
}

/// The two moments of a cut a reader can meet: the chunk's transaction in flight (the chunk is
/// in memory only) and the chunk stored while the writer still shows it (in both).
async fn a_chunk_being_cut_or_just_stored_counts_once(b: Backend) {
    let f = fixture(b).await;
    let writer = fresh_writer(&f);
    let sessions = [session(1, "CPU", "CPU"), session(2, "IO", "DataFileRead")];
    let minute: Vec<i64> = (0..3).map(|i| T0 + i * 1000).collect();
    for &ts in &minute {
        writer.sender().send(Batch::Ash(f.sales.clone(), tick(ts, &sessions))).await.unwrap();
    }
    let body = range(json!({"utc_time": true, "filters": [{"tag": "name", "value": "sales"}]}));
    let buckets = range(
        json!({"utc_time": true, "compute": "wait-events", "bucket": 60, "filters": [{"tag": "name", "value": "sales"}]}),
    );
    let admin = f.app.admin.clone();
    soon("the open minute", async || (history_as(&f.app, &admin, body.clone()).await.len() == 6).then_some(())).await;
    let ids = [f.sales.instance_id];

    // The next minute's first tick cuts the chunk; its write waits for the lock.
    let mut lock = WriteLock::take(&f.app, b).await;
    writer.sender().send(Batch::Ash(f.sales.clone(), tick(T0 + 60_000, &sessions))).await.unwrap();
    lock.wait_for_writer().await;
    assert!(f.app.store.ash_chunks(&ids, 0, i64::MAX).await.unwrap().is_empty(), "the cut is in flight");
    let rows = history_as(&f.app, &admin, body.clone()).await;
    assert_eq!(
        per_time(&rows).values().copied().collect::<Vec<_>>(),
        [2, 2, 2],
        "no gap while in flight: {:?}",
        per_time(&rows)
    );
    let rolled = history_as(&f.app, &admin, buckets.clone()).await;
    assert!(rolled.iter().all(|r| r["samples"] == 3 && r["active_sessions"] == 1.0), "{rolled:?}");
    lock.release().await;
    soon("the cut chunk stored", async || {
        let stored = f.app.store.ash_chunks(&ids, 0, i64::MAX).await.unwrap();
        (stored.len() == 1).then_some(())
    })
    .await;
    let rows = history_as(&f.app, &admin, body.clone()).await;
    assert_eq!(
        per_time(&rows).values().copied().collect::<Vec<_>>(),
        [2, 2, 2, 2],
        "stored + open: {:?}",
        per_time(&rows)
    );

    // The other moment, held still: storage holds a chunk the writer still shows. A second
    // writer (not feeding the API) stores the same ticks the first one holds open.
    let twin = ActivityWriter::start_ingest(f.app.store.clone());
    for &ts in &[T0 + 61_000, T0 + 62_000] {
        writer.sender().send(Batch::Ash(f.sales.clone(), tick(ts, &sessions))).await.unwrap();
    }
    for &ts in &[T0 + 60_000, T0 + 61_000, T0 + 62_000] {
        twin.sender().send(Batch::Ash(f.sales.clone(), tick(ts, &sessions))).await.unwrap();
    }
    twin.flush().await;
    let last = soon("the open chunk's three ticks", async || {
        let fresh = f.app.ctx.fresh_ash.ticks(&ids, 0, i64::MAX);
        (fresh.len() == 1 && fresh[0].chunk.ticks.len() == 3).then_some(fresh)
    })
    .await;
    assert_eq!(last[0].chunk_start, T0 + 60_000);
    assert_eq!(f.app.store.ash_chunks(&ids, 0, i64::MAX).await.unwrap().len(), 2, "and stored");
    let rows = history_as(&f.app, &admin, body.clone()).await;
    assert_eq!(per_time(&rows).values().copied().collect::<Vec<_>>(), [2; 6], "each tick once: {:?}", per_time(&rows));
    let rolled = history_as(&f.app, &admin, buckets).await;
    assert_eq!(rolled.len(), 4, "{rolled:?}");
    assert!(rolled.iter().all(|r| r["samples"] == 3 && r["active_sessions"] == 1.0), "{rolled:?}");
}

/// Ticks per minute and sessions per tick of the concurrent test.
const PER_MINUTE: i64 = 3;
const SESSIONS: usize = 2;

/// What one read may show: every tick sent so far at most once with all its sessions, and no
/// tick missing before the last one shown (the writer handles ticks in order).
fn check_prefix(rows: &[Value], sent: &[String]) -> usize {
    let seen = per_time(rows);
    assert!(seen.values().all(|&n| n == SESSIONS), "a tick counted twice or partly: {seen:?}");
    let shown = seen.len();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), sent[..shown], "a gap: {seen:?}");
    shown
}

async fn a_chunk_cut_during_reads_counts_each_tick_once(b: Backend) {
    let f = fixture(b).await;
    let writer = fresh_writer(&f);
    let minutes = 15;
    let times: Vec<i64> =
        (0..minutes).flat_map(|m| (0..PER_MINUTE).map(move |i| T0 + m * 60_000 + i * 17_000)).collect();
    let labels: Vec<String> = times.iter().map(|&t| format_utc(t)).collect();
    let minute_labels: Vec<String> = (0..minutes).map(|m| format_utc(T0 + m * 60_000)).collect();
    let body = range(json!({"utc_time": true, "filters": [{"tag": "name", "value": "sales"}]}));
    let buckets = range(
        json!({"utc_time": true, "compute": "wait-events", "bucket": 60, "filters": [{"tag": "name", "value": "sales"}]}),
    );
    let done = std::cell::Cell::new(false);
    // Reads run beside the writer's task: each new minute's first tick cuts the previous chunk.
    let admin = f.app.admin.clone();
    let reads = async {
        let mut reads = 0;
        while !done.get() || reads < 10 {
            check_prefix(&history_as(&f.app, &admin, body.clone()).await, &labels);
            let rolled = history_as(&f.app, &admin, buckets.clone()).await;
            let shown: std::collections::BTreeSet<&str> = rolled.iter().map(|r| r["time"].as_str().unwrap()).collect();
            let first: Vec<&str> = minute_labels.iter().take(shown.len()).map(String::as_str).collect();
            assert_eq!(shown.into_iter().collect::<Vec<_>>(), first, "a minute missing: {rolled:?}");
            for r in &rolled {
                // Never more sessions than were sent in the minute, and as many ticks as sessions.
                assert!(r["samples"].as_i64().unwrap() <= PER_MINUTE, "{rolled:?}");
                assert_eq!(r["active_sessions"], 1.0, "{rolled:?}");
            }
            reads += 1;
        }
        reads
    };
    let send = async {
        let tx = writer.sender();
        for &ts in &times {
            let sessions = [session(1, "CPU", "CPU"), session(2, "IO", "DataFileRead")];
            tx.send(Batch::Ash(f.sales.clone(), tick(ts, &sessions))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        let sales_rows = body.clone();
        soon("every tick", async || {
            let rows = history_as(&f.app, &admin, sales_rows.clone()).await;
            (check_prefix(&rows, &labels) == labels.len()).then_some(())
        })
        .await;
        done.set(true);
    };
    let (reads, ()) = tokio::join!(reads, send);
    assert!(reads >= 10, "{reads} reads");
    let stored = f.app.store.ash_chunks(&[f.sales.instance_id], 0, i64::MAX).await.unwrap();
    assert_eq!(stored.len(), minutes as usize - 1, "every minute but the last one was cut meanwhile");
    writer.flush().await;
    let rows = history_as(&f.app, &admin, body).await;
    assert_eq!(check_prefix(&rows, &labels), labels.len(), "after the last cut: each tick once");
}

fn format_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `GET /api/v1/state` tells each instance's active sessions at its latest tick, from the writer's
/// memory, and `null` for an instance whose latest tick is too old to be "now".
async fn the_state_snapshot_counts_active_sessions_at_the_latest_tick(b: Backend) {
    let f = fixture(b).await;
    let writer = fresh_writer(&f);
    let tx = writer.sender();
    let now = vigia::store::now_ms();
    tx.send(Batch::Ash(f.sales.clone(), tick(now - 2000, &[session(1, "CPU", "CPU")]))).await.unwrap();
    let three = [session(1, "CPU", "CPU"), session(2, "Lock", "transactionid"), session(3, "IO", "DataFileRead")];
    tx.send(Batch::Ash(f.sales.clone(), tick(now - 1000, &three))).await.unwrap();
    tx.send(Batch::Ash(f.crm.clone(), tick(now - 120_000, &[session(7, "IO", "DataFileRead")]))).await.unwrap();
    let admin = f.app.admin.clone();
    let instances = soon("sales' latest tick in the snapshot", async || {
        let r = f.app.get("/api/v1/state", &admin).await;
        let list = r.json["instances"].as_array()?.clone();
        list.iter().any(|i| i["name"] == "sales" && i["active_sessions"] == 3).then_some(list)
    })
    .await;
    let crm = instances.iter().find(|i| i["name"] == "crm").expect("crm listed");
    assert_eq!(crm["active_sessions"], Value::Null, "a two-minute-old tick is not now: {crm}");
    let sales = instances.iter().find(|i| i["name"] == "sales").expect("sales listed");
    assert!(sales["active_sessions_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{sales}");
    drop(writer);
}
