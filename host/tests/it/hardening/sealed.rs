//! Hole 8: a sealed secret is bound to its row. Copied or moved by someone who can write the
//! database (or by a bug), an instance's password, a channel's configuration or a plugin
//! secret does not open in its new place: the instance does not connect with it (a password
//! trap proves it is never sent), the channel delivers nothing, the plugin sees no secret, and
//! each says why. Values of the retired `v1:` format are re-sealed for their rows at start, and
//! a `v1:` value planted after that is refused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::{Connection, PgConnection, SqliteConnection};
use vigia::alerting::Delivery;
use vigia::config::SamplerConfig;
use vigia::plugins::{HostServices, PluginHost, MASK};
use vigia::sampler::Sampler;
use vigia::secrets::SecretBox;
use vigia::timeseries::MetricWriter;

use super::instances::{live_port, PasswordTrap};
use crate::plugins_support::{set, Sandbox, Seen, Server};
use crate::support::{Backend, Resp, TestApp, SECRET_KEY};

const SECRET: &str = "tenant-a-db-password";

/// Writes `text` into `column` of row `id` of `table` behind the store's back, as someone with
/// database access would.
async fn overwrite(app: &TestApp, b: Backend, table: &str, column: &str, id: i64, text: &str) {
    let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
    let done = match b {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&app.db_url).await.unwrap();
            sqlx::query(&sql).bind(text).bind(id).execute(&mut conn).await.unwrap().rows_affected()
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
            sqlx::query(&sql).bind(text).bind(id).execute(&mut conn).await.unwrap().rows_affected()
        }
    };
    assert_eq!(done, 1, "{sql}");
}

/// `plaintext` sealed as versions before v2 did (no associated data), under `key`.
fn seal_v1(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&cipher.encrypt(&nonce, plaintext.as_bytes()).unwrap());
    format!("v1:{}", base64::engine::general_purpose::STANDARD.encode(blob))
}

async fn instance(app: &TestApp, token: &str, name: &str, port: u16, password: &str) -> Resp {
    let body =
        json!({"host": "127.0.0.1", "port": port, "user": "postgres", "password": password, "sslmode": "disable"});
    let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r
}

