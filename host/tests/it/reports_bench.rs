//! Reports benchmark (issue 10: "a 24 h full report of one busy instance renders in under 2 s and
//! stays under 2 MiB"; ignored by default; numbers go to BENCHMARKS.md). Run from the workspace:
//! `VIGIA_TEST_PLUGIN_BUNDLES=$PWD/target/vigia-plugins cargo test -p vigia --release --test it reports_bench:: -- --ignored --nocapture --test-threads 1`
//! (without the variable the bundles are built first with `cargo xtask plugins`).
//!
//! One instance holds a full day (2026-01-10, UTC) of what the sampler writes for a busy OLTP
//! instance, sent through the real `ActivityWriter` and `MetricWriter` at the sampler's cadences:
//! 1 s ASH with 10 active sessions (`bench_support::Workload`, 86,400 ticks); every minute the
//! `pg_stat_statements` deltas of 200 queries (texts of 57 B to 1.1 KB, learned in the first
//! cycle) and the `pg.db.*` (3 databases), `pg.bgwriter.*`, `pg.wal_bytes` and `pg.db.size_bytes`
//! points; every hour the activity of 100 tables and their 200 indexes; one inventory; then the
//! hourly rollups `activity::maintain` makes. Then, per backend:
//! - the host side: `reports::document` of a `full` report over the day, as `POST /api/v1/reports`
//!   builds it (body → `Query` → the caller's scope → `Selection`), timed whole and per chapter,
//!   and the Queries chapter's statement reads alone;
//! - the plugin side: `reports::render` of that document by the real `pdf`, `html` and `csv`
//!   reporter bundles in a real `PluginHost` (wasmtime sandbox): time, bytes (and gzip), PDF pages
//!   from `pdfinfo` when installed;
//! - the process's peak RSS (VmHWM) over each phase, reset between phases through `clear_refs`.
//!
//! Only sanity is asserted (non-empty output, a PDF header); speed is for BENCHMARKS.md.

use std::collections::BTreeMap;
use std::time::Instant;

use vigia::activity::ActivityWriter;
use vigia::model::{
    Batch, IndexActivity, InstanceKey, Inventory, RelationBatch, StatementBatch, StatementCounters, StatementDelta,
    TableActivity,
};
use vigia::plugins::document::{Block, ChartData, Document};
use vigia::plugins::PluginHost;
use vigia::rbac::InstanceScope;
use vigia::reports::{self, Chapter, ReportClock, ReportKind, ReportSpec, Sources};
use vigia::store::{Instance, NewInstance};
use vigia::timeseries::{MetricWriter, Sample};
use vigia::workload::request::TagFilter;
use vigia::workload::{Endpoint, Query, Selection, WorkloadBody};

use crate::bench_support::{pct, Rng, Workload, DAY_START};
use crate::plugins_support::Sandbox;
use crate::support::{Backend, TestApp};

const NAME: &str = "pg-sales";
const QUERIES: usize = 200;
const TABLES: usize = 100;
/// The databases statements, tables and metrics spread over (the ASH's sessions are in `sales`).
const DATABASES: [&str; 3] = ["sales", "reporting", "postgres"];
/// `bench_support::Workload`'s query ids are this plus 0..50: the ASH names the same queries.
const QUERYID_BASE: i64 = 7_000_000_000_000_000_000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Timed runs per measure, after one untimed (the first render is reported on its own).
const RUNS: usize = 10;
/// Timed runs of each chapter alone.
const CHAPTER_RUNS: usize = 5;
const RENDERERS: [&str; 3] = ["pdf", "html", "csv"];
/// The chapters of a full report (`reports::outline`), each built alone for the breakdown.
const CHAPTERS: [Chapter; 9] = [
    Chapter::General,
    Chapter::Workload,
    Chapter::TempFiles,
    Chapter::Rows,
    Chapter::Sessions,
    Chapter::Queries,
    Chapter::Tables,
    Chapter::Indexes,
    Chapter::DataSize,
];

