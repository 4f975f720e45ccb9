//! The signed audit log: sign-ins (failed too), token, user and instance changes are recorded
//! with who, from where (request id) and what, never a secret; `GET /api/v1/audit` filters and
//! keeps tenants apart; the HMAC chain verifies, and a row altered in the database makes every
//! entry from it on fail, naming it.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, SqliteConnection};
use vigia::secrets::SecretBox;
use vigia::store::AuditWrite;

use crate::plugins_support::{Sandbox, Server};
use crate::support::{Backend, TestApp, PASSWORD, SECRET_KEY};

const WRONG_PASSWORD: &str = "wrong-password-attempt";
const NEW_PASSWORD: &str = "another-long-passphrase";
const INSTANCE_PASSWORD: &str = "instance-secret-pass";

async fn sign_in(app: &TestApp, organization: &str, password: &str) -> StatusCode {
    let body = json!({"username": "admin", "password": password, "organization": organization});
    app.call(Method::POST, "/api/v1/auth/token", None, Some(body)).await.status
}

/// The caller's entries, oldest first.
async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/audit{query}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    let mut list = r.json["entries"].as_array().unwrap().clone();
    list.reverse();
    list
}

fn actions(list: &[Value]) -> Vec<(String, bool)> {
    list.iter().map(|e| (e["action"].as_str().unwrap().to_string(), e["success"].as_bool().unwrap())).collect()
}

fn pairs(expected: &[(&str, bool)]) -> Vec<(String, bool)> {
    expected.iter().map(|(a, s)| (a.to_string(), *s)).collect()
}

async fn verify(app: &TestApp, token: &str, id: i64) -> (bool, String) {
    let r = app.get(&format!("/api/v1/audit/{id}/verify"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text);
    (r.json["verified"].as_bool().unwrap(), r.json["message"].as_str().unwrap().to_string())
}

/// Changes a stored row behind the store's back, as someone with database access would.
async fn tamper(app: &TestApp, b: Backend, id: i64) {
    alter(app, b, "UPDATE audit_log SET target = 'forged' WHERE id = $1", id).await;
}

async fn alter(app: &TestApp, b: Backend, sql: &str, id: i64) {
    match b {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&app.db_url).await.unwrap();
            assert_eq!(sqlx::query(sql).bind(id).execute(&mut conn).await.unwrap().rows_affected(), 1);
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&app.db_url).await.unwrap();
            assert_eq!(sqlx::query(sql).bind(id).execute(&mut conn).await.unwrap().rows_affected(), 1);
        }
    }
}

