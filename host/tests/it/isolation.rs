//! The isolation matrix, generated from `api::endpoints::ENDPOINTS` (issue 11): for every route,
//! no token is a 401; a token holding every scope but the route's is a 403; another tenant's
//! admin naming a resource that exists is answered exactly as a missing resource is; and a user
//! whose roles exclude an instance gets, for it, the answer of a missing instance. A new route
//! joins the matrix by being in the table, and fails here until its path parameters are known.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::api::endpoints::{Access, ENDPOINTS};
use vigia::auth::Scope;

use crate::support::{Backend, Resp, TestApp, PASSWORD};

/// One resource of each kind in the `default` tenant, and its missing twin.
struct Fixture {
    app: TestApp,
    rule_id: i64,
    alert_id: i64,
    channel_id: i64,
    token_id: i64,
    service_id: i64,
    incident_id: i64,
    /// A maintenance window.
    window_id: i64,
    /// An audit entry of the `default` tenant.
    audit_id: i64,
    /// A report schedule.
    schedule_id: i64,
    /// A user of `default` whose only role excludes instance `db`.
    restricted: String,
}

/// Creates `what` through the API as the operator and returns the answer's `id` (or 0).
async fn created(app: &TestApp, method: Method, path: &str, body: Value) -> i64 {
    let r = app.call(method, path, Some(&app.admin), Some(body)).await;
    assert!(r.status.is_success(), "{path}: {}", r.text);
    r.json["id"].as_i64().unwrap_or_default()
}

impl Fixture {
    async fn new(b: Backend) -> Fixture {
        let app = TestApp::start(b).await;
        let instance = json!({"host": "db.example", "port": 5432, "user": "u", "password": "p", "tags": "env=prod", "enabled": false});
        created(&app, Method::POST, "/api/v1/instances/db", instance.clone()).await;
        let mut dev = instance;
        dev["tags"] = json!("env=dev");
        created(&app, Method::POST, "/api/v1/instances/dev", dev).await;
        let role = json!({"name": "r1", "access": [{"filters": [{"tag": "env", "value": "dev"}]}]});
        created(&app, Method::POST, "/api/v1/roles", role).await;
        let user = json!({"login": "u1@example.com", "password": PASSWORD, "privilege": "admin", "roles": ["r1"]});
        created(&app, Method::POST, "/api/v1/users", user).await;
        let rule_id = created(&app, Method::POST, "/api/v1/alerts/rules", json!({"template": "connections"})).await;
        let alert = json!({"dedup_key": "k", "severity": "warning", "summary": "s", "resource": "db"});
        let alert_id = created(&app, Method::POST, "/api/v1/alerts", alert).await;
        let (token_id, _) = app.api_token(&app.admin, &["read:status"]).await;
        let tenant = app.admin_user.tenant_id;
        let channel_id = crate::support::bare_channel(&app.store, tenant, "ops").await;
        let u1 = app.store.user_by_login(tenant, "u1@example.com").await.unwrap().unwrap();
        let restricted = app.ctx.auth.issue_user_token(&u1).await.unwrap().0;
        let service_id = created(&app, Method::POST, "/api/v1/services", json!({"slug": "main", "name": "Main"})).await;
        let incident = json!({"title": "down", "service_ids": [service_id]});
        let incident_id = created(&app, Method::POST, "/api/v1/incidents", incident).await;
        let window = json!({"title": "drill", "scheduled_start": "2099-01-01T00:00:00Z", "scheduled_end": "2099-01-01T01:00:00Z"});
        let window_id = created(&app, Method::POST, "/api/v1/maintenance", window).await;
        let schedule = json!({"name": "nightly", "kind": "full", "format": "json", "period": "previous day",
            "when": "daily at 07:00", "subject": "Nightly", "recipients": ["dba@example.com"]});
        let schedule_id = created(&app, Method::POST, "/api/v1/reports/schedules", schedule).await;
        let entries = app.get("/api/v1/audit?limit=1", &app.admin).await;
        let audit_id = entries.json["entries"][0]["id"].as_i64().expect("an audit entry");
        Fixture {
            app,
            rule_id,
            alert_id,
            channel_id,
            token_id,
            service_id,
            incident_id,
            window_id,
            audit_id,
            schedule_id,
            restricted,
        }
    }