/// The database and user of query `q`: most in `sales`, every tenth in `reporting`.
fn query_owner(q: usize) -> (usize, usize) {
    let db = match q {
        _ if q % 25 == 24 => 2,
        _ if q % 10 == 9 => 1,
        _ => 0,
    };
    (db, q % 3)
}

/// A plausible normalized text: point reads, updates and inserts of a few to 20 columns, and
/// every 20th a long reporting query (joins, an IN list), so the top lists carry long texts.
fn query_text(q: usize) -> String {
    let table = table_name(q % TABLES);
    let cols: Vec<String> =
        (0..3 + q % 18).map(|c| format!("{}_{c}", ["id", "amount", "status", "created_at"][c % 4])).collect();
    match q % 20 {
        19 => {
            let params: Vec<String> = (1..=120).map(|i| format!("${i}")).collect();
            format!(
                "SELECT c.id, c.name, c.country, sum(o.amount) AS revenue, count(DISTINCT o.id) AS orders, \
                 avg(i.quantity) AS mean_quantity, max(o.created_at) AS last_order FROM customers c \
                 JOIN {table} o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id \
                 LEFT JOIN payments p ON p.order_id = o.id AND p.status = $121 WHERE o.created_at >= $122 \
                 AND o.created_at < $123 AND c.segment IN ({}) GROUP BY c.id, c.name, c.country \
                 HAVING sum(o.amount) > $124 ORDER BY revenue DESC LIMIT $125",
                params.join(", ")
            )
        }
        n if n % 3 == 0 => format!("SELECT {} FROM {table} WHERE id = $1", cols.join(", ")),
        n if n % 3 == 1 => {
            let set: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
            format!("UPDATE {table} SET {} WHERE id = ${}", set.join(", "), cols.len() + 1)
        }
        _ => {
            let values: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            format!("INSERT INTO {table} ({}) VALUES ({})", cols.join(", "), values.join(", "))
        }
    }
}

/// One minute of `pg_stat_statements` deltas: query `q` runs ~6,000/(q+1) times a minute at a
/// mean of 0.05 ms to 500 ms a call (a long tail, as on a real OLTP instance).
fn statements(minute: i64, rng: &mut Rng) -> StatementBatch {
    let deltas = (0..QUERIES)
        .map(|q| {
            let (db, user) = query_owner(q);
            let calls = (6_000 / (q as i64 + 1)).max(1) * (50 + rng.below(100) as i64) / 100 + 1;
            let per_call_ms = 0.05 * 1.05_f64.powi(q as i32) * (0.8 + rng.below(40) as f64 / 100.0);
            let reads = if q % 20 == 19 { calls * 400 } else { calls * (q as i64 % 4) };
            StatementDelta {
                dbid: 16_384 + db as i64,
                userid: 10 + user as i64,
                queryid: QUERYID_BASE + q as i64,
                toplevel: true,
                database: DATABASES[db].into(),
                user: format!("app{user}"),
                counters: StatementCounters {
                    calls,
                    total_time: calls as f64 * per_call_ms,
                    rows: calls * (1 + q as i64 % 7),
                    shared_blks_hit: calls * (4 + q as i64 % 30),
                    shared_blks_read: reads,
                    shared_blks_dirtied: calls * (q as i64 % 3),
                    shared_blks_written: calls * (q as i64 % 3) / 4,
                    temp_blks_written: if q % 20 == 19 { calls * 64 } else { 0 },
                    blk_read_time: reads as f64 * 0.08,
                    wal_bytes: if q % 3 == 0 { 0 } else { calls * 180 },
                    ..StatementCounters::default()
                },
            }
        })
        .collect();
    let texts = match minute {
        0 => (0..QUERIES).map(|q| (QUERYID_BASE + q as i64, query_text(q))).collect(),
        _ => Vec::new(),
    };
    StatementBatch { ts_ms: DAY_START + (minute + 1) * MINUTE_MS, interval_ms: MINUTE_MS, deltas, texts }
}

