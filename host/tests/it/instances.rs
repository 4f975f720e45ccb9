//! Monitored instances through the real HTTP stack on both backends: the Datasentinel connection
//! contract (seed 001) request by request, then the native `/api/v1/instances` twin, sealing of
//! passwords, connection checks against real private clusters, tenancy, scopes, tags and toggles.

use crate::support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use support::{Backend, Resp, TestApp, SECRET_KEY};
use vigia::secrets::{SealedFor, SecretBox};

backend_tests!(
    seed_contract_request_by_request,
    missing_or_bad_token_is_401_on_every_connection_route,
    password_is_never_returned_nor_stored_in_clear,
    unreachable_server_is_stored_but_not_connected_and_says_why,
    stopped_server_turns_connected_false_and_back,
    other_tenants_connections_are_404_and_names_are_per_tenant,
    scopes_decide_who_reads_and_who_changes,
    bodies_are_validated_with_messages_that_name_the_problem,
    native_crud_list_and_tag_filter,
    native_toggles_change_one_setting_each,
    test_connection_reports_version_or_reason,
);

const DS: &str = "/ds-api/pool/pg-instances";

/// The shared private cluster's port: a server that accepts `postgres` with any password.
fn live_port() -> u16 {
    vigia_testkit::shared().port()
}

/// A request as the toolkit sends it: `user-token` header and `Content-Type: application/json`
/// on every call, even with an empty body.
async fn ds(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: &str) -> Resp {
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("user-token", t);
    }
    app.send(req.body(Body::from(body.to_string())).unwrap()).await
}

fn only_status(r: &Resp) -> &str {
    let object = r.json.as_object().unwrap_or_else(|| panic!("not a JSON object: {}", r.text));
    assert_eq!(object.len(), 1, "exactly one key `status`: {}", r.text);
    object["status"].as_str().unwrap_or_else(|| panic!("no status: {}", r.text))
}

fn seed_body(port: u16, password: &str) -> String {
    // The seed's example body, trailing comma included, pointed at a real server.
    format!(
        "{{\n    \"host\": \"127.0.0.1\",\n    \"port\": {port},\n    \"user\": \"postgres\",\n    \"password\": \"{password}\",\n    \"tags\": \"application=sales,environment=production,provider=amazon,datacenter=lyon\",\n}}"
    )
}

