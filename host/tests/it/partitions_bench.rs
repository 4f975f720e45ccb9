//! Bytes per instance-day on PostgreSQL storage with partitions (issue 13; ignored by default,
//! numbers go to BENCHMARKS.md). N instance names (`VIGIA_BENCH_INSTANCES`, 50) point at one
//! private monitored cluster with 10 sessions kept active and a small workload of 20 statements
//! over 10 tables, sampled at 1 s ASH for `VIGIA_BENCH_SECS` (300) into PostgreSQL; then a
//! maintenance pass (hourly rollups, partitions, retention) and the growth of every sampler table
//! (all its partitions, TOAST and indexes: `pg_total_relation_size` over `pg_partition_tree`),
//! divided by the instance-days sampled. Hourly rows are scaled by the hours they cover, not by
//! the run's length (an hour's rollup row exists after a minute of it); table and index activity
//! is read every minute here and scaled to its default hourly interval.
//! Run: `cargo test -p vigia --test it partitions_bench:: -- --ignored --nocapture`

use crate::support;

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use vigia::activity::{self, ActivityWriter};
use vigia::config::SamplerConfig;
use vigia::sampler::Sampler;
use vigia::secrets::{SealedFor, SecretBox};
use vigia::store::{InstanceUpdate, NewInstance};
use vigia::timeseries::MetricWriter;
use vigia_testkit::PgCluster;

/// How a table grows and how long the default retention keeps it.
#[derive(Clone, Copy)]
enum Growth {
    /// Rows per time sampled, kept this many days (the metric store has no retention).
    PerDay(f64),
    /// `PerDay` written every minute in the bench (so two cycles fall in the run) and every
    /// `[sampler] tables_interval_seconds` (an hour) by default: scaled by 60 / that.
    Tables(f64),
    /// Rows of two resolutions in one table: the minute (or raw) rows kept this many days, the
    /// hourly ones 730 days (a year's worth after a year).
    WithHourly(f64),
    /// Rows once per instance (or per string), not per day.
    Once,
}

/// Every table of sampled data.
const TABLES: &[(&str, Growth)] = &[
    ("ash_chunks", Growth::PerDay(14.0)),
    ("ash_rollups", Growth::WithHourly(90.0)),
    ("statement_deltas", Growth::WithHourly(14.0)),
    ("table_activity", Growth::Tables(14.0)),
    ("index_activity", Growth::Tables(14.0)),
    ("lock_snapshots", Growth::PerDay(14.0)),
    ("ash_gaps", Growth::PerDay(14.0)),
    ("ash_tail", Growth::PerDay(14.0)),
    ("metric_points", Growth::PerDay(f64::INFINITY)),
    ("statement_texts", Growth::Once),
    ("instance_inventory", Growth::Once),
    ("activity_strings", Growth::Once),
    ("metric_series", Growth::Once),
];

fn env(var: &str, default: u64) -> u64 {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Bytes of a table with all its partitions, TOAST and indexes.
async fn table_bytes(conn: &mut PgConnection, table: &str) -> i64 {
    // pg_partition_tree lists nothing for a table that is not partitioned: the table itself too.
    let sql = "SELECT CAST(SUM(pg_total_relation_size(r)) AS BIGINT) FROM \
               (SELECT to_regclass($1) AS r UNION SELECT relid FROM pg_partition_tree(to_regclass($1))) t";
    sqlx::query_scalar(sql).bind(table).fetch_one(conn).await.unwrap()
}

/// (rows, hourly rows, distinct hours of the hourly rows) of a table.
async fn table_rows(conn: &mut PgConnection, table: &str, growth: Growth) -> (i64, i64, i64) {
    let sql = match growth {
        Growth::WithHourly(_) => format!(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE resolution = 3600), \
             COUNT(DISTINCT CASE WHEN resolution = 3600 THEN {t} END) FROM {table}",
            t = if table == "ash_rollups" { "bucket_ts" } else { "ts" }
        ),
        _ => format!("SELECT COUNT(*), CAST(0 AS BIGINT), CAST(0 AS BIGINT) FROM {table}"),
    };
    sqlx::query_as(&sql).fetch_one(conn).await.unwrap()
}