fn table_name(i: usize) -> String {
    let base = ["orders", "order_items", "customers", "invoices", "payments", "products", "stock", "shipments"];
    match i / base.len() {
        0 => base[i % base.len()].to_string(),
        n => format!("{}_{n:02}", base[i % base.len()]),
    }
}

/// One hour of table and index activity: table `i` is used ~1/(i+1) as much as the first.
fn relations(hour: i64, rng: &mut Rng) -> RelationBatch {
    let ts_ms = DAY_START + (hour + 1) * HOUR_MS;
    let (mut tables, mut indexes) = (Vec::with_capacity(TABLES), Vec::with_capacity(2 * TABLES));
    for i in 0..TABLES {
        let (database, weight) = (if i % 10 == 9 { "reporting" } else { "sales" }, 1_000_000 / (i as i64 + 1));
        let jitter = |rng: &mut Rng| weight * (50 + rng.below(100) as i64) / 100;
        let (table, size_bytes) = (table_name(i), (200_000_000 / (i as i64 + 1)) + hour * weight);
        tables.push(TableActivity {
            database: database.into(),
            schema: if i % 4 == 3 { "billing".into() } else { "public".into() },
            table: table.clone(),
            relid: 16_500 + i as i64,
            relkind: "table".into(),
            size_bytes,
            relpages: size_bytes / 8192,
            reltuples: (size_bytes / 120) as f64,
            seq_scan: (i % 7) as i64,
            seq_tup_read: (i % 7) as i64 * size_bytes / 120,
            idx_scan: jitter(rng),
            idx_tup_fetch: jitter(rng) * 3,
            n_tup_ins: jitter(rng) / 10,
            n_tup_upd: jitter(rng) / 5,
            n_tup_del: jitter(rng) / 50,
            n_tup_hot_upd: jitter(rng) / 8,
            heap_blks_read: jitter(rng) / 20,
            heap_blks_hit: jitter(rng) * 4,
            idx_blks_read: jitter(rng) / 40,
            idx_blks_hit: jitter(rng) * 6,
            autovacuum_count: i64::from(rng.below(6) == 0),
            autoanalyze_count: i64::from(rng.below(4) == 0),
            last_autovacuum_ms: Some(ts_ms - HOUR_MS / 2),
            ..TableActivity::default()
        });
        for (suffix, share) in [("pkey", 3), ("created_at_idx", 1)] {
            indexes.push(IndexActivity {
                database: database.into(),
                schema: tables[i].schema.clone(),
                table: table.clone(),
                index: format!("{table}_{suffix}"),
                idx_scan: jitter(rng) * share / 3,
                idx_tup_read: jitter(rng) * share,
                idx_tup_fetch: jitter(rng) * share / 2,
                idx_blks_read: jitter(rng) / 50,
                idx_blks_hit: jitter(rng) * share * 2,
                relpages: size_bytes / 8192 / 4,
                size_bytes: size_bytes / 4,
            });
        }
    }
    RelationBatch { ts_ms, interval_ms: HOUR_MS, tables, indexes, skipped_databases: vec![] }
}

