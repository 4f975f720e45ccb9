//! The API under the dashboard on both backends: `GET /api/v1/state` (contents, narrowing by
//! roles, scopes and tenant, `ETag`/304) and `GET /api/v1/events` read as a real stream through
//! the router (typed events, `Last-Event-ID` replay and `reload`, narrowing, a revoked token
//! ending the stream). `dashboard_sources` checks the other publishers (instances, plugins, dead
//! letters) with the same reader.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{Backend, Resp, TestApp, PASSWORD};

backend_tests!(
    the_snapshot_shows_what_the_caller_may_see,
    the_snapshot_narrows_to_one_instance,
    an_unchanged_snapshot_is_a_304,
    alert_changes_stream_and_resume_after_the_last_id,
    the_stream_hides_other_tenants_and_instances_outside_the_roles,
    a_revoked_token_ends_the_stream,
);

/// Registers a disabled instance (no connection attempt).
pub(crate) async fn register(app: &TestApp, name: &str, tags: &str) {
    let body =
        json!({"host": "db.example", "port": 5432, "user": "u", "password": "p", "tags": tags, "enabled": false});
    let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

pub(crate) async fn raise(app: &TestApp, key: &str, severity: &str, resource: &str) -> i64 {
    let body = json!({"dedup_key": key, "severity": severity, "summary": "checked by hand", "resource": resource});
    let r = app.call(Method::POST, "/api/v1/alerts", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_i64().unwrap()
}

/// Instances `db` (env=prod) and `dev` (env=dev), and a user whose only role covers `dev`.
pub(crate) async fn fleet(app: &TestApp) -> String {
    register(app, "db", "env=prod").await;
    register(app, "dev", "env=dev").await;
    let role = json!({"name": "devs", "access": [{"filters": [{"tag": "env", "value": "dev"}]}]});
    let r = app.call(Method::POST, "/api/v1/roles", Some(&app.admin), Some(role)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = json!({"login": "dev@example.com", "password": PASSWORD, "privilege": "admin", "roles": ["devs"]});
    let r = app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = app.store.user_by_login(app.admin_user.tenant_id, "dev@example.com").await.unwrap().unwrap();
    app.ctx.auth.issue_user_token(&user).await.unwrap().0
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v[key].as_str().unwrap().to_string()).collect()
}

/// The fleet, three alerts (one on a resource that is no instance), `dev` paused, one service;
/// answers the app and the restricted user's token.
async fn seeded(b: Backend) -> (TestApp, String) {
    let app = TestApp::start(b).await;
    let restricted = fleet(&app).await;
    raise(&app, "db-disk", "critical", "db").await;
    raise(&app, "dev-disk", "warning", "dev").await;
    raise(&app, "backup", "warning", "nightly-backup").await;
    let pause = json!({"until": "2099-01-01T00:00:00Z"});
    let r = app.call(Method::PATCH, "/api/v1/instances/dev/alerting/pause", Some(&app.admin), Some(pause)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let service = json!({"slug": "main", "name": "Main"});
    let r = app.call(Method::POST, "/api/v1/services", Some(&app.admin), Some(service)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (app, restricted)
}

async fn the_snapshot_shows_what_the_caller_may_see(b: Backend) {
    let (app, restricted) = seeded(b).await;

    let all = app.get("/api/v1/state", &app.admin).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(names(&all.json["instances"], "name"), ["db", "dev"]);
    let db = &all.json["instances"][0];
    assert_eq!(db["pg_instance"], "db.example@db");
    assert_eq!((db["connected"].as_bool(), db["enabled"].as_bool()), (Some(false), Some(false)));
    assert_eq!(db["open_alerts"], json!({"info": 0, "warning": 0, "critical": 1}));
    assert_eq!((db["paused"].as_bool(), &db["version"]), (Some(false), &Value::Null), "never sampled: no version");
    let dev = &all.json["instances"][1];
    assert_eq!((dev["paused"].as_bool(), &dev["paused_until"]), (Some(true), &json!("2099-01-01T00:00:00.000Z")));
    assert_eq!(dev["collection_rate"], "low", "{dev}");
    let resources = names(&all.json["alerts"], "resource");
    assert_eq!(resources, ["nightly-backup", "dev", "db"], "newest first");
    assert_eq!(all.json["totals"]["alerts"], json!({"info": 0, "warning": 2, "critical": 1}));
    assert_eq!(
        (all.json["totals"]["instances"].as_u64(), all.json["totals"]["disconnected"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(names(&all.json["services"], "slug"), ["main"]);
    assert_eq!(all.json["services"][0]["current_status"], "operational");
    assert_eq!(all.json["totals"]["services_not_operational"], 0);
    assert!(all.json.get("plugins").is_none(), "no plugin runtime in this app: {}", all.text);

    // Roles: `db` and its alert are absent, not merely hidden; alerts on no instance stay.
    let mine = app.get("/api/v1/state", &restricted).await;
    assert_eq!(names(&mine.json["instances"], "name"), ["dev"], "{}", mine.text);
    assert_eq!(names(&mine.json["alerts"], "resource"), ["nightly-backup", "dev"]);
    assert_eq!(mine.json["totals"]["alerts"], json!({"info": 0, "warning": 2, "critical": 0}));
    assert!(!mine.text.contains("db-disk") && !mine.text.contains("db.example@db"), "{}", mine.text);

    // Scopes: services only with read:status.
    let (_, monitoring) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let narrow = app.get("/api/v1/state", &monitoring).await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.text);
    assert!(narrow.json.get("services").is_none() && narrow.json["totals"].get("services_not_operational").is_none());
    assert_eq!(narrow.json["instances"].as_array().unwrap().len(), 2);
    let (_, status_only) = app.api_token(&app.admin, &["read:status"]).await;
    assert_eq!(app.get("/api/v1/state", &status_only).await.status, StatusCode::FORBIDDEN);

    // Another tenant sees nothing of this one.
    let theirs = app.get("/api/v1/state", &app.other_admin).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text);
    assert_eq!(
        (theirs.json["instances"].as_array().unwrap().len(), theirs.json["alerts"].as_array().unwrap().len()),
        (0, 0)
    );
    assert_eq!(theirs.json["services"], json!([]));
}

/// `?instance=`: that instance alone, its alerts and totals over them, no plugins or services;
/// an instance outside the caller's roles is the same 404 as a missing one.
async fn the_snapshot_narrows_to_one_instance(b: Backend) {
    let (app, restricted) = seeded(b).await;

    let dev = app.get("/api/v1/state?instance=dev", &app.admin).await;
    assert_eq!(dev.status, StatusCode::OK, "{}", dev.text);
    assert_eq!(names(&dev.json["instances"], "name"), ["dev"]);
    let it = &dev.json["instances"][0];
    assert_eq!((it["paused"].as_bool(), &it["paused_until"]), (Some(true), &json!("2099-01-01T00:00:00.000Z")));
    assert_eq!(it["open_alerts"], json!({"info": 0, "warning": 1, "critical": 0}));
    assert_eq!(names(&dev.json["alerts"], "resource"), ["dev"], "its alerts only");
    assert_eq!(dev.json["totals"]["instances"], 1);
    assert_eq!(dev.json["totals"]["alerts"], json!({"info": 0, "warning": 1, "critical": 0}));
    assert!(dev.json.get("services").is_none(), "{}", dev.text);
    assert!(!dev.text.contains("db.example@db") && !dev.text.contains("nightly-backup"), "{}", dev.text);
    // By `<server>@<name>` too; the whole snapshot is unchanged without the parameter.
    let by_pg = app.get("/api/v1/state?instance=db.example%40db", &app.admin).await;
    assert_eq!(names(&by_pg.json["instances"], "name"), ["db"], "{}", by_pg.text);
    assert_eq!(names(&by_pg.json["alerts"], "resource"), ["db"]);
    let all = app.get("/api/v1/state", &app.admin).await;
    assert_eq!(names(&all.json["instances"], "name"), ["db", "dev"]);
    assert_eq!(all.json["alerts"].as_array().unwrap().len(), 3);

    // Outside the roles, missing, or another tenant's: the same 404; empty: a 400.
    let hidden = app.get("/api/v1/state?instance=db", &restricted).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    assert!(!hidden.text.contains("db.example") && !hidden.text.contains("db-disk"), "{}", hidden.text);
    let missing = app.get("/api/v1/state?instance=nowhere", &restricted).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let error = |r: &Resp, name: &str| r.json["error"].as_str().unwrap().replace(name, "X");
    assert_eq!(error(&hidden, "db"), error(&missing, "nowhere"), "a hidden instance reads as a missing one");
    assert_eq!(app.get("/api/v1/state?instance=dev", &app.other_admin).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/state?instance=", &app.admin).await.status, StatusCode::BAD_REQUEST);
    let mine = app.get("/api/v1/state?instance=dev", &restricted).await;
    assert_eq!(names(&mine.json["instances"], "name"), ["dev"], "{}", mine.text);
}

async fn an_unchanged_snapshot_is_a_304(b: Backend) {
    let app = TestApp::start(b).await;
    register(&app, "db", "env=prod").await;
    let first = app.get("/api/v1/state", &app.admin).await;
    let tag = first.headers["etag"].to_str().unwrap().to_string();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
    let conditional = |tag: String| {
        Request::get("/api/v1/state")
            .header("authorization", format!("Bearer {}", app.admin))
            .header("if-none-match", tag)
            .body(Body::empty())
            .unwrap()
    };
    let same = app.send(conditional(tag.clone())).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!((same.text.as_str(), same.headers["etag"].to_str().unwrap()), ("", tag.as_str()));
    assert_eq!(app.send(conditional(format!("\"stale\", W/{tag}"))).await.status, StatusCode::NOT_MODIFIED);

    raise(&app, "disk", "warning", "db").await;
    let changed = app.send(conditional(tag.clone())).await;
    assert_eq!(changed.status, StatusCode::OK, "a change is a new body");
    assert_ne!(changed.headers["etag"].to_str().unwrap(), tag);
    assert_eq!(changed.json["alerts"].as_array().unwrap().len(), 1);
    // Another caller's view of the same tenant is its own body, its own tag.
    let theirs = app.send(conditional(tag)).await;
    assert_eq!(theirs.status, StatusCode::OK);
}

/// One event as received.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) event: String,
    pub(crate) id: Option<String>,
    pub(crate) data: Value,
}

pub(crate) enum Next {
    Event(Frame),
    /// Nothing within the wait.
    Quiet,
    Ended,
}

/// A live `GET /api/v1/events` response, read frame by frame.
pub(crate) struct Stream {
    body: Body,
    buf: String,
}

impl Stream {
    pub(crate) async fn open(app: &TestApp, token: &str, last_id: Option<&str>) -> (StatusCode, HeaderMap, Stream) {
        let mut req = Request::get("/api/v1/events").header("authorization", format!("Bearer {token}"));
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        let response = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, Stream { body: response.into_body(), buf: String::new() })
    }

    pub(crate) async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut frame = Frame { event: String::new(), id: None, data: Value::Null };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        frame.event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        frame.id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        frame.data = serde_json::from_str(v.trim()).unwrap();
                    }
                }
                if !frame.event.is_empty() {
                    return Next::Event(frame);
                }
                // A comment (heartbeat): not an event.
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Quiet,
                Ok(None) | Ok(Some(Err(_))) => return Next::Ended,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
        }
    }

    pub(crate) async fn event(&mut self) -> Frame {
        match self.next(Duration::from_secs(10)).await {
            Next::Event(frame) => frame,
            Next::Quiet => panic!("no event within 10 s"),
            Next::Ended => panic!("the stream ended"),
        }
    }

    /// Nothing arrives for a while (what must not be seen has had time to arrive).
    pub(crate) async fn quiet(&mut self) {
        match self.next(Duration::from_millis(500)).await {
            Next::Quiet => {}
            Next::Event(frame) => panic!("unexpected event {frame:?}"),
            Next::Ended => panic!("the stream ended"),
        }
    }
}

