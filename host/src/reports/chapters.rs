//! The content of each report chapter, read through the workload API's own computations (so a
//! report says what `/ds-api/activity/*` says for the same body) with the request's range,
//! filters and the caller's roles already applied to the selection.

use super::columns::{self, bytes, count, millis, pick, text, Col};
use super::outline::Chapter;
use super::parts::{bar_chart, bars, duration_text, local_time, run, section, summary, Part, Shared};
use super::{ReportError, ReportSpec, Sources};
use crate::plugins::document::{Block, ColumnKind, Table as DocTable};
use crate::workload::{self, Endpoint, Table};

/// Rows of each top list.
const TOP: usize = 20;

pub(super) async fn chapter(
    src: &Sources<'_>,
    spec: &ReportSpec<'_>,
    shared: &Shared,
    chapter: Chapter,
) -> Result<Part, ReportError> {
    match chapter {
        Chapter::General => general(src, spec).await,
        Chapter::Workload => workload_chapter(src, spec, shared).await,
        Chapter::TempFiles => temp_files(src, spec, shared).await,
        Chapter::Rows => rows(src, spec, shared).await,
        Chapter::Sessions => super::sessions::chapter(src, spec).await,
        Chapter::Queries => super::queries::chapter(src, spec).await,
        Chapter::Query => super::queries::one_query(src, spec).await,
        Chapter::Tables => relations(src, spec, false).await,
        Chapter::Indexes => relations(src, spec, true).await,
        Chapter::DataSize => data_size(src, spec).await,
        Chapter::Server => server(src, spec).await,
    }
}

async fn general(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let (q, clock) = (spec.query, &spec.clock);
    let mut window = Vec::new();
    if clock.name != "UTC" {
        window.push((format!("From ({})", clock.name), local_time(q.from, clock.offset_minutes)));
        window.push((format!("To ({})", clock.name), local_time(q.to, clock.offset_minutes)));
    }
    window.push(("From (UTC)".into(), local_time(q.from, 0)));
    window.push(("To (UTC)".into(), local_time(q.to, 0)));
    window.push(("Duration".into(), duration_text(q.to - q.from)));
    let filters: Vec<(String, String)> = match q.filters.is_empty() {
        true => vec![("Filters".into(), "none".into())],
        false => q.filters.iter().map(|f| (f.tag.clone(), f.value.clone())).collect(),
    };
    let mut part = Part::default();
    part.sections.push(section("Time window", vec![Block::Facts(window)]));
    part.sections.push(section("Filters", vec![Block::Facts(filters)]));
    if spec.settings_read {
        let infos = run(src, spec, Endpoint::PgInstanceInfos, |_| {}).await?;
        let cols = [
            text("pg_instance", "Instance"),
            text("version", "Version"),
            text("type", "Type"),
            text("start_time", "Started"),
            text("uptime", "Uptime"),
            bytes("size", "Size"),
            count("max_connections", "Max connections"),
            text("connected", "Connected"),
        ];
        let mut blocks = vec![Block::Table(pick("PostgreSQL instances", &infos, &cols, 200))];
        if let Some(settings) = settings_table(&infos) {
            blocks.push(Block::Table(settings));
        }
        part.sections.push(section("PostgreSQL instance inventory", blocks));
        let server = run(src, spec, Endpoint::Server, summary).await?;
        let table = columns::all("Server (averages over the window)", &server, &["time"], 200);
        part.sections.push(section("Server", vec![Block::Table(table)]));
    } else {
        let names: Vec<(String, String)> =
            src.selection.targets.iter().map(|t| ("Instance".to_string(), t.pg_instance.to_string())).collect();
        part.sections.push(section("Instances", vec![Block::Facts(names)]));
    }
    Ok(part)
}

/// The settings of a single instance (their JSON object from the inventory) as name/value rows.
fn settings_table(infos: &Table) -> Option<DocTable> {
    let [row] = infos.rows.as_slice() else { return None };
    let workload::Cell::Text(json) = &row[infos.find("settings")?] else { return None };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).ok()?;
    let rows = map
        .into_iter()
        .map(|(k, v)| vec![columns::cell(&workload::Cell::Text(k)), columns::cell(&workload::Cell::Text(setting(&v)))])
        .collect();
    let columns = vec![columns::column("Setting", ColumnKind::Text), columns::column("Value", ColumnKind::Text)];
    Some(DocTable { title: "Settings".into(), columns, rows, note: None })
}