/// The instance activity points of one minute, as `sampler/activity_metrics.rs` names them.
fn minute_metrics(tenant_id: i64, minute: i64, rng: &mut Rng) -> Vec<Sample> {
    let ts = DAY_START + (minute + 1) * MINUTE_MS;
    let point = |metric: String, database: Option<&str>, value: f64| Sample {
        tenant_id,
        resource: NAME.into(),
        metric,
        labels: database.map(|d| BTreeMap::from([("database".to_string(), d.to_string())])).unwrap_or_default(),
        unit: None,
        ts,
        value,
    };
    let mut out = Vec::with_capacity(60);
    for (d, database) in DATABASES.iter().enumerate() {
        let scale = [1.0, 0.1, 0.001][d] * (0.7 + rng.below(60) as f64 / 100.0);
        let fields: [(&str, f64); 15] = [
            ("xact_commit", 30_000.0),
            ("xact_rollback", 40.0),
            ("blks_read", 9_000.0),
            ("blks_hit", 2_500_000.0),
            ("tup_returned", 4_000_000.0),
            ("tup_fetched", 600_000.0),
            ("tup_inserted", 20_000.0),
            ("tup_updated", 35_000.0),
            ("tup_deleted", 2_000.0),
            ("temp_files", 3.0),
            ("temp_bytes", 40_000_000.0),
            ("deadlocks", if rng.below(500) == 0 { 1.0 } else { 0.0 }),
            ("blk_read_time", 700.0),
            ("blk_write_time", 90.0),
            ("num_backends", 40.0),
        ];
        for (field, base) in fields {
            out.push(point(format!("pg.db.{field}"), Some(database), (base * scale).round()));
        }
        let size = [64e9, 8e9, 9e6][d] + minute as f64 * [2e6, 1e5, 0.0][d];
        out.push(point("pg.db.size_bytes".into(), Some(database), size));
    }
    let bgwriter: [(&str, f64); 9] = [
        ("checkpoints_timed", if minute % 5 == 4 { 1.0 } else { 0.0 }),
        ("checkpoints_req", 0.0),
        ("checkpoint_write_time", 5_000.0),
        ("checkpoint_sync_time", 40.0),
        ("buffers_checkpoint", 3_000.0),
        ("buffers_clean", 800.0),
        ("buffers_backend", 200.0),
        ("buffers_backend_fsync", 0.0),
        ("buffers_alloc", 9_000.0),
    ];
    for (field, value) in bgwriter {
        out.push(point(format!("pg.bgwriter.{field}"), None, value));
    }
    out.push(point("pg.wal_bytes".into(), None, 60e6 * (0.7 + rng.below(60) as f64 / 100.0)));
    out
}

fn inventory() -> Inventory {
    let settings: BTreeMap<String, (String, Option<String>)> = [
        ("shared_buffers", "2097152", Some("8kB")),
        ("effective_cache_size", "6291456", Some("8kB")),
        ("work_mem", "16384", Some("kB")),
        ("maintenance_work_mem", "1048576", Some("kB")),
        ("max_connections", "200", None),
        ("max_wal_size", "8192", Some("MB")),
        ("checkpoint_timeout", "300", Some("s")),
        ("random_page_cost", "1.1", None),
        ("effective_io_concurrency", "200", None),
        ("autovacuum_max_workers", "3", None),
        ("track_io_timing", "on", None),
        ("pg_stat_statements.max", "5000", None),
        ("shared_preload_libraries", "pg_stat_statements", None),
        ("wal_level", "replica", None),
        ("synchronous_commit", "on", None),
        ("jit", "off", None),
    ]
    .into_iter()
    .map(|(k, v, unit)| (k.to_string(), (v.to_string(), unit.map(str::to_string))))
    .collect();
    Inventory {
        ts_ms: DAY_START,
        version: "16.4".into(),
        version_full:
            "PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu, compiled by gcc 12.2.0, 64-bit".into(),
        server_version_num: 160_004,
        start_time_ms: DAY_START - 12 * DAY_MS,
        is_replica: false,
        max_connections: 200,
        databases: [
            ("sales".to_string(), 64_000_000_000),
            ("reporting".into(), 8_000_000_000),
            ("postgres".into(), 9_000_000),
        ]
        .into(),
        settings,
        statements_available: true,
        statements_error: None,
    }
}

