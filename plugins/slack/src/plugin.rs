//! The component glue: read the configuration, POST the payload, map the answer to a receipt or an error.

use crate::{payload, redact, Config};
use std::time::Duration;
use vigia_sdk::http::Request;
use vigia_sdk::{http_delivery, Notification, Notifier, PluginError, Receipt};

struct Slack;

impl Notifier for Slack {
    fn deliver(notification: Notification) -> Result<Receipt, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let body = payload(&config, &notification).to_string();
        let response = Request::post(config.webhook_url.as_str())
            .header("Content-Type", "application/json")
            // Slack ignores it; proxies and compatible receivers can deduplicate retries on it.
            .header("Idempotency-Key", notification.idempotency_key.as_str())
            .timeout(Duration::from_millis(config.timeout_ms))
            .body(body)
            .send()
            .map_err(|e| PluginError { message: redact(&e.message, &config.webhook_url), ..e })?;
        http_delivery(response.status, &response.body)
    }
}

vigia_sdk::export_notifier!(Slack);
