//! Hole 2: a channel (or a new plugin configuration) that changes where a notifier delivers does
//! not take the operator's secret along. The webhook's `secret` is bound to its `url`
//! (`x-bound-to` in the manifest schema): a channel overriding `url` without its own `secret`
//! delivers unsigned, and sending back the mask `********` with a changed `url` is a 400. Proved
//! with the real webhook bundle and loopback receivers, by the HMAC signature each one gets.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use vigia::secrets::SecretBox;

use crate::plugins_support::{Sandbox, Seen, Server};
use crate::support::{Backend, Resp, TestApp, SECRET_KEY};

const OPERATOR_SECRET: &str = "operator-hmac-secret";

struct Setup {
    app: TestApp,
    /// The operator's receiver (the plugin's `url`).
    operator: Server,
    /// Somewhere a tenant points a channel.
    elsewhere: Server,
    _host: Arc<vigia::plugins::PluginHost>,
    _sandbox: Sandbox,
}

impl Setup {
    async fn new(backend: Backend) -> Setup {
        let operator = Server::start(&[("/hook", 200)]).await;
        let elsewhere = Server::start(&[("/hook", 200)]).await;
        let sandbox = Sandbox::new();
        sandbox.install("webhook", "webhook", |_| {});
        let host = sandbox.start().await;
        let mut app = TestApp::start(backend).await;
        let secrets = SecretBox::from_key(&SECRET_KEY);
        app.ctx = vigia::server::context(app.store.clone(), &TestApp::config(), Some(host.clone()), secrets);
        app.router = vigia::api::app(app.ctx.clone());
        let s = Setup { app, operator, elsewhere, _host: host, _sandbox: sandbox };
        let r = s.plugin_config(json!({"url": s.operator.url("/hook"), "secret": OPERATOR_SECRET})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        s
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.call(method, path, Some(&self.app.admin), body).await
    }

    async fn plugin_config(&self, config: Value) -> Resp {
        self.call(Method::PUT, "/api/v1/plugins/webhook/config", Some(config)).await
    }

    async fn channel(&self, name: &str, config: Value) -> Resp {
        let body = json!({"name": name, "plugin": "webhook", "config": config});
        self.call(Method::POST, "/api/v1/notifications/channels", Some(body)).await
    }

    /// Creates a channel (201) and sends its test notification (delivered).
    async fn deliver(&self, name: &str, config: Value) -> i64 {
        let r = self.channel(name, config).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.json["id"].as_i64().unwrap();
        self.test(id).await;
        id
    }

    async fn test(&self, id: i64) {
        let r = self.call(Method::POST, &format!("/api/v1/notifications/channels/{id}/test"), None).await;
        assert_eq!((r.status, r.json["delivered"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);
    }
}

/// The secret `seen` was signed with, among `candidates`; `None` when unsigned.
fn signed_with<'a>(seen: &Seen, candidates: &[&'a str]) -> Option<&'a str> {
    let header = seen.headers.get("x-vigia-signature")?;
    let found = candidates.iter().find(|secret| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&seen.body);
        *header == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    });
    Some(found.copied().unwrap_or_else(|| panic!("signed with an unknown secret: {header}")))
}

fn last(server: &Server) -> Seen {
    server.requests().pop().expect("a delivery")
}

async fn a_channel_elsewhere_does_not_inherit_the_operators_secret(b: Backend) {
    let s = Setup::new(b).await;
    let known = [OPERATOR_SECRET, "the-tenants-own"];

    // Inheriting the destination inherits the secret (this is what the operator set it for).
    s.deliver("inherits", json!({})).await;
    assert_eq!(signed_with(&last(&s.operator), &known), Some(OPERATOR_SECRET));
    s.deliver("same-url", json!({"url": s.operator.url("/hook")})).await;
    assert_eq!(signed_with(&last(&s.operator), &known), Some(OPERATOR_SECRET), "restating the url is no change");

    // Another url without a secret of its own: delivered, unsigned.
    let redirected = s.deliver("redirected", json!({"url": s.elsewhere.url("/hook")})).await;
    assert_eq!(signed_with(&last(&s.elsewhere), &known), None, "the operator's secret went elsewhere");
    // With its own secret, that one signs.
    s.deliver("own", json!({"url": s.elsewhere.url("/hook"), "secret": "the-tenants-own"})).await;
    assert_eq!(signed_with(&last(&s.elsewhere), &known), Some("the-tenants-own"));

    // The mask stands for a stored secret: with a changed url it is refused, on create and replace.
    let masked = json!({"url": s.elsewhere.url("/hook"), "secret": "********"});
    let r = s.channel("masked", masked.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "secret is bound to url, which this configuration changes: give secret again");
    let put = json!({"name": "redirected", "plugin": "webhook", "config": masked});
    let r = s.call(Method::PUT, &format!("/api/v1/notifications/channels/{redirected}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // With the destination unchanged the mask keeps the stored secret (a read sent back as is).
    let listed = s.call(Method::GET, "/api/v1/notifications/channels", None).await.json;
    let own = listed.as_array().unwrap().iter().find(|c| c["name"] == "own").unwrap().clone();
    assert_eq!(own["config"]["secret"], "********");
    let id = own["id"].as_i64().unwrap();
    let put = json!({"name": "own", "plugin": "webhook", "config": own["config"]});
    let r = s.call(Method::PUT, &format!("/api/v1/notifications/channels/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    s.test(id).await;
    assert_eq!(signed_with(&last(&s.elsewhere), &known), Some("the-tenants-own"));
    assert!(s.operator.requests().iter().chain(&s.elsewhere.requests()).all(|r| r.path == "/hook"));
}

async fn a_plugin_configuration_elsewhere_needs_its_secret_again(b: Backend) {
    let s = Setup::new(b).await;
    let known = [OPERATOR_SECRET, "new-secret"];
    let shown = s.call(Method::GET, "/api/v1/plugins/webhook/config", None).await.json;
    assert_eq!(shown["secret"], "********");

    // Sending the read back with another url: refused, and nothing changed.
    let mut moved = shown.clone();
    moved["url"] = json!(s.elsewhere.url("/hook"));
    let r = s.plugin_config(moved.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "secret is bound to url, which this configuration changes: give secret again");
    let id = s.deliver("inherits", json!({})).await;
    assert_eq!(signed_with(&last(&s.operator), &known), Some(OPERATOR_SECRET));

    // Unchanged url: the mask keeps the secret.
    let mut same = shown.clone();
    same["timeout_ms"] = json!(5000);
    assert_eq!(s.plugin_config(same).await.status, StatusCode::OK);
    s.test(id).await;
    assert_eq!(signed_with(&last(&s.operator), &known), Some(OPERATOR_SECRET));

    // Another url without the secret drops it; with a new one, that one signs.
    moved.as_object_mut().unwrap().remove("secret");
    assert_eq!(s.plugin_config(moved.clone()).await.status, StatusCode::OK);
    s.test(id).await;
    assert_eq!(signed_with(&last(&s.elsewhere), &known), None);
    moved["secret"] = json!("new-secret");
    assert_eq!(s.plugin_config(moved).await.status, StatusCode::OK);
    s.test(id).await;
    assert_eq!(signed_with(&last(&s.elsewhere), &known), Some("new-secret"));
}

backend_tests!(
    a_channel_elsewhere_does_not_inherit_the_operators_secret,
    a_plugin_configuration_elsewhere_needs_its_secret_again
);
