//! Time-range partitions on PostgreSQL (migration 0023): a database of the previous schema
//! upgrades in place (its rows end up in the default partitions and read back the same),
//! `ensure_partitions` moves a range's rows into the partition it creates, retention drops
//! partitions past the cutoff and purges the defaults, reads touch only the partitions of their
//! range, and the lease fence still guards the partitioned tables. SQLite keeps its `DELETE`
//! retention, which the activity tests cover on both backends.

use std::borrow::Cow;

use sqlx::{Connection, PgConnection};
use vigia::store::{AshRollupRow, NewInstance, StatementGrouping, StatementRow, Store, StoredAshChunk};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2026-11-30T00:00:00Z, a day boundary of the raw partitions.
const D: i64 = 1_795_996_800_000;
/// The point of the test's "now": noon that day.
const NOW: i64 = D + 12 * HOUR;

fn chunk(instance_id: i64, start_ts: i64) -> StoredAshChunk {
    let data = start_ts.to_le_bytes().to_vec();
    StoredAshChunk { instance_id, start_ts, end_ts: start_ts + 59_000, ticks: 60, sessions: 120, data }
}

fn rollup(instance_id: i64, bucket_ts: i64) -> AshRollupRow {
    AshRollupRow { instance_id, resolution: 60, bucket_ts, wait_event_type: 1, wait_event: 2, sessions: 120, ticks: 60 }
}

fn statement(queryid: i64) -> StatementRow {
    StatementRow { database_id: 1, user_id: 2, queryid, toplevel: true, values: [1.0; 16] }
}

/// One chunk, one minute rollup and one statement delta at `ts`.
async fn write_at(store: &Store, id: i64, ts: i64) {
    store.write_ash(&[chunk(id, ts)], &[rollup(id, ts)]).await.unwrap();
    store.insert_statements(id, ts, &[statement(ts / HOUR)]).await.unwrap();
}

/// What the Store's readers answer for the instance over all time, comparable across schemas.
async fn read_all(store: &Store, id: i64) -> (Vec<StoredAshChunk>, Vec<(i64, i64)>, Vec<(i64, f64)>) {
    let chunks = store.ash_chunks(&[id], 0, i64::MAX / 2).await.unwrap();
    let rollups = store.ash_rollups(&[id], 60, 0, i64::MAX / 2).await.unwrap();
    let rollups = rollups.iter().map(|r| (r.bucket_ts, r.sessions)).collect();
    let sums = store.statement_sums(&[id], 0, 0, i64::MAX / 2, StatementGrouping::Query, None).await.unwrap();
    let mut sums: Vec<(i64, f64)> = sums.iter().map(|s| (s.queryid, s.values[0])).collect();
    sums.sort_by_key(|s| s.0);
    (chunks, rollups, sums)
}

/// (partition, rows) of a table's rows of the instance, by the partition holding them.
async fn placement(conn: &mut PgConnection, table: &str) -> Vec<(String, i64)> {
    let sql = format!("SELECT tableoid::regclass::text, COUNT(*) FROM {table} GROUP BY 1 ORDER BY 1");
    sqlx::query_as(&sql).fetch_all(conn).await.unwrap()
}

/// A database migrated up to 0022 only (the schema before partitions), and the store over it.
async fn store_before_partitions() -> (Store, String) {
    let url = vigia_testkit::fresh_database_url().expect("private PostgreSQL cluster");
    let mut old = sqlx::migrate!("migrations/postgres");
    old.migrations = Cow::Owned(old.migrations.iter().filter(|m| m.version <= 22).cloned().collect());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    old.run(&mut conn).await.unwrap();
    (Store::connect(&url, 4).await.unwrap(), url)
}

async fn instance(store: &Store) -> i64 {
    let tenant = store.ensure_tenant("default").await.unwrap();
    let new = NewInstance { name: "sales", host: "127.0.0.1", port: 5432, username: "vigia", tags: "" };
    store.create_instance(tenant.id, &new, |_| "sealed".into()).await.unwrap().id
}

