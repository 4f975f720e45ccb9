//! A realistic 24 h workload report for the tests: eight chapters, a day of minute points for
//! eight wait classes, bars, long multi-line SQL, facts and an empty table.

use vigia_sdk::report::{Bar, Block, Cell, Chart, ChartData, Column, ColumnKind, Document, Section, Table, TimeSeries};

/// 2026-11-30 00:00 in Europe/Madrid (UTC+01:00).
pub const FROM_MS: i64 = 1_795_993_200_000;
pub const DAY_MS: i64 = 86_400_000;
/// The query text a hostile database user could leave in `pg_stat_statements`.
pub const HOSTILE_QUERY: &str = "SELECT '</code><script>alert(1)</script>' AS x, \"a,b\" FROM t";

const WAITS: [(&str, &str); 8] = [
    ("CPU", "#009E73"),
    ("IO", "#0072B2"),
    ("Lock", "#D55E00"),
    ("LWLock", "#CC79A7"),
    ("Client", "#56B4E9"),
    ("IPC", "#E69F00"),
    ("BufferPin", "#F0E442"),
    ("Timeout", "#999999"),
];

/// A small deterministic generator, so the sample (and the rendered bytes) never change.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn document() -> Document {
    Document {
        title: "Workload report".into(),
        subject: "pg-sales@db1.internal:5432".into(),
        generated_at_ms: FROM_MS + DAY_MS + 4 * 60_000,
        from_ms: FROM_MS,
        to_ms: FROM_MS + DAY_MS,
        time_zone: "Europe/Madrid".into(),
        utc_offset_minutes: 60,
        filters: vec!["env = prod".into(), "team = sales".into()],
        sections: sections(),
        file_stem: "workload-pg-sales-2026-11-30".into(),
    }
}

fn section(number: &str, title: &str, blocks: Vec<Block>) -> Section {
    let level = if number.contains('.') { 2 } else { 1 };
    Section { number: number.into(), title: title.into(), level, blocks }
}

fn column(title: &str, kind: ColumnKind, unit: &str) -> Column {
    Column { title: title.into(), kind, unit: unit.into() }
}

fn table(title: &str, columns: Vec<Column>, rows: Vec<Vec<Cell>>, note: Option<&str>) -> Block {
    Block::Table(Table { title: title.into(), columns, rows, note: note.map(Into::into) })
}

fn facts(pairs: &[(&str, &str)]) -> Block {
    Block::Facts(pairs.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect())
}

fn sections() -> Vec<Section> {
    vec![
        section("1", "Summary", summary()),
        section("2", "Activity", vec![activity_chart(), wait_class_table()]),
        section("2.1", "Busiest minutes", vec![busiest_minutes()]),
        section("3", "Wait events", vec![wait_bars(), wait_event_table()]),
        section(
            "4",
            "Top SQL",
            vec![Block::Paragraph(
                "Statements from pg_stat_statements, ranked over the whole period. Query texts are shown in full."
                    .into(),
            )],
        ),
        section("4.1", "By total time", vec![queries(60, 7)]),
        section("4.2", "By calls", vec![queries(25, 11)]),
        section("5", "Tables and indexes", vec![relations()]),
        section(
            "6",
            "Locks",
            vec![table(
                "Blocking chains",
                vec![
                    column("Blocker", ColumnKind::Integer, ""),
                    column("Waiting", ColumnKind::Integer, ""),
                    column("Since", ColumnKind::Timestamp, ""),
                    column("Query", ColumnKind::Code, ""),
                ],
                vec![],
                None,
            )],
        ),
        section("7", "Events", vec![events()]),
        section("8", "Inventory", inventory()),
    ]
}

fn summary() -> Vec<Block> {
    vec![
        Block::Paragraph("Average load was 3.1 active sessions, peaking at 14.2 around 09:40 during the nightly batch overrun.\nCPU and IO account for 78 % of database time.".into()),
        facts(&[("Average active sessions", "3.1"), ("Peak active sessions", "14.2 at 09:41"), ("Transactions", "48,211,904"), ("Database time", "74.4 h"), ("Top wait class", "CPU (52.3 %)")]),
    ]
}