/// A setting as the inventory keeps it, `[value, unit]`, as a DBA reads it: `60 s`, `16384 × 8kB`.
fn setting(v: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    match v.as_array().map(Vec::as_slice) {
        Some([value, serde_json::Value::Null]) => text(value),
        Some([value, unit]) if text(unit).starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{} × {}", text(value), text(unit))
        }
        Some([value, unit]) => format!("{} {}", text(value), text(unit)),
        _ => text(v),
    }
}

const XACT: [Col; 8] = [
    count("xact_commit", "Commits"),
    count("xact_rollback", "Rollbacks"),
    count("blks_read", "Blocks read"),
    count("blks_hit", "Blocks hit"),
    count("deadlocks", "Deadlocks"),
    millis("blk_read_time", "Read time"),
    millis("blk_write_time", "Write time"),
    Col { key: "num_backends", title: "Backends (avg)", kind: ColumnKind::Number },
];

fn with_first<const N: usize>(first: Col, rest: &[Col; N]) -> Vec<Col> {
    std::iter::once(first).chain(rest.iter().copied()).collect()
}

async fn workload_chapter(src: &Sources<'_>, spec: &ReportSpec<'_>, shared: &Shared) -> Result<Part, ReportError> {
    let (global, databases) = shared.instance(src, spec).await?;
    let background = run(src, spec, Endpoint::PgBackground, summary).await?;
    let bg_cols = [
        text("pg_instance", "Instance"),
        count("checkpoints_timed", "Timed checkpoints"),
        count("checkpoints_req", "Requested checkpoints"),
        millis("checkpoint_write_time", "Checkpoint write"),
        millis("checkpoint_sync_time", "Checkpoint sync"),
        count("buffers_checkpoint", "Buffers (checkpoint)"),
        count("buffers_clean", "Buffers (bgwriter)"),
        count("buffers_backend", "Buffers (backends)"),
        count("buffers_alloc", "Buffers allocated"),
    ];
    let mut part = Part::default();
    let global_cols = with_first(text("pg_instance", "Instance"), &XACT);
    part.sections.push(section("Global", vec![Block::Table(pick("Database activity", global, &global_cols, 200))]));
    let db_cols = with_first(text("database", "Database"), &XACT);
    part.sections.push(section("Per database", vec![Block::Table(pick("Per database", databases, &db_cols, 200))]));
    part.sections
        .push(section("Background", vec![Block::Table(pick("Background writer", &background, &bg_cols, 200))]));
    Ok(part)
}

async fn temp_files(src: &Sources<'_>, spec: &ReportSpec<'_>, shared: &Shared) -> Result<Part, ReportError> {
    let (_, databases) = shared.instance(src, spec).await?;
    let cols = [
        text("pg_instance", "Instance"),
        text("database", "Database"),
        count("temp_files", "Temporary files"),
        bytes("temp_bytes", "Written"),
    ];
    let mut part = Part::default();
    part.intro
        .push(Block::Paragraph("Temporary files are written when a sort or a hash does not fit in work_mem.".into()));
    part.sections.push(section("Per database", vec![Block::Table(pick("Temporary files", databases, &cols, 200))]));
    Ok(part)
}

const TUPLES: [Col; 5] = [
    count("tup_returned", "Returned"),
    count("tup_fetched", "Fetched"),
    count("tup_inserted", "Inserted"),
    count("tup_updated", "Updated"),
    count("tup_deleted", "Deleted"),
];

async fn rows(src: &Sources<'_>, spec: &ReportSpec<'_>, shared: &Shared) -> Result<Part, ReportError> {
    let (global, databases) = shared.instance(src, spec).await?;
    let tables = run(src, spec, Endpoint::Tables, |q| q.by = Some("n_tup_ins".into())).await?;
    let table_cols = [
        text("database", "Database"),
        text("schema_name", "Schema"),
        text("rel_name", "Table"),
        count("seq_tup_read", "Seq. read"),
        count("idx_tup_fetch", "Idx. fetched"),
        count("n_tup_ins", "Inserted"),
        count("n_tup_upd", "Updated"),
        count("n_tup_hot_upd", "HOT updated"),
        count("n_tup_del", "Deleted"),
    ];
    let mut part = Part::default();
    let global_cols = with_first(text("pg_instance", "Instance"), &TUPLES);
    part.sections.push(section("Global", vec![Block::Table(pick("Rows", global, &global_cols, 200))]));
    let db_cols = with_first(text("database", "Database"), &TUPLES);
    part.sections
        .push(section("Per database", vec![Block::Table(pick("Rows per database", databases, &db_cols, 200))]));
    part.sections.push(section("Per table", vec![Block::Table(pick("Rows per table", &tables, &table_cols, TOP))]));
    Ok(part)
}

