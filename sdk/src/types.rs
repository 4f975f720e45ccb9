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
    /// A sample alert for notifier tests (this SDK's, the first-party notifiers', yours):
    /// `cpu-high` on `db1` at 97.5 with label `env=prod`, started 2023-11-14T22:13:20Z and, when
    /// `state` is `resolved`, resolved ten minutes later. Change fields with `..Alert::example(…)`.
    pub fn example(id: &str, severity: Severity, state: &str) -> Alert {
        let started_at_ms = 1_700_000_000_000;
        Alert {
            id: id.into(),
            rule: "cpu-high".into(),
            resource: "db1".into(),
            severity,
            state: state.into(),
            summary: "CPU at 97.5%".into(),
            description: "cpu above 90% for 5m".into(),
            labels: vec![("env".into(), "prod".into())],
            value: Some(97.5),
            started_at_ms,
            resolved_at_ms: (state == "resolved").then_some(started_at_ms + 600_000),
        }
    }

    /// Whether this notification reports the alert's end (`state == "resolved"`).
    pub fn is_resolved(&self) -> bool {
        self.state == "resolved"
    }

    /// `[CRITICAL] cpu-high on db1` while firing, `[ACKNOWLEDGED] …` once acknowledged,
    /// `[RESOLVED] …` when it ended: the one-line wording notifiers share.
    pub fn headline(&self) -> String {
        let tag = match self.state.as_str() {
            "resolved" => "RESOLVED".to_string(),
            "acknowledged" => "ACKNOWLEDGED".to_string(),
            _ => self.severity.as_str().to_ascii_uppercase(),
        };
        format!("[{tag}] {} on {}", self.rule, self.resource)
    }
}

impl Notification {
    /// One line for the whole notification: the headline of its most severe unresolved alert (or
    /// of the first one when all are resolved), then `(+N more)` for the others.
    pub fn headline(&self) -> String {
        let lead = self
            .alerts
            .iter()
            .rev() // `max_by_key` keeps the last of equals: reversed, the first one wins.
            .filter(|a| !a.is_resolved())
            .max_by_key(|a| a.severity as u8)
            .or_else(|| self.alerts.first());
        match lead {
            None => "no alerts".to_string(),
            Some(a) if self.alerts.len() == 1 => a.headline(),
            Some(a) => format!("{} (+{} more)", a.headline(), self.alerts.len() - 1),
        }
    }
}

/// The outcome of an HTTP delivery by status: 2xx is a receipt (`HTTP 200`); 408, 429 and 5xx
/// are retryable; anything else (other 4xx, redirects) is permanent, with the start of the body.
pub fn http_delivery(status: u16, body: &[u8]) -> Result<Receipt, PluginError> {
    let detail = format!("HTTP {status}");
    match status {
        200..=299 => Ok(Receipt { detail }),
        408 | 429 | 500..=599 => Err(PluginError::retryable(detail)),
        _ => {
            let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
            Err(PluginError::permanent(format_args!("{detail}: {excerpt}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, severity: Severity, state: &str) -> Alert {
        Alert { rule: rule.into(), ..Alert::example("a", severity, state) }
    }

    #[test]
    fn headlines_name_severity_or_state_and_count_the_rest() {
        assert_eq!(alert("cpu", Severity::Critical, "firing").headline(), "[CRITICAL] cpu on db1");
        assert_eq!(alert("cpu", Severity::Critical, "resolved").headline(), "[RESOLVED] cpu on db1");
        assert_eq!(alert("cpu", Severity::Info, "acknowledged").headline(), "[ACKNOWLEDGED] cpu on db1");
        let n = |alerts| Notification { idempotency_key: "k".into(), channel: "c".into(), attempt: 1, alerts };
        let mixed = n(vec![
            alert("disk", Severity::Critical, "resolved"),
            alert("cpu", Severity::Warning, "firing"),
            alert("mem", Severity::Critical, "firing"),
        ]);
        assert_eq!(mixed.headline(), "[CRITICAL] mem on db1 (+2 more)");
        let resolved = n(vec![alert("disk", Severity::Critical, "resolved"), alert("cpu", Severity::Info, "resolved")]);
        assert_eq!(resolved.headline(), "[RESOLVED] disk on db1 (+1 more)");
    }

    #[test]
    fn server_errors_and_throttling_are_retried_client_errors_are_not() {
        assert_eq!(http_delivery(204, b"").unwrap().detail, "HTTP 204");
        for status in [408, 429, 500, 503] {
            assert_eq!(http_delivery(status, b"").unwrap_err().kind, ErrorKind::Retryable, "{status}");
        }
        let e = http_delivery(400, b"invalid_payload").unwrap_err();
        assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Permanent, "HTTP 400: invalid_payload"));
        assert_eq!(http_delivery(302, b"").unwrap_err().kind, ErrorKind::Permanent);
    }
}
