//! Hole 4: `users:manage` is not full admin. A caller grants a privilege only if it holds every
//! scope of it, and cannot touch a user with more rights than itself, in both API forms.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "another-long-passphrase";

async fn a_users_manage_token_cannot_create_or_promote_an_admin(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, manager) = app.api_token(&app.admin, &["users:manage"]).await;
    let m = Some(manager.as_str());

    let body = json!({"login": "mallory", "password": PASSWORD, "privilege": "admin"});
    let r = app.call(Method::POST, "/api/v1/users", m, Some(body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.error(), "cannot grant privilege \"admin\": it needs scope admin, which you lack");
    let r = app
        .call(Method::POST, "/ds-api/users/m@x.io", m, Some(json!({"password": PASSWORD, "privilege": "admin"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Even `read` carries scopes this token lacks.
    let r = app.call(Method::POST, "/api/v1/users", m, Some(json!({"login": "r", "password": PASSWORD}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.error().contains("it needs scope read:status"), "{}", r.text);
    assert_eq!(app.get("/api/v1/users", &app.admin).await.json["users"].as_array().unwrap().len(), 1, "nobody created");

    // A manager that holds the reader's scopes creates readers, and cannot promote them.
    let (_, reader_manager) =
        app.api_token(&app.admin, &["users:manage", "read:status", "monitoring:read", "settings:read"]).await;
    let rm = Some(reader_manager.as_str());
    let r = app.call(Method::POST, "/api/v1/users", rm, Some(json!({"login": "r", "password": PASSWORD}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.call(Method::PATCH, "/api/v1/users/r", rm, Some(json!({"privilege": "read write"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.error().contains("it needs scope write:incidents"), "{}", r.text);
    let r = app.call(Method::PUT, "/ds-api/users/r", rm, Some(json!({"privilege": "admin"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app.call(Method::PATCH, "/api/v1/users/r", rm, Some(json!({"password": NEW_PASSWORD}))).await;
    assert_eq!(r.status, StatusCode::OK, "an equal user can be changed: {}", r.text);
    assert_eq!(app.get("/api/v1/users/r", &app.admin).await.json["privilege"], "read");
    // The full admin still grants anything.
    let r = app.call(Method::PATCH, "/api/v1/users/r", Some(&app.admin), Some(json!({"privilege": "admin"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn a_users_manage_token_cannot_touch_a_user_with_more_rights(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, manager) =
        app.api_token(&app.admin, &["users:manage", "read:status", "monitoring:read", "settings:read"]).await;
    let m = Some(manager.as_str());
    let instance =
        json!({"host": "db", "port": 5432, "user": "postgres", "password": "x", "tags": "env=none", "enabled": false});
    let r = app.call(Method::POST, "/api/v1/instances/db", Some(&app.admin), Some(instance)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let roles = app
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&app.admin),
            Some(json!({"name": "none", "access": [{"filters": [{"tag": "env", "value": "none"}]}]})),
        )
        .await;
    assert_eq!(roles.status, StatusCode::CREATED, "{}", roles.text);

    let changes = [
        json!({"password": NEW_PASSWORD}),
        json!({"privilege": "read"}),
        json!({"roles": ["none"]}),
        json!({"email": "attacker@evil.example"}),
    ];
    let boss = json!({"login": "boss", "password": PASSWORD, "privilege": "admin"});
    assert_eq!(app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(boss)).await.status, StatusCode::CREATED);

    // Neither the token's own (richer) owner nor another admin.
    // (The first admin is also the host's operator: the first right it has beyond the token is
    // `plugins:manage`.)
    for (login, beyond) in [("admin", "plugins:manage"), ("boss", "admin")] {
        for change in &changes {
            let r = app.call(Method::PATCH, &format!("/api/v1/users/{login}"), m, Some(change.clone())).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{login} {change}: {}", r.text);
            assert_eq!(r.error(), format!("user \"{login}\" has rights you lack ({beyond})"), "{change}");
        }
        for body in [json!({"password": NEW_PASSWORD}), json!({"privilege": "read"}), json!({"roles": ["none"]})] {
            let r = app.call(Method::PUT, &format!("/ds-api/users/{login}"), m, Some(body.clone())).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{login} {body}: {}", r.text);
        }
    }
    for path in ["/api/v1/users/boss", "/ds-api/users/boss"] {
        let r = app.call(Method::DELETE, path, m, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
    }

    // Nothing changed: both still sign in with the old password and are still admins.
    for login in ["admin", "boss"] {
        let user = app.get(&format!("/api/v1/users/{login}"), &app.admin).await.json;
        assert_eq!((&user["privilege"], &user["roles"], &user["email"]), (&json!("admin"), &json!([]), &json!(null)));
        let signed_in = app.call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": login, "password": PASSWORD, "organization": "default"})),
        );
        assert_eq!(signed_in.await.status, StatusCode::OK, "{login}");
    }
}

backend_tests!(
    a_users_manage_token_cannot_create_or_promote_an_admin,
    a_users_manage_token_cannot_touch_a_user_with_more_rights
);
