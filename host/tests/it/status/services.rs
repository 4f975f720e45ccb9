//! Services: creation with components, replacement, deletion, slug rules, the filtered and
//! paginated list, tenancy and scopes.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{send, service};
use crate::support::{Backend, TestApp};

async fn services_are_created_replaced_and_deleted_with_their_components(b: Backend) {
    let app = TestApp::start(b).await;
    let body = json!({
        "slug": "main-api", "name": "Main API", "description": "The API", "tags": ["prod", "customer-facing", "prod"],
        "components": [{"kind": "instance", "target": "db1"}, {"kind": "selector", "target": " environment = production , team=db"},
                       {"kind": "resource", "target": "https://example.com/health"}],
        "tenant_id": app.other_user.tenant_id,
    });
    let r = send(&app, Method::POST, "/api/v1/services", &app.admin, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["current_status"], "operational");
    assert_eq!(r.json["visibility"], "public");
    assert_eq!(r.json["tags"], json!(["prod", "customer-facing"]), "repeats dropped, order kept");
    assert_eq!(r.json["components"][1], json!({"kind": "selector", "target": "environment=production,team=db"}));
    // The body's tenant_id was ignored: the service is the caller's, not the other tenant's.
    assert_eq!(app.get(&format!("/api/v1/services/{id}"), &app.other_admin).await.status, StatusCode::NOT_FOUND);

    let again =
        send(&app, Method::POST, "/api/v1/services", &app.admin, json!({"slug": "main-api", "name": "x"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(again.error().contains("main-api"), "{}", again.text);
    // Another tenant may use the same slug.
    let theirs =
        send(&app, Method::POST, "/api/v1/services", &app.other_admin, json!({"slug": "main-api", "name": "x"})).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);

    let replaced = json!({"slug": "api", "name": "API", "visibility": "internal", "components": [{"kind": "instance", "target": "db2"}]});
    let r = send(&app, Method::PUT, &format!("/api/v1/services/{id}"), &app.admin, replaced).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json["slug"].as_str(), r.json["visibility"].as_str()), (Some("api"), Some("internal")));
    assert_eq!(r.json["components"], json!([{"kind": "instance", "target": "db2"}]));
    assert_eq!(r.json["tags"], json!([]));
    let got = app.get(&format!("/api/v1/services/{id}"), &app.admin).await;
    assert_eq!(got.json["components"], r.json["components"], "{}", got.text);

    for (bad, field) in [
        (json!({"slug": "Main API", "name": "x"}), "slug"),
        (json!({"slug": "-x", "name": "x"}), "slug"),
        (json!({"slug": "x", "name": "  "}), "name"),
        (json!({"slug": "x", "name": "x", "tags": [""]}), "tag"),
        (json!({"slug": "x", "name": "x", "components": [{"kind": "selector", "target": "env"}]}), "selector"),
        (json!({"slug": "x", "name": "x", "components": [{"kind": "instance", "target": "a b"}]}), "instance"),
        (json!({"slug": "x", "name": "x", "visibility": "secret"}), "`public` or `internal`"),
    ] {
        let r = send(&app, Method::POST, "/api/v1/services", &app.admin, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.error().contains(field), "{bad}: {}", r.text);
    }

    let deleted = app.call(Method::DELETE, &format!("/api/v1/services/{id}"), Some(&app.admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(app.get(&format!("/api/v1/services/{id}"), &app.admin).await.status, StatusCode::NOT_FOUND);
    let gone = app.call(Method::DELETE, &format!("/api/v1/services/{id}"), Some(&app.admin), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

async fn the_service_list_filters_and_paginates_within_bounds(b: Backend) {
    let app = TestApp::start(b).await;
    for slug in ["alpha", "beta", "gamma"] {
        service(&app, &app.admin, slug).await;
    }
    let internal = json!({"slug": "back-office", "name": "Back 100% office", "visibility": "internal"});
    assert_eq!(send(&app, Method::POST, "/api/v1/services", &app.admin, internal).await.status, StatusCode::CREATED);
    service(&app, &app.other_admin, "theirs").await;

    let all = app.get("/api/v1/services", &app.admin).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(
        (all.json["total"].as_i64(), all.json["limit"].as_i64(), all.json["offset"].as_i64()),
        (Some(4), Some(100), Some(0))
    );
    let names: Vec<&str> =
        all.json["services"].as_array().unwrap().iter().map(|s| s["slug"].as_str().unwrap()).collect();
    assert_eq!(names, ["back-office", "alpha", "beta", "gamma"], "by name, only the tenant's");

    let page = app.get("/api/v1/services?limit=2&offset=2", &app.admin).await;
    assert_eq!(page.json["total"], 4);
    assert_eq!(page.json["services"].as_array().unwrap().len(), 2);
    assert_eq!(page.json["services"][0]["slug"], "beta");
    let max = app.get("/api/v1/services?limit=200", &app.admin).await;
    assert_eq!(max.status, StatusCode::OK, "{}", max.text);

    let search = app.get("/api/v1/services?search=SERVICE%20BE", &app.admin).await;
    assert_eq!(search.json["total"], 1, "{}", search.text);
    assert_eq!(search.json["services"][0]["slug"], "beta");
    let percent = app.get("/api/v1/services?search=100%25", &app.admin).await;
    assert_eq!(percent.json["total"], 1, "a % searches for itself: {}", percent.text);
    let visible = app.get("/api/v1/services?visibility=internal", &app.admin).await;
    assert_eq!(visible.json["total"], 1, "{}", visible.text);
    let operational = app.get("/api/v1/services?status=operational", &app.admin).await;
    assert_eq!(operational.json["total"], 4, "{}", operational.text);
    let down = app.get("/api/v1/services?status=major_outage", &app.admin).await;
    assert_eq!(down.json["total"], 0, "{}", down.text);

    for query in ["limit=0", "limit=201", "offset=-1", "status=broken", "visibility=secret", "color=red"] {
        let r = app.get(&format!("/api/v1/services?{query}"), &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
    }
}

async fn services_are_hidden_from_other_tenants_and_read_tokens_cannot_change_them(b: Backend) {
    let app = TestApp::start(b).await;
    let id = service(&app, &app.admin, "main").await;
    let path = format!("/api/v1/services/{id}");
    let body = json!({"slug": "stolen", "name": "x"});
    for (method, body) in [(Method::GET, None), (Method::PUT, Some(body.clone())), (Method::DELETE, None)] {
        let r = app.call(method.clone(), &path, Some(&app.other_admin), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.text);
        assert_eq!(r.error(), "service not found");
    }
    let (_, reader) = app.api_token(&app.admin, &["read:status"]).await;
    assert_eq!(app.get(&path, &reader).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/services", &reader).await.status, StatusCode::OK);
    for (method, path) in
        [(Method::POST, "/api/v1/services"), (Method::PUT, path.as_str()), (Method::DELETE, path.as_str())]
    {
        let r = app.call(method.clone(), path, Some(&reader), Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "missing required scope: settings:write");
    }
    let (_, incidents_only) = app.api_token(&app.admin, &["write:incidents"]).await;
    let r = app.get("/api/v1/services", &incidents_only).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "missing required scope: read:status"));
    let kept = app.get(&path, &app.admin).await;
    assert_eq!(kept.json["slug"], "main", "nothing changed: {}", kept.text);
}

backend_tests!(
    services_are_created_replaced_and_deleted_with_their_components,
    the_service_list_filters_and_paginates_within_bounds,
    services_are_hidden_from_other_tenants_and_read_tokens_cannot_change_them,
);
