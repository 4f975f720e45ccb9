//! Chapter "Sessions workload": active sessions over time stacked by wait class, then each
//! dimension's share of the sampled sessions ("% impact", as Datasentinel's report shows it).

use std::sync::Arc;

use super::columns::column;
use super::parts::{bar_chart, dimension_title, section, series, Part};
use super::{palette, ReportError, ReportSpec, Sources};
use crate::plugins::document::{Bar, Block, Cell, Chart, ChartData, ColumnKind, Table};
use crate::workload::{self, Dimension, SessionsWorkload};

/// Points per series the chart gets at most (a bucket is at least a second).
const CHART_POINTS: i64 = 1440;
/// Rows of each share table.
const SHARES: usize = 20;

/// The chart's bucket: the range over `CHART_POINTS`, rounded up to a whole second or minute.
fn bucket_ms(range_ms: i64) -> i64 {
    let raw = (range_ms / CHART_POINTS).max(1000);
    match raw > 60_000 {
        true => (raw + 59_999) / 60_000 * 60_000,
        false => (raw + 999) / 1000 * 1000,
    }
}

pub(super) async fn chapter(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Part, ReportError> {
    let q = spec.query;
    let width = bucket_ms(q.to - q.from);
    let w = workload::sessions_workload(src.store, src.fresh, src.tenant_id, src.selection, q, width).await?;
    let mut part = Part::default();
    part.intro.push(Block::Paragraph(overview(&w, q.to - q.from)));
    if let Some(chart) = active_sessions_chart(&w) {
        part.intro.push(chart);
    }
    for dim in Dimension::ALL {
        let shares = w.shares.get(&dim).map(Vec::as_slice).unwrap_or_default();
        let mut blocks = Vec::new();
        if dim == Dimension::WaitEventType {
            let bars = shares
                .iter()
                .take(10)
                .map(|(class, n)| Bar {
                    label: label(class),
                    value: percent(*n, w.samples),
                    color: palette::wait_colour(class).into(),
                })
                .collect();
            blocks.extend(bar_chart("Share of sampled sessions by wait event type", "%", bars));
        }
        blocks.push(Block::Table(share_table(dim, shares, w.samples)));
        part.sections.push(section(&format!("By {}", dim.title()), blocks));
    }
    Ok(part)
}

fn overview(w: &SessionsWorkload, range_ms: i64) -> String {
    let seconds = (range_ms as f64 / 1000.0).max(1.0);
    format!(
        "{} session samples over the window: on average {:.2} active sessions (samples are taken every second; \
         the chart averages them over {} s buckets).",
        w.samples,
        w.samples as f64 / seconds,
        w.bucket_ms / 1000
    )
}

/// Active sessions stacked by wait class, in the palette's order.
fn active_sessions_chart(w: &SessionsWorkload) -> Option<Block> {
    if w.by_class.is_empty() {
        return None;
    }
    let mut classes: Vec<_> = w.by_class.iter().collect();
    classes.sort_by_key(|(class, _)| palette::stacking_rank(class));
    let data = classes
        .into_iter()
        .map(|(class, points)| series(&label(class), palette::wait_colour(class), points.clone()))
        .collect();
    Some(Block::Chart(Chart {
        title: "Active sessions by wait event type".into(),
        unit: "active sessions".into(),
        data: ChartData::StackedArea(data),
    }))
}

fn share_table(dim: Dimension, shares: &[(Arc<str>, i64)], total: i64) -> Table {
    let rows = shares
        .iter()
        .take(SHARES)
        .map(|(value, n)| vec![Cell::Text(label(value)), Cell::Integer(*n), Cell::Number(percent(*n, total))])
        .collect();
    Table {
        title: format!("Sessions by {}", dim.title()),
        columns: vec![
            column(&dimension_title(dim), ColumnKind::Text),
            column("Samples", ColumnKind::Integer),
            column("% impact", ColumnKind::Percent),
        ],
        rows,
        note: (shares.len() > SHARES).then(|| format!("The first {SHARES} of {}.", shares.len())),
    }
}

fn percent(n: i64, total: i64) -> f64 {
    ((n as f64 * 1000.0 / total.max(1) as f64).round()) / 10.0
}

/// An empty value (no wait event: on CPU) reads as `(none)`.
fn label(value: &str) -> String {
    match value {
        "" => "(none)".into(),
        v => v.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_buckets_keep_at_most_a_day_of_minutes() {
        assert_eq!(bucket_ms(3_600_000), 3000);
        assert_eq!(bucket_ms(86_400_000), 60_000);
        assert_eq!(bucket_ms(7 * 86_400_000), 420_000);
        assert_eq!(bucket_ms(60_000), 1000);
        assert!((86_400_000 / bucket_ms(86_400_000)) <= CHART_POINTS);
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(0, 0), 0.0);
    }
}