/// The monitored cluster's workload: 10 small tables, each read and updated every second by one
/// connection (20 statements with a queryid of their own).
async fn start_workload(cluster: &PgCluster) -> tokio::task::JoinHandle<()> {
    let mut conn = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.unwrap();
    for k in 0..10 {
        let sql =
            format!("CREATE TABLE bench_t{k} (id int PRIMARY KEY, v bigint); INSERT INTO bench_t{k} VALUES (1, 0)");
        conn.execute(sql.as_str()).await.unwrap();
    }
    tokio::spawn(async move {
        loop {
            for k in 0..10 {
                let sql = format!("SELECT count(*) FROM bench_t{k}; UPDATE bench_t{k} SET v = v + 1 WHERE id = 1");
                if conn.execute(sql.as_str()).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bytes_per_instance_day_on_postgres() {
    let n = env("VIGIA_BENCH_INSTANCES", 50) as usize;
    let run = Duration::from_secs(env("VIGIA_BENCH_SECS", 300));
    let cluster = PgCluster::start_with(&format!("max_connections = {}", n * 3 + 50)).unwrap();
    let mut sleepers = Vec::new();
    for _ in 0..10 {
        let mut conn = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
        sleepers.push(tokio::spawn(async move { conn.execute("SELECT pg_sleep(3600)").await.map(drop) }));
    }
    let workload = start_workload(&cluster).await;
    let app = support::TestApp::start(support::Backend::Postgres).await;
    let secrets = SecretBox::from_key(&support::SECRET_KEY);
    let tenant = app.admin_user.tenant_id;
    for i in 0..n {
        let name = format!("db{i}");
        let new =
            NewInstance { name: &name, host: "127.0.0.1", port: cluster.port() as i64, username: "postgres", tags: "" };
        let seal = |instance_id| secrets.seal("x", &SealedFor::InstancePassword { tenant_id: tenant, instance_id });
        app.store.create_instance(tenant, &new, seal).await.unwrap();
        let update = InstanceUpdate {
            collection_rate: Some("high".into()),
            query_monitoring_min_calls: Some(1),
            query_monitoring_min_time: Some(0),
            ..Default::default()
        };
        app.store.update_instance(tenant, &name, &update).await.unwrap();
    }
    activity::ensure_partitions(&app.store, vigia::store::now_ms()).await.unwrap();
    let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
    let mut before = Vec::new();
    for (table, _) in TABLES {
        before.push(table_bytes(&mut conn, table).await);
    }
    let config = SamplerConfig { tables_interval_seconds: 60, ..SamplerConfig::default() };
    let writer = ActivityWriter::start(app.store.clone(), &config);
    let metrics = MetricWriter::start(app.store.clone());
    let started = Instant::now();
    let sampler = Sampler::new(app.store.clone(), secrets, metrics.clone(), writer.sender(), config.clone())
        .with_poll_interval(Duration::from_secs(1))
        .spawn();
    tokio::time::sleep(run).await;
    sampler.abort();
    writer.flush().await;
    metrics.flush().await;
    let sampled = started.elapsed();
    activity::maintain(&app.store, &config, vigia::store::now_ms()).await.unwrap();
    let instance_days = n as f64 * sampled.as_secs_f64() / 86_400.0;
    report(&mut conn, n, sampled, instance_days, &before).await;
    workload.abort();
    for s in sleepers {
        s.abort();
    }
}

/// Prints one line per table and the totals, per instance-day and for a year of 1,000 instances.
async fn report(conn: &mut PgConnection, n: usize, sampled: Duration, instance_days: f64, before: &[i64]) {
    println!("{n} instances at 1 s ASH sampled for {sampled:?} into PostgreSQL ({instance_days:.4} instance-days)");
    let mut sum = Sums::default();
    for ((table, growth), before) in TABLES.iter().zip(before) {
        let grown = (table_bytes(conn, table).await - before).max(0) as f64;
        let (rows, hourly, hours) = table_rows(conn, table, *growth).await;
        let per_row = grown / rows.max(1) as f64;
        // Hourly rows count per hour covered (an hour's row exists after its first minute).
        let hourly_day = hourly as f64 * per_row / (n as f64 * hours.max(1) as f64) * 24.0;
        let rest_day = (rows - hourly) as f64 * per_row / instance_days;
        let line = sum.add(table, *growth, grown / n as f64, rest_day, hourly_day);
        println!("  {table}: grew {grown:.0} B, {rows} rows ({hourly} hourly over {hours} h) => {line}");
    }
    let gib = |kib: f64| kib * 1000.0 / 1048576.0;
    println!(
        "  sampler tables: {:.2} MiB per instance-day; metric points {:.2} MiB; plus {:.1} KiB per instance once",
        sum.per_day / 1024.0,
        sum.points_day / 1024.0,
        sum.once
    );
    println!(
        "  a year of 1,000 instances: sampler tables at the default retention (raw 14 d, minute rollups 90 d, \
         hourly rows a year of their 730 d) {:.1} GiB; metric points (no retention) {:.1} GiB",
        gib(sum.year + sum.once),
        gib(sum.points_day * 365.0)
    );
}

/// Running totals of `report`, in KiB per instance.
#[derive(Default)]
struct Sums {
    per_day: f64,
    points_day: f64,
    once: f64,
    year: f64,
}

impl Sums {
    /// Adds one table's bytes (per instance, per instance-day of other rows and of hourly rows)
    /// and describes them.
    fn add(&mut self, table: &str, growth: Growth, per_instance: f64, rest_day: f64, hourly_day: f64) -> String {
        let days = match growth {
            Growth::Once => {
                self.once += per_instance / 1024.0;
                return format!("{:.1} KiB per instance, once", per_instance / 1024.0);
            }
            Growth::PerDay(days) | Growth::WithHourly(days) | Growth::Tables(days) => days,
        };
        let scale = match growth {
            Growth::Tables(_) => 60.0 / SamplerConfig::default().tables_interval_seconds as f64,
            _ => 1.0,
        };
        let (rest_day, hourly_day) = (rest_day * scale / 1024.0, hourly_day * scale / 1024.0);
        if table == "metric_points" {
            self.points_day += rest_day;
        } else {
            self.per_day += rest_day + hourly_day;
            self.year += rest_day * days + hourly_day * 365.0;
        }
        format!("{:.1} KiB per instance-day ({hourly_day:.1} KiB of it hourly rows)", rest_day + hourly_day)
    }
}