    /// `path` with its parameters naming existing resources (`missing`: resources that do not
    /// exist). Panics on a parameter it does not know: a new route must be taught here.
    fn concrete(&self, path: &str, missing: bool) -> String {
        let id = |existing: i64| if missing { "987654".to_string() } else { existing.to_string() };
        let name = |existing: &str| if missing { format!("no-such-{existing}") } else { existing.to_string() };
        let mut out = Vec::new();
        for segment in path.split('/') {
            let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                out.push(segment.to_string());
                continue;
            };
            let value = match (param, path) {
                ("name" | "connection_name", p) if p.contains("/instances/") || p.contains("/pg-instances/") => {
                    name("db")
                }
                ("name" | "role_name", _) => name("r1"),
                ("login" | "email", _) => name("u1@example.com"),
                ("id", p) if p.starts_with("/api/v1/tokens/") => id(self.token_id),
                ("id", p) if p.starts_with("/api/v1/alerts/rules/") => id(self.rule_id),
                ("id", p) if p.starts_with("/api/v1/alerts/") => id(self.alert_id),
                ("id", p) if p.starts_with("/api/v1/notifications/channels/") => id(self.channel_id),
                ("id", p) if p.starts_with("/api/v1/plugins/") => "webhook".into(),
                ("id", p) if p.starts_with("/api/v1/audit/") => id(self.audit_id),
                ("id", p) if p.starts_with("/api/v1/services/") => id(self.service_id),
                ("id", p) if p.starts_with("/api/v1/incidents/") => id(self.incident_id),
                ("id", p) if p.starts_with("/api/v1/maintenance/") => id(self.window_id),
                ("id", p) if p.starts_with("/api/v1/reports/schedules/") => id(self.schedule_id),
                ("endpoint", _) => "session-history".into(),
                ("organization" | "page", _) => "default".into(),
                ("seconds" | "n" | "s" | "rate", _) => "10".into(),
                _ => panic!("isolation matrix: no value for {{{param}}} in {path}: teach Fixture::concrete"),
            };
            out.push(value);
        }
        out.join("/")
    }

    async fn call(&self, method: &Method, path: &str, token: Option<&str>) -> Resp {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        self.app.call(method.clone(), path, token, body).await
    }
}

/// An answer with what differs between the two requests (path, names, ids) taken out.
fn scrubbed(r: &Resp, path: &str) -> String {
    let text = r.text.replace(path, "PATH").replace("no-such-", "");
    let mut out = String::new();
    for c in text.chars() {
        match (c.is_ascii_digit(), out.ends_with('#')) {
            (true, true) => {}
            (true, false) => out.push('#'),
            (false, _) => out.push(c),
        }
    }
    out
}

/// Routes that create the resource their path names: another tenant creates its own (not a leak).
fn creates(method: &Method, path: &str) -> bool {
    method == Method::POST
        && [
            "/api/v1/instances/{name}",
            "/ds-api/pool/pg-instances/{connection_name}",
            "/ds-api/roles/{role_name}",
            "/ds-api/users/{email}",
        ]
        .contains(&path)
}

/// Plugins are host-wide: no tenant owns them (the operator's scope gates them instead).
fn host_wide(path: &str) -> bool {
    path.starts_with("/api/v1/plugins")
}

/// A token of the operator holding every tenant scope but `lacking`.
async fn token_without(app: &TestApp, lacking: Scope) -> String {
    let scopes: Vec<&str> =
        Scope::ALL.iter().filter(|s| **s != lacking && **s != Scope::Admin).map(|s| s.as_str()).collect();
    app.api_token(&app.admin, &scopes).await.1
}

async fn every_route_refuses_strangers_and_hides_what_is_not_theirs(b: Backend) {
    let f = Fixture::new(b).await;
    let mut checked = 0;
    for e in ENDPOINTS {
        let path = f.concrete(e.path, false);
        let required = match e.access {
            Access::Public => continue,
            Access::Authenticated => None,
            Access::Scope(scope) => Some(scope),
        };
        let r = f.call(&e.method, &path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{} {path} without a token: {}", e.method, r.text);
        if let Some(scope) = required {
            let r = f.call(&e.method, &path, Some(&token_without(&f.app, scope).await)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{} {path} without {scope}: {}", e.method, r.text);
            assert_eq!(r.error(), format!("missing required scope: {scope}"), "{} {path}", e.method);
        }
        if e.path.contains('{')
            && !creates(&e.method, e.path)
            && !host_wide(e.path)
            && e.access != Access::Authenticated
            || e.path == "/api/v1/tokens/{id}"
        {
            let missing = f.concrete(e.path, true);
            let theirs = f.call(&e.method, &path, Some(&f.app.other_admin)).await;
            let absent = f.call(&e.method, &missing, Some(&f.app.other_admin)).await;
            assert_eq!(theirs.status, absent.status, "{} {path}: {} vs {}", e.method, theirs.text, absent.text);
            assert_eq!(scrubbed(&theirs, &path), scrubbed(&absent, &missing), "{} {path}", e.method);
        }
        checked += 1;
        if (e.path.contains("/instances/{name}") || e.path.contains("{connection_name}")) && !creates(&e.method, e.path)
        {
            let missing = f.concrete(e.path, true);
            let excluded = f.call(&e.method, &path, Some(&f.restricted)).await;
            let absent = f.call(&e.method, &missing, Some(&f.restricted)).await;
            assert_eq!(excluded.status, absent.status, "{} {path}: {} vs {}", e.method, excluded.text, absent.text);
        }
    }
    let protected = ENDPOINTS.iter().filter(|e| e.access != Access::Public).count();
    assert_eq!(checked, protected, "every protected route is in the matrix");
    // Nothing of the default tenant changed: the instance is still there and untouched.
    let db = f.app.get("/api/v1/instances/db", &f.app.admin).await;
    assert_eq!((db.status, &db.json["tags"]), (StatusCode::OK, &json!("env=prod")), "{}", db.text);
}

backend_tests!(every_route_refuses_strangers_and_hides_what_is_not_theirs);
