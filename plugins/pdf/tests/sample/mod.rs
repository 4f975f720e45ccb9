//! A realistic 24 h workload report of a busy instance, shaped like the host's: eight chapters
//! with a 1,440-point stacked-area chart of eight wait classes, bar charts, tables of 50+ rows
//! (long multi-line SQL in code columns, one long enough to run across pages), facts,
//! paragraphs and an empty table. Values come from a fixed-seed generator, so renders repeat.
#![allow(dead_code)]

mod queries;

pub use queries::query_text;
use vigia_sdk::report::*;

pub const TITLE: &str = "Workload report";
pub const SUBJECT: &str = "pg-sales@db1:5432";
/// 2026-11-29 00:00 in Europe/Paris (UTC+1) = 2026-11-28 23:00 UTC.
pub const FROM_MS: i64 = 1_795_906_800_000;
pub const TO_MS: i64 = FROM_MS + 24 * 3_600_000;
pub const LOCAL_WINDOW: &str = "2026-11-29 00:00:00 – 2026-11-30 00:00:00";
pub const UTC_WINDOW: &str = "2026-11-28 23:00:00 – 2026-11-29 23:00:00 UTC";
pub const QUERY_ROWS: usize = 50;
pub const WAIT_CLASSES: [(&str, &str); 8] = [
    ("CPU", "#2e7d32"),
    ("IO", "#1565c0"),
    ("Lock", "#c62828"),
    ("LWLock", "#ef6c00"),
    ("BufferPin", "#6a1b9a"),
    ("Client", "#00838f"),
    ("IPC", "#ad1457"),
    ("Timeout", "#9e9d24"),
];

/// A small deterministic generator (xorshift) for plausible numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next()
    }
}