async fn seed_contract_request_by_request(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let path = format!("{DS}/sales-production");

    let r = ds(&app, Method::POST, &path, t, &seed_body(live_port(), "sentinel")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(only_status(&r), "Connection created and connected!");

    let r = ds(&app, Method::POST, &path, t, &seed_body(live_port(), "sentinel")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.error(), "connection \"sales-production\" already exists");

    let r = ds(&app, Method::GET, &path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let expected = json!({
        "name": "sales-production", "host": "127.0.0.1", "port": live_port(), "user": "postgres",
        "password": "********", "tags": "application=sales,environment=production,provider=amazon,datacenter=lyon",
        "enabled": true, "connected": true, "collection-rate": "low", "samples": false, "lock-monitoring": true,
        "lock-monitoring-delay": 30, "table-monitoring": true, "query-monitoring": true,
        "query-monitoring-optimize": false, "query-monitoring-min-calls": 2, "query-monitoring-min-time": 1
    });
    assert_eq!(r.json, expected, "the seed's fields and defaults, password masked");

    let r = ds(&app, Method::PUT, &path, t, r#"{"tags": "application=sales,environment=staging"}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "Connection updated!");
    let body = format!(
        r#"{{"host": "localhost", "port": "{}", "user": "postgres", "password": "x", "tags": ""}}"#,
        live_port()
    );
    let r = ds(&app, Method::PUT, &path, t, &body).await;
    assert_eq!(only_status(&r), "Connection updated!", "every field of the add body, port as a string");
    let shown = ds(&app, Method::GET, &path, t, "").await.json;
    assert_eq!((shown["host"].clone(), shown["tags"].clone()), (json!("localhost"), json!("")));
    // All fields are optional, so an empty body (the toolkit sends Content-Type anyway) changes nothing.
    assert_eq!(only_status(&ds(&app, Method::PUT, &path, t, "").await), "Connection updated!");

    for _ in 0..2 {
        let r = ds(&app, Method::PATCH, &format!("{path}/disable"), t, "").await;
        assert_eq!(r.status, StatusCode::OK, "disabling twice is fine: {}", r.text);
        assert_eq!(only_status(&r), "Connection disabled!");
    }
    let shown = ds(&app, Method::GET, &path, t, "").await.json;
    assert_eq!((shown["enabled"].clone(), shown["connected"].clone()), (json!(false), json!(false)));
    for _ in 0..2 {
        let r = ds(&app, Method::PATCH, &format!("{path}/enable"), t, "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(only_status(&r), "Connection enabled!");
    }
    let shown = ds(&app, Method::GET, &path, t, "").await.json;
    assert_eq!((shown["enabled"].clone(), shown["connected"].clone()), (json!(true), json!(true)));

    let r = ds(&app, Method::DELETE, &path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "Connection deleted!");

    for (method, suffix) in [
        (Method::GET, ""),
        (Method::PUT, ""),
        (Method::DELETE, ""),
        (Method::PATCH, "/disable"),
        (Method::PATCH, "/enable"),
    ] {
        let r = ds(&app, method.clone(), &format!("{path}{suffix}"), t, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {suffix}: {}", r.text);
        assert_eq!(r.error(), "connection \"sales-production\" not found");
    }
}

async fn missing_or_bad_token_is_401_on_every_connection_route(b: Backend) {
    let app = TestApp::start(b).await;
    let path = format!("{DS}/crm-production");
    for (method, suffix) in [
        (Method::POST, ""),
        (Method::GET, ""),
        (Method::PUT, ""),
        (Method::DELETE, ""),
        (Method::PATCH, "/disable"),
        (Method::PATCH, "/enable"),
    ] {
        for token in [None, Some("vgu_not-a-token")] {
            let r = ds(&app, method.clone(), &format!("{path}{suffix}"), token, "{}").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {suffix} {token:?}: {}", r.text);
            assert!(r.json.get("error").is_some(), "the toolkit detects failures by `error`: {}", r.text);
        }
    }
}

async fn password_is_never_returned_nor_stored_in_clear(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let secret = "Very-Secret-Pw-1734";
    let r = ds(&app, Method::POST, &format!("{DS}/crm"), t, &seed_body(live_port(), secret)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let answers = [
        ds(&app, Method::GET, &format!("{DS}/crm"), t, "").await,
        app.get("/api/v1/instances", &app.admin).await,
        app.get("/api/v1/instances/crm", &app.admin).await,
        app.call(Method::PATCH, "/api/v1/instances/crm/enable-samples", t, None).await,
    ];
    for r in &answers {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(!r.text.contains(secret), "password returned: {}", r.text);
    }
    assert_eq!(answers[2].json["password"], "********");

    let tenant = app.admin_user.tenant_id;
    let stored = app.store.instance_by_name(tenant, "crm").await.unwrap().unwrap();
    assert!(SecretBox::is_sealed(&stored.password_sealed), "{}", stored.password_sealed);
    assert!(!stored.password_sealed.contains(secret));
    let host_key = SecretBox::from_key(&SECRET_KEY);
    let owner = SealedFor::InstancePassword { tenant_id: tenant, instance_id: stored.id };
    assert_eq!(host_key.open(&stored.password_sealed, &owner).unwrap(), secret, "sealed under the host key");

    let r = ds(&app, Method::PUT, &format!("{DS}/crm"), t, r#"{"password": "Another-Pw-42"}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stored = app.store.instance_by_name(tenant, "crm").await.unwrap().unwrap();
    assert!(!stored.password_sealed.contains("Another-Pw-42"));
    assert_eq!(host_key.open(&stored.password_sealed, &owner).unwrap(), "Another-Pw-42");
}

async fn unreachable_server_is_stored_but_not_connected_and_says_why(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let closed = vigia_testkit::free_port();
    let r = ds(&app, Method::POST, &format!("{DS}/later"), t, &seed_body(closed, "pw")).await;
    assert_eq!(r.status, StatusCode::CREATED, "stored even though unreachable: {}", r.text);
    let status = only_status(&r);
    assert!(status.starts_with("Connection created but not connected: "), "{status}");
    assert!(status.to_lowercase().contains("refused"), "says why: {status}");

    let shown = ds(&app, Method::GET, &format!("{DS}/later"), t, "").await.json;
    assert_eq!((shown["enabled"].clone(), shown["connected"].clone()), (json!(true), json!(false)));
    let native = app.get("/api/v1/instances/later", &app.admin).await.json;
    assert!(native["last_error"].as_str().unwrap().to_lowercase().contains("refused"), "{native}");
    assert!(native["checked_at"].is_string());

    // Fixing the port through an update (a new destination: with the password) connects it and
    // clears the reason.
    let fix = format!(r#"{{"port": {}, "password": "pw"}}"#, live_port());
    let r = ds(&app, Method::PUT, &format!("{DS}/later"), t, &fix).await;
    assert_eq!(only_status(&r), "Connection updated!");
    let native = app.get("/api/v1/instances/later", &app.admin).await.json;
    assert_eq!((native["connected"].clone(), native["last_error"].clone()), (json!(true), Value::Null));
}

async fn stopped_server_turns_connected_false_and_back(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let cluster = vigia_testkit::PgCluster::start().expect("a private cluster we may stop");
    let r = ds(&app, Method::POST, &format!("{DS}/own"), t, &seed_body(cluster.port(), "pw")).await;
    assert_eq!(only_status(&r), "Connection created and connected!");
    cluster.stop().unwrap();
    let r = ds(&app, Method::PATCH, &format!("{DS}/own/enable"), t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(only_status(&r).starts_with("Connection enabled but not connected: "), "{}", r.text);
    assert_eq!(ds(&app, Method::GET, &format!("{DS}/own"), t, "").await.json["connected"], false);
    cluster.restart_server().unwrap();
    let r = ds(&app, Method::PATCH, &format!("{DS}/own/enable"), t, "").await;
    assert_eq!(only_status(&r), "Connection enabled!");
    assert_eq!(ds(&app, Method::GET, &format!("{DS}/own"), t, "").await.json["connected"], true);
}

async fn other_tenants_connections_are_404_and_names_are_per_tenant(b: Backend) {
    let app = TestApp::start(b).await;
    let (mine, theirs) = (Some(app.admin.as_str()), Some(app.other_admin.as_str()));
    let r = ds(&app, Method::POST, &format!("{DS}/shared-name"), mine, &seed_body(live_port(), "pw")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for (method, path) in [
        (Method::GET, format!("{DS}/shared-name")),
        (Method::PUT, format!("{DS}/shared-name")),
        (Method::PATCH, format!("{DS}/shared-name/disable")),
        (Method::DELETE, format!("{DS}/shared-name")),
        (Method::GET, "/api/v1/instances/shared-name".to_string()),
        (Method::PATCH, "/api/v1/instances/shared-name/enable-samples".to_string()),
        (Method::DELETE, "/api/v1/instances/shared-name".to_string()),
    ] {
        let r = ds(&app, method.clone(), &path, theirs, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "connection \"shared-name\" not found", "same as a missing one");
    }
    let list = app.get("/api/v1/instances", &app.other_admin).await;
    assert_eq!(list.json["instances"], json!([]));
    // Names are unique per tenant only.
    let r = ds(&app, Method::POST, &format!("{DS}/shared-name"), theirs, &seed_body(live_port(), "pw")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(ds(&app, Method::GET, &format!("{DS}/shared-name"), mine, "").await.json["enabled"], true);
}

async fn scopes_decide_who_reads_and_who_changes(b: Backend) {
    let app = TestApp::start(b).await;
    let r = ds(&app, Method::POST, &format!("{DS}/db1"), Some(&app.admin), &seed_body(live_port(), "pw")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (_, reader) = app.api_token(&app.admin, &["monitoring:read"]).await;
    assert_eq!(ds(&app, Method::GET, &format!("{DS}/db1"), Some(&reader), "").await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/instances", &reader).await.status, StatusCode::OK);
    for (method, path) in [
        (Method::POST, format!("{DS}/db2")),
        (Method::PUT, format!("{DS}/db1")),
        (Method::PATCH, format!("{DS}/db1/disable")),
        (Method::DELETE, format!("{DS}/db1")),
        (Method::POST, "/api/v1/instances/test-connection".into()),
        (Method::PATCH, "/api/v1/instances/db1/collection-rate/high".into()),
    ] {
        let r = ds(&app, method.clone(), &path, Some(&reader), &seed_body(live_port(), "pw")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "missing required scope: settings:write");
    }
    let (_, status_only) = app.api_token(&app.admin, &["read:status"]).await;
    let r = ds(&app, Method::GET, &format!("{DS}/db1"), Some(&status_only), "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error(), "missing required scope: monitoring:read");
    let (_, writer) = app.api_token(&app.admin, &["settings:write"]).await;
    let r = ds(&app, Method::PATCH, &format!("{DS}/db1/disable"), Some(&writer), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn bodies_are_validated_with_messages_that_name_the_problem(b: Backend) {
    let app = TestApp::start(b).await;
    let t = Some(app.admin.as_str());
    let port = live_port();
    let cases: Vec<(String, String, &str)> = vec![
        (
            "a".into(),
            format!(
                r#"{{"host": "h", "port": {port}, "user": "u", "password": "p", "tags": "application=sales,oops"}}"#
            ),
            "malformed tag \"oops\" (position 2)",
        ),
        (
            "a".into(),
            format!(r#"{{"host": "h", "port": {port}, "user": "u", "password": "p"}}"#),
            "missing required field(s): tags",
        ),
        ("a".into(), "".into(), "missing required field(s): host, port, user, password, tags"),
        ("a".into(), r#"{"host": "h", "port": 0, "user": "u", "password": "p", "tags": ""}"#.into(), "invalid port 0"),
        (
            "a".into(),
            r#"{"host": "h", "port": "x", "user": "u", "password": "p", "tags": ""}"#.into(),
            "port \"x\" is not a number",
        ),
        (
            "a".into(),
            format!(r#"{{"host": "h", "port": {port}, "user": "u", "password": "p", "tags": "", "colour": 1}}"#),
            "unknown field `colour`",
        ),
        (
            "a".into(),
            format!(
                r#"{{"host": "h", "port": {port}, "user": "u", "password": "p", "tags": "", "collection-rate": "fast"}}"#
            ),
            "invalid collection-rate \"fast\"",
        ),
        ("test-connection".into(), seed_body(port, "p"), "\"test-connection\" is reserved"),
        ("bad%20name".into(), seed_body(port, "p"), "invalid connection name \"bad name\""),
    ];
    for (name, body, expected) in cases {
        let r = ds(&app, Method::POST, &format!("{DS}/{name}"), t, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.error().contains(expected), "{body}: wanted {expected:?} in {}", r.text);
    }
    assert!(app.get("/api/v1/instances", &app.admin).await.json["instances"].as_array().unwrap().is_empty());
    let r = ds(&app, Method::POST, &format!("{DS}/a"), t, &seed_body(port, "p")).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = ds(&app, Method::PUT, &format!("{DS}/a"), t, r#"{"tags": "env=prod,=x"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("\"=x\" (position 2)") && r.error().contains("key is empty"), "{}", r.text);
    let r = ds(&app, Method::PUT, &format!("{DS}/a"), t, r#"{"tags": "env=prod""#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("invalid JSON body"), "{}", r.text);
}

async fn create_native(app: &TestApp, name: &str, body: Value) -> Resp {
    app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await
}

async fn native_crud_list_and_tag_filter(b: Backend) {
    let app = TestApp::start(b).await;
    let base = json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": "pw"});
    let with = |tags: &str, extra: Value| {
        let mut body = base.clone();
        body["tags"] = json!(tags);
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let r = create_native(&app, "sales-prod", with("env=prod,app=sales", json!({"collection_rate": "high"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["connected"], true);
    assert_eq!(r.json["collection_rate"], "high");
    assert_eq!(r.json["password"], "********");
    let r = create_native(&app, "sales-dev", with("env=dev,app=sales", json!({"lock-monitoring-delay": 5}))).await;
    assert_eq!(r.json["lock_monitoring_delay"], 5, "kebab-case names work natively too");
    let r = create_native(&app, "untagged", base.clone()).await;
    assert_eq!((r.status, r.json["tags"].clone()), (StatusCode::CREATED, json!("")), "tags optional natively");
    assert_eq!(create_native(&app, "untagged", base.clone()).await.status, StatusCode::CONFLICT);

    let names = |r: Resp| -> Vec<String> {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
    };
    let app = &app;
    let list = |q: &str| {
        let path = format!("/api/v1/instances{q}");
        async move { app.get(&path, &app.admin).await }
    };
    assert_eq!(names(list("").await), ["sales-dev", "sales-prod", "untagged"]);
    assert_eq!(names(list("?tags=env=prod").await), ["sales-prod"]);
    assert_eq!(names(list("?tags=app=sales").await), ["sales-dev", "sales-prod"]);
    assert_eq!(names(list("?tags=app=sales,env=dev").await), ["sales-dev"]);
    assert!(names(list("?tags=app=crm").await).is_empty());
    let r = list("?tags=app=sales,env").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("malformed tag \"env\" (position 2)"), "{}", r.text);

    let r = app
        .call(
            Method::PUT,
            "/api/v1/instances/untagged",
            Some(&app.admin),
            Some(json!({"tags": "env=test", "samples": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json["tags"].clone(), r.json["samples"].clone()), (json!("env=test"), json!(true)));
    assert_eq!(names(list("?tags=env=test").await), ["untagged"]);
    let r = app.call(Method::DELETE, "/api/v1/instances/untagged", Some(&app.admin), None).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!({"deleted": "untagged"})));
    assert_eq!(app.get("/api/v1/instances/untagged", &app.admin).await.status, StatusCode::NOT_FOUND);
    // The native form sees what the Datasentinel form wrote and vice versa.
    let shown = ds(app, Method::GET, &format!("{DS}/sales-prod"), Some(&app.admin), "").await;
    assert_eq!(
        (shown.json["collection-rate"].clone(), shown.json["tags"].clone()),
        (json!("high"), json!("env=prod,app=sales"))
    );
}

async fn native_toggles_change_one_setting_each(b: Backend) {
    let app = TestApp::start(b).await;
    let body = json!({"host": "127.0.0.1", "port": live_port(), "user": "postgres", "password": "pw"});
    assert_eq!(create_native(&app, "db", body).await.status, StatusCode::CREATED);
    let cases: &[(&str, &str, Value)] = &[
        ("enable-samples", "samples", json!(true)),
        ("disable-samples", "samples", json!(false)),
        ("disable-lock-monitoring", "lock_monitoring", json!(false)),
        ("enable-lock-monitoring", "lock_monitoring", json!(true)),
        ("lock-monitoring-delay/45", "lock_monitoring_delay", json!(45)),
        ("disable-table-monitoring", "table_monitoring", json!(false)),
        ("enable-table-monitoring", "table_monitoring", json!(true)),
        ("disable-query-monitoring", "query_monitoring", json!(false)),
        ("enable-query-monitoring", "query_monitoring", json!(true)),
        ("enable-query-monitoring-optimize", "query_monitoring_optimize", json!(true)),
        ("disable-query-monitoring-optimize", "query_monitoring_optimize", json!(false)),
        ("query-monitoring-min-calls/10", "query_monitoring_min_calls", json!(10)),
        ("query-monitoring-min-time/3", "query_monitoring_min_time", json!(3)),
        ("collection-rate/high", "collection_rate", json!("high")),
        ("collection-rate/low", "collection_rate", json!("low")),
        ("disable", "enabled", json!(false)),
        ("disable", "enabled", json!(false)),
        ("enable", "enabled", json!(true)),
    ];
    for (toggle, field, value) in cases {
        let before = app.get("/api/v1/instances/db", &app.admin).await.json;
        let r = app.call(Method::PATCH, &format!("/api/v1/instances/db/{toggle}"), Some(&app.admin), None).await;
        assert_eq!(r.status, StatusCode::OK, "{toggle}: {}", r.text);
        assert_eq!(&r.json[field], value, "{toggle}");
        let mut expected = before.clone();
        expected[*field] = value.clone();
        for volatile in ["updated_at", "checked_at", "connected"] {
            expected[volatile] = r.json[volatile].clone();
        }
        assert_eq!(r.json, expected, "{toggle} changes only {field}");
    }
    assert_eq!(app.get("/api/v1/instances/db", &app.admin).await.json["connected"], true, "enable re-checked");
    for (toggle, message) in [
        ("collection-rate/fast", "invalid collection-rate \"fast\""),
        ("lock-monitoring-delay/0", "invalid lock-monitoring-delay 0"),
        ("query-monitoring-min-calls/-1", "invalid query-monitoring-min-calls -1"),
        ("query-monitoring-min-time/soon", "invalid path parameter"),
    ] {
        let r = app.call(Method::PATCH, &format!("/api/v1/instances/db/{toggle}"), Some(&app.admin), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{toggle}: {}", r.text);
        assert!(r.error().contains(message), "{toggle}: {}", r.text);
    }
    let r = app.call(Method::PATCH, "/api/v1/instances/nope/enable-samples", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "connection \"nope\" not found");
}

async fn test_connection_reports_version_or_reason(b: Backend) {
    let app = TestApp::start(b).await;
    let call = |port: u16| {
        let body = json!({"host": "127.0.0.1", "port": port, "user": "postgres", "password": "pw"});
        app.call(Method::POST, "/api/v1/instances/test-connection", Some(&app.admin), Some(body))
    };
    let r = call(live_port()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json["ok"].clone(), r.json["error"].clone()), (json!(true), Value::Null));
    let version = r.json["server_version"].as_str().unwrap();
    assert!(version.chars().next().unwrap().is_ascii_digit(), "{version}");
    let r = call(vigia_testkit::free_port()).await;
    assert_eq!((r.status, r.json["ok"].clone()), (StatusCode::OK, json!(false)));
    assert!(r.json["error"].as_str().unwrap().to_lowercase().contains("refused"), "{}", r.text);
    assert!(app.get("/api/v1/instances", &app.admin).await.json["instances"].as_array().unwrap().is_empty());

    // A port that accepts TCP but never speaks PostgreSQL: the check gives up after 5 s.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = std::time::Instant::now();
    let r = call(silent.local_addr().unwrap().port()).await;
    let took = started.elapsed();
    assert_eq!(r.json["ok"], false, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("no answer from 127.0.0.1"), "{}", r.text);
    assert!(took >= std::time::Duration::from_secs(4) && took < std::time::Duration::from_secs(8), "{took:?}");
    drop(silent);

    let r =
        app.call(Method::POST, "/api/v1/instances/test-connection", Some(&app.admin), Some(json!({"host": "h"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("missing field"), "{}", r.text);
}
