//! Mail through the operator's SMTP server (`vigia:plugin/smtp`, notifiers only).
//!
//! The host owns the connection: server, port, TLS mode and credentials come from the plugin's
//! `smtp_*` configuration keys, set by the operator, never from the plugin. The manifest must
//! grant `[capabilities] smtp = true`; without it every [`send`] fails with a permanent error.

use crate::bindings::notifier::vigia::plugin::smtp;
use crate::types::PluginError;

pub use smtp::EmailMessage;

impl EmailMessage {
    /// A plain-text message from `from` to `to`; add an HTML alternative with [`EmailMessage::html`].
    pub fn new(
        from: impl Into<String>,
        to: impl IntoIterator<Item = impl Into<String>>,
        subject: impl Into<String>,
        text_body: impl Into<String>,
    ) -> Self {
        EmailMessage {
            from: from.into(),
            to: to.into_iter().map(Into::into).collect(),
            subject: subject.into(),
            text_body: text_body.into(),
            html_body: None,
        }
    }

    /// Adds an HTML alternative of the same content.
    pub fn html(mut self, html_body: impl Into<String>) -> Self {
        self.html_body = Some(html_body.into());
        self
    }
}

/// Sends `message` and returns the server's answer (e.g. `250 OK queued`). Errors are already
/// classified: `Permanent` for a missing capability, invalid settings or addresses and 5xx
/// answers; `Retryable` for unreachable servers, timeouts and 4xx answers.
pub fn send(message: &EmailMessage) -> Result<String, PluginError> {
    smtp::send(message)
}