/// The day through the real writers, interleaved as the sampler sends it.
async fn store_day(app: &TestApp, inst: &Instance) {
    let key = InstanceKey { tenant_id: inst.tenant_id, instance_id: inst.id, lease: None };
    let (writer, metrics) = (ActivityWriter::start_ingest(app.store.clone()), MetricWriter::start(app.store.clone()));
    let tx = writer.sender();
    let (mut load, mut rng) = (Workload::new(42), Rng(0x9e37_79b9_7f4a_7c15));
    tx.send(Batch::Inventory(key.clone(), inventory())).await.unwrap();
    for s in 0..86_400 {
        tx.send(Batch::Ash(key.clone(), load.tick(DAY_START + s * 1000))).await.unwrap();
        if (s + 1) % 60 == 0 {
            let minute = s / 60;
            tx.send(Batch::Statements(key.clone(), statements(minute, &mut rng))).await.unwrap();
            metrics.write(minute_metrics(inst.tenant_id, minute, &mut rng), "sampler").await;
        }
        if (s + 1) % 3600 == 0 {
            tx.send(Batch::Relations(key.clone(), relations(s / 3600, &mut rng))).await.unwrap();
        }
    }
    writer.flush().await;
    let flushed = metrics.flush().await;
    assert_eq!(flushed.failed, 0, "every metric point stored");
    // The hourly rollups `activity::maintain` keeps up to date on a running host (a 24 h report
    // reads them for its whole hours, raw rows for the rest and for the percentiles).
    app.store.roll_up_ash_hours(DAY_START, DAY_START + DAY_MS).await.unwrap();
    app.store.roll_up_statement_hours(DAY_START, DAY_START + DAY_MS).await.unwrap();
}

/// Where the Queries chapter's time goes: the statement reads it makes (`workload/statements.rs`:
/// per-query and per-database sums from the hourly rollups for whole settled hours and raw rows
/// elsewhere, once each; every raw row's mean time per call for the summary's percentiles, in one
/// pass), each alone, and the per-query sums from raw rows alone for comparison.
async fn queries_parts(app: &TestApp, sel: &Selection, q: &Query) {
    use vigia::store::StatementGrouping::Query as PerQuery;
    let (ids, store) = (sel.instance_ids(), &app.store);
    let (mut per_query, rows) =
        timed(3, async || store.statement_sums(&ids, 0, q.from, q.to, PerQuery, None).await.unwrap().len()).await;
    let (mut per_db, raw) =
        timed(3, async || store.statement_call_times(&ids, 0, q.from, q.to).await.unwrap().len()).await;
    let (mut hourly, _) =
        timed(3, async || store.statement_sums(&ids, 3600, q.from, q.to, PerQuery, None).await.unwrap()).await;
    let (tenant, fresh) = (app.admin_user.tenant_id, &app.ctx.fresh_ash);
    let endpoint = async |e: Endpoint| drop(vigia::workload::run(store, fresh, tenant, e, sel, q).await.unwrap());
    let (mut top, _) = timed(3, async || endpoint(Endpoint::TopQueries).await).await;
    let (mut summary, _) = timed(3, async || endpoint(Endpoint::QueriesSummary).await).await;
    println!(
        "  Queries' reads (p50 of 3): statement_sums per query from raw rows alone {:.0} ms ({rows} groups), from \
         hourly rollups alone {:.0} ms; statement_call_times {:.0} ms ({raw} raw rows); endpoints top-queries \
         {:.0} ms, queries-summary {:.0} ms",
        pct(&mut per_query, 0.5),
        pct(&mut hourly, 0.5),
        pct(&mut per_db, 0.5),
        pct(&mut top, 0.5),
        pct(&mut summary, 0.5)
    );
}

/// A `/proc/self/status` size in MiB (0 if unreadable): `VmRSS`, or `VmHWM`, the peak since the
/// last `reset_peak_rss`.
fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':'));
    kb.and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// Resets VmHWM to the current RSS (Linux: "5" to `clear_refs`), so each phase has its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The report's request as `POST /api/v1/reports` validates it: the day, the one instance by name.
fn day_query() -> Query {
    let body = WorkloadBody {
        from: Some("2026-01-10 00:00:00".into()),
        to: Some("2026-01-11 00:00:00".into()),
        filters: Some(vec![TagFilter { tag: "name".into(), value: NAME.into() }]),
        ..WorkloadBody::default()
    };
    body.into_query(vigia::store::now_ms()).unwrap()
}

