//! Time series: the sample type every producer (collector plugins, the native sampler) emits,
//! batched ingestion into the metric store, and history queries with downsampling.

mod query;
mod writer;

use std::collections::BTreeMap;

pub use query::{history, parse_range, HistoryQuery, HistorySeries, QueryError, DEFAULT_MAX_POINTS};
pub use writer::{Flushed, MetricWriter};

/// One measurement on its way to storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub tenant_id: i64,
    pub resource: String,
    pub metric: String,
    /// Sorted, so equal label sets give the same series.
    pub labels: BTreeMap<String, String>,
    pub unit: Option<String>,
    pub ts: i64,
    pub value: f64,
}

/// Canonical JSON of a label set (sorted keys, `{}` when empty): the series identity in storage.
pub fn canonical_labels(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("string maps serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_canonical_whatever_the_insertion_order() {
        let a: BTreeMap<_, _> = [("b", "2"), ("a", "1")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let b: BTreeMap<_, _> = [("a", "1"), ("b", "2")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(canonical_labels(&a), canonical_labels(&b));
        assert_eq!(canonical_labels(&a), r#"{"a":"1","b":"2"}"#);
        assert_eq!(canonical_labels(&BTreeMap::new()), "{}");
    }
}