async fn alert_changes_stream_and_resume_after_the_last_id(b: Backend) {
    let app = TestApp::start(b).await;
    register(&app, "db", "env=prod").await;
    let (status, headers, mut live) = Stream::open(&app, &app.admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");

    let id = raise(&app, "disk", "critical", "db").await;
    let opened = live.event().await;
    assert_eq!(opened.event, "alert.opened", "{opened:?}");
    assert_eq!((opened.data["id"].as_i64(), &opened.data["resource"]), (Some(id), &json!("db")));
    assert_eq!((&opened.data["severity"], &opened.data["type"]), (&json!("critical"), &json!("alert.opened")));
    let ack = app.call(Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), Some(&app.admin), None).await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.text);
    let acknowledged = live.event().await;
    assert_eq!(
        (acknowledged.event.as_str(), &acknowledged.data["state"]),
        ("alert.acknowledged", &json!("acknowledged"))
    );
    let back = app.call(Method::POST, &format!("/api/v1/alerts/{id}/unacknowledge"), Some(&app.admin), None).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(live.event().await.event, "alert.unacknowledged");
    let cleared = app.call(Method::POST, &format!("/api/v1/alerts/{id}/clear"), Some(&app.admin), None).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    let resolved = live.event().await;
    assert_eq!(resolved.event, "alert.resolved");
    let ids: Vec<u64> =
        [&opened, &acknowledged, &resolved].iter().map(|f| f.id.as_ref().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    drop(live);

    // Reconnecting after `acknowledged` replays only what followed, then goes on live.
    let (_, _, mut resumed) = Stream::open(&app, &app.admin, acknowledged.id.as_deref()).await;
    assert_eq!(resumed.event().await.event, "alert.unacknowledged");
    assert_eq!(resumed.event().await.id, resolved.id);
    resumed.quiet().await;
    raise(&app, "load", "warning", "db").await;
    assert_eq!(resumed.event().await.event, "alert.opened");

    // An id older than what is kept (or never given): reload the snapshot, then resume from there.
    let (_, _, mut stale) = Stream::open(&app, &app.admin, Some("1")).await;
    let reload = stale.event().await;
    assert_eq!((reload.event.as_str(), &reload.data["reason"]), ("reload", &json!("gap")));
    let (_, _, mut after) = Stream::open(&app, &app.admin, reload.id.as_deref()).await;
    after.quiet().await;
}

