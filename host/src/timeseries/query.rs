//! History queries: a resource's series over a time range, downsampled to at most `max_points`
//! per series by averaging fixed buckets (in SQL, so long ranges never travel raw).

use crate::store::{Store, StoreError};

/// Without `maxPoints`, a series returns at most this many points.
pub const DEFAULT_MAX_POINTS: u32 = 10_000;

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
    if q.max_points == 0 {
        return Err(QueryError::Invalid("maxPoints must be at least 1".into()));
    }
    let mut out = Vec::new();
    for series in store.list_series(q.tenant_id, &q.resource, q.metric.as_deref()).await? {
        let count = store.count_points(series.id, q.from, q.to).await?;
        let downsampled = count > i64::from(q.max_points);
        // Buckets of equal width starting at `from`: ceil(span / max_points) ms each.
        let span = q.to - q.from + 1;
        let bucket = if downsampled { (span + i64::from(q.max_points) - 1) / i64::from(q.max_points) } else { 1 };
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
