//! The event stream's other publishers, each doing its real work on both backends and read
//! through `GET /api/v1/events`: the API's connection check against the private PostgreSQL
//! (`instance.connected`, then `instance.disconnected`), the plugin registry loading, failing
//! and reloading a real component (`plugin.*`, only for callers with `settings:read`), and the
//! delivery worker sending a notification to the dead-letter queue (hidden from callers whose
//! roles exclude its instance).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::alerting::Delivery;
use vigia::plugins::HostServices;
use vigia::secrets::SecretBox;
use vigia::store::now_ms;

use crate::dashboard::{fleet, raise, Frame, Next, Stream};
use crate::plugins_support::{bundle, set, Sandbox};
use crate::support::{Backend, TestApp, SECRET_KEY};

mt_backend_tests!(
    connection_checks_tell_connected_and_disconnected,
    plugin_loads_failures_and_reloads_reach_settings_readers,
    a_dead_letter_reaches_settings_readers_who_see_its_instance,
);

/// The next event that is not one of `skip`.
async fn next_except(stream: &mut Stream, skip: &[&str]) -> Frame {
    loop {
        let frame = stream.event().await;
        if !skip.contains(&frame.event.as_str()) {
            return frame;
        }
    }
}

async fn connection_checks_tell_connected_and_disconnected(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, _, mut live) = Stream::open(&app, &app.admin, None).await;
    let port = vigia_testkit::shared().port();
    let body = json!({"host": "127.0.0.1", "port": port, "user": "postgres", "password": "any", "sslmode": "disable"});
    let r = app.call(Method::POST, "/api/v1/instances/pg1", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["connected"], true, "{}", r.text);
    let added = live.event().await;
    assert_eq!((added.event.as_str(), &added.data["name"]), ("instance.added", &json!("pg1")));
    let connected = live.event().await;
    assert_eq!((connected.event.as_str(), &connected.data["connected"]), ("instance.connected", &json!(true)));

    // Pointed at a port nothing listens on: the check fails and says so.
    let body = json!({"host": "127.0.0.1", "port": 1, "user": "postgres", "password": "any", "sslmode": "disable"});
    let r = app.call(Method::PUT, "/api/v1/instances/pg1", Some(&app.admin), Some(body)).await;
    assert_eq!((r.status, &r.json["connected"]), (StatusCode::OK, &json!(false)), "{}", r.text);
    let lost = live.event().await;
    assert_eq!(lost.event, "instance.disconnected");
    assert!(lost.data["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{lost:?}");
    // The same outcome again is no news.
    let r = app.call(Method::PATCH, "/api/v1/instances/pg1/enable", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    live.quiet().await;

    let r = app.call(Method::DELETE, "/api/v1/instances/pg1", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(live.event().await.event, "instance.removed");
}

async fn plugin_loads_failures_and_reloads_reach_settings_readers(b: Backend) {
    let mut app = TestApp::start(b).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);
    let mut sb = Sandbox::new();
    // The server's wiring: the registry publishes on the store's bus.
    sb.services = HostServices::with_store(app.store.clone(), secrets.clone());
    let host = sb.start().await;
    app.ctx = vigia::server::context(app.store.clone(), &TestApp::config(), Some(host.clone()), secrets);
    app.router = vigia::api::app(app.ctx.clone());
    let (_, _, mut admin) = Stream::open(&app, &app.admin, None).await;
    let (_, monitoring) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let (_, _, mut narrow) = Stream::open(&app, &monitoring, None).await;

    // Two files make a plugin: the watcher may look in between and fail first.
    let (manifest, wasm) = bundle("misbehave");
    sb.write("late", &manifest, &wasm);
    let loaded = next_except(&mut admin, &["plugin.failed"]).await;
    assert_eq!((loaded.event.as_str(), &loaded.data["id"]), ("plugin.loaded", &json!("late")), "{loaded:?}");
    assert_eq!(loaded.data["kind"], "collector");

    std::fs::write(sb.dir.join("late/plugin.toml"), "id = \"late\"\nbogus = 1\n").unwrap();
    let failed = admin.event().await;
    assert_eq!((failed.event.as_str(), &failed.data["serving"]), ("plugin.failed", &json!(true)), "{failed:?}");
    assert!(failed.data["error"].as_str().unwrap().contains("bogus"), "{failed:?}");

    let mut newer = manifest.clone();
    set(&mut newer, "version", "0.2.0");
    sb.write("late", &newer, &wasm);
    let reloaded = next_except(&mut admin, &["plugin.failed"]).await;
    assert_eq!((reloaded.event.as_str(), &reloaded.data["version"]), ("plugin.reloaded", &json!("0.2.0")));

    // Plugins are settings: a monitoring-only token hears nothing of them.
    narrow.quiet().await;
    let state = app.get("/api/v1/state", &app.admin).await;
    assert_eq!(state.json["plugins"][0]["id"], "late", "{}", state.text);
    assert_eq!(state.json["totals"]["failed_plugins"], 0);
    assert!(app.get("/api/v1/state", &monitoring).await.json.get("plugins").is_none());
}

async fn a_dead_letter_reaches_settings_readers_who_see_its_instance(b: Backend) {
    let app = TestApp::start(b).await;
    let restricted = fleet(&app).await;
    let tenant = app.admin_user.tenant_id;
    // A channel whose configuration does not open: its first attempt is permanent, dead at once.
    let channel_id = crate::support::bare_channel(&app.store, tenant, "ops").await;
    let host = Sandbox::new().start().await;
    let delivery = Delivery::new(app.store.clone(), host, SecretBox::from_key(&SECRET_KEY), vec![Duration::ZERO]);
    let (_, _, mut admin) = Stream::open(&app, &app.admin, None).await;
    let (_, _, mut dev) = Stream::open(&app, &restricted, None).await;

    raise(&app, "db-disk", "critical", "db").await;
    assert_eq!(admin.event().await.event, "alert.opened");
    let report = delivery.run_once(now_ms()).await.unwrap();
    assert_eq!(report.dead, 1, "{report:?}");
    let dead = admin.event().await;
    assert_eq!(dead.event, "notification.dead-lettered", "{dead:?}");
    assert_eq!((dead.data["channel_id"].as_i64(), dead.data["attempts"].as_i64()), (Some(channel_id), Some(1)));
    // `db` is outside the restricted user's roles: neither the alert nor its dead letter.
    match dev.next(Duration::from_millis(500)).await {
        Next::Quiet => {}
        Next::Event(f) => panic!("the restricted user heard {f:?}"),
        Next::Ended => panic!("the stream ended"),
    }
}
