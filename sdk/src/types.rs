//! Friendly names and constructors for the WIT types plugins exchange with the host.

pub use crate::bindings::vigia::plugin::types::{
    Alert, CollectContext, ErrorKind, Labels, LogLevel, MetricSample as Sample, Notification, PluginError, PluginInfo,
    Receipt, Rendered, ReportRequest, Series, Severity,
};

impl Sample {
    /// A unit-less, label-less sample stamped "now" by the host.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Sample { name: name.into(), value, unit: None, labels: Vec::new(), timestamp_ms: None }
    }

    /// Sets the unit (`ms`, `bytes`, `percent`…).
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Adds one label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Stamps the sample (Unix epoch milliseconds) instead of letting the host use "now".
    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }
}

impl PluginError {
    /// A transient failure (timeout, 5xx, connection refused): the host may retry.
    pub fn retryable(message: impl std::fmt::Display) -> Self {
        PluginError { kind: ErrorKind::Retryable, message: message.to_string() }
    }

    /// A failure that will repeat (bad config, 4xx): the host does not retry.
    pub fn permanent(message: impl std::fmt::Display) -> Self {
        PluginError { kind: ErrorKind::Permanent, message: message.to_string() }
    }
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl Alert {
    /// Whether this notification reports the alert's end (`state == "resolved"`).
    pub fn is_resolved(&self) -> bool {
        self.state == "resolved"
    }
}
