//! {{name}}: a Vigia notifier plugin.
// Only the wasm32 build is a plugin; on the host target this crate compiles to nothing.
#![cfg(target_arch = "wasm32")]

use vigia_sdk::{Notification, Notifier, PluginError, Receipt};

struct Plugin;

impl Notifier for Plugin {
    fn deliver(notification: Notification) -> Result<Receipt, PluginError> {
        // Deliver idempotently: retries of one alert transition carry the same key.
        vigia_sdk::info!("delivering {} alert(s), key {}", notification.alerts.len(), notification.idempotency_key);
        Ok(Receipt { detail: "logged".into() })
    }
}

vigia_sdk::export_notifier!(Plugin);
