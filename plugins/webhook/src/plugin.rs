//! The component glue: build the body, sign it, POST it, map the answer to a receipt or an error.

use crate::signing::{signature, SIGNATURE_HEADER};
use crate::template::{json_text, render};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use vigia_sdk::http::Request;
use vigia_sdk::{http_delivery, Alert, Notification, Notifier, PluginError, Receipt};

#[derive(Deserialize)]
struct Config {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    secret: Option<String>,
    template: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

struct Webhook;

impl Notifier for Webhook {
    fn deliver(notification: Notification) -> Result<Receipt, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let body = match &config.template {
            Some(template) => render(template, &template_values(&notification)),
            None => payload(&notification).to_string(),
        };
        let mut request = config
            .headers
            .iter()
            .fold(Request::post(config.url.as_str()), |r, (k, v)| r.header(k.as_str(), v.as_str()))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", notification.idempotency_key.as_str())
            .timeout(Duration::from_millis(config.timeout_ms));
        if let Some(secret) = &config.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, body.as_bytes()));
        }
        let response = request.body(body).send()?;
        http_delivery(response.status, &response.body)
    }
}

fn payload(notification: &Notification) -> Value {
    json!({
        "idempotency_key": notification.idempotency_key,
        "channel": notification.channel,
        "attempt": notification.attempt,
        "alerts": notification.alerts.iter().map(alert_json).collect::<Vec<_>>(),
    })
}

/// The value of label `key` (the last one, as in the `labels` object).
fn label<'a>(alert: &'a Alert, key: &str) -> Option<&'a str> {
    alert.labels.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `incident` or `maintenance` for a status event (see the WIT README, "Status events"),
/// `alert` for an alert.
fn kind(alert: &Alert) -> &'static str {
    match (alert.rule.as_str(), label(alert, "kind")) {
        ("incident", Some("incident")) => "incident",
        ("maintenance", Some("maintenance")) => "maintenance",
        _ => "alert",
    }
}

fn alert_json(alert: &Alert) -> Value {
    json!({
        "kind": kind(alert),
        "dedup_key": label(alert, "dedup_key"),
        "id": alert.id,
        "rule": alert.rule,
        "resource": alert.resource,
        "severity": alert.severity.as_str(),
        "state": alert.state,
        "summary": alert.summary,
        "description": alert.description,
        "labels": alert.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        "value": alert.value,
        "started_at_ms": alert.started_at_ms,
        "resolved_at_ms": alert.resolved_at_ms,
    })
}

fn template_values(notification: &Notification) -> Vec<(&'static str, String)> {
    let summary = notification.alerts.iter().map(|a| a.summary.as_str()).collect::<Vec<_>>().join("; ");
    vec![
        ("channel", json_text(&notification.channel)),
        ("idempotency_key", json_text(&notification.idempotency_key)),
        ("attempt", notification.attempt.to_string()),
        ("summary", json_text(&summary)),
        ("alerts", payload(notification)["alerts"].to_string()),
    ]
}

vigia_sdk::export_notifier!(Webhook);
