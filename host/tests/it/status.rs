//! The status side (issue 9) through the real router on both backends, one module per
//! resource: services (`services`), incidents and their state machine (`incidents`), maintenance
//! windows, their state machine and the scheduler pass (`maintenance`). Each checks pagination
//! bounds, another tenant's resources answering 404, scope denials and refused moves (409).
//! `events`: incident and maintenance events delivered to the channels that ask for them.

mod derived;
mod events;
mod incidents;
mod maintenance;
mod page;
mod services;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Resp, TestApp};

/// Creates a service as the tenant admin `token` and returns its id.
async fn service(app: &TestApp, token: &str, slug: &str) -> i64 {
    let body = json!({"slug": slug, "name": format!("Service {slug}")});
    let r = app.call(Method::POST, "/api/v1/services", Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json["id"].as_i64().unwrap()
}

/// A call as `token` with a JSON body.
async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> Resp {
    app.call(method, path, Some(token), Some(body)).await
}