/// A full update without a connection change: the connection is checked again, with the
/// stored password.
async fn recheck(app: &TestApp, token: &str, name: &str) -> Resp {
    let r =
        app.call(Method::PUT, &format!("/api/v1/instances/{name}"), Some(token), Some(json!({"tags": "x=1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r
}

async fn an_instance_password_copied_to_another_row_never_leaves(b: Backend) {
    let app = TestApp::start(b).await;
    let trap = PasswordTrap::start().await;
    let victim = instance(&app, &app.admin, "victim", live_port(), SECRET).await;
    assert_eq!(victim.json["connected"], true, "{}", victim.text);
    instance(&app, &app.other_admin, "evil", trap.port, "attackers-own").await;
    assert_eq!(trap.received(), ["attackers-own"]);

    // Tenant A's sealed password, copied into tenant B's instance pointing at B's server.
    let a = app.store.instance_by_name(app.admin_user.tenant_id, "victim").await.unwrap().unwrap();
    let evil = app.store.instance_by_name(app.other_user.tenant_id, "evil").await.unwrap().unwrap();
    overwrite(&app, b, "instances", "password_sealed", evil.id, &a.password_sealed).await;
    let r = recheck(&app, &app.other_admin, "evil").await;
    assert_eq!(r.json["connected"], false, "{}", r.text);
    let error = r.json["last_error"].as_str().unwrap();
    let expected = format!(
        "instances.password_sealed of instance id {} (tenant {}): sealed for another owner",
        evil.id, evil.tenant_id
    );
    assert!(error.starts_with("stored password unusable (") && error.contains(&expected), "{error}");

    // Nor does the sampler send it.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let secrets = SecretBox::from_key(&SECRET_KEY);
    let metrics = MetricWriter::start(app.store.clone());
    let sampler = Sampler::new(app.store.clone(), secrets, metrics, tx, SamplerConfig::default())
        .with_poll_interval(Duration::from_millis(200))
        .spawn();
    let start = Instant::now();
    let refused = loop {
        let i = app.store.instance_by_name(evil.tenant_id, "evil").await.unwrap().unwrap();
        if let Some(e) = i.last_error.filter(|e| e.starts_with("cannot open the stored password")) {
            break e;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "the sampler never reported the password");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    sampler.abort();
    assert!(refused.contains(&expected), "{refused}");
    assert_eq!(trap.received(), ["attackers-own"], "the copied password reached the other server");
    // Where it was sealed for, it still opens.
    assert_eq!(recheck(&app, &app.admin, "victim").await.json["connected"], true);
}

/// The API of a `TestApp` with the real webhook notifier, its configuration in the database.
struct Notifiers {
    app: TestApp,
    sandbox: Sandbox,
    host: Arc<PluginHost>,
}

impl Notifiers {
    async fn start(b: Backend) -> Notifiers {
        let app = TestApp::start(b).await;
        let mut sandbox = Sandbox::new();
        sandbox.services = HostServices::with_store(app.store.clone(), SecretBox::from_key(&SECRET_KEY));
        sandbox.install("webhook", "webhook", |_| {});
        let host = sandbox.start().await;
        let mut n = Notifiers { app, sandbox, host: host.clone() };
        n.serve(host);
        n
    }

    fn serve(&mut self, host: Arc<PluginHost>) {
        let secrets = SecretBox::from_key(&SECRET_KEY);
        self.app.ctx = vigia::server::context(self.app.store.clone(), &TestApp::config(), Some(host.clone()), secrets);
        self.app.router = vigia::api::app(self.app.ctx.clone());
        self.host = host;
    }

    /// A restart of the plugin runtime: it reads the configurations back from the database.
    async fn restart_plugins(&mut self) {
        let host = self.sandbox.start().await;
        self.serve(host);
    }

    async fn channel(&self, token: &str, name: &str, config: Value) -> i64 {
        let body = json!({"name": name, "plugin": "webhook", "config": config});
        let r = self.app.call(Method::POST, "/api/v1/notifications/channels", Some(token), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_i64().unwrap()
    }

    async fn test(&self, token: &str, id: i64) -> Resp {
        self.app.call(Method::POST, &format!("/api/v1/notifications/channels/{id}/test"), Some(token), None).await
    }
}

/// Whether `seen` is signed with `secret` (the webhook's `X-Vigia-Signature`).
fn signed_with(seen: &Seen, secret: &str) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&seen.body);
    seen.headers.get("x-vigia-signature") == Some(&format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
}

async fn a_channel_config_copied_to_another_tenants_channel_sends_nothing(b: Backend) {
    let n = Notifiers::start(b).await;
    let (a_receiver, b_receiver) = (Server::start(&[("/hook", 200)]).await, Server::start(&[("/hook", 200)]).await);
    let a_config = json!({"url": a_receiver.url("/hook"), "secret": "tenant-a-signing-secret"});
    let a = n.channel(&n.app.admin, "a", a_config).await;
    let theirs = n.channel(&n.app.other_admin, "b", json!({"url": b_receiver.url("/hook")})).await;
    let stolen = n.app.store.channel(None, a).await.unwrap().config_sealed;
    overwrite(&n.app, b, "notification_channels", "config_sealed", theirs, &stolen).await;

    let r = n.test(&n.app.other_admin, theirs).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let owner =
        format!("notification_channels.config_sealed of channel id {theirs} (tenant {})", n.app.other_user.tenant_id);
    assert!(r.error().contains(&format!("{owner}: sealed for another owner")), "{}", r.text);
    // Read back, it shows nothing of A's configuration.
    let shown = n.app.get(&format!("/api/v1/notifications/channels/{theirs}"), &n.app.other_admin).await;
    assert!(!shown.text.contains(&a_receiver.url("/hook")), "{}", shown.text);
    // Replacing it without a new configuration cannot keep what does not open.
    let put = json!({"name": "b", "plugin": "webhook"});
    let path = format!("/api/v1/notifications/channels/{theirs}");
    let r = n.app.call(Method::PUT, &path, Some(&n.app.other_admin), Some(put)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // The delivery worker sends nothing either: the row goes to the dead letters, saying why.
    let alert = json!({"dedup_key": "k", "severity": "warning", "summary": "s", "resource": "db"});
    let r = n.app.call(Method::POST, "/api/v1/alerts", Some(&n.app.other_admin), Some(alert)).await;
    assert!(r.status.is_success(), "{}", r.text);
    let delivery =
        Delivery::new(n.app.store.clone(), n.host.clone(), SecretBox::from_key(&SECRET_KEY), vec![Duration::ZERO; 3]);
    let report = delivery.run_once(vigia::store::now_ms()).await.unwrap();
    assert_eq!((report.delivered, report.dead), (0, 1), "{report:?}");
    let history = n.app.get("/api/v1/notifications/history", &n.app.other_admin).await.json;
    let error = history[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("channel configuration unreadable") && error.contains(&owner), "{history}");
    assert!(a_receiver.requests().is_empty() && b_receiver.requests().is_empty(), "something was sent");

    // A's channel, where the configuration was sealed for, still delivers, signed.
    let r = n.test(&n.app.admin, a).await;
    assert_eq!((r.status, r.json["delivered"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);
    assert!(signed_with(&a_receiver.requests()[0], "tenant-a-signing-secret"));
    // A new configuration makes B's channel usable again, with B's own settings.
    let put = json!({"name": "b", "plugin": "webhook", "config": {"url": b_receiver.url("/hook")}});
    let r = n.app.call(Method::PUT, &path, Some(&n.app.other_admin), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(n.test(&n.app.other_admin, theirs).await.json["delivered"], true);
    assert_eq!(b_receiver.requests().len(), 1);
}

async fn a_plugin_secret_moved_to_another_path_or_plugin_does_not_open(b: Backend) {
    let app = TestApp::start(b).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);
    let mut sb = Sandbox::new();
    sb.services = HostServices::with_store(app.store.clone(), secrets.clone());
    for id in ["misbehave", "copy"] {
        sb.install("misbehave", id, |m| {
            for key in ["token", "other"] {
                set(m, &format!("config.schema.properties.{key}.type"), "string");
                set(m, &format!("config.schema.properties.{key}.x-secret"), true);
            }
        });
    }
    let host = sb.start().await;
    host.set_config("misbehave", json!({"mode": "state", "token": "s3cret-value"})).await.unwrap();
    let stored: Value =
        serde_json::from_str(&app.store.plugin_settings("misbehave").await.unwrap().unwrap().config_json).unwrap();
    let sealed = stored["token"].clone();
    assert!(sealed.as_str().unwrap().starts_with("v2:"), "{stored}");
    drop(host);

    // Moved to another secret of the same plugin, and copied whole into another plugin.
    let moved = json!({"mode": "state", "other": sealed});
    app.store.set_plugin_config("misbehave", &moved.to_string()).await.unwrap();
    app.store.set_plugin_config("copy", &stored.to_string()).await.unwrap();
    let host = sb.start().await;
    for id in ["misbehave", "copy"] {
        let seen = host.config(id, false).await.unwrap();
        assert!(!seen.to_string().contains("s3cret-value"), "{id} opened a moved secret: {seen}");
        assert_eq!((seen.get("token"), seen.get("other")), (None, None), "{id}: {seen}");
    }
    // The mask cannot keep a secret that does not open; giving it again works.
    let e = host.set_config("misbehave", json!({"mode": "state", "other": MASK})).await.unwrap_err().to_string();
    assert!(e.contains(r#"plugin "misbehave", secret other: sealed for another owner"#), "{e}");
    assert!(e.ends_with("give it again"), "{e}");
    host.set_config("misbehave", json!({"mode": "state", "other": "given-again"})).await.unwrap();
    assert_eq!(host.config("misbehave", false).await.unwrap()["other"], "given-again");
}

/// A database written by a version before v2: every sealed value is `v1:`.
async fn v1_values_are_resealed_for_their_rows_at_start_and_refused_after(b: Backend) {
    let mut n = Notifiers::start(b).await;
    let receiver = Server::start(&[("/hook", 200)]).await;
    let operator = json!({"url": receiver.url("/hook"), "secret": "operator-secret"});
    let r = n.app.call(Method::PUT, "/api/v1/plugins/webhook/config", Some(&n.app.admin), Some(operator)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let channel_config = json!({"url": receiver.url("/hook"), "secret": "channel-secret"});
    let channel = n.channel(&n.app.admin, "ops", channel_config.clone()).await;
    instance(&n.app, &n.app.admin, "db", live_port(), SECRET).await;
    let tenant = n.app.admin_user.tenant_id;
    let db = n.app.store.instance_by_name(tenant, "db").await.unwrap().unwrap();

    // Back to what v1 wrote, plus one value sealed under a key this host does not have.
    let v1 = |text: &str| seal_v1(&SECRET_KEY, text);
    overwrite(&n.app, b, "instances", "password_sealed", db.id, &v1(SECRET)).await;
    overwrite(&n.app, b, "notification_channels", "config_sealed", channel, &v1(&channel_config.to_string())).await;
    let plugin = json!({"url": receiver.url("/hook"), "secret": v1(&json!("operator-secret").to_string())});
    n.app.store.set_plugin_config("webhook", &plugin.to_string()).await.unwrap();
    instance(&n.app, &n.app.other_admin, "foreign", live_port(), "x").await;
    let foreign = n.app.store.instance_by_name(n.app.other_user.tenant_id, "foreign").await.unwrap().unwrap();
    overwrite(&n.app, b, "instances", "password_sealed", foreign.id, &seal_v1(&[1; 32], "x")).await;
    // Before the pass, a v1 value is refused, naming its row.
    let r = n.test(&n.app.admin, channel).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let owner = format!("notification_channels.config_sealed of channel id {channel} (tenant {tenant})");
    assert!(r.error().contains(&format!("{owner}: sealed in the retired v1 format")), "{}", r.text);

    // The start: the pass runs before the plugin runtime reads its configuration.
    let report = vigia::reseal::reseal_legacy(&n.app.store, &SecretBox::from_key(&SECRET_KEY)).await.unwrap();
    assert!(!report.already_done, "{report:?}");
    assert_eq!((report.instance_passwords, report.channel_configs, report.plugin_configs), (1, 1, 1), "{report:?}");
    let unreadable = format!("instances.password_sealed of instance id {} (tenant {})", foreign.id, foreign.tenant_id);
    assert_eq!(report.unreadable.len(), 1, "{report:?}");
    assert!(report.unreadable[0].starts_with(&unreadable), "{report:?}");
    n.restart_plugins().await;

    // No v1 value remains (but the one no key here opens), and everything works as before.
    let db_now = n.app.store.instance_by_name(tenant, "db").await.unwrap().unwrap();
    assert!(db_now.password_sealed.starts_with("v2:"), "{}", db_now.password_sealed);
    assert!(n.app.store.channel(None, channel).await.unwrap().config_sealed.starts_with("v2:"));
    let plugin_row = n.app.store.plugin_settings("webhook").await.unwrap().unwrap().config_json;
    assert!(plugin_row.contains("\"v2:") && !plugin_row.contains("\"v1:"), "{plugin_row}");
    assert_eq!(n.host.config("webhook", false).await.unwrap()["secret"], "operator-secret");
    assert_eq!(recheck(&n.app, &n.app.admin, "db").await.json["connected"], true);
    let r = n.test(&n.app.admin, channel).await;
    assert_eq!((r.status, r.json["delivered"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);
    assert!(signed_with(&receiver.requests()[0], "channel-secret"));
    // A v1 value planted now (an old backup's) opens nowhere, not even after another start,
    // which does not re-seal it for the row it was planted in; the error names the row.
    overwrite(&n.app, b, "instances", "password_sealed", db.id, &v1(SECRET)).await;
    let again = vigia::reseal::reseal_legacy(&n.app.store, &SecretBox::from_key(&SECRET_KEY)).await.unwrap();
    assert!(again.already_done && again.resealed() == 0, "{again:?}");
    let planted = n.app.store.instance_by_name(tenant, "db").await.unwrap().unwrap().password_sealed;
    assert!(planted.starts_with("v1:"), "{planted}");
    let r = recheck(&n.app, &n.app.admin, "db").await;
    assert_eq!(r.json["connected"], false, "{}", r.text);
    let owner = format!("instances.password_sealed of instance id {} (tenant {tenant})", db.id);
    let error = r.json["last_error"].as_str().unwrap();
    assert!(error.contains(&format!("{owner}: sealed in the retired v1 format")), "{error}");
    overwrite(&n.app, b, "notification_channels", "config_sealed", channel, &v1(&channel_config.to_string())).await;
    assert_eq!(n.test(&n.app.admin, channel).await.status, StatusCode::CONFLICT);
    assert_eq!(receiver.requests().len(), 1, "nothing sent with the planted configuration");
}

backend_tests!(
    an_instance_password_copied_to_another_row_never_leaves,
    a_channel_config_copied_to_another_tenants_channel_sends_nothing,
    a_plugin_secret_moved_to_another_path_or_plugin_does_not_open,
    v1_values_are_resealed_for_their_rows_at_start_and_refused_after
);
