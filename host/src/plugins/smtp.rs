//! The `smtp` capability (`vigia:plugin/smtp`): a notifier hands over a message, the host sends it
//! through the operator's SMTP server. The server, TLS mode and credentials come from the plugin's
//! `smtp_*` configuration keys (set by the operator; `smtp_password` is sealed like every secret),
//! never from the guest, so a mail plugin reaches that server and nothing else. Sending is a
//! a `MailSender`; `LettreMailer` is the real one. The WIT side (`smtp::Host`) is in `bindings.rs`.

use std::time::Duration;

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use futures::future::BoxFuture;

/// Longest an SMTP exchange may take before it counts as unreachable (retryable); shortened for
/// plugins whose call deadline is close so they still get a clean error instead of being killed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = 100;

/// One email as a plugin hands it to the `smtp` capability (mirrors WIT `email-message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// Files attached (host-made mail only: the WIT message has none).
    pub attachments: Vec<MailAttachment>,
}

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a local relay, tests).
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer (usually port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// The operator's SMTP server, as the host reads it from a plugin's `smtp_*` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Credentials for SMTP AUTH, when both are set.
    pub credentials: Option<(String, String)>,
    /// Bounds connecting and each command.
    pub timeout: std::time::Duration,
}

/// Why mail could not be sent, classified like WIT `error-kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The server is unreachable or answered 4xx: a later attempt may succeed.
    #[error("{0}")]
    Retryable(String),
    /// Bad addresses, refused recipients, failed authentication (5xx): retrying will not help.
    #[error("{0}")]
    Permanent(String),
}

/// Sends mail for plugins granted `smtp`; returns the server's answer (`250 …`).
pub trait MailSender: Send + Sync {
    fn send<'a>(&'a self, server: &'a SmtpServer, message: &'a MailMessage)
        -> BoxFuture<'a, Result<String, MailError>>;
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
    let built = match (&m.html_body, m.attachments.is_empty()) {
        (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(m.text_body.clone(), html.clone())),
        (None, true) => builder.singlepart(plain(&m.text_body)),
        (html, false) => {
            let body = match html {
                Some(html) => {
                    MultiPart::mixed().multipart(MultiPart::alternative_plain_html(m.text_body.clone(), html.clone()))
                }
                None => MultiPart::mixed().singlepart(plain(&m.text_body)),
            };
            let mut mixed = body;
            for a in &m.attachments {
                let content_type = ContentType::parse(&a.content_type)
                    .map_err(|e| format!("attachment {:?}: bad content type {:?}: {e}", a.filename, a.content_type))?;
                mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type));
            }
            builder.multipart(mixed)
        }
    };
    built.map_err(|e| format!("cannot build the message: {e}"))
}

fn plain(text: &str) -> SinglePart {
    SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            attachments: Vec::new(),
        };
        let built = String::from_utf8(build_message(&m).unwrap().formatted()).unwrap();
        assert!(built.contains("multipart/alternative") && built.contains("To: ops@example.com"), "{built}");
        assert!(build_message(&MailMessage { to: vec![], ..m.clone() }).unwrap_err().contains("recipients"));
        let pdf = MailAttachment {
            filename: "r.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF".to_vec(),
        };
        let with_file = MailMessage { attachments: vec![pdf], ..m.clone() };
        let built = String::from_utf8(build_message(&with_file).unwrap().formatted()).unwrap();
        assert!(built.contains("multipart/mixed") && built.contains("filename=\"r.pdf\""), "{built}");
        assert!(build_message(&MailMessage { from: "not an address".into(), ..m })
            .unwrap_err()
            .contains("invalid address"));
    }
}
