//! Tag-based RBAC through the real HTTP stack on both backends: roles (AND inside a filter set,
//! OR across sets, built-in tags, tag pairs that must exist), users holding them (`roles` and the
//! deprecated `role`), what a restricted user or its API tokens see (lists, displays, toggles,
//! metric history: out of scope is the same 404 as missing), and the Datasentinel forms
//! `/ds-api/roles/{name}` and `/ds-api/users/{email}` request by request.

use crate::support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use serde_json::{json, Value};
use support::{Backend, Resp, TestApp, PASSWORD};

backend_tests!(
    and_inside_a_set_or_across_sets,
    out_of_scope_instances_are_404_like_missing_ones,
    new_matching_instances_join_and_role_changes_apply_at_once,
    tag_pairs_no_instance_has_and_malformed_access_are_400,
    builtin_pg_instance_server_and_name_tags_filter,
    deprecated_role_maps_to_roles_and_users_show_their_roles,
    role_deletion_is_refused_while_held,
    ds_roles_contract_request_by_request,
    ds_users_contract_request_by_request,
    api_tokens_of_a_restricted_user_are_restricted_too,
    scopes_still_decide_what_a_restricted_user_may_do,
);

/// Registers a disabled instance (no connection attempt, so any host name will do).
async fn register(app: &TestApp, name: &str, host: &str, tags: &str) {
    let body = json!({"host": host, "port": 5432, "user": "postgres", "password": "x", "tags": tags, "enabled": false});
    let r = app.call(Method::POST, &format!("/api/v1/instances/{name}"), Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// `access` of a role from `[[(tag, value), …], …]`.
fn access(sets: &[&[(&str, &str)]]) -> Value {
    let sets: Vec<Value> = sets
        .iter()
        .map(|set| json!({"filters": set.iter().map(|(t, v)| json!({"tag": t, "value": v})).collect::<Vec<_>>()}))
        .collect();
    Value::Array(sets)
}

async fn create_role(app: &TestApp, name: &str, sets: &[&[(&str, &str)]]) {
    let r = app
        .call(Method::POST, "/api/v1/roles", Some(&app.admin), Some(json!({"name": name, "access": access(sets)})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// Creates a user through the API with these roles and returns a user token of it.
async fn user_with(app: &TestApp, login: &str, privilege: &str, roles: &[&str]) -> String {
    let body = json!({"login": login, "password": PASSWORD, "privilege": privilege, "roles": roles});
    let r = app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = app.store.user_by_login(app.admin_user.tenant_id, login).await.unwrap().unwrap();
    app.ctx.auth.issue_user_token(&user).await.unwrap().0
}

/// Names in `GET /api/v1/instances` for this token.
async fn visible(app: &TestApp, token: &str) -> Vec<String> {
    let r = app.get("/api/v1/instances", token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

/// A request as Datasentinel's toolkit sends it: `user-token` header and a JSON content type.
async fn ds(app: &TestApp, method: Method, path: &str, token: &str, body: &str) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-token", token)
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(req).await
}

fn only_status(r: &Resp) -> &str {
    let object = r.json.as_object().unwrap_or_else(|| panic!("not a JSON object: {} {}", r.status, r.text));
    assert_eq!(object.len(), 1, "exactly one key `status`: {}", r.text);
    object["status"].as_str().unwrap_or_else(|| panic!("no status: {}", r.text))
}

/// Four instances: a and b in production (London, Paris), c in development with the CRM, d sales.
async fn fleet(app: &TestApp) {
    register(app, "a", "db1.example", "env=prod,dc=london").await;
    register(app, "b", "db2.example", "env=prod,dc=paris").await;
    register(app, "c", "db3.example", "env=dev,dc=london,app=crm").await;
    register(app, "d", "db3.example", "app=sales").await;
}

async fn and_inside_a_set_or_across_sets(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "london-prod-or-crm", &[&[("env", "prod"), ("dc", "london")], &[("app", "crm")]]).await;
    create_role(&app, "sales", &[&[("app", "sales")]]).await;
    let alice = user_with(&app, "alice", "read", &["london-prod-or-crm"]).await;
    assert_eq!(visible(&app, &alice).await, ["a", "c"], "a: both tags of set 1; c: set 2; b lacks dc=london");
    let bob = user_with(&app, "bob", "read", &["london-prod-or-crm", "sales"]).await;
    assert_eq!(visible(&app, &bob).await, ["a", "c", "d"], "the union of both roles");
    let carol = user_with(&app, "carol", "read", &[]).await;
    assert_eq!(visible(&app, &carol).await, ["a", "b", "c", "d"], "no roles: the whole tenant");
    assert_eq!(visible(&app, &app.admin).await, ["a", "b", "c", "d"]);
    // The `?tags=` filter narrows within the scope, never beyond it.
    let r = app.get("/api/v1/instances?tags=env=prod", &alice).await;
    let names: Vec<&str> =
        r.json["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a"]);
}

async fn out_of_scope_instances_are_404_like_missing_ones(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "london-prod", &[&[("env", "prod"), ("dc", "london")]]).await;
    // An admin privilege, so any refusal below comes from the role, not from a scope.
    let t = user_with(&app, "ops", "admin", &["london-prod"]).await;

    for path in ["/api/v1/instances/b", "/ds-api/pool/pg-instances/b"] {
        let r = ds(&app, Method::GET, path, &t, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(r.error(), "connection \"b\" not found", "{path}");
        assert_eq!(ds(&app, Method::GET, path, &app.admin, "").await.status, StatusCode::OK, "{path} exists");
    }
    let missing = app.get("/api/v1/instances/zz", &t).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "connection \"zz\" not found", "out of scope reads exactly like missing");
    assert_eq!(app.get("/api/v1/instances/a", &t).await.status, StatusCode::OK);

    // Writes on an out-of-scope instance: 404 and nothing changes.
    let r = app.call(Method::PATCH, "/api/v1/instances/b/enable-samples", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.call(Method::PUT, "/api/v1/instances/b", Some(&t), Some(json!({"tags": "env=prod,dc=london"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    for path in ["/api/v1/instances/b", "/ds-api/pool/pg-instances/b"] {
        let r = app.call(Method::DELETE, path, Some(&t), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
    }
    let r = ds(&app, Method::PATCH, "/ds-api/pool/pg-instances/b/enable", &t, "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let b_now = app.get("/api/v1/instances/b", &app.admin).await.json;
    assert_eq!((b_now["samples"].clone(), b_now["enabled"].clone()), (json!(false), json!(false)));
    assert_eq!(b_now["tags"], "env=prod,dc=paris");

    let r = app.call(Method::PATCH, "/api/v1/instances/a/enable-samples", Some(&t), None).await;
    assert_eq!((r.status, r.json["samples"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);

    // Metric history of an instance follows the instance; other resources show a restricted
    // user only series about its instances (none here).
    let r = app.get("/api/v1/metrics/history?resource=b", &t).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(app.get("/api/v1/metrics/history?resource=b", &app.admin).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/metrics/history?resource=a", &t).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/metrics/history?resource=http-check", &t).await.status, StatusCode::OK);
}

async fn new_matching_instances_join_and_role_changes_apply_at_once(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    let t = user_with(&app, "ops", "read", &["prod"]).await;
    assert_eq!(visible(&app, &t).await, ["a", "b"]);
    register(&app, "e", "db9.example", "env=prod,dc=tokyo").await;
    register(&app, "f", "db9.example", "env=test").await;
    assert_eq!(visible(&app, &t).await, ["a", "b", "e"], "a new matching instance joins the scope");
    // Retagging moves an instance in or out at once.
    let r = app.call(Method::PUT, "/api/v1/instances/f", Some(&app.admin), Some(json!({"tags": "env=prod"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(visible(&app, &t).await, ["a", "b", "e", "f"]);
    // Changing the role's access applies to the next request of its holders.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/roles/prod",
            Some(&app.admin),
            Some(json!({"access": access(&[&[("env", "dev")]])})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["access"], access(&[&[("env", "dev")]]));
    assert_eq!(visible(&app, &t).await, ["c"]);
    let listed = app.get("/api/v1/roles", &app.admin).await;
    assert_eq!(listed.json["roles"].as_array().unwrap().len(), 1, "{}", listed.text);
    assert_eq!(listed.json["roles"][0]["name"], "prod");
}

async fn tag_pairs_no_instance_has_and_malformed_access_are_400(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&app.admin),
            Some(json!({"name": "crm", "access": access(&[&[("env", "prod")], &[("application", "crm")]])})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "tag pair application=crm matches no instance");
    assert_eq!(app.get("/api/v1/roles/crm", &app.admin).await.status, StatusCode::NOT_FOUND, "nothing stored");

    let body = r#"{"access": [{"filters": [{"tag": "env", "value": "staging"}]}]}"#;
    let r = ds(&app, Method::POST, "/ds-api/roles/crm", &app.admin, body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "tag pair env=staging matches no instance");

    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    let r = ds(&app, Method::PUT, "/ds-api/roles/prod", &app.admin, body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "updates are checked too: {}", r.text);
    assert_eq!(r.error(), "tag pair env=staging matches no instance");

    for (bad, says) in [
        (r#"{"access": []}"#, "at least one filter set"),
        (r#"{"access": [{"filters": []}]}"#, "filter set 1 has no filters"),
        (r#"{"access": [{"filters": [{"tag": "env"}]}]}"#, "value"),
        (r#"{"access": "env=prod"}"#, "invalid JSON body"),
        (r#"{}"#, "access"),
        ("", "access"),
        ("[", "invalid JSON body"),
    ] {
        let r = ds(&app, Method::POST, "/ds-api/roles/x", &app.admin, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.error().contains(says), "{bad}: {}", r.text);
    }
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&app.admin),
            Some(json!({"name": "a/b", "access": access(&[&[("env", "prod")]])})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.error().contains("invalid role name"), "{}", r.text);
}

async fn builtin_pg_instance_server_and_name_tags_filter(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "one", &[&[("pg_instance", "db1.example@a")]]).await;
    create_role(&app, "host3", &[&[("server", "db3.example")]]).await;
    create_role(&app, "host3-crm", &[&[("server", "db3.example"), ("app", "crm")], &[("name", "b")]]).await;
    let one = user_with(&app, "one", "read", &["one"]).await;
    assert_eq!(visible(&app, &one).await, ["a"]);
    let host3 = user_with(&app, "host3", "read", &["host3"]).await;
    assert_eq!(visible(&app, &host3).await, ["c", "d"]);
    let mixed = user_with(&app, "mixed", "read", &["host3-crm"]).await;
    assert_eq!(visible(&app, &mixed).await, ["b", "c"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&app.admin),
            Some(json!({"name": "x", "access": access(&[&[("pg_instance", "db2.example@a")]])})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "host and name of different instances: {}", r.text);
}

async fn deprecated_role_maps_to_roles_and_users_show_their_roles(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    create_role(&app, "dev", &[&[("env", "dev")]]).await;
    let a = Some(app.admin.as_str());

    let r = app
        .call(
            Method::POST,
            "/api/v1/users",
            a,
            Some(json!({"login": "old@x.io", "password": PASSWORD, "role": "prod"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["roles"], json!(["prod"]));
    assert_eq!(r.json["email"], "old@x.io");
    let user = app.store.user_by_login(app.admin_user.tenant_id, "old@x.io").await.unwrap().unwrap();
    let token = app.ctx.auth.issue_user_token(&user).await.unwrap().0;
    assert_eq!(visible(&app, &token).await, ["a", "b"]);

    let r = app.call(Method::PATCH, "/api/v1/users/old@x.io", a, Some(json!({"role": "dev"}))).await;
    assert_eq!((r.status, r.json["roles"].clone()), (StatusCode::OK, json!(["dev"])), "{}", r.text);
    assert_eq!(visible(&app, &token).await, ["c"]);
    // The numeric id still addresses the user.
    let r = app
        .call(Method::PATCH, &format!("/api/v1/users/{}", user.id), a, Some(json!({"roles": ["dev", "prod"]})))
        .await;
    assert_eq!((r.status, r.json["roles"].clone()), (StatusCode::OK, json!(["dev", "prod"])), "{}", r.text);
    assert_eq!(visible(&app, &token).await, ["a", "b", "c"]);

    let r = app.call(Method::PATCH, "/api/v1/users/old@x.io", a, Some(json!({"role": "dev", "roles": ["dev"]}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.error().contains("not both"), "{}", r.text);
    let r = app.call(Method::PATCH, "/api/v1/users/old@x.io", a, Some(json!({"roles": ["dev", "nope"]}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "role \"nope\" does not exist");
    let r = app
        .call(Method::POST, "/api/v1/users", a, Some(json!({"login": "n", "password": PASSWORD, "role": "nope"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "role \"nope\" does not exist");
    assert!(app.store.user_by_login(app.admin_user.tenant_id, "n").await.unwrap().is_none(), "nothing created");

    let r = app.get("/api/v1/users/old@x.io", &app.admin).await;
    assert_eq!(r.json["roles"], json!(["dev", "prod"]), "unchanged by the refused updates: {}", r.text);
    let listed = app.get("/api/v1/users", &app.admin).await;
    let roles: Vec<(String, Value)> = listed.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["login"].as_str().unwrap().to_string(), u["roles"].clone()))
        .collect();
    assert_eq!(roles, [("admin".to_string(), json!([])), ("old@x.io".to_string(), json!(["dev", "prod"]))]);

    let r = app.call(Method::PATCH, "/api/v1/users/old@x.io", a, Some(json!({"roles": []}))).await;
    assert_eq!(r.json["roles"], json!([]), "{}", r.text);
    assert_eq!(visible(&app, &token).await, ["a", "b", "c", "d"], "no roles again: the whole tenant");
}

async fn role_deletion_is_refused_while_held(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    user_with(&app, "u1", "read", &["prod"]).await;
    user_with(&app, "u2", "read", &["prod"]).await;

    let r = ds(&app, Method::DELETE, "/ds-api/roles/prod", &app.admin, "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.error().contains("held by 2 user(s)"), "{}", r.text);
    let r = app.call(Method::DELETE, "/api/v1/roles/prod", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get("/api/v1/roles/prod", &app.admin).await.status, StatusCode::OK, "still there");

    let r = app.call(Method::PATCH, "/api/v1/users/u1", Some(&app.admin), Some(json!({"roles": []}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.call(Method::DELETE, "/api/v1/users/u2", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = ds(&app, Method::DELETE, "/ds-api/roles/prod", &app.admin, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "Role deleted!");
    let r = app.call(Method::DELETE, "/api/v1/roles/prod", Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.error(), "role \"prod\" not found");
}

async fn ds_roles_contract_request_by_request(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    let t = app.admin.as_str();
    let path = "/ds-api/roles/london%20dba";
    // The body as documented, with a trailing comma as the toolkit's examples have.
    let body = r#"{"access": [{"filters": [{"tag": "env", "value": "prod"}, {"tag": "dc", "value": "london"},]}]}"#;

    let r = ds(&app, Method::POST, path, t, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(only_status(&r), "Role created!");
    let r = ds(&app, Method::POST, path, t, body).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.error(), "role \"london dba\" already exists");

    let r = ds(&app, Method::GET, path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json!({"name": "london dba", "access": access(&[&[("env", "prod"), ("dc", "london")]])}));

    let r = ds(&app, Method::PUT, path, t, r#"{"access": [{"filters": [{"tag": "app", "value": "crm"}]}]}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "Role updated!");
    assert_eq!(ds(&app, Method::GET, path, t, "").await.json["access"], access(&[&[("app", "crm")]]));

    let r = ds(&app, Method::DELETE, path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "Role deleted!");
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = ds(&app, method.clone(), path, t, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.text);
        assert_eq!(r.error(), "role \"london dba\" not found", "{method}");
    }
    // Another tenant's roles are not there.
    let r = ds(&app, Method::POST, "/ds-api/roles/mine", t, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(ds(&app, Method::GET, "/ds-api/roles/mine", &app.other_admin, "").await.status, StatusCode::NOT_FOUND);
}

async fn ds_users_contract_request_by_request(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    let t = app.admin.as_str();
    let path = "/ds-api/users/jane@example.com";

    let r = ds(&app, Method::POST, path, t, &format!(r#"{{"password": "{PASSWORD}"}}"#)).await;
    assert_eq!(r.status, StatusCode::CREATED, "`password` alone: {}", r.text);
    assert_eq!(only_status(&r), "User created!");
    let r = ds(&app, Method::POST, path, t, &format!(r#"{{"password": "{PASSWORD}"}}"#)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.error(), "user \"jane@example.com\" already exists");

    let r = ds(&app, Method::GET, path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (&r.json["login"], &r.json["email"], &r.json["privilege"], &r.json["profile"], &r.json["roles"]),
        (&json!("jane@example.com"), &json!("jane@example.com"), &json!("read"), &json!("data admin"), &json!([]))
    );
    assert!(!r.text.contains("argon2") && r.json.get("password_hash").is_none(), "{}", r.text);

    // She signs in with that password through the toolkit's token call.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("jane@example.com:{PASSWORD}"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ds-api/user-token")
        .header("authorization", format!("Basic {basic}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);

    let full = format!(
        r#"{{"password": "{PASSWORD}", "privilege": "read write", "profile": "developer", "live_360": true, "role": "prod",}}"#
    );
    let r = ds(&app, Method::POST, "/ds-api/users/john@example.com", t, &full).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(only_status(&r), "User created!");
    let john = ds(&app, Method::GET, "/ds-api/users/john@example.com", t, "").await.json;
    assert_eq!(
        (&john["privilege"], &john["profile"], &john["roles"]),
        (&json!("read write"), &json!("developer"), &json!(["prod"]))
    );

    let r = ds(&app, Method::POST, "/ds-api/users/l@example.com", t, r#"{"ldap": true, "privilege": "read"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "LDAP authentication is not supported");
    let r = ds(&app, Method::POST, "/ds-api/users/l@example.com", t, r#"{"privilege": "read"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "missing required field: password");
    let r = ds(
        &app,
        Method::POST,
        "/ds-api/users/l@example.com",
        t,
        &format!(r#"{{"password": "{PASSWORD}", "roles": ["ghost"]}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error(), "role \"ghost\" does not exist");
    let r = ds(
        &app,
        Method::POST,
        "/ds-api/users/l@example.com",
        t,
        &format!(r#"{{"password": "{PASSWORD}", "privilege": "root"}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = ds(&app, Method::PUT, path, t, r#"{"privilege": "admin", "roles": ["prod"]}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "User updated!");
    let jane = ds(&app, Method::GET, path, t, "").await.json;
    assert_eq!((&jane["privilege"], &jane["roles"]), (&json!("admin"), &json!(["prod"])));
    let r = ds(&app, Method::PUT, path, t, "").await;
    assert_eq!(only_status(&r), "User updated!", "an empty body changes nothing");

    let r = ds(&app, Method::DELETE, path, t, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(only_status(&r), "User deleted!");
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = ds(&app, method.clone(), path, t, "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.text);
    }
    let r = ds(&app, Method::DELETE, "/ds-api/users/admin", t, "").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not yourself: {}", r.text);
}

async fn api_tokens_of_a_restricted_user_are_restricted_too(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "paris", &[&[("dc", "paris")]]).await;
    let session = user_with(&app, "ops", "read", &["paris"]).await;
    let (_, api) = app.api_token(&session, &["monitoring:read"]).await;
    assert_eq!(visible(&app, &api).await, ["b"]);
    assert_eq!(app.get("/api/v1/instances/a", &api).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/instances/b", &api).await.status, StatusCode::OK);
    // The token follows its owner's roles as they change.
    let r = app.call(Method::PATCH, "/api/v1/users/ops", Some(&app.admin), Some(json!({"roles": []}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(visible(&app, &api).await, ["a", "b", "c", "d"]);
    // An admin's own token minted for a restricted purpose is not restricted by anything else.
    let (_, admin_api) = app.api_token(&app.admin, &["monitoring:read"]).await;
    assert_eq!(visible(&app, &admin_api).await, ["a", "b", "c", "d"]);
}

async fn scopes_still_decide_what_a_restricted_user_may_do(b: Backend) {
    let app = TestApp::start(b).await;
    fleet(&app).await;
    create_role(&app, "prod", &[&[("env", "prod")]]).await;
    let reader = user_with(&app, "reader", "read", &["prod"]).await;
    assert_eq!(app.get("/api/v1/instances/a", &reader).await.status, StatusCode::OK, "in scope, may read");
    let r = app.call(Method::PATCH, "/api/v1/instances/a/enable-samples", Some(&reader), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.error(), "missing required scope: settings:write");
    let r = ds(&app, Method::PUT, "/ds-api/pool/pg-instances/a", &reader, r#"{"tags": "env=dev"}"#).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for (method, path) in [
        (Method::GET, "/api/v1/roles"),
        (Method::GET, "/api/v1/roles/prod"),
        (Method::GET, "/ds-api/roles/prod"),
        (Method::POST, "/ds-api/roles/mine"),
        (Method::GET, "/ds-api/users/reader"),
        (Method::PUT, "/ds-api/users/reader"),
    ] {
        let r = ds(&app, method.clone(), path, &reader, r#"{"roles": []}"#).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "missing required scope: users:manage", "{method} {path}");
    }
    assert_eq!(app.get("/api/v1/users/reader", &app.admin).await.json["roles"], json!(["prod"]), "unchanged");
    // A writer with roles may register instances, whatever their tags.
    let writer = user_with(&app, "writer", "admin", &["prod"]).await;
    let body =
        json!({"host": "h", "port": 5432, "user": "postgres", "password": "x", "tags": "env=dev", "enabled": false});
    let r = app.call(Method::POST, "/api/v1/instances/new", Some(&writer), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(visible(&app, &writer).await, ["a", "b"], "but sees only what its roles match");
}
