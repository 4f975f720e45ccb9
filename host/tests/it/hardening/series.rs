//! Hole 8 (metrics): a user restricted by roles reads only series about its instances, whatever
//! resource they are stored under: a collector reporting on an instance under its own resource
//! name (an `instance`/`pg_instance` label) does not leak that instance to users without it.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::store::now_ms;
use vigia::timeseries::{MetricWriter, Sample};

use crate::support::{Backend, TestApp, PASSWORD};

fn sample(tenant_id: i64, resource: &str, labels: &[(&str, &str)]) -> Sample {
    Sample {
        tenant_id,
        resource: resource.into(),
        metric: "up".into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        unit: None,
        ts: now_ms(),
        value: 1.0,
    }
}

async fn restricted_users_read_only_series_about_their_instances(b: Backend) {
    let app = TestApp::start(b).await;
    for (name, tags) in [("a", "env=prod"), ("b", "env=dev")] {
        let body = json!({"host": "db.example", "port": 5432, "user": "postgres", "password": "x", "tags": tags, "enabled": false});
        let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let role = json!({"name": "prod", "access": [{"filters": [{"tag": "env", "value": "prod"}]}]});
    assert_eq!(app.call(Method::POST, "/api/v1/roles", Some(&app.admin), Some(role)).await.status, StatusCode::CREATED);
    let user = json!({"login": "ops", "password": PASSWORD, "privilege": "read", "roles": ["prod"]});
    assert_eq!(app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(user)).await.status, StatusCode::CREATED);
    let ops = app.store.user_by_login(app.admin_user.tenant_id, "ops").await.unwrap().unwrap();
    let ops = app.ctx.auth.issue_user_token(&ops).await.unwrap().0;

    let tenant = app.admin_user.tenant_id;
    let writer = MetricWriter::start(app.store.clone());
    let samples = vec![
        sample(tenant, "pg-exporter", &[("pg_instance", "a")]),
        sample(tenant, "pg-exporter", &[("pg_instance", "b")]),
        sample(tenant, "pg-exporter", &[("instance", "b"), ("db", "x")]),
        sample(tenant, "pg-exporter", &[]),
        sample(tenant, "a", &[]),
    ];
    writer.write(samples, "test").await;
    writer.flush().await;

    assert_eq!(series_labels(&app, &app.admin).await.len(), 4, "unrestricted: every series");
    assert_eq!(series_labels(&app, &ops).await, [r#"{"pg_instance":"a"}"#], "only the series about instance a");
    let own = app.get("/api/v1/metrics/history?resource=a&range=1h", &ops).await;
    assert_eq!(own.json["series"].as_array().unwrap().len(), 1, "{}", own.text);
    assert_eq!(app.get("/api/v1/metrics/history?resource=b&range=1h", &ops).await.status, StatusCode::NOT_FOUND);
}

/// The labels of each series of resource `pg-exporter` `token` may read.
async fn series_labels(app: &TestApp, token: &str) -> Vec<String> {
    let r = app.get("/api/v1/metrics/history?resource=pg-exporter&range=1h", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["series"].as_array().unwrap().iter().map(|s| s["labels"].to_string()).collect()
}

backend_tests!(restricted_users_read_only_series_about_their_instances);
