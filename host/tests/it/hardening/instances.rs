//! Hole 3: a monitored instance's sealed password is only ever sent where it was given for. A
//! change of host, port or user (or a weaker `sslmode`, another `sslrootcert`) needs the password
//! again, in both API forms; a loopback "server" that asks for a cleartext password proves the
//! stored one never reaches it. And `sslmode` is applied by the connection check and the sampler.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vigia::config::SamplerConfig;
use vigia::sampler::Sampler;
use vigia::secrets::SecretBox;
use vigia::store::{InstanceUpdate, SslMode};
use vigia::timeseries::MetricWriter;

use crate::support::{fresh_store, Backend, Resp, TestApp, SECRET_KEY};

const SECRET: &str = "the-stored-secret";
const DS: &str = "/ds-api/pool/pg-instances";

pub(super) fn live_port() -> u16 {
    vigia_testkit::shared().port()
}

/// A fake PostgreSQL server on loopback: declines TLS, asks every client for its password in
/// clear text (as a server under an attacker's control would) and keeps what it receives.
pub(super) struct PasswordTrap {
    pub(super) port: u16,
    received: Arc<Mutex<Vec<String>>>,
}

impl PasswordTrap {
    pub(super) async fn start() -> PasswordTrap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Ok(password) = Self::serve(socket).await {
                        sink.lock().unwrap().push(password);
                    }
                });
            }
        });
        PasswordTrap { port, received }
    }

    async fn serve(mut s: TcpStream) -> std::io::Result<String> {
        let mut len = s.read_i32().await?;
        let code = s.read_i32().await?;
        if code == 80877103 {
            // SSLRequest: no TLS here; the startup message follows.
            s.write_all(b"N").await?;
            len = s.read_i32().await?;
            s.read_i32().await?;
        }
        let mut startup = vec![0; len as usize - 8];
        s.read_exact(&mut startup).await?;
        // AuthenticationCleartextPassword.
        s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
        assert_eq!(s.read_u8().await?, b'p', "a password message");
        let len = s.read_i32().await?;
        let mut password = vec![0; len as usize - 4];
        s.read_exact(&mut password).await?;
        password.pop(); // the terminating NUL
        Ok(String::from_utf8_lossy(&password).into_owned())
    }

    pub(super) fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

async fn create(app: &TestApp, name: &str, extra: Value) -> Resp {
    let mut body = json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": SECRET});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await
}

