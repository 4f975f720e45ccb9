//! The host-facing data types of plugin calls, decoupled from the generated WIT bindings so the
//! API, scheduler and alerting code never depend on bindgen output. Conversions live here too.

use serde::{Deserialize, Serialize};

use super::bindings::wit;
use crate::store::AlertState;

/// Handed to a collector's `collect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectContext {
    /// The resource the samples belong to unless a sample's labels say otherwise.
    pub resource: String,
    /// When the host scheduled this collection (Unix epoch ms).
    pub scheduled_at_ms: i64,
    /// Collection interval in milliseconds.
    pub interval_ms: u32,
}

/// One measurement returned by a collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub name: String,
    pub value: f64,
    pub unit: Option<String>,
    pub labels: Vec<(String, String)>,
    /// Unix epoch ms; `None` means "now" (the caller stamps it).
    pub timestamp_ms: Option<i64>,
}

/// How bad an alert is (`Info < Warning < Critical`): the one severity type of the host, defined
/// with the alert vocabulary in `store` (rows carry it typed) and seen here by notifiers.
pub use crate::store::Severity;

/// One alert as a notifier sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub rule: String,
    pub resource: String,
    pub severity: Severity,
    /// `firing`, `acknowledged` or `resolved` (`pending` alerts are never notified).
    pub state: AlertState,
    pub summary: String,
    pub description: String,
    pub labels: Vec<(String, String)>,
    pub value: Option<f64>,
    pub started_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
}

/// A delivery to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable across retries of the same (alert transition, channel).
    pub idempotency_key: String,
    pub channel: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    pub alerts: Vec<Alert>,
}

/// What the receiving system answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub detail: String,
}

/// One time series handed to a reporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub resource: String,
    pub metric: String,
    pub unit: Option<String>,
    /// (Unix epoch ms, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub title: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub series: Vec<Series>,
    /// Free-form JSON parameters.
    pub parameters: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendered {
    pub content_type: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A loaded document reporter and the report formats it renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Renderer {
    /// The plugin id, e.g. `pdf`.
    pub id: String,
    pub version: String,
    pub description: String,
    /// What `render-document` produces, e.g. `["pdf"]`.
    pub formats: Vec<String>,
}

/// What a plugin says about itself (`info()`), captured at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginInfo {
    pub id: String,
    pub version: String,
    pub description: String,
}

/// Whether retrying the same call may succeed (WIT `error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    Retryable,
    Permanent,
}

impl From<&CollectContext> for wit::CollectContext {
    fn from(c: &CollectContext) -> Self {
        wit::CollectContext {
            resource: c.resource.clone(),
            scheduled_at_ms: c.scheduled_at_ms,
            interval_ms: c.interval_ms,
        }
    }
}

impl From<wit::MetricSample> for MetricSample {
    fn from(s: wit::MetricSample) -> Self {
        MetricSample { name: s.name, value: s.value, unit: s.unit, labels: s.labels, timestamp_ms: s.timestamp_ms }
    }
}

impl From<&Alert> for wit::Alert {
    fn from(a: &Alert) -> Self {
        wit::Alert {
            id: a.id.clone(),
            rule: a.rule.clone(),
            resource: a.resource.clone(),
            severity: match a.severity {
                Severity::Info => wit::Severity::Info,
                Severity::Warning => wit::Severity::Warning,
                Severity::Critical => wit::Severity::Critical,
            },
            state: a.state.as_str().into(),
            summary: a.summary.clone(),
            description: a.description.clone(),
            labels: a.labels.clone(),
            value: a.value,
            started_at_ms: a.started_at_ms,
            resolved_at_ms: a.resolved_at_ms,
        }
    }
}

impl From<&Notification> for wit::Notification {
    fn from(n: &Notification) -> Self {
        wit::Notification {
            idempotency_key: n.idempotency_key.clone(),
            channel: n.channel.clone(),
            attempt: n.attempt,
            alerts: n.alerts.iter().map(Into::into).collect(),
        }
    }
}

impl From<&ReportRequest> for wit::ReportRequest {
    fn from(r: &ReportRequest) -> Self {
        wit::ReportRequest {
            title: r.title.clone(),
            from_ms: r.from_ms,
            to_ms: r.to_ms,
            series: r
                .series
                .iter()
                .map(|s| wit::Series {
                    resource: s.resource.clone(),
                    metric: s.metric.clone(),
                    unit: s.unit.clone(),
                    points: s.points.clone(),
                })
                .collect(),
            parameters: r.parameters.clone(),
        }
    }
}

impl From<wit::PluginInfo> for PluginInfo {
    fn from(i: wit::PluginInfo) -> Self {
        PluginInfo { id: i.id, version: i.version, description: i.description }
    }
}

impl From<wit::ErrorKind> for ErrorKind {
    fn from(k: wit::ErrorKind) -> Self {
        match k {
            wit::ErrorKind::Retryable => ErrorKind::Retryable,
            wit::ErrorKind::Permanent => ErrorKind::Permanent,
        }
    }
}

/// Approximate bytes a returned value occupies, for the output cap.
pub(crate) fn samples_size(samples: &[wit::MetricSample]) -> usize {
    samples
        .iter()
        .map(|s| {
            32 + s.name.len()
                + s.unit.as_ref().map_or(0, |u| u.len())
                + s.labels.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>()
        })
        .sum()
}
