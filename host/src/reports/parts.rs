//! What every chapter is made of: workload answers read with the report's request (and what
//! several chapters share, read once per report), sections, bar charts from top lists, and the
//! time texts of the cover.

use chrono::DateTime;

use super::columns;
use super::{palette, ReportError, ReportSpec, Sources};
use crate::plugins::document::{Bar, Block, Chart, ChartData, Section, TimeSeries};
use crate::workload::{self, Dimension, Endpoint, Query, Table};

/// Bars of each bar chart.
const BARS: usize = 10;

/// A chapter: what comes under its title, then its numbered sections.
#[derive(Default)]
pub struct Part {
    pub intro: Vec<Block>,
    pub sections: Vec<Section>,
}

pub fn section(title: &str, blocks: Vec<Block>) -> Section {
    Section { number: String::new(), title: title.into(), level: 2, blocks }
}

/// The report's request without the endpoint options a chapter sets itself.
fn request(spec: &ReportSpec<'_>) -> Query {
    let mut q = spec.query.clone();
    (q.compute, q.by, q.group) = (None, None, None);
    q
}

/// Runs a workload endpoint with `adjust` applied to the request.
pub async fn run(
    src: &Sources<'_>,
    spec: &ReportSpec<'_>,
    endpoint: Endpoint,
    adjust: impl FnOnce(&mut Query),
) -> Result<Table, ReportError> {
    let mut q = request(spec);
    adjust(&mut q);
    let answer = workload::run(src.store, src.fresh, src.tenant_id, endpoint, src.selection, &q).await?;
    Ok(answer.table)
}

/// What several chapters of one report show, read once per report on first use: the Workload,
/// Temporary files and Rows chapters all show `pg-instance` summed over the window, and each
/// read of it goes through a day's ~65k `pg.db.*` points.
#[derive(Default)]
pub struct Shared {
    instance: tokio::sync::OnceCell<(Table, Table)>,
}

impl Shared {
    /// `pg-instance` with `compute: summary`: (without `group`, with `group: database`).
    pub async fn instance(&self, src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<&(Table, Table), ReportError> {
        self.instance
            .get_or_try_init(|| async {
                let q = request(spec);
                Ok::<_, ReportError>(
                    workload::instance_summaries(src.store, src.fresh, src.tenant_id, src.selection, &q).await?,
                )
            })
            .await
    }
}

/// `top-queries` once per `by` (`limit` rows each) from one summing of the statements.
pub async fn top_queries(
    src: &Sources<'_>,
    spec: &ReportSpec<'_>,
    by: &[&str],
    limit: usize,
) -> Result<Vec<Table>, ReportError> {
    let mut q = request(spec);
    q.limit = limit;
    Ok(workload::top_queries_by(src.store, src.fresh, src.tenant_id, src.selection, &q, by).await?)
}

pub fn summary(q: &mut Query) {
    q.compute = Some("summary".into());
}

/// Bars of the first `BARS` rows: `label` columns joined by `.`, the value of `value`.
pub fn bars(source: &Table, label: &[&str], value: &str) -> Vec<Bar> {
    let Some(v) = source.find(value) else { return Vec::new() };
    let at: Vec<usize> = label.iter().filter_map(|l| source.find(l)).collect();
    source
        .rows
        .iter()
        .take(BARS)
        .map(|row| Bar {
            label: at.iter().map(|i| columns::plain(&row[*i])).collect::<Vec<_>>().join("."),
            value: row[v].as_f64().unwrap_or(0.0),
            color: palette::BAR.into(),
        })
        .collect()
}

pub fn bar_chart(title: &str, unit: &str, bars: Vec<Bar>) -> Option<Block> {
    (!bars.is_empty())
        .then(|| Block::Chart(Chart { title: title.into(), unit: unit.into(), data: ChartData::Bars(bars) }))
}

/// Text for a chart label or a stacked series.
pub fn series(label: &str, colour: &str, points: Vec<(i64, f64)>) -> TimeSeries {
    TimeSeries { label: label.into(), color: colour.into(), points }
}

/// Names a dimension for the share tables.
pub fn dimension_title(d: Dimension) -> String {
    let t = d.title();
    let mut c = t.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
/// `YYYY-MM-DD HH:MM:SS` of `ms` shifted by `offset_minutes`.
pub fn local_time(ms: i64, offset_minutes: i32) -> String {
    let shifted = ms + i64::from(offset_minutes) * 60_000;
    DateTime::from_timestamp_millis(shifted).unwrap_or_default().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `1 d 2 h`, `1 h 30 min`, `45 s`.
pub fn duration_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(86_400_000), "1 d");
        assert_eq!(duration_text(5_400_000), "1 h 30 min");
        assert_eq!(duration_text(45_000), "45 s");
        assert_eq!(duration_text(0), "0 s");
        assert_eq!(local_time(1_796_029_200_000, 60), "2026-11-30 10:00:00");
    }
}
