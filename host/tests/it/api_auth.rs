//! Authentication, tokens, scopes and tenant isolation through the real HTTP stack, on both backends.

use crate::support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use serde_json::json;
use support::{add_user, Backend, TestApp, PASSWORD};
use vigia::store::{now_ms, NewToken, TokenKind};

backend_tests!(
    sign_in_with_json_or_basic_issues_a_24h_token,
    wrong_password_and_unknown_login_are_401,
    every_auth_header_form_is_accepted,
    missing_and_unknown_tokens_are_401,
    api_token_is_shown_once_listed_without_secret_and_revocable,
    expired_token_is_401,
    scopes_are_enforced_from_the_mapping,
    tokens_cannot_grant_scopes_the_caller_lacks,
    demoting_a_user_narrows_their_api_tokens_at_once,
    other_tenants_resources_are_404_like_missing_ones,
    developer_profile_is_limited_to_monitoring,
);

async fn sign_in_with_json_or_basic_issues_a_24h_token(b: Backend) {
    let app = TestApp::start(b).await;
    // "admin" exists in two tenants: the organization disambiguates.
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/token",
            None,
            Some(json!({"username": "admin", "password": PASSWORD, "organization": "default"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json["token"].as_str().unwrap().to_string();
    let expires =
        chrono::DateTime::parse_from_rfc3339(r.json["expires_at"].as_str().unwrap()).unwrap().timestamp_millis();
    let day = 24 * 3600 * 1000;
    assert!((expires - now_ms() - day).abs() < 60_000, "expires_at should be 24 h away");
    let me = app.get("/api/v1/health", &token).await;
    assert_eq!(me.json["tenant"], "default");

    let r = app
        .call(Method::POST, "/api/v1/auth/token", None, Some(json!({"username": "admin", "password": PASSWORD})))
        .await;
    // Ambiguous without an organization: the very answer of a wrong password, after the same
    // argon2 work, so it tells no stranger that the login exists in several tenants.
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "ambiguous login without organization: {}", r.text);
    let wrong = app
        .call(Method::POST, "/api/v1/auth/token", None, Some(json!({"username": "admin", "password": "wrong-one"})))
        .await;
    assert_eq!((wrong.status, wrong.text.as_str()), (r.status, r.text.as_str()));

    let tenant = app.store.tenant_by_name("default").await.unwrap().unwrap();
    add_user(&app.store, tenant.id, "carol@example.com", "read", "data admin").await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("carol@example.com:{PASSWORD}"));
    let req = Request::post("/api/v1/auth/token")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let carol = r.json["token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/health", carol).await.json["scopes"],
        json!(["read:status", "monitoring:read", "settings:read"])
    );
}

async fn wrong_password_and_unknown_login_are_401(b: Backend) {
    let app = TestApp::start(b).await;
    for (user, pass) in [("admin", "wrong-password"), ("nobody", PASSWORD)] {
        let body = json!({"username": user, "password": pass, "organization": "default"});
        let r = app.call(Method::POST, "/api/v1/auth/token", None, Some(body)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.error(), "invalid username or password");
    }
}

async fn every_auth_header_form_is_accepted(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, api) = app.api_token(&app.admin, &["read:status"]).await;
    for token in [&app.admin, &api] {
        for header in ["authorization", "x-api-token", "user-token"] {
            let value = if header == "authorization" { format!("Bearer {token}") } else { token.to_string() };
            let req = Request::get("/api/v1/health").header(header, value).body(Body::empty()).unwrap();
            let r = app.send(req).await;
            assert_eq!(r.status, StatusCode::OK, "{header}: {}", r.text);
            assert_eq!(r.json["ok"], true);
        }
    }
    let r = app.get("/api/v1/health", &api).await;
    assert_eq!(r.json["scopes"], json!(["read:status"]));
    assert_eq!(r.json["token_prefix"].as_str().unwrap(), &api[3..11]);
}

async fn missing_and_unknown_tokens_are_401(b: Backend) {
    let app = TestApp::start(b).await;
    let r = app.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.error().starts_with("missing token"), "{}", r.text);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = app.get("/api/v1/health", "vg_notarealtoken").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid token");
}

async fn api_token_is_shown_once_listed_without_secret_and_revocable(b: Backend) {
    let app = TestApp::start(b).await;
    let (id, token) = app.api_token(&app.admin, &["monitoring:read", "read:status"]).await;
    assert!(token.starts_with("vg_") && token.len() >= 3 + 22, "≥128 bits of base62: {token}");
    assert_eq!(app.get("/api/v1/health", &token).await.status, StatusCode::OK);

    let list = app.get("/api/v1/tokens", &app.admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&token[3..]), "secret must never be listed");
    let listed = list.json["tokens"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(listed["prefix"].as_str().unwrap(), &token[..11]);
    assert_eq!(listed["scopes"], json!(["read:status", "monitoring:read"]));
    assert!(listed["created_at"].is_string());

    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/health", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked tokens stop working at once");
    assert_eq!(r.error(), "token revoked");
    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = app.get("/api/v1/tokens", &app.admin).await;
    assert!(list.json["tokens"].as_array().unwrap().iter().all(|t| t["id"] != id));
}

