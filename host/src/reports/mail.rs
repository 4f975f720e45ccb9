//! Mailing a rendered report: recipients and subject checked before anything is rendered (a
//! 400 names the bad address), then one message with the report attached under the same name
//! a download gets, sent through the SMTP server of the operator's mail plugin
//! (`[reports] mailer`, `config::ReportsConfig`), so reports need no SMTP settings of their own.

use std::time::Duration;

use lettre::message::Mailbox;

use super::ReportError;
use crate::config::ReportsConfig;
use crate::plugins::{MailAttachment, MailError, MailMessage, PluginHost, Rendered};

/// Most recipients of one report.
pub const MAX_RECIPIENTS: usize = 50;
/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;

/// Who gets a report, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub recipients: Vec<String>,
    pub subject: String,
}

impl Delivery {
    /// Checks `recipients` (each an RFC 5322 address, 1..=50) and `subject` (one line).
    pub fn new(recipients: &[String], subject: &str) -> Result<Delivery, ReportError> {
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(ReportError::Invalid(format!(
                "\"recipients\" must list 1 to {MAX_RECIPIENTS} addresses, got {}",
                recipients.len()
            )));
        }
        for r in recipients {
            r.trim()
                .parse::<Mailbox>()
                .map_err(|e| ReportError::Invalid(format!("invalid address {r:?} in \"recipients\": {e}")))?;
        }
        let subject = subject.trim();
        if subject.is_empty() || subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
            return Err(ReportError::Invalid(format!("\"subject\" must be one line of 1 to {MAX_SUBJECT} characters")));
        }
        Ok(Delivery { recipients: recipients.iter().map(|r| r.trim().to_string()).collect(), subject: subject.into() })
    }
}

/// Sends `rendered` to the delivery's recipients; returns the SMTP server's answer.
pub async fn send(
    plugins: &PluginHost,
    config: &ReportsConfig,
    delivery: &Delivery,
    rendered: &Rendered,
    summary: &str,
) -> Result<String, MailError> {
    let message = MailMessage {
        from: String::new(),
        to: delivery.recipients.clone(),
        subject: delivery.subject.clone(),
        text_body: format!("{summary}\n\nThe report is attached: {}\n\n-- \nVigia\n", rendered.filename),
        html_body: None,
        attachments: vec![MailAttachment {
            filename: rendered.filename.clone(),
            content_type: rendered.content_type.clone(),
            bytes: rendered.bytes.clone(),
        }],
    };
    plugins.send_mail(&config.mailer, message, Duration::from_secs(config.mail_timeout_seconds.max(1))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_and_subjects_are_checked_with_the_bad_one_named() {
        let ok = Delivery::new(&["dba@example.com".into(), "Ops <ops@example.com>".into()], "Daily").unwrap();
        assert_eq!(ok.recipients.len(), 2);
        let err = Delivery::new(&["dba@example.com".into(), "not-an-address".into()], "x").unwrap_err().to_string();
        assert!(err.contains("not-an-address") && err.contains("recipients"), "{err}");
        assert!(Delivery::new(&[], "x").unwrap_err().to_string().contains("recipients"));
        assert!(Delivery::new(&["a@b.c".into()], "two\nlines").unwrap_err().to_string().contains("subject"));
        assert!(Delivery::new(&["a@b.c".into()], "  ").unwrap_err().to_string().contains("subject"));
    }
}