/// The selection `api::reports::generate` makes for the admin (its roles read from the store,
/// as `InstanceScope::for_principal` does; the admin holds none, so it sees every instance).
async fn selection(app: &TestApp, query: &Query) -> Selection {
    let tenant = app.admin_user.tenant_id;
    let access = app.store.role_access_of_user(tenant, app.admin_user.id).await.unwrap();
    let scope = InstanceScope::from_stored(&access);
    Selection::new(app.store.list_instances(tenant).await.unwrap(), &scope, query)
}

async fn document(app: &TestApp, sel: &Selection, query: &Query, chapters: Vec<Chapter>) -> Document {
    let spec = ReportSpec {
        kind: ReportKind::Full,
        query,
        chapters,
        clock: ReportClock::utc(),
        settings_read: true,
        generated_at_ms: vigia::store::now_ms(),
    };
    let sources =
        Sources { store: &app.store, fresh: &app.ctx.fresh_ash, tenant_id: app.admin_user.tenant_id, selection: sel };
    reports::document(&sources, &spec).await.unwrap()
}

/// What the document holds: sections, tables and their rows, charts and their points, and the
/// bytes of its text (a rough size of what crosses into the sandbox).
fn census(doc: &Document) -> String {
    let (mut tables, mut rows, mut charts, mut points, mut text) = (0, 0, 0, 0, 0);
    for block in doc.sections.iter().flat_map(|s| &s.blocks) {
        match block {
            Block::Paragraph(p) => text += p.len(),
            Block::Facts(f) => text += f.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
            Block::Table(t) => {
                tables += 1;
                rows += t.rows.len();
                text += t
                    .rows
                    .iter()
                    .flatten()
                    .map(|c| match c {
                        vigia::plugins::document::Cell::Text(s) => s.len(),
                        _ => 8,
                    })
                    .sum::<usize>();
            }
            Block::Chart(c) => {
                charts += 1;
                points += match &c.data {
                    ChartData::StackedArea(series) => series.iter().map(|s| s.points.len()).sum(),
                    ChartData::Bars(bars) => bars.len(),
                };
            }
        }
    }
    format!(
        "{} sections, {tables} tables ({rows} rows), {charts} charts ({points} points), ~{} KB of cell text",
        doc.sections.len(),
        text / 1000
    )
}

/// `n` timed runs of `f` (after one untimed), in milliseconds.
async fn timed<T>(n: usize, mut f: impl AsyncFnMut() -> T) -> (Vec<f64>, T) {
    let mut last = f().await;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        last = f().await;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (samples, last)
}

fn line(what: &str, samples: &mut [f64], extra: &str) {
    println!(
        "{what:<40} p50 {:>8.1} ms  p95 {:>8.1} ms  max {:>8.1} ms (n={})  {extra}",
        pct(samples, 0.5),
        pct(samples, 0.95),
        pct(samples, 1.0),
        samples.len()
    );
}

/// Pages of a PDF, from poppler's `pdfinfo` when it is installed.
fn pdf_pages(bytes: &[u8], dir: &std::path::Path) -> Option<u32> {
    let path = dir.join("report.pdf");
    std::fs::write(&path, bytes).ok()?;
    let out = std::process::Command::new("pdfinfo").arg(&path).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("Pages:")).and_then(|p| p.trim().parse().ok())
}

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap().len()
}

