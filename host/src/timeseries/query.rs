//! History queries: a resource's series over a time range, downsampled to at most `max_points`
//! per series by averaging fixed buckets (in SQL, so long ranges never travel raw).

use crate::store::{Store, StoreError};

/// Without `maxPoints`, a series returns at most this many points; also the largest `maxPoints`.
pub const DEFAULT_MAX_POINTS: u32 = 10_000;
/// Points one answer holds across all its series, whatever `maxPoints` says: ~16 bytes each in
/// memory and ~30 of JSON, so no history request holds more than ~50 MiB in the host.
pub const MAX_POINTS_PER_ANSWER: u32 = 1_000_000;
/// Series one answer may hold; a resource with more is read a `metric` at a time.
pub const MAX_SERIES: usize = 1_000;
/// The longest `from`..`to` span: ten years.
pub const MAX_SPAN_MS: i64 = 3650 * 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct HistoryQuery {
    pub tenant_id: i64,
    pub resource: String,
    pub metric: Option<String>,
    /// Inclusive bounds, epoch milliseconds.
    pub from: i64,
    pub to: i64,
    pub max_points: u32,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HistorySeries {
    pub metric: String,
    pub labels: serde_json::Value,
    pub unit: Option<String>,
    pub source: String,
    /// True when points are bucket averages rather than raw samples.
    pub downsampled: bool,
    /// `[epoch_ms, value]` pairs, oldest first.
    pub points: Vec<(i64, f64)>,
}

/// Parses `1h`, `24h`, `7d`, `90d`, `15m`, `30s`, `2w` into milliseconds.
pub fn parse_range(text: &str) -> Result<i64, QueryError> {
    let bad = || QueryError::Invalid(format!("range {text:?} is not a duration like 1h, 24h, 7d or 30m"));
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    if n <= 0 || n > 3650 * 86_400_000 / unit_ms {
        return Err(bad());
    }
    Ok(n * unit_ms)
}

/// Runs a history query against the store.
pub async fn history(store: &Store, q: &HistoryQuery) -> Result<Vec<HistorySeries>, QueryError> {
    if q.from > q.to {
        return Err(QueryError::Invalid("from must not be after to".into()));
    }
    // Checked: from = i64::MIN, to = i64::MAX must not wrap around into a small span.
    let span = match q.to.checked_sub(q.from) {
        Some(span) if span < MAX_SPAN_MS => span + 1,
        _ => return Err(QueryError::Invalid("the span from \"from\" to \"to\" must be at most 3650 days".into())),
    };
    if !(1..=DEFAULT_MAX_POINTS).contains(&q.max_points) {
        return Err(QueryError::Invalid(format!("maxPoints must be 1 to {DEFAULT_MAX_POINTS}")));
    }
    let all = store.list_series(q.tenant_id, &q.resource, q.metric.as_deref()).await?;
    if all.len() > MAX_SERIES {
        return Err(QueryError::Invalid(format!(
            "resource {:?} has {} series, more than the {MAX_SERIES} one answer holds: ask for one `metric`",
            q.resource,
            all.len()
        )));
    }
    // Many series share the answer's point budget (at least one point each).
    let per_series = q.max_points.min(MAX_POINTS_PER_ANSWER / all.len().max(1) as u32).max(1);
    let mut out = Vec::new();
    for series in all {
        let count = store.count_points(series.id, q.from, q.to).await?;
        let downsampled = count > i64::from(per_series);
        // Buckets of equal width starting at `from`: ceil(span / per_series) ms each.
        let bucket = if downsampled { (span + i64::from(per_series) - 1) / i64::from(per_series) } else { 1 };
        let points = store.series_points(series.id, q.from, q.to, bucket).await?;
        out.push(HistorySeries {
            metric: series.metric,
            labels: serde_json::from_str(&series.labels).unwrap_or_default(),
            unit: series.unit,
            source: series.source,
            downsampled,
            points: points.into_iter().map(|p| (p.ts, p.value)).collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_parse_and_reject_nonsense() {
        assert_eq!(parse_range("1h").unwrap(), 3_600_000);
        assert_eq!(parse_range("7d").unwrap(), 604_800_000);
        assert_eq!(parse_range("30m").unwrap(), 1_800_000);
        for bad in ["", "h", "10", "-1h", "1y", "0h", "99999999d"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }
}