#[tokio::test]
async fn an_existing_database_upgrades_in_place_and_retention_drops_partitions() {
    let (store, url) = store_before_partitions().await;
    let id = instance(&store).await;
    // 20 days ago (past raw retention), 3 days ago, and this morning.
    for ts in [D - 20 * DAY, D - 3 * DAY, D + 8 * HOUR] {
        write_at(&store, id, ts).await;
    }
    let before = read_all(&store, id).await;
    assert_eq!((before.0.len(), before.1.len(), before.2.len()), (3, 3, 3));

    store.migrate().await.unwrap();
    assert_eq!(read_all(&store, id).await, before, "the same rows read back through the partitioned tables");
    let mut conn = PgConnection::connect(&url).await.unwrap();
    for table in ["ash_chunks", "ash_rollups", "statement_deltas"] {
        let legacy = format!("{table}_legacy");
        assert_eq!(placement(&mut conn, table).await, [(legacy, 3)], "{table}: the old table is the default");
    }

    let ensured = store.ensure_partitions(NOW).await.unwrap();
    // Today and tomorrow of the raw series, this week and the next of minute rollups, this
    // 30-day range and the next of both hourly series.
    assert_eq!((ensured.created, ensured.busy), (10, 0), "{ensured:?}");
    // This morning's chunk and statement, and the minute rollups of this week (3 days ago too).
    assert_eq!(ensured.moved, 4, "{ensured:?}");
    assert_eq!(store.ensure_partitions(NOW).await.unwrap().created, 0, "ensuring again changes nothing");
    let chunks = placement(&mut conn, "ash_chunks").await;
    assert_eq!(chunks, [("ash_chunks_legacy".into(), 2), ("ash_chunks_p20261130".into(), 1)]);
    let week: Vec<String> = placement(&mut conn, "ash_rollups").await.into_iter().map(|(p, _)| p).collect();
    assert_eq!(week, ["ash_rollups_legacy", "ash_rollups_r60_p20261126"], "weeks start on Thursdays (epoch)");
    assert_eq!(read_all(&store, id).await, before, "moving rows changes no answer");

    // Tomorrow's rows go straight to their partition.
    write_at(&store, id, D + DAY + 2 * HOUR).await;
    assert!(placement(&mut conn, "statement_deltas").await.contains(&("statement_deltas_r0_p20261201".into(), 1)));

    // Raw retention ends an hour into tomorrow (the chunk span's margin), minute rollups 10 days ago.
    let deleted = store.purge_activity(D + DAY + HOUR, D - 10 * DAY, 0).await.unwrap();
    let names: Vec<String> = store.partitions("ash_chunks").await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, ["ash_chunks_p20261201"], "today's partition is dropped whole");
    assert_eq!(placement(&mut conn, "ash_chunks").await, [("ash_chunks_p20261201".into(), 1)]);
    assert_eq!(placement(&mut conn, "statement_deltas").await, [("statement_deltas_r0_p20261201".into(), 1)]);
    let rollups = placement(&mut conn, "ash_rollups").await;
    assert_eq!(rollups, [("ash_rollups_r60_p20261126".into(), 3)], "the old default rows go, this week stays");
    // Defaults: 2 chunks, 2 statements, 1 rollup deleted; partitions: 1 chunk, 1 statement dropped.
    assert_eq!(deleted, 7);
    let after = read_all(&store, id).await;
    assert_eq!((after.0.len(), after.0[0].start_ts), (1, D + DAY + 2 * HOUR), "nothing newer is lost");
}

#[tokio::test]
async fn a_time_range_read_touches_only_its_partitions() {
    let (store, url) = store_before_partitions().await;
    store.migrate().await.unwrap();
    let id = instance(&store).await;
    store.ensure_partitions(NOW).await.unwrap();
    write_at(&store, id, NOW).await;
    let explain = |sql: String| {
        let url = url.clone();
        async move {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}")).fetch_all(&mut conn).await.unwrap();
            lines.join("\n")
        }
    };
    // The shape of `Store::ash_chunks` for the last hour.
    let (from, to) = (NOW - HOUR, NOW);
    let plan = explain(format!(
        "SELECT * FROM ash_chunks WHERE end_ts >= {from} AND start_ts >= {} AND start_ts <= {to} AND instance_id IN ({id})",
        from - HOUR
    ))
    .await;
    assert!(plan.contains("ash_chunks_p20261130"), "{plan}");
    assert!(!plan.contains("ash_chunks_legacy") && !plan.contains("ash_chunks_p20261201"), "{plan}");
    let plan = explain(format!(
        "SELECT * FROM ash_rollups WHERE resolution = 60 AND bucket_ts >= {from} AND bucket_ts <= {to} AND instance_id IN ({id})"
    ))
    .await;
    assert!(plan.contains("ash_rollups_r60_p20261126") && !plan.contains("legacy"), "{plan}");
    assert_eq!(store.ash_chunks(&[id], from, to).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_fence_guards_the_partitioned_tables() {
    let (store, url) = store_before_partitions().await;
    store.migrate().await.unwrap();
    let id = instance(&store).await;
    store.ensure_partitions(NOW).await.unwrap();
    let fenced = Store::connect_fenced(&url, 2, "a").await.unwrap();
    let refused = fenced.write_ash(&[chunk(id, NOW)], &[]).await.expect_err("a chunk without the lease");
    assert!(refused.to_string().contains("host a does not hold the lease"), "{refused}");
    let refused = fenced.insert_statements(id, NOW, &[statement(1)]).await.expect_err("statements without the lease");
    assert!(refused.to_string().contains("does not hold the lease"), "{refused}");
    // Rows past every partition land in the default one, and are fenced there too.
    assert!(fenced.write_ash(&[chunk(id, NOW + 100 * DAY)], &[]).await.is_err());

    store.claim_leases("a", &[id], 60_000).await.unwrap();
    fenced.write_ash(&[chunk(id, NOW)], &[]).await.unwrap();
    fenced.insert_statements(id, NOW, &[statement(1)]).await.unwrap();
    assert_eq!(store.ash_chunks(&[id], NOW, NOW).await.unwrap().len(), 1);
}