async fn sign_ins_tokens_users_and_instances_are_recorded_without_secrets(b: Backend) {
    let app = TestApp::start(b).await;
    assert_eq!(sign_in(&app, "default", WRONG_PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in(&app, "default", PASSWORD).await, StatusCode::OK);
    let (token_id, reader) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let revoke = Request::delete(format!("/api/v1/tokens/{token_id}"))
        .header("authorization", format!("Bearer {}", app.admin))
        .header("x-request-id", "audit-revoke-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(revoke).await.status, StatusCode::OK);
    let user = json!({"login": "bob", "password": PASSWORD});
    assert_eq!(app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(user)).await.status, StatusCode::CREATED);
    let change = json!({"password": NEW_PASSWORD});
    let r = app.call(Method::PATCH, "/api/v1/users/bob", Some(&app.admin), Some(change)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let instance =
        json!({"host": "db", "port": 5432, "user": "postgres", "password": INSTANCE_PASSWORD, "enabled": false});
    let r = app.call(Method::POST, "/api/v1/instances/db", Some(&app.admin), Some(instance)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Refused for lack of scope: recorded as a failure, with who tried.
    let (_, narrow) = app.api_token(&app.admin, &["monitoring:read"]).await;
    let r = app.call(Method::DELETE, "/api/v1/users/bob", Some(&narrow), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Reads are not recorded; a revoked token is refused before any caller is known (401).
    assert_eq!(app.get("/api/v1/users", &app.admin).await.status, StatusCode::OK);
    assert_eq!(
        app.call(Method::POST, "/api/v1/tokens", Some(&reader), Some(json!({}))).await.status,
        StatusCode::UNAUTHORIZED
    );

    let list = entries(&app, &app.admin, "").await;
    assert_eq!(
        actions(&list),
        pairs(&[
            ("auth.sign-in", false),
            ("auth.sign-in", true),
            ("token.create", true),
            ("token.revoke", true),
            ("user.create", true),
            ("user.update", true),
            ("instance.create", true),
            ("token.create", true),
            ("user.delete", false),
        ])
    );
    let text = serde_json::to_string(&list).unwrap();
    for secret in [WRONG_PASSWORD, PASSWORD, NEW_PASSWORD, INSTANCE_PASSWORD, app.admin.as_str(), &reader, &narrow] {
        assert!(!text.contains(secret), "{secret} leaked into the audit log: {text}");
    }

    let (failed, signed_in) = (&list[0], &list[1]);
    assert_eq!((failed["actor"].as_str(), failed["status"].as_i64()), (Some("admin"), Some(401)));
    assert_eq!((&failed["token"], &failed["details"]), (&Value::Null, &json!({"via": "password"})));
    assert_eq!(failed["target"], "default");
    assert!(signed_in["token"].as_str().unwrap().starts_with("vgu_"), "{signed_in}");
    let admin_prefix = &app.admin[..12];
    let created = &list[2];
    assert_eq!((created["actor"].as_str(), created["token"].as_str()), (Some("admin"), Some(admin_prefix)));
    assert!(created["target"].as_str().unwrap().starts_with(&format!("id={token_id} token=vg_")), "{created}");
    assert_eq!(created["details"]["keys"], json!(["name", "scopes"]));
    assert_eq!(created["status"], 201);
    let revoked = &list[3];
    assert_eq!(
        (revoked["target"].as_str(), revoked["request_id"].as_str()),
        (Some(&*format!("id={token_id}")), Some("audit-revoke-1"))
    );
    assert_eq!(list[4]["target"], "login=bob");
    assert_eq!((list[5]["target"].as_str(), &list[5]["details"]["keys"]), (Some("login=bob"), &json!(["password"])));
    let instance = &list[6];
    assert_eq!(instance["target"], "name=db");
    assert_eq!(instance["details"]["keys"], json!(["enabled", "host", "password", "port", "user"]));
    let refused = &list[8];
    assert_eq!((refused["status"].as_i64(), refused["target"].as_str()), (Some(403), Some("login=bob")));
    assert_eq!(refused["token"].as_str(), Some(&narrow[..11]));
    for e in &list {
        assert!(!e["request_id"].as_str().unwrap().is_empty() && e["hmac"].as_str().unwrap().len() == 64, "{e}");
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    let last = list.last().unwrap()["id"].as_i64().unwrap();
    assert!(verify(&app, &app.admin, last).await.0);
}

async fn filters_and_tenant_isolation(b: Backend) {
    let app = TestApp::start(b).await;
    assert_eq!(sign_in(&app, "default", WRONG_PASSWORD).await, StatusCode::UNAUTHORIZED);
    app.api_token(&app.admin, &["monitoring:read"]).await;
    assert_eq!(sign_in(&app, "other", WRONG_PASSWORD).await, StatusCode::UNAUTHORIZED);
    app.api_token(&app.other_admin, &["audit:read"]).await;
    assert_eq!(sign_in(&app, "default", PASSWORD).await, StatusCode::OK);

    let all = entries(&app, &app.admin, "").await;
    assert_eq!(actions(&all), pairs(&[("auth.sign-in", false), ("token.create", true), ("auth.sign-in", true)]));
    let others = entries(&app, &app.other_admin, "").await;
    assert_eq!(actions(&others), pairs(&[("auth.sign-in", false), ("token.create", true)]));
    assert_eq!(others[0]["target"], "other");

    let shared = &app;
    let only = |q: &'static str| async move { actions(&entries(shared, &shared.admin, q).await) };
    assert_eq!(only("?event=token.create").await, pairs(&[("token.create", true)]));
    assert_eq!(only("?event=auth").await, pairs(&[("auth.sign-in", false), ("auth.sign-in", true)]));
    assert_eq!(only("?event=auth.sign-in&success=false").await, pairs(&[("auth.sign-in", false)]));
    assert_eq!(only("?success=true&user=admin").await, pairs(&[("token.create", true), ("auth.sign-in", true)]));
    assert_eq!(only("?user=nobody").await, pairs(&[]));
    assert_eq!(only("?event=token.cre").await, pairs(&[]), "a family is a whole dotted prefix");
    assert_eq!(only("?from=2999-01-01T00:00:00Z").await, pairs(&[]));
    assert_eq!(only("?to=2000-01-01T00:00:00Z").await, pairs(&[]));
    assert_eq!(only("?from=2000-01-01T00:00:00Z&limit=1").await, pairs(&[("auth.sign-in", true)]));
    assert_eq!(only("?limit=1&offset=1").await, pairs(&[("token.create", true)]));
    for bad in ["?from=yesterday", "?limit=0", "?limit=1001", "?offset=-1", "?success=maybe", "?evnt=x"] {
        assert_eq!(app.get(&format!("/api/v1/audit{bad}"), &app.admin).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Another tenant's entry is missing to verify, and audit:read is needed at all.
    let theirs = others[1]["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/v1/audit/{theirs}/verify"), &app.admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(verify(&app, &app.other_admin, theirs).await.0);
    let (_, reader) = app.api_token(&app.admin, &["monitoring:read", "settings:read"]).await;
    assert_eq!(app.get("/api/v1/audit", &reader).await.status, StatusCode::FORBIDDEN);
    let (_, auditor) = app.api_token(&app.admin, &["audit:read"]).await;
    assert_eq!(app.get("/api/v1/audit", &auditor).await.status, StatusCode::OK);

    // Datasentinel's sign-in is recorded too, in the organization it names.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"));
    let req = Request::post("/ds-api/user-token/other")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);
    let ds = entries(&app, &app.other_admin, "?event=auth&success=true").await;
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(
        (&ds[0]["status"], &ds[0]["details"], &ds[0]["target"]),
        (&json!(201), &json!({"via": "ds-api"}), &json!("other"))
    );
}

async fn a_row_altered_in_the_database_fails_verification_from_it_on(b: Backend) {
    let app = TestApp::start(b).await;
    for _ in 0..4 {
        app.api_token(&app.admin, &["monitoring:read"]).await;
    }
    // The other tenant's entry sits in the same (host-wide) chain.
    app.api_token(&app.other_admin, &["monitoring:read"]).await;
    app.api_token(&app.admin, &["monitoring:read"]).await;
    let ids: Vec<i64> = entries(&app, &app.admin, "").await.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 6]);
    for &id in &ids {
        assert_eq!(verify(&app, &app.admin, id).await, (true, format!("entries 1 to {id} verify ({id} checked)")));
    }
    assert_eq!(app.ctx.audit.verify(None).await.unwrap(), Ok(6));

    tamper(&app, b, 3).await;
    for &id in &ids {
        let (verified, message) = verify(&app, &app.admin, id).await;
        assert_eq!(verified, id < 3, "{id}: {message}");
        if id >= 3 {
            assert!(message.starts_with("audit entry 3 does not verify"), "{id}: {message}");
        }
    }
    let broken = app.ctx.audit.verify(None).await.unwrap().unwrap_err();
    assert_eq!(broken.id, 3, "{broken}");
    // The forged value is what the API shows, but it no longer verifies.
    assert_eq!(entries(&app, &app.admin, "").await[2]["target"], "forged");
}

/// Removing a row breaks the chain at the next one; cutting rows off the end is noticed by the
/// chain's head.
async fn a_row_removed_or_cut_off_the_end_is_noticed(b: Backend) {
    let app = TestApp::start(b).await;
    for _ in 0..3 {
        app.api_token(&app.admin, &["monitoring:read"]).await;
    }
    alter(&app, b, "DELETE FROM audit_log WHERE id = $1", 2).await;
    let broken = app.ctx.audit.verify(None).await.unwrap().unwrap_err();
    assert_eq!((broken.id, broken.reason.as_str()), (3, "entries 2 to 2 are missing"));
    assert!(verify(&app, &app.admin, 1).await.0);
    let (verified, message) = verify(&app, &app.admin, 3).await;
    assert!(!verified && message.starts_with("audit entry 3 does not verify"), "{message}");

    alter(&app, b, "DELETE FROM audit_log WHERE id >= $1", 2).await;
    let broken = app.ctx.audit.verify(None).await.unwrap().unwrap_err();
    assert_eq!(broken.id, 2, "{broken}");
    assert!(broken.reason.contains("entries after 1 are missing"), "{broken}");
}

/// Host-wide and tenant configuration changes say which keys changed, never the values: the
/// operator's plugin configuration and a channel's, secrets and destinations included.
async fn plugin_and_channel_changes_record_keys_not_values(b: Backend) {
    let receiver = Server::start(&[("/hook", 200)]).await;
    let sandbox = Sandbox::new();
    sandbox.install("webhook", "webhook", |_| {});
    let host = sandbox.start().await;
    let mut app = TestApp::start(b).await;
    let secrets = SecretBox::from_key(&SECRET_KEY);
    app.ctx = vigia::server::context(app.store.clone(), &TestApp::config(), Some(host.clone()), secrets);
    app.router = vigia::api::app(app.ctx.clone());
    let url = receiver.url("/hook");
    let config = json!({"url": url, "secret": "operator-hmac-secret"});
    let r = app.call(Method::PUT, "/api/v1/plugins/webhook/config", Some(&app.admin), Some(config)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let channel = json!({"name": "ops", "plugin": "webhook", "config": {"url": url, "secret": "channel-hmac-secret"}});
    let r = app.call(Method::POST, "/api/v1/notifications/channels", Some(&app.admin), Some(channel)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();

    let list = entries(&app, &app.admin, "").await;
    assert_eq!(actions(&list), pairs(&[("plugin.config", true), ("channel.create", true)]));
    assert_eq!(
        (list[0]["target"].as_str(), &list[0]["details"]["keys"]),
        (Some("id=webhook"), &json!(["secret", "url"]))
    );
    assert_eq!(list[1]["target"], format!("id={id} name=ops"));
    assert_eq!(list[1]["details"]["keys"], json!(["config", "config.secret", "config.url", "name", "plugin"]));
    let text = serde_json::to_string(&list).unwrap();
    for value in ["operator-hmac-secret", "channel-hmac-secret", url.as_str()] {
        assert!(!text.contains(value), "{value} in the audit log: {text}");
    }
}

/// Appenders take turns on the chain's head: concurrent appends (several connections, as several
/// processes on one PostgreSQL would use) still make one unbroken chain with no id twice.
async fn concurrent_appends_make_one_chain(b: Backend) {
    let app = TestApp::start(b).await;
    let entry = |n: usize| AuditWrite {
        at: n as i64,
        tenant_id: app.admin_user.tenant_id,
        actor: format!("writer-{n}"),
        token_prefix: None,
        source_ip: None,
        request_id: format!("r{n}"),
        action: "test.append".into(),
        target: String::new(),
        success: true,
        status: 200,
        details: "{}".into(),
    };
    futures::future::join_all((0..24).map(|n| app.ctx.audit.record(entry(n)))).await;
    assert_eq!(app.ctx.audit.verify(None).await.unwrap(), Ok(24));
    let listed = entries(&app, &app.admin, "?limit=1000").await;
    let mut writers: Vec<&str> = listed.iter().map(|e| e["actor"].as_str().unwrap()).collect();
    writers.sort_unstable();
    writers.dedup();
    assert_eq!(writers.len(), 24, "every append stored once");
}

backend_tests!(
    sign_ins_tokens_users_and_instances_are_recorded_without_secrets,
    filters_and_tenant_isolation,
    a_row_altered_in_the_database_fails_verification_from_it_on,
    concurrent_appends_make_one_chain,
    plugin_and_channel_changes_record_keys_not_values,
    a_row_removed_or_cut_off_the_end_is_noticed
);
