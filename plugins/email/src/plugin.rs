//! The component glue: read the configuration, build the message, send it through the host.

use crate::{message, Config};
use vigia_sdk::{Notification, Notifier, PluginError, Receipt};

struct Email;

impl Notifier for Email {
    fn deliver(notification: Notification) -> Result<Receipt, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let answer = vigia_sdk::smtp::send(&message(&config, &notification))?;
        Ok(Receipt { detail: answer })
    }
}

vigia_sdk::export_notifier!(Email);