async fn a_changed_destination_needs_the_password_again(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let trap = PasswordTrap::start().await;
    let r = create(&app, "db", json!({})).await;
    assert_eq!((r.status, r.json["connected"].clone()), (StatusCode::CREATED, json!(true)), "{}", r.text);

    let port = trap.port;
    let refused = [
        ("/api/v1/instances/db", json!({"port": port}), "port"),
        ("/api/v1/instances/db", json!({"host": "localhost"}), "host"),
        ("/api/v1/instances/db", json!({"user": "monitor"}), "user"),
        ("/api/v1/instances/db", json!({"port": port, "password": "********"}), "port"),
        ("/api/v1/instances/db", json!({"sslmode": "disable"}), "sslmode"),
        ("/ds-api/pool/pg-instances/db", json!({"port": port}), "port"),
        (
            "/ds-api/pool/pg-instances/db",
            json!({"host": "127.0.0.1", "port": port, "user": "postgres", "tags": ""}),
            "port",
        ),
    ];
    for (path, body, field) in refused {
        let r = app.call(Method::PUT, path, t, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {body}: {}", r.text);
        assert_eq!(
            r.error(),
            format!("changing {field} needs the password again: the stored one is only sent where it was given for"),
            "{path} {body}"
        );
    }
    assert!(trap.received().is_empty(), "the stored password reached the new server: {:?}", trap.received());
    let shown = app.get("/api/v1/instances/db", &app.admin).await.json;
    assert_eq!((shown["port"].clone(), shown["user"].clone()), (json!(live_port()), json!("postgres")), "unchanged");

    // Restating the stored destination is no change (the toolkit resends whole bodies).
    let same = json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "tags": "env=prod"});
    let r = app.call(Method::PUT, &format!("{DS}/db"), t, Some(same)).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!({"status": "Connection updated!"})));
    // A stronger sslmode keeps the password.
    let r = app.call(Method::PUT, "/api/v1/instances/db", t, Some(json!({"sslmode": "require"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // With the password given, the change is made and only that password goes there.
    let body = json!({"port": port, "password": "given-for-the-trap", "sslmode": "disable"});
    let r = app.call(Method::PUT, "/api/v1/instances/db", t, Some(body)).await;
    assert_eq!((r.status, r.json["port"].clone()), (StatusCode::OK, json!(port)), "{}", r.text);
    assert_eq!(trap.received(), ["given-for-the-trap"]);
}

async fn sslmode_is_applied_by_the_connection_check(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    // The testkit cluster has no TLS: `require` cannot connect, and says why.
    let r = create(&app, "tls", json!({"sslmode": "require"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!((r.json["sslmode"].clone(), r.json["connected"].clone()), (json!("require"), json!(false)));
    let reason = r.json["last_error"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("server does not support TLS"), "{reason}");
    let r =
        app.call(Method::PUT, &format!("{DS}/tls"), t, Some(json!({"sslmode": "prefer", "password": SECRET}))).await;
    assert_eq!(r.json, json!({"status": "Connection updated!"}), "prefer falls back to plain: {}", r.text);
    let r =
        app.call(Method::PUT, &format!("{DS}/tls"), t, Some(json!({"sslmode": "disable", "password": SECRET}))).await;
    assert_eq!(r.json, json!({"status": "Connection updated!"}), "{}", r.text);
    let shown = app.get("/api/v1/instances/tls", &app.admin).await.json;
    assert_eq!((shown["sslmode"].clone(), shown["connected"].clone()), (json!("disable"), json!(true)));

    let body = json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": SECRET, "tags": "",
        "sslmode": "verify-full", "sslrootcert": "/etc/vigia/ca.pem"});
    let r = app.call(Method::POST, &format!("{DS}/verified"), t, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.json["status"].as_str().unwrap().contains("server does not support TLS"), "{}", r.text);
    let shown = app.get("/api/v1/instances/verified", &app.admin).await.json;
    assert_eq!(
        (shown["sslmode"].clone(), shown["sslrootcert"].clone()),
        (json!("verify-full"), json!("/etc/vigia/ca.pem"))
    );
    assert_eq!(app.get("/api/v1/instances/tls", &app.admin).await.json["sslrootcert"], Value::Null);

    for (body, error) in [
        (
            json!({"sslmode": "always"}),
            "invalid sslmode \"always\": expected disable, prefer, require, verify-ca or verify-full",
        ),
        (
            json!({"sslrootcert": "ca.pem"}),
            "invalid sslrootcert \"ca.pem\": expected an absolute path to a CA bundle (PEM)",
        ),
    ] {
        let r = app.call(Method::PUT, "/api/v1/instances/tls", t, Some(body.clone())).await;
        assert_eq!((r.status, r.error()), (StatusCode::BAD_REQUEST, error), "{body}");
    }

    let test = |sslmode: &str| {
        let body =
            json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": "x", "sslmode": sslmode});
        app.call(Method::POST, "/api/v1/instances/test-connection", t, Some(body))
    };
    let r = test("require").await;
    assert_eq!(r.json["ok"], false, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("server does not support TLS"), "{}", r.text);
    assert_eq!(test("disable").await.json["ok"], true);
}

/// Hole 8: connection tests (and so registrations, whose check is the same) reach only the
/// networks the operator allows in `[sampler] target_networks`: no probing the rest of the
/// network with `settings:write`, whatever the name resolves to.
async fn connection_checks_stay_within_the_operators_networks(b: Backend) {
    let mut config = TestApp::config();
    config.sampler.target_networks = vec!["10.0.0.0/8".into()];
    let app = TestApp::start_with(b, config).await;
    for host in ["127.0.0.1", "localhost"] {
        let body =
            json!({"host": host, "port": live_port(), "user": "postgres", "password": "x", "sslmode": "disable"});
        let r = app.call(Method::POST, "/api/v1/instances/test-connection", Some(&app.admin), Some(body)).await;
        assert_eq!(r.json["ok"], false, "{}", r.text);
        let error = r.json["error"].as_str().unwrap();
        assert!(error.contains("outside the networks the operator allows ([sampler] target_networks)"), "{error}");
    }
    // Without the restriction, the same check connects.
    let open = TestApp::start(b).await;
    let body =
        json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": "x", "sslmode": "disable"});
    let r = open.call(Method::POST, "/api/v1/instances/test-connection", Some(&open.admin), Some(body)).await;
    assert_eq!(r.json["ok"], true, "{}", r.text);
}

backend_tests!(
    a_changed_destination_needs_the_password_again,
    sslmode_is_applied_by_the_connection_check,
    connection_checks_stay_within_the_operators_networks
);

/// The sampler connects with the instance's `sslmode` too: `require` records why it cannot
/// connect, `disable` connects.
#[tokio::test]
async fn the_sampler_applies_sslmode() {
    let (store, _dir) = fresh_store(Backend::Sqlite).await;
    let tenant = store.ensure_tenant("default").await.unwrap();
    let require = InstanceUpdate { sslmode: Some(SslMode::Require), ..Default::default() };
    crate::support::sampled_instance(&store, tenant.id, live_port(), &require).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let metrics = MetricWriter::start(store.clone());
    let sampler = Sampler::new(store.clone(), secrets, metrics, tx, SamplerConfig::default())
        .with_poll_interval(Duration::from_millis(200))
        .with_max_backoff(Duration::from_millis(500))
        .spawn();

    let status = |want: fn(&vigia::store::Instance) -> bool| {
        let store = store.clone();
        async move {
            let start = Instant::now();
            loop {
                let i = store.instance_by_name(tenant.id, "pg1").await.unwrap().unwrap();
                if want(&i) {
                    return i;
                }
                assert!(start.elapsed() < Duration::from_secs(15), "timed out; last: {:?}", i.last_error);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let refused =
        status(|i| i.checked_at.is_some() && i.last_error.as_deref().is_some_and(|e| e.contains("TLS"))).await;
    assert!(!refused.connected);
    assert!(refused.last_error.unwrap().contains("server does not support TLS"));

    let disable = InstanceUpdate { sslmode: Some(SslMode::Disable), ..Default::default() };
    store.update_instance(tenant.id, "pg1", &disable).await.unwrap();
    let up = status(|i| i.connected).await;
    assert_eq!(up.last_error, None);
    sampler.abort();
}
