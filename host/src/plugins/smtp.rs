//! The `smtp` capability (`vigia:plugin/smtp`): a notifier hands over a message, the host sends it
//! through the operator's SMTP server. The server, TLS mode and credentials come from the plugin's
//! `smtp_*` configuration keys (set by the operator; `smtp_password` is sealed like every secret),
//! never from the guest, so a mail plugin reaches that server and nothing else. Sending is a
//! `MailSender` (`services.rs`); `LettreMailer` is the real one.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};

use super::bindings::notifier::vigia::plugin::smtp;
use super::bindings::wit;
use super::sandbox::HostCtx;
use super::services::{BoxFuture, MailError, MailMessage, MailSender, SmtpServer, SmtpTls};

/// Longest an SMTP exchange may take before it counts as unreachable (retryable); shortened for
/// plugins whose call deadline is close so they still get a clean error instead of being killed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = 100;

/// Declares the `smtp_*` keys in the schema of a plugin granted `smtp` (unless it declares them).
pub(crate) fn add_smtp_keys(schema: &mut Value) {
    super::manifest::add_host_keys(
        schema,
        [
            (
                "smtp_host",
                json!({"type": "string", "minLength": 1, "description": "SMTP server (host smtp capability)"}),
            ),
            (
                "smtp_port",
                json!({"type": "integer", "minimum": 1, "maximum": 65535,
                "description": "SMTP port; default 25 (none), 587 (starttls), 465 (tls)"}),
            ),
            (
                "smtp_tls",
                json!({"type": "string", "enum": ["none", "starttls", "tls"],
                "description": "none, starttls (default) or tls (implicit TLS)"}),
            ),
            ("smtp_username", json!({"type": "string", "description": "SMTP AUTH user"})),
            ("smtp_password", json!({"type": "string", "x-secret": true, "description": "SMTP AUTH password"})),
        ],
    );
}

impl SmtpServer {
    /// Reads the operator's server from a plugin's effective configuration.
    pub fn from_config(config: &Value, timeout: Duration) -> Result<SmtpServer, String> {
        let text = |key: &str| config.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        let host = text("smtp_host").ok_or("smtp_host is not configured")?.to_string();
        let tls = match text("smtp_tls").unwrap_or("starttls") {
            "none" => SmtpTls::None,
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            other => return Err(format!("smtp_tls = {other:?} must be none, starttls or tls")),
        };
        let port = match config.get("smtp_port") {
            None | Some(Value::Null) => match tls {
                SmtpTls::None => 25,
                SmtpTls::StartTls => 587,
                SmtpTls::Tls => 465,
            },
            Some(v) => v
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or("smtp_port must be 1..=65535")?,
        };
        let credentials = match (text("smtp_username"), text("smtp_password")) {
            (Some(user), Some(password)) => Some((user.to_string(), password.to_string())),
            (None, None) => None,
            _ => return Err("smtp_username and smtp_password must be set together".into()),
        };
        Ok(SmtpServer { host, port, tls, credentials, timeout })
    }
}

impl From<smtp::EmailMessage> for MailMessage {
    fn from(m: smtp::EmailMessage) -> MailMessage {
        MailMessage { from: m.from, to: m.to, subject: m.subject, text_body: m.text_body, html_body: m.html_body }
    }
}

fn plugin_error(kind: wit::ErrorKind, message: impl Into<String>) -> wit::PluginError {
    wit::PluginError { kind, message: message.into() }
}