async fn renders(host: &PluginHost, doc: &Document, dir: &std::path::Path) {
    println!("-- rendering by the real reporter plugins (wasmtime sandbox), document already built");
    for id in RENDERERS {
        reset_peak_rss();
        let t = Instant::now();
        let first = reports::render(host, id, doc, id).await.unwrap_or_else(|e| panic!("{id}: {e}"));
        let first_ms = t.elapsed().as_secs_f64() * 1e3;
        let (mut ms, out) = timed(RUNS, async || reports::render(host, id, doc, id).await.unwrap()).await;
        assert!(!out.bytes.is_empty() && out.bytes.len() == first.bytes.len(), "{id}: the same non-empty output");
        if id == "pdf" {
            assert!(out.bytes.starts_with(b"%PDF-"), "a PDF");
        }
        let pages = match id {
            "pdf" => pdf_pages(&out.bytes, dir).map_or(", pages n/a".into(), |p| format!(", {p} pages")),
            _ => String::new(),
        };
        let size = format!(
            "{} B ({:.2} MiB), gzip {} B{pages}; first call {first_ms:.0} ms; peak RSS {:.0} MiB",
            out.bytes.len(),
            out.bytes.len() as f64 / 1_048_576.0,
            gzip_len(&out.bytes),
            status_mib("VmHWM")
        );
        line(&format!("render {id} ({})", out.content_type), &mut ms, &size);
    }
}

async fn bench(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    let new = NewInstance {
        name: NAME,
        host: "10.20.0.1",
        port: 5432,
        username: "vigia",
        tags: "application=sales,environment=production",
    };
    let inst = app.store.create_instance(tenant, &new, |_| "sealed".into()).await.unwrap();
    app.store.set_instance_status(tenant, inst.id, true, None).await.unwrap();
    reset_peak_rss();
    let t = Instant::now();
    store_day(&app, &inst).await;
    println!(
        "\n== {b:?}: stored a day of {NAME} in {:.1} s (1 s ASH × 10 sessions, {QUERIES} queries/min, \
         {TABLES} tables + {} indexes/h, {} metric points/min); peak RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        2 * TABLES,
        minute_metrics(tenant, 0, &mut Rng(1)).len(),
        status_mib("VmHWM")
    );

    let query = day_query();
    assert_eq!(query.to - query.from, DAY_MS);
    reset_peak_rss();
    let (rss_before, t) = (status_mib("VmRSS"), Instant::now());
    let sel = selection(&app, &query).await;
    let first = document(&app, &sel, &query, Vec::new()).await;
    println!(
        "-- the full report's document, host side (first build {:.0} ms): {}",
        t.elapsed().as_secs_f64() * 1e3,
        census(&first)
    );
    let (mut ms, doc) = timed(RUNS, async || {
        let sel = selection(&app, &query).await;
        document(&app, &sel, &query, Vec::new()).await
    })
    .await;
    assert_eq!(doc.sections.len(), first.sections.len());
    let peak = format!(
        "peak RSS {:.0} MiB (+{:.0} over the {:.0} MiB before)",
        status_mib("VmHWM"),
        status_mib("VmHWM") - rss_before,
        rss_before
    );
    line("document (full, 24 h)", &mut ms, &peak);
    let mut build_p50 = pct(&mut ms, 0.5);
    for chapter in CHAPTERS {
        let (mut ms, part) = timed(CHAPTER_RUNS, async || document(&app, &sel, &query, vec![chapter]).await).await;
        line(&format!("  chapter {:?} alone", chapter.title()), &mut ms, &format!("{} sections", part.sections.len()));
    }
    queries_parts(&app, &sel, &query).await;

    let sb = Sandbox::new();
    for id in RENDERERS {
        sb.install(id, id, |_| {});
    }
    let host = sb.start().await;
    let offered: Vec<String> = host.renderers().into_iter().map(|r| r.id).collect();
    assert!(RENDERERS.iter().all(|id| offered.iter().any(|o| o == id)), "renderers loaded: {offered:?}");
    renders(&host, &doc, sb.tmp.path()).await;
    // The target is about the whole report: what `POST /api/v1/reports` spends besides HTTP.
    let (mut pdf_ms, _) = timed(RUNS, async || reports::render(&host, "pdf", &doc, "pdf").await.unwrap()).await;
    build_p50 += pct(&mut pdf_ms, 0.5);
    println!("full 24 h PDF report, document + render (p50s added): {build_p50:.0} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn sqlite() {
    bench(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn postgres() {
    bench(Backend::Postgres).await;
}
