//! Chapters "Queries" (summary per database, then the top queries by execution time, shared
//! blocks read and shared blocks hit, each with its full text) and "Query" (one query's
//! statistics, for `query-report`).

use super::columns::{code, count, millis, pick, text, Col};
use super::parts::{bar_chart, bars, run, section, top_queries, Part};
use super::{ReportError, ReportSpec, Sources};
use crate::plugins::document::{Block, ColumnKind};
use crate::workload::Endpoint;

/// Rows of each top list.
const TOP: usize = 20;

const QUERY_COLUMNS: [Col; 9] = [
    text("database", "Database"),
    text("user", "User"),
    text("queryid", "Query id"),
    count("calls", "Calls"),
    millis("total_time", "Total time"),
    count("rows", "Rows"),
    count("shared_blks_read", "Blocks read"),
    count("shared_blks_hit", "Blocks hit"),
    code("text", "Query"),
];

const SUMMARY_COLUMNS: [Col; 9] = [
    text("pg_instance", "Instance"),
    text("database", "Database"),
    count("calls", "Calls"),
    millis("total_time", "Total time"),
    count("rows", "Rows"),
    count("shared_blks_read", "Blocks read"),
    count("shared_blks_hit", "Blocks hit"),
    count("temp_blks_written", "Temp blocks written"),
    Col { key: "perc_95", title: "95th pct (ms)", kind: ColumnKind::Number },
];

pub(super) async fn chapter(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let summary = run(src, spec, Endpoint::QueriesSummary, |_| {}).await?;
    // The three lists come from one summing of the statements (it is the costly part).
    let mut lists =
        top_queries(src, spec, &["total_time", "shared_blks_read", "shared_blks_hit"], TOP).await?.into_iter();
    let mut next = || lists.next().unwrap_or_default();
    let (by_time, by_read, by_hit) = (next(), next(), next());
    let mut part = Part::default();
    part.intro.push(Block::Paragraph(
        "From pg_stat_statements: what each query cost over the window (the differences of its counters).".into(),
    ));
    part.intro.extend(bar_chart(
        "Top queries by total execution time",
        "ms",
        bars(&by_time, &["queryid"], "total_time"),
    ));
    part.sections.push(section(
        "Summary per database",
        vec![Block::Table(pick("Queries per database", &summary, &SUMMARY_COLUMNS, 200))],
    ));
    part.sections.push(section(
        "By execution time",
        vec![Block::Table(pick("Queries by total time", &by_time, &QUERY_COLUMNS, TOP))],
    ));
    part.sections.push(section(
        "By shared blocks read",
        vec![Block::Table(pick("Queries by shared blocks read", &by_read, &QUERY_COLUMNS, TOP))],
    ));
    part.sections.push(section(
        "By shared blocks hit",
        vec![Block::Table(pick("Queries by shared blocks hit", &by_hit, &QUERY_COLUMNS, TOP))],
    ));
    Ok(part)
}

pub(super) async fn one_query(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let rows = run(src, spec, Endpoint::Query, |_| {}).await?;
    let mut part = Part::default();
    part.sections.push(section("Statistics", vec![Block::Table(pick("The query", &rows, &QUERY_COLUMNS, 200))]));
    Ok(part)
}
