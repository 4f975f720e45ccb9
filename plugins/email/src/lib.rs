//! Email notifier: turns each notification into one message (subject, plain text and HTML
//! bodies) and hands it to the host's `smtp` capability, which owns the SMTP connection.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod plugin;

use serde::Deserialize;
use std::fmt::Write as _;
use vigia_sdk::smtp::EmailMessage;
use vigia_sdk::time::format_ms;
use vigia_sdk::{Alert, Notification};

/// The plugin's own configuration keys (the host reads the `smtp_*` ones).
#[derive(Debug, Deserialize)]
pub struct Config {
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub subject_prefix: String,
}

/// The message for `notification`.
pub fn message(config: &Config, notification: &Notification) -> EmailMessage {
    let subject = format!("{}{}", config.subject_prefix, notification.headline());
    EmailMessage::new(&config.from, &config.to, subject, text_body(notification)).html(html_body(notification))
}

/// `(label, value)` rows describing one alert, shared by both bodies.
fn rows(alert: &Alert) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Rule", alert.rule.clone()),
        ("Resource", alert.resource.clone()),
        ("Severity", alert.severity.as_str().to_string()),
        ("State", alert.state.clone()),
    ];
    if let Some(value) = alert.value {
        rows.push(("Value", value.to_string()));
    }
    if !alert.labels.is_empty() {
        rows.push(("Labels", alert.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")));
    }
    rows.push(("Started", format_ms(alert.started_at_ms)));
    if let Some(resolved) = alert.resolved_at_ms {
        rows.push(("Resolved", format_ms(resolved)));
    }
    rows.push(("Alert id", alert.id.clone()));
    rows
}

/// The wording of a notification's opening line.
fn intro(notification: &Notification) -> String {
    let resolved = notification.alerts.iter().filter(|a| a.is_resolved()).count();
    let firing = notification.alerts.len() - resolved;
    match (firing, resolved) {
        (0, 1) => "This alert is resolved.".to_string(),
        (0, n) => format!("These {n} alerts are resolved."),
        (1, 0) => "This alert is firing.".to_string(),
        (f, 0) => format!("These {f} alerts are firing."),
        (f, r) => format!("{f} alert(s) firing, {r} resolved."),
    }
}

/// The plain-text body: an opening line, then one block per alert.
pub fn text_body(notification: &Notification) -> String {
    let mut out = intro(notification);
    out.push('\n');
    for alert in &notification.alerts {
        let _ = write!(out, "\n{}\n", alert.headline());
        for text in [&alert.summary, &alert.description].into_iter().filter(|s| !s.is_empty()) {
            let _ = writeln!(out, "{text}");
        }
        for (label, value) in rows(alert) {
            let _ = writeln!(out, "  {label}: {value}");
        }
    }
    let _ =
        write!(out, "\n-- \nVigia, channel {}, notification {}\n", notification.channel, notification.idempotency_key);
    out
}

/// The HTML body: the same content, every value escaped.
pub fn html_body(notification: &Notification) -> String {
    let mut out = format!("<html><body>\n<p>{}</p>\n", escape(&intro(notification)));
    for alert in &notification.alerts {
        let colour = if alert.is_resolved() { "#2eb886" } else { "#d00000" };
        let _ = writeln!(out, "<h3 style=\"color:{colour}\">{}</h3>", escape(&alert.headline()));
        for text in [&alert.summary, &alert.description].into_iter().filter(|s| !s.is_empty()) {
            let _ = writeln!(out, "<p>{}</p>", escape(text));
        }
        out.push_str("<table>\n");
        for (label, value) in rows(alert) {
            let _ = writeln!(out, "<tr><th align=\"left\">{label}</th><td>{}</td></tr>", escape(&value));
        }
        out.push_str("</table>\n");
    }
    let _ = write!(
        out,
        "<p style=\"color:#888\">Vigia, channel {}, notification {}</p>\n</body></html>\n",
        escape(&notification.channel),
        escape(&notification.idempotency_key)
    );
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigia_sdk::Severity;

    fn alert(id: &str, severity: Severity, state: &str) -> Alert {
        Alert { summary: "CPU <hot>".into(), ..Alert::example(id, severity, state) }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification { idempotency_key: "key-1".into(), channel: "ops".into(), attempt: 1, alerts }
    }

    fn config() -> Config {
        serde_json::from_value(serde_json::json!({
            "from": "Vigia <vigia@example.com>", "to": ["a@example.com", "b@example.com"], "subject_prefix": "[prod] ",
        }))
        .unwrap()
    }

    #[test]
    fn subject_addresses_and_both_bodies() {
        let n = notification(vec![alert("a1", Severity::Critical, "firing")]);
        let m = message(&config(), &n);
        assert_eq!(m.subject, "[prod] [CRITICAL] cpu-high on db1");
        assert_eq!(m.from, "Vigia <vigia@example.com>");
        assert_eq!(m.to, ["a@example.com", "b@example.com"]);
        assert!(m.text_body.starts_with("This alert is firing.\n"), "{}", m.text_body);
        for part in
            ["CPU <hot>", "  Severity: critical", "  Value: 97.5", "  Labels: env=prod", "2023-11-14T22:13:20.000Z"]
        {
            assert!(m.text_body.contains(part), "{part} in {}", m.text_body);
        }
        let html = m.html_body.unwrap();
        assert!(html.contains("CPU &lt;hot&gt;") && !html.contains("<hot>"), "{html}");
        assert!(html.contains("<th align=\"left\">Resource</th><td>db1</td>"), "{html}");
    }

    #[test]
    fn resolved_wording_and_grouped_alerts() {
        let resolved = notification(vec![alert("a1", Severity::Critical, "resolved")]);
        let m = message(&config(), &resolved);
        assert_eq!(m.subject, "[prod] [RESOLVED] cpu-high on db1");
        assert!(
            m.text_body.starts_with("This alert is resolved.")
                && m.text_body.contains("Resolved: 2023-11-14T22:23:20.000Z")
        );
        let mixed =
            notification(vec![alert("a1", Severity::Warning, "firing"), alert("a2", Severity::Critical, "resolved")]);
        let m = message(&config(), &mixed);
        assert_eq!(m.subject, "[prod] [WARNING] cpu-high on db1 (+1 more)");
        assert!(m.text_body.starts_with("1 alert(s) firing, 1 resolved."), "{}", m.text_body);
        assert_eq!(m.text_body.matches("Alert id:").count(), 2);
    }
}