async fn the_stream_hides_other_tenants_and_instances_outside_the_roles(b: Backend) {
    let app = TestApp::start(b).await;
    let restricted = fleet(&app).await;
    let (_, _, mut admin) = Stream::open(&app, &app.admin, None).await;
    let (_, _, mut dev) = Stream::open(&app, &restricted, None).await;
    let (_, _, mut other) = Stream::open(&app, &app.other_admin, None).await;
    let (_, monitoring) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let (_, _, mut narrow) = Stream::open(&app, &monitoring, None).await;

    raise(&app, "db-disk", "critical", "db").await;
    raise(&app, "dev-disk", "warning", "dev").await;
    register(&app, "db2", "env=prod").await;
    register(&app, "dev2", "env=dev").await;
    let incident = json!({"title": "Deploy failed"});
    let r = app.call(Method::POST, "/api/v1/incidents", Some(&app.admin), Some(incident)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let mut seen = Vec::new();
    for _ in 0..5 {
        let f = admin.event().await;
        seen.push(format!("{} {}", f.event, f.data["resource"].as_str().or(f.data["name"].as_str()).unwrap_or("-")));
    }
    assert_eq!(
        seen,
        ["alert.opened db", "alert.opened dev", "instance.added db2", "instance.added dev2", "incident.created -"]
    );
    // The restricted user hears of `dev` and `dev2` only, and of the incident (it reads status).
    let f = dev.event().await;
    assert_eq!((f.event.as_str(), &f.data["resource"]), ("alert.opened", &json!("dev")), "{f:?}");
    let f = dev.event().await;
    assert_eq!((f.event.as_str(), &f.data["name"]), ("instance.added", &json!("dev2")), "{f:?}");
    assert_eq!(dev.event().await.event, "incident.created");
    dev.quiet().await;
    // A token without read:status hears of instances and alerts, not of incidents.
    for _ in 0..4 {
        assert_ne!(narrow.event().await.event, "incident.created");
    }
    narrow.quiet().await;
    // Another tenant hears nothing.
    other.quiet().await;
}

async fn a_revoked_token_ends_the_stream(b: Backend) {
    let app = TestApp::start(b).await;
    register(&app, "db", "env=prod").await;
    let (id, token) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let (_, _, mut live) = Stream::open(&app, &token, None).await;
    raise(&app, "one", "warning", "db").await;
    assert_eq!(live.event().await.event, "alert.opened");
    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await;
    assert!(r.status.is_success(), "{}", r.text);
    raise(&app, "two", "warning", "db").await;
    match live.next(Duration::from_secs(10)).await {
        Next::Ended => {}
        Next::Event(frame) => panic!("a revoked token still receives {frame:?}"),
        Next::Quiet => panic!("the stream of a revoked token stayed open"),
    }
    let (status, _, _) = Stream::open(&app, &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
