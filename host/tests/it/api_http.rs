//! HTTP conventions through the real stack on both backends: error shapes, body limits, request
//! ids, health probes, the Datasentinel-compatible sign-in, and the endpoint table vs OpenAPI.

use crate::support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use serde_json::json;
use support::{Backend, TestApp, PASSWORD};
use vigia::api::endpoints::{Access, ENDPOINTS};

backend_tests!(
    bad_json_is_400_with_line_and_column,
    oversized_body_is_413_json,
    every_response_has_a_request_id_and_5xx_quotes_it,
    health_probes_answer_without_storage_and_ready_fails_when_storage_is_down,
    unknown_routes_and_methods_are_json_errors,
    ds_api_sign_in_matches_datasentinel,
    every_endpoint_in_the_table_is_routed,
);

async fn bad_json_is_400_with_line_and_column(b: Backend) {
    let app = TestApp::start(b).await;
    let body = "{\n  \"name\": \"ci\",\n  \"scopes\": [\"read:status\"],\n}";
    let req = Request::post("/api/v1/tokens")
        .header("authorization", format!("Bearer {}", app.admin))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid JSON body: trailing comma at line 4 column 1");
    let r = app.call(Method::POST, "/api/v1/tokens", Some(&app.admin), Some(json!({"scopes": ["admin"]}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("missing field `name`"), "{}", r.text);
    let r = app.call(Method::DELETE, "/api/v1/tokens/abc", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().starts_with("invalid path parameter"), "{}", r.text);
}

async fn oversized_body_is_413_json(b: Backend) {
    let app = TestApp::start(b).await;
    let big = format!("{{\"name\": \"{}\", \"scopes\": []}}", "x".repeat(2 * 1024 * 1024));
    let req = Request::post("/api/v1/tokens")
        .header("authorization", format!("Bearer {}", app.admin))
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error(), "request body is larger than the 1048576-byte limit");
    // A declared length over the limit is refused before the body is read.
    let req = Request::post("/api/v1/tokens")
        .header("authorization", format!("Bearer {}", app.admin))
        .header("content-length", "5000000")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn every_response_has_a_request_id_and_5xx_quotes_it(b: Backend) {
    let app = TestApp::start(b).await;
    for (path, token) in
        [("/health", None), ("/api/v1/health", None), ("/nowhere", None), ("/api/v1/users", Some(&app.admin))]
    {
        let r = app.call(Method::GET, path, token.map(String::as_str), None).await;
        let id = r.headers["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 32, "{path}: {id}");
    }
    let req = Request::get("/health").header("x-request-id", "edge-proxy-42").body(Body::empty()).unwrap();
    assert_eq!(app.send(req).await.headers["x-request-id"], "edge-proxy-42");

    // The admin token is cached by the calls above; with storage gone the handler itself fails.
    app.store.close().await;
    let r = app.get("/api/v1/users", &app.admin).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.error(), "internal server error");
    assert_eq!(r.json["request_id"].as_str().unwrap(), r.headers["x-request-id"].to_str().unwrap());
    assert!(!r.text.contains("pool"), "internals stay in the log: {}", r.text);
}

async fn health_probes_answer_without_storage_and_ready_fails_when_storage_is_down(b: Backend) {
    let app = TestApp::start(b).await;
    let r = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["status"], "ready");
    assert_eq!(r.json["checks"]["storage"]["status"], "ok");
    assert!(r.json["checks"]["storage"]["duration_ms"].is_number());

    app.store.close().await;
    let r = app.call(Method::GET, "/health", None, None).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "OK"));
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    let r = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!({"status": "ok"})));
    let r = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["status"], "not_ready");
    assert_eq!(r.json["checks"]["storage"]["status"], "failed");
    assert!(r.json["checks"]["storage"]["error"].is_string());
}

async fn unknown_routes_and_methods_are_json_errors(b: Backend) {
    let app = TestApp::start(b).await;
    let r = app.call(Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error(), "no route for GET /api/v1/nothing");
    let r = app.call(Method::PUT, "/api/v1/tokens", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.error().contains("not allowed"));
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

async fn ds_api_sign_in_matches_datasentinel(b: Backend) {
    let app = TestApp::start(b).await;
    let r = app.call(Method::GET, "/ds-api/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["status"], "OK");

    // The toolkit: curl -u user:pass -X POST https://host/ds-api/user-token/{organization}
    let req = Request::post("/ds-api/user-token/other")
        .header("authorization", basic("admin", PASSWORD))
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = r.json["user-token"].as_str().unwrap().to_string();
    assert_eq!(r.json.as_object().unwrap().len(), 1);

    // …then every call carries the `user-token` header.
    let req = Request::get("/api/v1/health").header("user-token", &token).body(Body::empty()).unwrap();
    assert_eq!(app.send(req).await.json["tenant"], "other");

    let r = app.call(Method::GET, &format!("/ds-api/user-token?token={token}"), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["user"], "admin");
    assert_eq!(r.json["organization_name"], "other");
    let expire = r.json["expire_time"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(expire, "%Y-%m-%d %H:%M:%S").is_ok(), "{expire}");

    let req = Request::post("/ds-api/user-token/default")
        .header("authorization", basic("admin", "nope-nope"))
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json.get("error").is_some(), "the toolkit detects failures by the error key");
    let req = Request::post("/ds-api/user-token/nosuchorg")
        .header("authorization", basic("admin", PASSWORD))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
    let r = app.call(Method::POST, "/ds-api/user-token", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.error().contains("Basic"));
    let r = app.call(Method::GET, "/ds-api/user-token?token=bogus", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The toolkit's first versions: GET with Basic credentials, 200. The login must be unique
    // across tenants when no organization is named.
    let tenant = app.store.tenant_by_name("default").await.unwrap().unwrap();
    support::add_user(&app.store, tenant.id, "dba@example.com", "read write", "data admin").await;
    let req = Request::get("/ds-api/user-token")
        .header("authorization", basic("dba@example.com", PASSWORD))
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json["user-token"].is_string());
}

async fn every_endpoint_in_the_table_is_routed(b: Backend) {
    let app = TestApp::start(b).await;
    for e in ENDPOINTS {
        // Every `{param}` gets a plain value (ids must be numbers, so "1" for all).
        let path = e.path.split('/').map(|s| if s.starts_with('{') { "1" } else { s }).collect::<Vec<_>>().join("/");
        let r = app.call(e.method.clone(), &path, None, None).await;
        assert!(!r.text.contains("no route for"), "{} {} is in the table but not routed", e.method, e.path);
        if e.access != Access::Public {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{} {} must require a token", e.method, e.path);
        }
    }
}

/// The endpoint table and the OpenAPI document list exactly the same operations.
#[test]
fn openapi_documents_every_route_and_nothing_else() {
    let doc = vigia::api::openapi();
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in json["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    let mut table: Vec<(String, String)> =
        ENDPOINTS.iter().map(|e| (e.method.to_string(), e.path.to_string())).collect();
    documented.sort();
    table.sort();
    assert_eq!(documented, table);
}