fn activity_chart() -> Block {
    let mut rng = Lcg(42);
    let series = WAITS
        .iter()
        .enumerate()
        .map(|(k, (label, color))| {
            let weight = [1.6, 1.0, 0.35, 0.3, 0.25, 0.15, 0.05, 0.08][k];
            let points = (0..1440)
                .map(|m| {
                    let hour = m as f64 / 60.0;
                    let daily = 0.4 + (((hour - 6.0) / 24.0 * std::f64::consts::TAU).sin() + 1.0) * 0.9;
                    let burst = if (580..620).contains(&m) && k < 3 { 3.0 } else { 0.0 };
                    let value = (weight * (daily + burst) * (0.85 + 0.3 * rng.next()) * 1000.0).round() / 1000.0;
                    (FROM_MS + m * 60_000, if (840..851).contains(&m) { 0.0 } else { value })
                })
                .filter(|&(t, _)| !(FROM_MS + 300 * 60_000..FROM_MS + 312 * 60_000).contains(&t))
                .collect();
            TimeSeries { label: label.to_string(), color: color.to_string(), points }
        })
        .collect();
    Block::Chart(Chart {
        title: "Active sessions by wait class".into(),
        unit: "active sessions".into(),
        data: ChartData::StackedArea(series),
    })
}

fn wait_class_table() -> Block {
    let rows = WAITS
        .iter()
        .enumerate()
        .map(|(i, (label, _))| {
            let share = [52.3, 25.8, 8.4, 5.9, 4.1, 2.2, 0.4, 0.9][i];
            vec![
                Cell::Text(label.to_string()),
                Cell::Number(share * 0.0593),
                Cell::Number(share),
                Cell::Number(share * 3_600_000.0 * 1.44),
            ]
        })
        .collect();
    let columns = vec![
        column("Wait class", ColumnKind::Text, ""),
        column("Average", ColumnKind::Number, "sessions"),
        column("Share", ColumnKind::Percent, ""),
        column("Time", ColumnKind::DurationMs, ""),
    ];
    table("Database time by wait class", columns, rows, None)
}

fn busiest_minutes() -> Block {
    let rows = (0..10)
        .map(|i| {
            vec![
                Cell::Integer(FROM_MS + (580 + i * 3) * 60_000),
                Cell::Number(14.2 - i as f64 * 0.61),
                Cell::Text(["CPU", "IO", "Lock"][i as usize % 3].into()),
            ]
        })
        .collect();
    let columns = vec![
        column("Minute", ColumnKind::Timestamp, ""),
        column("Active", ColumnKind::Number, "sessions"),
        column("Top wait class", ColumnKind::Text, ""),
    ];
    table("Ten busiest minutes", columns, rows, Some("minutes with the most active sessions"))
}

const EVENTS: [(&str, &str); 8] = [
    ("CPU", "CPU"),
    ("IO", "DataFileRead"),
    ("Lock", "transactionid"),
    ("LWLock", "WALWrite"),
    ("Client", "ClientRead"),
    ("IO", "WALSync"),
    ("IPC", "BgWorkerShutdown"),
    ("Lock", "tuple"),
];

fn wait_bars() -> Block {
    let bars = EVENTS
        .iter()
        .enumerate()
        .map(|(i, (class, event))| {
            let color = WAITS.iter().find(|w| w.0 == *class).map_or("#777777", |w| w.1);
            Bar { label: format!("{class}: {event}"), value: 52.3 / (1.0 + i as f64 * 0.9), color: color.into() }
        })
        .collect();
    Block::Chart(Chart {
        title: "Top wait events".into(),
        unit: "% of database time".into(),
        data: ChartData::Bars(bars),
    })
}

fn wait_event_table() -> Block {
    let rows = EVENTS
        .iter()
        .enumerate()
        .map(|(i, (class, event))| {
            let share = 52.3 / (1.0 + i as f64 * 0.9);
            vec![
                Cell::Text(class.to_string()),
                Cell::Text(event.to_string()),
                Cell::Number(share),
                Cell::Number(share * 2_678_400.0),
            ]
        })
        .collect();
    let columns = vec![
        column("Class", ColumnKind::Text, ""),
        column("Event", ColumnKind::Text, ""),
        column("Share", ColumnKind::Percent, ""),
        column("Time", ColumnKind::DurationMs, ""),
    ];
    table("Wait events", columns, rows, Some("top 8 of 41 events by time"))
}

/// Long, multi-line statements the way pg_stat_statements keeps them.
fn query_text(i: usize) -> String {
    if i == 3 {
        return HOSTILE_QUERY.into();
    }
    let tables = ["orders", "order_lines", "customers", "invoices", "shipments", "products", "stock_moves"];
    let (a, b) = (tables[i % tables.len()], tables[(i * 3 + 1) % tables.len()]);
    match i % 4 {
        0 => format!("SELECT o.id, o.created_at, c.name, sum(l.amount) AS total\n  FROM {a} o\n  JOIN {b} l ON l.{a}_id = o.id\n  JOIN customers c ON c.id = o.customer_id\n WHERE o.created_at >= $1 AND o.created_at < $2\n   AND o.status IN ($3, $4, $5)\n GROUP BY o.id, o.created_at, c.name\n ORDER BY total DESC\n LIMIT $6"),
        1 => format!("UPDATE {a} SET status = $1, updated_at = now() WHERE id = $2"),
        2 => format!("INSERT INTO {a} (id, payload, created_at)\nVALUES ($1, $2, $3)\nON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload"),
        _ => format!("WITH recent AS (\n  SELECT * FROM {a} WHERE created_at > now() - interval '15 minutes'\n)\nSELECT r.*, x.reference, x.note_with_a_rather_long_column_name_to_force_wrapping\n  FROM recent r LEFT JOIN {b} x USING (id)"),
    }
}

