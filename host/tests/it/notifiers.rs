//! The `slack` and `email` notifiers through the real plugin runtime and their built bundles:
//! slack against a loopback HTTP receiver, email against a real SMTP server (aiosmtpd, started
//! here) reached through the host's `smtp` capability.

use crate::plugins_support;
use crate::smtp_support::{free_port, SmtpServer};

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use plugins_support::*;
use serde_json::{json, Value};
use vigia::alerting::AlertState;
use vigia::plugins::{Alert, ErrorKind, InvokeError, LoadState, Notification, PluginHost, Severity};

fn notification(key: &str, alerts: Vec<Alert>) -> Notification {
    Notification { idempotency_key: key.into(), channel: "ops".into(), attempt: 1, alerts }
}

fn plugin_error(result: Result<impl std::fmt::Debug, InvokeError>) -> (ErrorKind, String) {
    match result {
        Err(InvokeError::Plugin { kind, message }) => (kind, message),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// The slack bundle allowed to reach `origin` only, configured with `config`.
async fn slack(sb: &Sandbox, origin: &str, config: Value) -> std::sync::Arc<PluginHost> {
    sb.install("slack", "slack", |m| set(m, "capabilities.allowed_outbound_hosts", vec![origin.to_string()]));
    let host = sb.start().await;
    assert_eq!(host.status("slack").unwrap().status, LoadState::Loaded, "{:?}", host.status("slack"));
    host.set_config("slack", config).await.unwrap();
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_posts_one_attachment_per_alert_with_the_idempotency_key() {
    init_tracing();
    let server = Server::start(&[("/services/T1/B1/token", 200)]).await;
    let sb = Sandbox::new();
    let config = json!({"webhook_url": server.url("/services/T1/B1/token"), "channel": "#ops",
                        "icon_emoji": ":rotating_light:", "mention": "<!here>"});
    let host = slack(&sb, &server.origin(), config).await;

    let n = notification(
        "key-42",
        vec![alert("a1", Severity::Critical, AlertState::Firing), alert("a2", Severity::Warning, AlertState::Resolved)],
    );
    let receipt = host.deliver("slack", n).await.unwrap();
    assert_eq!(receipt.detail, "HTTP 200");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services/T1/B1/token"));
    assert_eq!(r.headers.get("idempotency-key").map(String::as_str), Some("key-42"));
    assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["text"], "<!here> [CRITICAL] cpu-high on db1 (+1 more)");
    assert_eq!((body["channel"].as_str(), body["username"].as_str()), (Some("#ops"), Some("Vigia")));
    assert_eq!(body["icon_emoji"], ":rotating_light:");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2, "{body}");
    assert_eq!(attachments[0]["title"], "[CRITICAL] cpu-high on db1");
    assert_eq!(attachments[0]["color"], "#d00000");
    assert_eq!(attachments[0]["text"], "CPU at 97.5%\ncpu above 90% for 5m");
    assert_eq!(attachments[0]["footer"], "Vigia · a1");
    assert_eq!(attachments[1]["title"], "[RESOLVED] cpu-high on db1");
    assert_eq!(attachments[1]["color"], "#2eb886");
    assert_eq!(attachments[1]["ts"], 1_700_000_600);

    // The webhook URL is a secret: stored sealed, shown masked.
    assert_eq!(host.config("slack", true).await.unwrap()["webhook_url"], vigia::plugins::MASK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_retries_server_errors_throttling_and_timeouts_but_not_client_errors() {
    init_tracing();
    let server = Server::start(&[("/fail", 500), ("/slow-down", 429), ("/bad", 400)]).await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let sb = Sandbox::new();
    let host = slack(&sb, "http://127.0.0.1:*", json!({"webhook_url": server.url("/fail")})).await;
    let n = || notification("k", vec![alert("a1", Severity::Critical, AlertState::Firing)]);

    let (kind, message) = plugin_error(host.deliver("slack", n()).await);
    assert_eq!((kind, message.as_str()), (ErrorKind::Retryable, "HTTP 500"));
    host.set_config("slack", json!({"webhook_url": server.url("/slow-down")})).await.unwrap();
    assert_eq!(plugin_error(host.deliver("slack", n()).await).0, ErrorKind::Retryable);
    host.set_config("slack", json!({"webhook_url": server.url("/bad")})).await.unwrap();
    let (kind, message) = plugin_error(host.deliver("slack", n()).await);
    assert_eq!((kind, message.as_str()), (ErrorKind::Permanent, "HTTP 400: body"));
    assert_eq!(server.requests().len(), 3);

    let silent_url = format!("http://127.0.0.1:{silent_port}/hook");
    host.set_config("slack", json!({"webhook_url": silent_url, "timeout_ms": 300})).await.unwrap();
    let started = Instant::now();
    let (kind, message) = plugin_error(host.deliver("slack", n()).await);
    assert_eq!(kind, ErrorKind::Retryable, "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "the plugin's own timeout answered first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_reaches_only_the_allow_listed_host_and_keeps_the_token_out_of_errors() {
    init_tracing();
    let allowed = Server::start(&[("/hook", 200)]).await;
    let forbidden = Server::start(&[("/services/T1/B1/secret-token", 200)]).await;
    let sb = Sandbox::new();
    let config = json!({"webhook_url": forbidden.url("/services/T1/B1/secret-token")});
    let host = slack(&sb, &allowed.origin(), config).await;

    let (kind, message) = plugin_error(
        host.deliver("slack", notification("k", vec![alert("a1", Severity::Info, AlertState::Firing)])).await,
    );
    assert_eq!(kind, ErrorKind::Retryable);
    assert!(message.contains("HttpRequestDenied"), "{message}");
    assert!(!message.contains("secret-token"), "the token leaked into the error: {message}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(forbidden.connections.load(Ordering::SeqCst), 0, "the forbidden host never saw a connection");
    assert!(allowed.requests().is_empty());
}

fn email_config(port: u16) -> Value {
    json!({
        "from": "Vigia <vigia@example.com>",
        "to": ["ops@example.com", "dba@example.com"],
        "subject_prefix": "[prod] ",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_sends_subject_recipients_and_bodies_through_the_operators_smtp_server() {
    init_tracing();
    let smtp = SmtpServer::start();
    let sb = Sandbox::new();
    sb.install("email", "email", |_| {});
    let host = sb.start().await;
    assert_eq!(host.status("email").unwrap().status, LoadState::Loaded, "{:?}", host.status("email"));
    host.set_config("email", email_config(smtp.port)).await.unwrap();

    let firing = notification("key-1", vec![alert("a1", Severity::Critical, AlertState::Firing)]);
    let receipt = host.deliver("email", firing).await.unwrap();
    assert_eq!(receipt.detail, "250 OK stored as 1");
    let resolved = notification("key-2", vec![alert("a1", Severity::Critical, AlertState::Resolved)]);
    host.deliver("email", resolved).await.unwrap();

    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["mail_from"], "vigia@example.com");
    assert_eq!(m["rcpt_tos"], json!(["ops@example.com", "dba@example.com"]));
    assert_eq!(m["subject"], "[prod] [CRITICAL] cpu-high on db1");
    assert_eq!(m["from"], "Vigia <vigia@example.com>");
    assert_eq!(m["to"], "ops@example.com, dba@example.com");
    let text = m["text"].as_str().unwrap();
    for part in [
        "This alert is firing.",
        "CPU at 97.5%",
        "Resource: db1",
        "Severity: critical",
        "Labels: env=prod",
        "Started: 2023-11-14T22:13:20.000Z",
        "notification key-1",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("<h3 style=\"color:#d00000\">[CRITICAL] cpu-high on db1</h3>"), "{html}");
    assert_eq!(messages[1]["subject"], "[prod] [RESOLVED] cpu-high on db1");
    assert!(messages[1]["text"].as_str().unwrap().contains("Resolved: 2023-11-14T22:23:20.000Z"));

    // smtp_password is declared secret by the host: stored sealed, shown masked.
    let mut with_auth = email_config(smtp.port);
    with_auth["smtp_username"] = "vigia".into();
    with_auth["smtp_password"] = "hunter2".into();
    host.set_config("email", with_auth).await.unwrap();
    let shown = host.config("email", true).await.unwrap();
    assert_eq!(
        (shown["smtp_username"].as_str(), shown["smtp_password"].as_str()),
        (Some("vigia"), Some(vigia::plugins::MASK))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_to_an_unreachable_smtp_server_is_retryable() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("email", "email", |_| {});
    let host = sb.start().await;
    host.set_config("email", email_config(free_port())).await.unwrap();
    let (kind, message) = plugin_error(
        host.deliver("email", notification("k", vec![alert("a1", Severity::Warning, AlertState::Firing)])).await,
    );
    assert_eq!(kind, ErrorKind::Retryable, "{message}");
    assert!(message.contains("127.0.0.1"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_without_the_capability_is_a_permanent_error_and_sends_nothing() {
    init_tracing();
    let smtp = SmtpServer::start();
    let sb = Sandbox::new();
    // The same component, but its manifest does not grant `smtp` (so the host declares no smtp_* keys).
    sb.install("email", "email", |m| {
        set(m, "capabilities.smtp", false);
        let defaults = m["config"]["default"].as_table_mut().unwrap();
        defaults.retain(|k, _| !k.starts_with("smtp_"));
    });
    let host = sb.start().await;
    assert_eq!(host.status("email").unwrap().status, LoadState::Loaded, "{:?}", host.status("email"));
    let mut config = email_config(smtp.port);
    config.as_object_mut().unwrap().retain(|k, _| !k.starts_with("smtp_"));
    host.set_config("email", config).await.unwrap();

    let (kind, message) = plugin_error(
        host.deliver("email", notification("k", vec![alert("a1", Severity::Critical, AlertState::Firing)])).await,
    );
    assert_eq!(kind, ErrorKind::Permanent);
    assert!(message.contains("smtp capability not granted"), "{message}");
    assert!(smtp.messages().is_empty());
}
