//! Hole 6: notifiers reach the host's own loopback, link-local (cloud metadata) and private
//! networks neither by name nor by address unless the operator's policy lists them; a channel
//! whose destination its plugin could never reach is refused when saved, naming what would admit
//! it; the webhook's `headers` are secrets. Proved with the real webhook bundle.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::plugins::{Notification, PluginHost};
use vigia::secrets::SecretBox;

use crate::plugins_support::{alert, Sandbox, Server};
use crate::support::{Backend, TestApp, SECRET_KEY};

fn notification() -> Notification {
    let firing = alert("a1", vigia::plugins::Severity::Critical, vigia::alerting::AlertState::Firing);
    Notification { idempotency_key: "k".into(), channel: "ops".into(), attempt: 1, alerts: vec![firing] }
}

/// The webhook bundle under the operator's policy, with (`loopback`) or without loopback allowed.
async fn webhook(loopback: bool) -> (Sandbox, Arc<PluginHost>) {
    let mut sb = Sandbox::new();
    if !loopback {
        sb.policy.private_networks.clear();
    }
    sb.install("webhook", "webhook", |_| {});
    let host = sb.start().await;
    (sb, host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_reaches_loopback_and_metadata_only_when_the_policy_lists_them() {
    let receiver = Server::start(&[("/hook", 200)]).await;
    let (_sb, host) = webhook(false).await;
    let by_name = receiver.url("/hook").replace("127.0.0.1", "localhost");
    for url in [receiver.url("/hook"), by_name, "http://169.254.169.254/latest/meta-data/".to_string()] {
        host.set_config("webhook", json!({"url": url})).await.unwrap();
        let refused = host.deliver("webhook", notification()).await;
        let detail = format!("{refused:?}");
        assert!(refused.is_err() && detail.contains("HttpRequestDenied"), "{url}: {detail}");
    }
    assert!(receiver.requests().is_empty(), "nothing reached the loopback receiver");

    let (_sb, allowed) = webhook(true).await;
    allowed.set_config("webhook", json!({"url": receiver.url("/hook")})).await.unwrap();
    allowed.deliver("webhook", notification()).await.expect("the operator listed 127.0.0.0/8");
    assert_eq!(receiver.requests().len(), 1);
}

async fn app_with(host: &Arc<PluginHost>, backend: Backend) -> TestApp {
    let mut app = TestApp::start(backend).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);
    app.ctx = vigia::server::context(app.store.clone(), &TestApp::config(), Some(host.clone()), secrets);
    app.router = vigia::api::app(app.ctx.clone());
    app
}

async fn unreachable_channels_are_refused_when_saved(b: Backend) {
    let receiver = Server::start(&[("/hook", 200)]).await;
    let (_sb, host) = webhook(false).await;
    let app = app_with(&host, b).await;
    let channel = |url: String| json!({"name": "ops", "plugin": "webhook", "config": {"url": url}});
    let post = |body: Value| app.call(Method::POST, "/api/v1/notifications/channels", Some(&app.admin), Some(body));
    let r = post(channel(receiver.url("/hook"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.error().starts_with("url: 127.0.0.1 resolves to 127.0.0.1, a loopback"), "{}", r.text);
    assert!(r.error().contains("[plugins.policy] private_networks (e.g. \"127.0.0.1/32\")"), "{}", r.text);
    let r = post(channel("http://169.254.169.254/latest/meta-data/".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // The README's own example used to be accepted, then fail at every delivery.
    let r = post(channel("https://hooks.example.invalid/vigia".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.error().contains("hooks.example.invalid did not resolve") || r.error().contains("does not resolve"));
    assert!(app.get("/api/v1/notifications/channels", &app.admin).await.json.as_array().unwrap().is_empty());

    let (_sb, allowed) = webhook(true).await;
    let app = app_with(&allowed, b).await;
    let body = channel(receiver.url("/hook"));
    let r = app.call(Method::POST, "/api/v1/notifications/channels", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

backend_tests!(unreachable_channels_are_refused_when_saved);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_headers_are_secrets() {
    let (_sb, host) = webhook(true).await;
    let config = json!({"url": "http://127.0.0.1:9/hook", "headers": {"Authorization": "Bearer tenant-credential"}});
    host.set_config("webhook", config).await.unwrap();
    let shown = host.config("webhook", true).await.unwrap();
    assert_eq!(shown["headers"], vigia::plugins::MASK, "{shown}");
    assert!(!shown.to_string().contains("tenant-credential"));
}
