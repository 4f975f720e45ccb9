//! Hole 5: tokens do not outlive their parents. An API token is capped by the maximum lifetime
//! and by the API token minting it; an old sign-in mints only with the password; a password
//! change signs the user out; sign-in tokens are listed and revocable; and a revocation reaches
//! another process sharing the store at its next epoch check, not after the cache's 30 s.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::secrets::SecretBox;
use vigia::store::now_ms;

use crate::support::{add_user, Backend, Resp, TestApp, PASSWORD, SECRET_KEY};

const DAY: i64 = 86_400_000;

fn expiry(r: &Resp) -> Option<i64> {
    r.json["expires_at"].as_str().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis())
}

fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339()
}

async fn mint(app: &TestApp, by: &str, body: Value) -> Resp {
    app.call(Method::POST, "/api/v1/tokens", Some(by), Some(body)).await
}

async fn an_api_token_never_outlives_its_parent_or_the_maximum(b: Backend) {
    let app = TestApp::start(b).await;
    let now = now_ms();
    // From a sign-in and without an expiry: the maximum lifetime, not "never".
    let r = mint(&app, &app.admin, json!({"name": "ci", "scopes": ["monitoring:read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!((expiry(&r).unwrap() - (now + 365 * DAY)).abs() < 60_000, "{}", r.text);
    let r =
        mint(&app, &app.admin, json!({"name": "ci", "scopes": ["monitoring:read"], "expires_at": at(now + 900 * DAY)}))
            .await;
    assert!((expiry(&r).unwrap() - (now + 365 * DAY)).abs() < 60_000, "capped: {}", r.text);

    // A day-long API token mints nothing that outlives it.
    let parent = mint(&app, &app.admin, json!({"name": "p", "scopes": ["admin"], "expires_at": at(now + DAY)})).await;
    let parent_expiry = expiry(&parent).unwrap();
    let parent_token = parent.json["token"].as_str().unwrap();
    for body in [
        json!({"name": "child", "scopes": ["monitoring:read"]}),
        json!({"name": "child", "scopes": ["monitoring:read"], "expires_at": at(now + 30 * DAY)}),
    ] {
        let child = mint(&app, parent_token, body).await;
        assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
        assert_eq!(expiry(&child), Some(parent_expiry), "{}", child.text);
    }
    let shorter =
        mint(&app, parent_token, json!({"name": "c", "scopes": ["admin"], "expires_at": at(now + 3_600_000)}));
    assert!(expiry(&shorter.await).unwrap() < parent_expiry);

    // Tokens that never expire only when the operator says so.
    let mut config = TestApp::config();
    config.auth.max_token_lifetime_days = 0;
    let unlimited = TestApp::start_with(b, config).await;
    let r = mint(&unlimited, &unlimited.admin, json!({"name": "forever", "scopes": ["monitoring:read"]})).await;
    assert_eq!((r.status, &r.json["expires_at"]), (StatusCode::CREATED, &Value::Null), "{}", r.text);
}

async fn an_old_sign_in_mints_only_with_the_password(b: Backend) {
    let mut config = TestApp::config();
    // Every sign-in counts as old here (15 minutes in production).
    config.auth.sudo_after_minutes = 0;
    let app = TestApp::start_with(b, config).await;
    let body = |password: Option<&str>| {
        let mut body = json!({"name": "ci", "scopes": ["monitoring:read"]});
        if let Some(p) = password {
            body["password"] = p.into();
        }
        body
    };
    let r = mint(&app, &app.admin, body(None)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.error(), "this sign-in is too old to mint a token unconfirmed: repeat your password in \"password\"");
    let r = mint(&app, &app.admin, body(Some("not-the-password"))).await;
    assert_eq!((r.status, r.error()), (StatusCode::UNAUTHORIZED, "invalid username or password"));
    let r = mint(&app, &app.admin, body(Some(PASSWORD))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // An API token is bounded by its expiry instead: it mints without a password.
    let api = r.json["token"].as_str().unwrap();
    assert_eq!(mint(&app, api, body(None)).await.status, StatusCode::CREATED);
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> String {
    let body = json!({"username": login, "password": password, "organization": "default"});
    let r = app.call(Method::POST, "/api/v1/auth/token", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["token"].as_str().unwrap().to_string()
}

async fn sign_ins_are_listed_revocable_and_end_with_a_password_change(b: Backend) {
    let app = TestApp::start(b).await;
    add_user(&app.store, app.admin_user.tenant_id, "carol", "read", "data admin").await;
    let (laptop, phone) = (sign_in(&app, "carol", PASSWORD).await, sign_in(&app, "carol", PASSWORD).await);
    let (_, automation) = app.api_token(&laptop, &["monitoring:read"]).await;

    let listed = app.get("/api/v1/tokens", &laptop).await;
    let kinds: Vec<&str> =
        listed.json["tokens"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sign-in", "sign-in", "api"], "{}", listed.text);
    assert!(listed.json["tokens"][0]["prefix"].as_str().unwrap().starts_with("vgu_"), "{}", listed.text);
    let phone_id = listed.json["tokens"][1]["id"].as_i64().unwrap();
    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{phone_id}"), Some(&laptop), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.get("/api/v1/health", &phone).await.status, StatusCode::UNAUTHORIZED, "revoked at once");

    // A new password signs carol out everywhere; her automation keeps working.
    let change = json!({"password": "a-brand-new-passphrase"});
    let r = app.call(Method::PATCH, "/api/v1/users/carol", Some(&app.admin), Some(change)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.get("/api/v1/health", &laptop).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/health", &automation).await.status, StatusCode::OK);
    sign_in(&app, "carol", "a-brand-new-passphrase").await;
}

async fn a_revocation_reaches_another_process_at_its_next_epoch_check(b: Backend) {
    let app = TestApp::start(b).await;
    // A second host on the same store, with its own token cache.
    let other = vigia::server::context(app.store.clone(), &TestApp::config(), None, SecretBox::from_key(&SECRET_KEY));
    other.auth.sync_revocations().await.unwrap();
    let (id, token) = app.api_token(&app.admin, &["monitoring:read"]).await;
    assert!(other.auth.authenticate(&token).await.is_ok(), "cached by the other host now");
    assert!(!other.auth.sync_revocations().await.unwrap(), "nothing revoked yet: the cache stays");

    let r = app.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(other.auth.sync_revocations().await.unwrap(), "the epoch moved");
    let refused = other.auth.authenticate(&token).await;
    assert!(matches!(refused, Err(vigia::auth::AuthError::Revoked)), "{refused:?}");
}

backend_tests!(
    an_api_token_never_outlives_its_parent_or_the_maximum,
    an_old_sign_in_mints_only_with_the_password,
    sign_ins_are_listed_revocable_and_end_with_a_password_change,
    a_revocation_reaches_another_process_at_its_next_epoch_check,
);