impl smtp::Host for HostCtx {
    async fn send(&mut self, message: smtp::EmailMessage) -> wasmtime::Result<Result<String, wit::PluginError>> {
        let permanent = |m: String| Ok(Err(plugin_error(wit::ErrorKind::Permanent, m)));
        let Some(mailer) = self.mailer.clone() else {
            return permanent("smtp capability not granted: the manifest needs [capabilities] smtp = true".into());
        };
        let config: Value = serde_json::from_str(&self.config_json).unwrap_or(Value::Null);
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

/// Sends over SMTP with lettre: one connection per message (notifications are rare; no pool to
/// keep warm or to go stale).
pub struct LettreMailer;

impl MailSender for LettreMailer {
    fn send<'a>(
        &'a self,
        server: &'a SmtpServer,
        message: &'a MailMessage,
    ) -> BoxFuture<'a, Result<String, MailError>> {
        Box::pin(async move {
            let email = build_message(message).map_err(MailError::Permanent)?;
            let transport = transport(server).map_err(MailError::Permanent)?;
            let where_ = format!("smtp://{}:{}", server.host, server.port);
            match transport.send(email).await {
                Ok(response) => {
                    let text = response.message().collect::<Vec<_>>().join(" ");
                    Ok(format!("{} {text}", response.code()).trim_end().to_string())
                }
                // 5xx: refused sender/recipient, failed authentication, message rejected.
                Err(e) if e.is_permanent() => Err(MailError::Permanent(format!("{where_}: {e}"))),
                // 4xx, connection refused, timeouts, TLS handshakes that may work later.
                Err(e) => Err(MailError::Retryable(format!("{where_}: {e}"))),
            }
        })
    }
}

fn transport(server: &SmtpServer) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls_parameters =
        || TlsParameters::new(server.host.clone()).map_err(|e| format!("TLS setup for {}: {e}", server.host));
    let tls = match server.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls_parameters()?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        .port(server.port)
        .tls(tls)
        .timeout(Some(server.timeout));
    if let Some((user, password)) = &server.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

fn build_message(m: &MailMessage) -> Result<Message, String> {
    let mailbox = |s: &str| s.parse::<Mailbox>().map_err(|e| format!("invalid address {s:?}: {e}"));
    if m.to.is_empty() || m.to.len() > MAX_RECIPIENTS {
        return Err(format!("a message needs 1..={MAX_RECIPIENTS} recipients, got {}", m.to.len()));
    }
    let mut builder = Message::builder().from(mailbox(&m.from)?).subject(m.subject.as_str());
    for to in &m.to {
        builder = builder.to(mailbox(to)?);
    }
    let built = match &m.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(m.text_body.clone(), html.clone())),
        None => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.text_body.clone())),
    };
    built.map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_smtp_keys_with_port_defaults_by_tls_mode() {
        let t = Duration::from_secs(1);
        let s = SmtpServer::from_config(&json!({"smtp_host": "mail.example.com"}), t).unwrap();
        assert_eq!((s.port, s.tls, s.credentials), (587, SmtpTls::StartTls, None));
        let s = SmtpServer::from_config(&json!({"smtp_host": "h", "smtp_tls": "tls"}), t).unwrap();
        assert_eq!(s.port, 465);
        let cfg = json!({"smtp_host": "h", "smtp_tls": "none", "smtp_port": 2525, "smtp_username": "u", "smtp_password": "p"});
        let s = SmtpServer::from_config(&cfg, t).unwrap();
        assert_eq!((s.port, s.tls, s.credentials), (2525, SmtpTls::None, Some(("u".into(), "p".into()))));
    }

    #[test]
    fn incomplete_or_wrong_settings_are_refused() {
        let t = Duration::from_secs(1);
        assert!(SmtpServer::from_config(&json!({}), t).unwrap_err().contains("smtp_host"));
        assert!(SmtpServer::from_config(&json!({"smtp_host": "h", "smtp_tls": "ssl"}), t).is_err());
        assert!(SmtpServer::from_config(&json!({"smtp_host": "h", "smtp_port": 70000}), t).is_err());
        assert!(SmtpServer::from_config(&json!({"smtp_host": "h", "smtp_username": "u"}), t).is_err());
    }

    #[test]
    fn messages_need_valid_addresses_and_recipients() {
        let m = MailMessage {
            from: "Vigia <vigia@example.com>".into(),
            to: vec!["ops@example.com".into()],
            subject: "s".into(),
            text_body: "t".into(),
            html_body: Some("<p>t</p>".into()),
        };
        let built = String::from_utf8(build_message(&m).unwrap().formatted()).unwrap();
        assert!(built.contains("multipart/alternative") && built.contains("To: ops@example.com"), "{built}");
        assert!(build_message(&MailMessage { to: vec![], ..m.clone() }).unwrap_err().contains("recipients"));
        assert!(build_message(&MailMessage { from: "not an address".into(), ..m })
            .unwrap_err()
            .contains("invalid address"));
    }
}