fn queries(count: usize, seed: u64) -> Block {
    let mut rng = Lcg(seed);
    let rows = (0..count)
        .map(|i| {
            let calls = (2_000_000.0 * rng.next() / (1.0 + i as f64)) as i64 + 10;
            let mean = 0.05 + 40.0 * rng.next() / (1.0 + i as f64 * 0.3);
            vec![
                Cell::Integer(i as i64 + 1),
                Cell::Text(query_text(i)),
                Cell::Integer(calls),
                Cell::Number(calls as f64 * mean),
                Cell::Number(mean),
                Cell::Integer(calls * 3),
                Cell::Number(40.0 / (1.0 + i as f64)),
            ]
        })
        .collect();
    let columns = vec![
        column("#", ColumnKind::Integer, ""),
        column("Query", ColumnKind::Code, ""),
        column("Calls", ColumnKind::Integer, ""),
        column("Total", ColumnKind::DurationMs, ""),
        column("Mean", ColumnKind::DurationMs, ""),
        column("Rows", ColumnKind::Integer, ""),
        column("Share", ColumnKind::Percent, ""),
    ];
    table("Statements", columns, rows, Some("top statements of 1,437 by total time"))
}

fn relations() -> Block {
    let mut rng = Lcg(5);
    let rows = (0..55)
        .map(|i| {
            let size = (1u64 << 34) as f64 * rng.next() / (1.0 + i as f64);
            let vacuum = if i % 7 == 6 { Cell::None } else { Cell::Integer(FROM_MS + (i * 1_234_567) % DAY_MS) };
            vec![
                Cell::Text(format!("sales.table_{i:02}")),
                Cell::Number(size.round()),
                Cell::Integer((rng.next() * 90_000.0) as i64),
                Cell::Number(rng.next() * 100.0),
                vacuum,
            ]
        })
        .collect();
    let columns = vec![
        column("Relation", ColumnKind::Text, ""),
        column("Size", ColumnKind::Bytes, ""),
        column("Seq scans", ColumnKind::Integer, ""),
        column("Dead tuples", ColumnKind::Percent, ""),
        column("Last autovacuum", ColumnKind::Timestamp, ""),
    ];
    table("Largest tables", columns, rows, None)
}

fn events() -> Block {
    let messages = [
        "checkpoint starting: time",
        "autovacuum: VACUUM sales.orders (to prevent wraparound)",
        "connection limit reached for role \"app\"",
        "temporary file: path \"base/pgsql_tmp/pgsql_tmp1234.0\", size 1073741824",
    ];
    let rows = (0..12)
        .map(|i| {
            vec![
                Cell::Integer(FROM_MS + i * 7_200_000 + 61_000),
                Cell::Text(["LOG", "WARNING", "FATAL", "LOG"][i as usize % 4].into()),
                Cell::Text(messages[i as usize % 4].into()),
            ]
        })
        .collect();
    let columns = vec![
        column("At", ColumnKind::Timestamp, ""),
        column("Level", ColumnKind::Text, ""),
        column("Message", ColumnKind::Text, ""),
    ];
    table("Server log highlights", columns, rows, None)
}

fn inventory() -> Vec<Block> {
    let settings = [
        ("shared_buffers", "8GB"),
        ("work_mem", "64MB"),
        ("max_connections", "400"),
        ("effective_cache_size", "24GB"),
        ("random_page_cost", "1.1"),
        ("wal_level", "replica"),
    ];
    let rows = settings.iter().map(|(k, v)| vec![Cell::Text(k.to_string()), Cell::Text(v.to_string())]).collect();
    vec![
        facts(&[
            ("Server", "PostgreSQL 16.4 on x86_64-pc-linux-gnu"),
            ("Host", "db1.internal (16 vCPU, 64 GiB)"),
            ("Up since", "2026-10-02 04:12 (59 d)"),
            ("Databases", "sales, reporting, postgres"),
            ("Extensions", "pg_stat_statements 1.10, pg_trgm 1.6"),
        ]),
        table(
            "Non-default settings",
            vec![column("Setting", ColumnKind::Text, ""), column("Value", ColumnKind::Text, "")],
            rows,
            None,
        ),
    ]
}
