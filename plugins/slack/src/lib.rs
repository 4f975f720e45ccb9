//! Slack notifier: posts each notification as a Slack incoming-webhook message (a `text` fallback
//! plus one coloured attachment per alert), which Mattermost and Discord's `/slack` endpoints accept too.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod plugin;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use vigia_sdk::{Alert, Notification, Severity};

/// The plugin's configuration (`plugin.toml` documents each key).
#[derive(Debug, Deserialize)]
pub struct Config {
    pub webhook_url: String,
    pub channel: Option<String>,
    pub username: Option<String>,
    pub icon_emoji: Option<String>,
    pub mention: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Slack's attachment colours: green when resolved, otherwise by severity.
fn colour(alert: &Alert) -> &'static str {
    if alert.is_resolved() {
        return "#2eb886";
    }
    match alert.severity {
        Severity::Critical => "#d00000",
        Severity::Warning => "#f2c744",
        Severity::Info => "#439fe0",
    }
}

/// Slack escapes only these three in message text; anything else is shown as is.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The webhook body for `notification`.
pub fn payload(config: &Config, notification: &Notification) -> Value {
    let critical_firing = notification.alerts.iter().any(|a| a.severity == Severity::Critical && !a.is_resolved());
    let headline = escape(&notification.headline());
    // The mention is operator-written markup (`<!here>`), so it is not escaped.
    let text = match &config.mention {
        Some(mention) if critical_firing && !mention.is_empty() => format!("{mention} {headline}"),
        _ => headline,
    };
    let mut body = Map::new();
    body.insert("text".into(), text.into());
    for (key, value) in
        [("channel", &config.channel), ("username", &config.username), ("icon_emoji", &config.icon_emoji)]
    {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            body.insert(key.into(), value.as_str().into());
        }
    }
    body.insert("attachments".into(), notification.alerts.iter().map(attachment).collect());
    Value::Object(body)
}

fn attachment(alert: &Alert) -> Value {
    let short = |title: &str, value: String| json!({"title": title, "value": value, "short": true});
    let mut fields = vec![short("Severity", alert.severity.as_str().into()), short("State", alert.state.clone())];
    if let Some(value) = alert.value {
        fields.push(short("Value", value.to_string()));
    }
    if !alert.labels.is_empty() {
        let labels = alert.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        fields.push(json!({"title": "Labels", "value": escape(&labels), "short": false}));
    }
    let text = [alert.summary.as_str(), alert.description.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(escape)
        .collect::<Vec<_>>()
        .join("\n");
    let headline = escape(&alert.headline());
    let at_ms = alert.resolved_at_ms.unwrap_or(alert.started_at_ms);
    json!({
        "fallback": format!("{headline}: {}", escape(&alert.summary)),
        "color": colour(alert),
        "title": headline,
        "text": text,
        "fields": fields,
        "footer": format!("Vigia · {}", alert.id),
        "ts": at_ms.div_euclid(1000),
    })
}

/// `message` with `url` replaced by its origin: the webhook URL's path is a token and must not
/// reach the delivery history through an error message.
pub fn redact(message: &str, url: &str) -> String {
    let origin_end = url
        .find("://")
        .map(|i| i + 3)
        .map_or(0, |start| url[start..].find(['/', '?']).map_or(url.len(), |i| start + i));
    message.replace(url, &format!("{}/…", &url[..origin_end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str, severity: Severity, state: &str) -> Alert {
        Alert {
            summary: "CPU <hot> & busy".into(),
            description: "above 90% for 5m".into(),
            // Milliseconds, which `ts` (seconds) drops.
            started_at_ms: 1_700_000_000_123,
            ..Alert::example(id, severity, state)
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification { idempotency_key: "k1".into(), channel: "ops".into(), attempt: 1, alerts }
    }

    fn config(mention: Option<&str>) -> Config {
        serde_json::from_value(json!({
            "webhook_url": "http://127.0.0.1:1/hook", "channel": "#ops", "username": "Vigia", "mention": mention,
        }))
        .unwrap()
    }

    #[test]
    fn one_coloured_attachment_per_alert_with_the_alert_fields() {
        let n =
            notification(vec![alert("a1", Severity::Critical, "firing"), alert("a2", Severity::Warning, "resolved")]);
        let p = payload(&config(None), &n);
        assert_eq!(p["text"], "[CRITICAL] cpu-high on db1 (+1 more)");
        assert_eq!((p["channel"].as_str(), p["username"].as_str()), (Some("#ops"), Some("Vigia")));
        assert!(p.get("icon_emoji").is_none(), "unset options are left out: {p}");
        let attachments = p["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 2);
        let (firing, resolved) = (&attachments[0], &attachments[1]);
        assert_eq!(firing["color"], "#d00000");
        assert_eq!(firing["title"], "[CRITICAL] cpu-high on db1");
        assert_eq!(firing["text"], "CPU &lt;hot&gt; &amp; busy\nabove 90% for 5m");
        assert_eq!(firing["ts"], 1_700_000_000);
        assert_eq!(firing["footer"], "Vigia · a1");
        let fields: Vec<(&str, &str)> = firing["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["title"].as_str().unwrap(), f["value"].as_str().unwrap()))
            .collect();
        assert_eq!(fields, [("Severity", "critical"), ("State", "firing"), ("Value", "97.5"), ("Labels", "env=prod")]);
        assert_eq!(resolved["color"], "#2eb886");
        assert_eq!(resolved["title"], "[RESOLVED] cpu-high on db1");
    }

    #[test]
    fn errors_name_the_webhook_origin_not_its_token() {
        let url = "https://hooks.slack.com/services/T000/B000/XXXX";
        let e = redact(&format!("POST {url}: ConnectionRefused"), url);
        assert_eq!(e, "POST https://hooks.slack.com/…: ConnectionRefused");
        assert!(!e.contains("XXXX"));
    }

    #[test]
    fn the_mention_is_added_only_while_a_critical_alert_fires() {
        let fire = notification(vec![alert("a1", Severity::Critical, "firing")]);
        assert_eq!(payload(&config(Some("<!here>")), &fire)["text"], "<!here> [CRITICAL] cpu-high on db1");
        let resolved = notification(vec![alert("a1", Severity::Critical, "resolved")]);
        assert_eq!(payload(&config(Some("<!here>")), &resolved)["text"], "[RESOLVED] cpu-high on db1");
        let warning = notification(vec![alert("a1", Severity::Warning, "firing")]);
        assert_eq!(payload(&config(Some("<!here>")), &warning)["text"], "[WARNING] cpu-high on db1");
    }
}