async fn relations(src: &Sources<'_>, spec: &ReportSpec<'_>, indexes: bool) -> Result<Part, ReportError> {
    let mut part = Part::default();
    if indexes {
        let by_scans = run(src, spec, Endpoint::Indexes, |q| q.by = Some("idx_scan".into())).await?;
        let by_reads = run(src, spec, Endpoint::Indexes, |q| q.by = Some("idx_blks_read".into())).await?;
        let cols = [
            text("database", "Database"),
            text("schema_name", "Schema"),
            text("rel_name", "Table"),
            text("index_rel_name", "Index"),
            count("idx_scan", "Scans"),
            count("idx_tup_read", "Entries read"),
            count("idx_tup_fetch", "Rows fetched"),
            count("idx_blks_read", "Blocks read"),
            count("idx_blks_hit", "Blocks hit"),
            bytes("size", "Size"),
        ];
        part.intro.extend(bar_chart(
            "Most scanned indexes",
            "scans",
            bars(&by_scans, &["rel_name", "index_rel_name"], "idx_scan"),
        ));
        part.sections.push(section("By scans", vec![Block::Table(pick("Indexes by scans", &by_scans, &cols, TOP))]));
        part.sections
            .push(section("By blocks read", vec![Block::Table(pick("Indexes by blocks read", &by_reads, &cols, TOP))]));
    } else {
        let by_seq = run(src, spec, Endpoint::Tables, |q| q.by = Some("seq_tup_read".into())).await?;
        let by_reads = run(src, spec, Endpoint::Tables, |q| q.by = Some("heap_blks_read".into())).await?;
        let cols = [
            text("database", "Database"),
            text("schema_name", "Schema"),
            text("rel_name", "Table"),
            bytes("size", "Size"),
            count("seq_scan", "Seq. scans"),
            count("seq_tup_read", "Seq. rows read"),
            count("idx_scan", "Idx. scans"),
            count("heap_blks_read", "Blocks read"),
            count("heap_blks_hit", "Blocks hit"),
            count("autovacuum_count", "Autovacuums"),
            count("autoanalyze_count", "Autoanalyzes"),
        ];
        part.intro.extend(bar_chart(
            "Rows read by sequential scans",
            "rows",
            bars(&by_seq, &["schema_name", "rel_name"], "seq_tup_read"),
        ));
        part.sections.push(section(
            "By sequential reads",
            vec![Block::Table(pick("Tables by rows read sequentially", &by_seq, &cols, TOP))],
        ));
        part.sections
            .push(section("By blocks read", vec![Block::Table(pick("Tables by blocks read", &by_reads, &cols, TOP))]));
    }
    Ok(part)
}

async fn data_size(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let sizes = run(src, spec, Endpoint::DataSize, summary).await?;
    let cols = [text("pg_instance", "Instance"), text("database", "Database"), bytes("data_size", "Size")];
    let mut part = Part::default();
    part.intro.extend(bar_chart("Largest databases", "bytes", bars(&sizes, &["database"], "data_size")));
    part.sections.push(section("Per database", vec![Block::Table(pick("Data size", &sizes, &cols, 200))]));
    Ok(part)
}

async fn server(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let averages = run(src, spec, Endpoint::Server, summary).await?;
    let minutes = run(src, spec, Endpoint::Server, |_| {}).await?;
    let mut part = Part::default();
    part.sections.push(section(
        "Summary",
        vec![Block::Table(columns::all("Averages over the window", &averages, &["time"], 200))],
    ));
    part.sections
        .push(section("Minute by minute", vec![Block::Table(columns::all("Per minute", &minutes, &[], 1440))]));
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::setting;
    use serde_json::json;

    #[test]
    fn settings_read_with_their_units() {
        assert_eq!(setting(&json!(["on", null])), "on");
        assert_eq!(setting(&json!(["60", "s"])), "60 s");
        assert_eq!(setting(&json!(["16384", "8kB"])), "16384 × 8kB");
        assert_eq!(setting(&json!("plain")), "plain");
    }
}