async fn expired_token_is_401(b: Backend) {
    let app = TestApp::start(b).await;
    let minted = vigia::auth::secret::mint("vg_");
    app.store
        .create_token(&NewToken {
            tenant_id: app.admin_user.tenant_id,
            user_id: app.admin_user.id,
            kind: TokenKind::Api,
            name: "old",
            prefix: &minted.prefix,
            secret_hash: &minted.hash,
            scopes: "admin",
            expires_at: Some(now_ms() - 1),
        })
        .await
        .unwrap();
    let r = app.get("/api/v1/health", &minted.token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "token expired");
    let r = app
        .call(
            Method::POST,
            "/api/v1/tokens",
            Some(&app.admin),
            Some(json!({"name": "x", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("past"));
}

async fn scopes_are_enforced_from_the_mapping(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, reader) = app.api_token(&app.admin, &["read:status"]).await;
    let r = app.get("/api/v1/users", &reader).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.error(), "missing required scope: users:manage");
    let (_, manager) = app.api_token(&app.admin, &["users:manage"]).await;
    assert_eq!(app.get("/api/v1/users", &manager).await.status, StatusCode::OK);
    let r = app
        .call(Method::POST, "/api/v1/tokens", Some(&app.admin), Some(json!({"name": "x", "scopes": ["root"]})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "unknown scope: root");
}

async fn tokens_cannot_grant_scopes_the_caller_lacks(b: Backend) {
    let app = TestApp::start(b).await;
    let (_, narrow) = app.api_token(&app.admin, &["read:status"]).await;
    let r =
        app.call(Method::POST, "/api/v1/tokens", Some(&narrow), Some(json!({"name": "x", "scopes": ["admin"]}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.error().contains("cannot grant scope admin"), "{}", r.text);
    let (_, same) = app.api_token(&narrow, &["read:status"]).await;
    assert_eq!(app.get("/api/v1/health", &same).await.status, StatusCode::OK);
}

async fn demoting_a_user_narrows_their_api_tokens_at_once(b: Backend) {
    let app = TestApp::start(b).await;
    let bob = add_user(&app.store, app.admin_user.tenant_id, "bob", "admin", "data admin").await;
    let bob_session = app.ctx.auth.issue_user_token(&bob).await.unwrap().0;
    let (_, bob_api) = app.api_token(&bob_session, &["users:manage"]).await;
    assert_eq!(app.get("/api/v1/users", &bob_api).await.status, StatusCode::OK);
    let r = app
        .call(Method::PATCH, &format!("/api/v1/users/{}", bob.id), Some(&app.admin), Some(json!({"privilege": "read"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["privilege"], "read");
    assert_eq!(app.get("/api/v1/users", &bob_api).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/users", &bob_session).await.status, StatusCode::FORBIDDEN);
}

async fn other_tenants_resources_are_404_like_missing_ones(b: Backend) {
    let app = TestApp::start(b).await;
    let mine = app.admin_user.id;
    let foreign = app.get(&format!("/api/v1/users/{mine}"), &app.other_admin).await;
    let missing = app.get("/api/v1/users/999999", &app.other_admin).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.json, missing.json, "never reveal whether the id exists elsewhere");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{mine}"),
            Some(&app.other_admin),
            Some(json!({"privilege": "read"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call(Method::DELETE, &format!("/api/v1/users/{mine}"), Some(&app.other_admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let (id, token) = app.api_token(&app.admin, &["read:status"]).await;
    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.other_admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/health", &token).await.status, StatusCode::OK, "still valid");
    let listed = app.get("/api/v1/tokens", &app.other_admin).await;
    // Only its own sign-in: nothing of the other tenant.
    let listed = listed.json["tokens"].as_array().unwrap();
    assert!(listed.iter().all(|t| t["user_id"] == app.other_user.id && t["id"] != id), "{listed:?}");
    let users = app.get("/api/v1/users", &app.other_admin).await;
    assert_eq!(users.json["users"].as_array().unwrap().len(), 1);
}

async fn developer_profile_is_limited_to_monitoring(b: Backend) {
    let app = TestApp::start(b).await;
    let dev = add_user(&app.store, app.admin_user.tenant_id, "dev", "admin", "developer").await;
    let dev_token = app.ctx.auth.issue_user_token(&dev).await.unwrap().0;
    assert_eq!(app.get("/api/v1/users", &dev_token).await.status, StatusCode::OK, "admin privilege implies all");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", dev.id),
            Some(&app.admin),
            Some(json!({"privilege": "read write"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/api/v1/health", &dev_token).await;
    assert_eq!(r.json["scopes"], json!(["read:status", "monitoring:read", "monitoring:write"]));
}
