//! Generated bindings of the `vigia:plugin` worlds and the host side of the `host`
//! interface. The worlds share one `host`/`types` binding (via `with`) so a single
//! implementation and a single linker entry serve every kind of plugin.

use super::sandbox::HostCtx;
use super::services::LogLevel as HostLogLevel;
use super::smtp::{MailError, MailMessage, SmtpServer};

pub mod collector {
    wasmtime::component::bindgen!({
        world: "collector",
        path: "../wit",
        // Async: state-* reach the database. Trappable: quota violations and storage outages
        // abort the call instead of returning made-up values.
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

pub mod notifier {
    wasmtime::component::bindgen!({
        world: "notifier",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigia:plugin/host": super::collector::vigia::plugin::host,
            "vigia:plugin/types": super::collector::vigia::plugin::types,
        },
    });
}

pub mod reporter {
    wasmtime::component::bindgen!({
        world: "reporter",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "vigia:plugin/host": super::collector::vigia::plugin::host,
            "vigia:plugin/types": super::collector::vigia::plugin::types,
        },
    });
}

/// A reporter that also renders report documents (0.1.1); one built for 0.1.0 loads as `reporter`.
pub mod document_reporter {
    wasmtime::component::bindgen!({
        world: "document-reporter",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        // Documents are compared in tests, and answered as JSON (`format: json`).
        additional_derives: [PartialEq, serde::Serialize],
        with: {
            "vigia:plugin/host": super::collector::vigia::plugin::host,
            "vigia:plugin/types": super::collector::vigia::plugin::types,
        },
    });
}

use collector::vigia::plugin::host;
pub use collector::vigia::plugin::types as wit;
use notifier::vigia::plugin::smtp as wit_smtp;

/// Longest state key in bytes.
pub const MAX_STATE_KEY: usize = 256;
/// Largest state value in bytes.
pub const MAX_STATE_VALUE: usize = 1 << 20;
/// Most keys one plugin may hold.
pub const MAX_STATE_KEYS: u64 = 10_000;

/// A host capability failed (storage down): the call aborts and is worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("host service unavailable: {0}")]
pub struct HostServiceError(pub String);

/// The plugin broke a host quota (state size, key count): the call aborts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QuotaError(pub String);

impl HostCtx {
    fn check_key(&self, key: &str) -> wasmtime::Result<()> {
        if key.is_empty() || key.len() > MAX_STATE_KEY {
            return Err(wasmtime::Error::new(QuotaError(format!(
                "state key must be 1..={MAX_STATE_KEY} bytes, got {}",
                key.len()
            ))));
        }
        Ok(())
    }
}

fn unavailable(e: anyhow::Error) -> wasmtime::Error {
    wasmtime::Error::new(HostServiceError(format!("{e:#}")))
}

impl host::Host for HostCtx {
    async fn log(
        &mut self,
        level: wit::LogLevel,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if self.log_budget == 0 {
            return Ok(());
        }
        self.log_budget -= 1;
        let level = match level {
            wit::LogLevel::Trace => HostLogLevel::Trace,
            wit::LogLevel::Debug => HostLogLevel::Debug,
            wit::LogLevel::Info => HostLogLevel::Info,
            wit::LogLevel::Warn => HostLogLevel::Warn,
            wit::LogLevel::Error => HostLogLevel::Error,
        };
        // Bound what one line can cost the host's log pipeline.
        let message: String = message.chars().take(4096).collect();
        self.logger.log(&self.plugin_id, level, &message, &fields[..fields.len().min(32)]);
        Ok(())
    }

    async fn config(&mut self) -> wasmtime::Result<String> {
        Ok(self.config_json.to_string())
    }

    async fn state_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.check_key(&key)?;
        self.state.get(&self.plugin_id, &key).await.map_err(unavailable)
    }

    async fn state_set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<()> {
        self.check_key(&key)?;
        if value.len() > MAX_STATE_VALUE {
            return Err(wasmtime::Error::new(QuotaError(format!(
                "state value of {} bytes exceeds {MAX_STATE_VALUE}",
                value.len()
            ))));
        }
        let exists = self.state.get(&self.plugin_id, &key).await.map_err(unavailable)?.is_some();
        if !exists && self.state.count(&self.plugin_id).await.map_err(unavailable)? >= MAX_STATE_KEYS {
            return Err(wasmtime::Error::new(QuotaError(format!("plugin already holds {MAX_STATE_KEYS} state keys"))));
        }
        self.state.set(&self.plugin_id, &key, &value).await.map_err(unavailable)
    }

    async fn state_delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.check_key(&key)?;
        self.state.delete(&self.plugin_id, &key).await.map_err(unavailable)
    }
}

impl wit::Host for HostCtx {}

impl From<wit_smtp::EmailMessage> for MailMessage {
    fn from(m: wit_smtp::EmailMessage) -> MailMessage {
        MailMessage {
            from: m.from,
            to: m.to,
            subject: m.subject,
            text_body: m.text_body,
            html_body: m.html_body,
            attachments: Vec::new(),
        }
    }
}

fn plugin_error(kind: wit::ErrorKind, message: impl Into<String>) -> wit::PluginError {
    wit::PluginError { kind, message: message.into() }
}

/// The `smtp` import of notifiers: the operator's server from the `smtp_*` config keys.
impl wit_smtp::Host for HostCtx {
    async fn send(&mut self, message: wit_smtp::EmailMessage) -> wasmtime::Result<Result<String, wit::PluginError>> {
        let permanent = |m: String| Ok(Err(plugin_error(wit::ErrorKind::Permanent, m)));
        let Some(mailer) = self.mailer.clone() else {
            return permanent("smtp capability not granted: the manifest needs [capabilities] smtp = true".into());
        };
        let config: serde_json::Value = serde_json::from_str(&self.config_json).unwrap_or(serde_json::Value::Null);
        let server = match SmtpServer::from_config(&config, self.smtp_timeout) {
            Ok(server) => server,
            Err(e) => return permanent(format!("invalid smtp settings: {e}")),
        };
        let message = MailMessage::from(message);
        Ok(match mailer.send(&server, &message).await {
            Ok(answer) => Ok(answer),
            Err(MailError::Retryable(m)) => Err(plugin_error(wit::ErrorKind::Retryable, m)),
            Err(MailError::Permanent(m)) => Err(plugin_error(wit::ErrorKind::Permanent, m)),
        })
    }
}