fn col(title: &str, kind: ColumnKind, unit: &str) -> Column {
    Column { title: title.into(), kind, unit: unit.into() }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn section(number: &str, title: &str, level: u8, blocks: Vec<Block>) -> Section {
    Section { number: number.into(), title: title.into(), level, blocks }
}

fn table(title: &str, columns: Vec<Column>, rows: Vec<Vec<Cell>>, note: Option<&str>) -> Block {
    Block::Table(Table { title: title.into(), columns, rows, note: note.map(str::to_owned) })
}

/// The full-size sample report.
pub fn workload_document() -> Document {
    let sections = vec![
        section("1", "General", 1, vec![Block::Paragraph(INTRO.into())]),
        section("1.1", "Instance", 2, vec![Block::Facts(instance_facts())]),
        section("2", "Activity overview", 1, vec![Block::Chart(wait_chart()), Block::Paragraph(CHART_NOTE.into())]),
        section("2.1", "Wait classes", 2, vec![Block::Chart(wait_bars()), wait_class_table()]),
        section("2.2", "Top wait events", 2, vec![wait_events_table()]),
        section("3", "Databases", 1, vec![databases_table(), Block::Chart(database_chart())]),
        section("4", "Connections", 1, vec![Block::Paragraph(CONNECTIONS.into())]),
        section("4.1", "Sessions by application", 2, vec![applications_table()]),
        section("4.2", "Blocking sessions", 2, vec![blocking_table()]),
        section("5", "Sessions workload", 1, vec![Block::Chart(users_chart())]),
        section("5.1", "Top sessions", 2, vec![sessions_table()]),
        section("6", "Queries", 1, vec![Block::Chart(query_bars())]),
        section("6.1", "Top queries by total time", 2, vec![queries_table(1, "total time")]),
        section("6.2", "Top queries by calls", 2, vec![queries_table(2, "calls")]),
        section("7", "Tables and indexes", 1, vec![]),
        section("7.1", "Table activity", 2, vec![tables_table()]),
        section("7.2", "Index usage", 2, vec![indexes_table()]),
        section("8", "Configuration", 1, vec![]),
        section("8.1", "Changed settings", 2, vec![Block::Facts(changed_settings())]),
        section("8.2", "All settings", 2, vec![settings_table()]),
    ];
    Document {
        title: TITLE.into(),
        subject: SUBJECT.into(),
        generated_at_ms: TO_MS + 5 * 60_000,
        from_ms: FROM_MS,
        to_ms: TO_MS,
        time_zone: "Europe/Paris".into(),
        utc_offset_minutes: 60,
        filters: vec!["env = production".into(), "team = sales".into()],
        sections,
        file_stem: "workload-pg-sales-2026-11-29".into(),
    }
}

const INTRO: &str = "This report summarises the workload of the instance over the selected window: the \
    active sessions sampled every second and what they waited on, the busiest databases, applications, \
    sessions and queries, table and index activity, and the configuration in force. Times are local \
    unless marked UTC; durations add up the time spent by all sessions.";
const CHART_NOTE: &str = "Each band is the average number of sessions active in one wait class over a \
    minute. CPU means the session was running or waiting for a processor; the other classes are the \
    wait_event_type values of pg_stat_activity.";
const CONNECTIONS: &str = "Connections opened by each application and user, with the time their \
    sessions spent active. Idle sessions are not counted.";

fn instance_facts() -> Vec<(String, String)> {
    [
        ("Version", "PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit"),
        ("Host", "db1.sales.internal (10.20.0.11), 16 vCPU, 64 GiB RAM"),
        ("Started", "2026-11-02 04:12:55 (27 days before the report's end)"),
        ("Data directory", "/var/lib/postgresql/16/main"),
        ("Extensions", "pg_stat_statements 1.10, pgcrypto 1.3, postgres_fdw 1.1, pg_trgm 1.6"),
        ("Replication", "primary, 2 streaming standbys (db2, db3), max lag 0.4 s"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Active sessions by wait class, one point per minute, with a busy afternoon.
fn wait_chart() -> Chart {
    let mut rng = Rng::new(7);
    let bases = [3.0, 1.6, 0.5, 0.35, 0.05, 0.8, 0.25, 0.1];
    let series = WAIT_CLASSES
        .iter()
        .zip(bases)
        .map(|((label, color), base)| TimeSeries {
            label: label.to_string(),
            color: color.to_string(),
            points: (0..1440)
                .map(|m| {
                    let hour = m as f64 / 60.0;
                    let day = 0.35 + 0.65 * (((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos() * 0.5 + 0.5);
                    let spike = if (900..930).contains(&m) && *label == "Lock" { 6.0 } else { 0.0 };
                    (FROM_MS + m * 60_000, base * day * rng.range(0.6, 1.4) + spike)
                })
                .collect(),
        })
        .collect();
    Chart {
        title: "Active sessions by wait class".into(),
        unit: "active sessions".into(),
        data: ChartData::StackedArea(series),
    }
}

fn wait_bars() -> Chart {
    let shares = [48.2, 25.7, 9.1, 6.3, 0.8, 6.9, 2.4, 0.6];
    let bars = WAIT_CLASSES
        .iter()
        .zip(shares)
        .map(|((label, color), value)| Bar { label: label.to_string(), value, color: color.to_string() })
        .collect();
    Chart {
        title: "Share of database time by wait class".into(),
        unit: "% of DB time".into(),
        data: ChartData::Bars(bars),
    }
}

fn wait_class_table() -> Block {
    let shares = [48.2, 25.7, 9.1, 6.3, 0.8, 6.9, 2.4, 0.6];
    let rows = WAIT_CLASSES
        .iter()
        .zip(shares)
        .map(|((label, _), share)| {
            let ms = share * 3_600_000.0 * 1.2;
            vec![text(*label), Cell::Number(ms), Cell::Number(share / 100.0 * 6.4), Cell::Number(share)]
        })
        .collect();
    let columns = vec![
        col("Wait class", ColumnKind::Text, ""),
        col("Time", ColumnKind::DurationMs, ""),
        col("Average active", ColumnKind::Number, "sessions"),
        col("Share", ColumnKind::Percent, ""),
    ];
    table("Wait classes", columns, rows, None)
}

fn wait_events_table() -> Block {
    let mut rng = Rng::new(11);
    let events = [
        ("IO", "DataFileRead"),
        ("LWLock", "WALWrite"),
        ("Lock", "transactionid"),
        ("Client", "ClientRead"),
        ("IO", "WALSync"),
        ("IPC", "SyncRep"),
        ("LWLock", "BufferMapping"),
        ("Lock", "tuple"),
        ("IO", "DataFileWrite"),
        ("Timeout", "PgSleep"),
    ];
    let rows = (0..40)
        .map(|i| {
            let (class, event) = events[i % events.len()];
            let name = if i < events.len() { event.to_string() } else { format!("{event}:{i}") };
            let ms = 9_000_000.0 / (i as f64 + 1.0) * rng.range(0.8, 1.2);
            vec![
                text(class),
                text(name),
                Cell::Number(ms),
                Cell::Integer((ms / 3.1) as i64),
                Cell::Number(ms / 90_000.0),
            ]
        })
        .collect();
    let columns = vec![
        col("Class", ColumnKind::Text, ""),
        col("Wait event", ColumnKind::Text, ""),
        col("Time", ColumnKind::DurationMs, ""),
        col("Samples", ColumnKind::Integer, ""),
        col("Share", ColumnKind::Percent, ""),
    ];
    table("Top wait events", columns, rows, Some("top 40 of 87 wait events by time"))
}

const DATABASES: [&str; 6] =
    ["sales", "inventory", "billing", "analytics_warehouse_reporting_2026", "auth", "postgres"];

fn databases_table() -> Block {
    let mut rng = Rng::new(3);
    let rows = DATABASES
        .iter()
        .enumerate()
        .map(|(i, db)| {
            let size = 2f64.powi(36 - i as i32 * 3) * rng.range(0.5, 1.5);
            vec![
                text(*db),
                Cell::Number(size),
                Cell::Number(rng.range(10.0, 900.0) / (i + 1) as f64),
                Cell::Integer((rng.range(0.0, 30_000.0) / (i + 1) as f64) as i64),
                Cell::Number(rng.range(95.0, 99.99)),
                Cell::Integer(if i == 2 { 3 } else { 0 }),
                Cell::Number(rng.range(0.0, 8e9)),
            ]
        })
        .collect();
    let columns = vec![
        col("Database", ColumnKind::Text, ""),
        col("Size", ColumnKind::Bytes, ""),
        col("Commits", ColumnKind::Number, "tx/s"),
        col("Rollbacks", ColumnKind::Integer, ""),
        col("Cache hit", ColumnKind::Percent, ""),
        col("Deadlocks", ColumnKind::Integer, ""),
        col("Temp files", ColumnKind::Bytes, ""),
    ];
    table("Databases", columns, rows, None)
}

fn database_chart() -> Chart {
    let colors = ["#3949ab", "#00897b", "#f4511e", "#8e24aa", "#6d4c41", "#757575"];
    let mut rng = Rng::new(5);
    let series = DATABASES
        .iter()
        .zip(colors)
        .enumerate()
        .map(|(i, (db, color))| TimeSeries {
            label: db.to_string(),
            color: color.to_string(),
            // Sampled every 2 minutes, to exercise grids that are not per-minute.
            points: (0..720).map(|m| (FROM_MS + m * 120_000, rng.range(0.2, 2.5) / (i + 1) as f64)).collect(),
        })
        .collect();
    Chart {
        title: "Active sessions by database".into(),
        unit: "active sessions".into(),
        data: ChartData::StackedArea(series),
    }
}

fn applications_table() -> Block {
    let mut rng = Rng::new(13);
    let apps =
        ["sales-api", "checkout-worker", "report-builder", "psql", "pg_dump", "metabase", "airflow", "pgbouncer"];
    let rows = (0..25)
        .map(|i| {
            let app = apps[i % apps.len()];
            vec![
                text(format!("{app}{}", if i >= apps.len() { format!("-{i}") } else { String::new() })),
                text(["app_rw", "app_ro", "etl", "postgres"][i % 4]),
                Cell::Integer(rng.range(1.0, 5000.0) as i64),
                Cell::Number(rng.range(1e5, 4e7) / (i + 1) as f64),
                Cell::Number(rng.range(0.0, 30.0)),
            ]
        })
        .collect();
    let columns = vec![
        col("Application", ColumnKind::Text, ""),
        col("User", ColumnKind::Text, ""),
        col("Connections", ColumnKind::Integer, ""),
        col("Active time", ColumnKind::DurationMs, ""),
        col("Share", ColumnKind::Percent, ""),
    ];
    table("Sessions by application", columns, rows, None)
}

fn blocking_table() -> Block {
    let columns = vec![
        col("Blocker pid", ColumnKind::Integer, ""),
        col("Blocked sessions", ColumnKind::Integer, ""),
        col("Longest wait", ColumnKind::DurationMs, ""),
        col("Query", ColumnKind::Code, ""),
    ];
    table("Blocking sessions", columns, Vec::new(), None)
}

fn users_chart() -> Chart {
    let users = [("app_rw", "#5e35b1"), ("app_ro", "#43a047"), ("etl", "#fb8c00"), ("postgres", "#546e7a")];
    let mut rng = Rng::new(17);
    let series = users
        .iter()
        .map(|(user, color)| TimeSeries {
            label: user.to_string(),
            color: color.to_string(),
            points: (0..1440).map(|m| (FROM_MS + m * 60_000, rng.range(0.0, 2.0))).collect(),
        })
        .collect();
    Chart {
        title: "Active sessions by user".into(),
        unit: "active sessions".into(),
        data: ChartData::StackedArea(series),
    }
}

fn sessions_table() -> Block {
    let mut rng = Rng::new(19);
    let rows = (0..60)
        .map(|i| {
            vec![
                Cell::Integer(20_000 + i * 37),
                text(["app_rw", "app_ro", "etl", "postgres"][i as usize % 4]),
                text(["sales-api", "checkout-worker", "report-builder", "psql"][i as usize % 4]),
                text(format!("10.20.{}.{}", i % 7, 10 + i)),
                Cell::Integer(FROM_MS + (rng.range(0.0, 20.0) * 3_600_000.0) as i64),
                Cell::Number(rng.range(1e4, 3e7) / (i + 1) as f64),
                Cell::Number(rng.range(0.0, 100.0)),
            ]
        })
        .collect();
    let columns = vec![
        col("PID", ColumnKind::Integer, ""),
        col("User", ColumnKind::Text, ""),
        col("Application", ColumnKind::Text, ""),
        col("Client", ColumnKind::Text, ""),
        col("Backend start", ColumnKind::Timestamp, ""),
        col("Active time", ColumnKind::DurationMs, ""),
        col("Waiting", ColumnKind::Percent, ""),
    ];
    table("Top sessions by active time", columns, rows, Some("top 60 of 1,204 sessions"))
}

fn query_bars() -> Chart {
    let colors = ["#1565c0", "#1976d2", "#1e88e5", "#2196f3", "#42a5f5", "#64b5f6", "#90caf9", "#bbdefb"];
    let bars = (0..8)
        .map(|i| Bar {
            label: format!("query {} ({})", 1000 + i, ["sales-api", "etl"][i % 2]),
            value: 31.0 / (i + 1) as f64,
            color: colors[i].into(),
        })
        .collect();
    Chart {
        title: "Share of total query time, top 8 queries".into(),
        unit: "% of total time".into(),
        data: ChartData::Bars(bars),
    }
}

/// Top queries with their full text (seeded per table so the two tables differ in order).
fn queries_table(seed: u64, by: &str) -> Block {
    let mut rng = Rng::new(23 + seed);
    let rows = (0..QUERY_ROWS)
        .map(|i| {
            let q = if seed == 1 { i } else { (i * 7 + 3) % QUERY_ROWS };
            let calls = (rng.range(10.0, 2e6) / (i + 1) as f64) as i64;
            let total = rng.range(1e5, 9e6) / (i + 1) as f64;
            vec![
                text(format!("{}", -4_611_686_018_427_387_904_i64 + q as i64 * 7_919_191)),
                Cell::Integer(calls),
                Cell::Number(total),
                Cell::Number(total / calls.max(1) as f64),
                Cell::Integer(calls * 3),
                Cell::Number(31.0 / (i + 1) as f64),
                text(query_text(q)),
            ]
        })
        .collect();
    let columns = vec![
        col("Query id", ColumnKind::Text, ""),
        col("Calls", ColumnKind::Integer, ""),
        col("Total time", ColumnKind::DurationMs, ""),
        col("Mean time", ColumnKind::DurationMs, ""),
        col("Rows", ColumnKind::Integer, ""),
        col("Share", ColumnKind::Percent, ""),
        col("Query", ColumnKind::Code, ""),
    ];
    let note = format!("top {QUERY_ROWS} of 2,318 statements by {by}; texts as normalised by pg_stat_statements");
    table(&format!("Top queries by {by}"), columns, rows, Some(&note))
}

fn tables_table() -> Block {
    let mut rng = Rng::new(29);
    let rows = (0..80)
        .map(|i| {
            let mut row = vec![
                text(["public", "sales", "audit"][i % 3]),
                text(format!("{}_{i}", ["orders", "order_lines", "customers", "payments", "events"][i % 5])),
            ];
            row.push(Cell::Number(rng.range(1e6, 5e10) / (i + 1) as f64));
            for _ in 0..7 {
                row.push(Cell::Integer((rng.range(0.0, 5e7) / (i + 1) as f64) as i64));
            }
            row.push(Cell::Number(rng.range(0.0, 40.0)));
            row.push(Cell::Integer(FROM_MS - (rng.range(0.0, 72.0) * 3_600_000.0) as i64));
            row
        })
        .collect();
    let columns = vec![
        col("Schema", ColumnKind::Text, ""),
        col("Table", ColumnKind::Text, ""),
        col("Size", ColumnKind::Bytes, ""),
        col("Seq scans", ColumnKind::Integer, ""),
        col("Seq rows read", ColumnKind::Integer, ""),
        col("Index scans", ColumnKind::Integer, ""),
        col("Inserted", ColumnKind::Integer, ""),
        col("Updated", ColumnKind::Integer, ""),
        col("HOT updated", ColumnKind::Integer, ""),
        col("Deleted", ColumnKind::Integer, ""),
        col("Dead rows", ColumnKind::Percent, ""),
        col("Last autovacuum", ColumnKind::Timestamp, ""),
    ];
    table("Table activity", columns, rows, Some("80 busiest tables by rows read and written"))
}

fn indexes_table() -> Block {
    let mut rng = Rng::new(31);
    let rows = (0..60)
        .map(|i| {
            vec![
                text(format!("{}_{i}", ["orders", "order_lines", "customers", "payments", "events"][i % 5])),
                text(format!(
                    "{}_{i}_idx",
                    [
                        "orders_created_at",
                        "order_lines_order_id",
                        "customers_email_lower",
                        "payments_status_partial",
                        "events_payload_gin"
                    ][i % 5]
                )),
                Cell::Number(rng.range(1e5, 5e9) / (i + 1) as f64),
                Cell::Integer((rng.range(0.0, 9e6) / (i + 1) as f64) as i64),
                Cell::Integer((rng.range(0.0, 9e7) / (i + 1) as f64) as i64),
            ]
        })
        .collect();
    let columns = vec![
        col("Table", ColumnKind::Text, ""),
        col("Index", ColumnKind::Text, ""),
        col("Size", ColumnKind::Bytes, ""),
        col("Scans", ColumnKind::Integer, ""),
        col("Tuples read", ColumnKind::Integer, ""),
    ];
    table("Index usage", columns, rows, None)
}

fn changed_settings() -> Vec<(String, String)> {
    (0..30).map(|i| (format!("setting_{i:02}"), format!("{} (default {})", i * 64, i * 8))).collect()
}

fn settings_table() -> Block {
    let rows = (0..120)
        .map(|i| {
            vec![
                text(format!("{}_{i}", ["autovacuum", "checkpoint", "log", "max", "shared", "work"][i % 6])),
                text(format!("{}", i * 128)),
                text(["kB", "ms", "", "8kB", "s"][i % 5]),
                text(["configuration file", "default", "override", "command line"][i % 4]),
                text(format!(
                    "Sets something about {}; a longer description that will not fit in the column and gets cut",
                    i
                )),
            ]
        })
        .collect();
    let columns = vec![
        col("Name", ColumnKind::Text, ""),
        col("Setting", ColumnKind::Text, ""),
        col("Unit", ColumnKind::Text, ""),
        col("Source", ColumnKind::Text, ""),
        col("Description", ColumnKind::Text, ""),
    ];
    table("All settings", columns, rows, None)
}
