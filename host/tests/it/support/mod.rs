//! Test harness: a `TestApp` over a real store (a temp SQLite file or a private PostgreSQL
//! database) driven through the real router with `oneshot`, and `backend_tests!` which runs
//! each test body against both backends.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vigia::api::AppContext;
use vigia::auth::password;
use vigia::config::Config;
use vigia::secrets::{SealedFor, SecretBox};
use vigia::store::{ChannelEvents, ChannelWrite, Grouping, NewUser, Store, User};

pub const PASSWORD: &str = "correct-horse-battery";
/// Host key of every `TestApp`, so tests can open what the API sealed.
pub const SECRET_KEY: [u8; 32] = [42; 32];

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `sqlite::name` and `postgres::name` tests calling `name(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name($crate::support::Backend::Postgres).await } )*
        }
    };
}

/// Like `backend_tests!`, on a multi-threaded runtime (the plugin runtime and the receiver run
/// beside the test).
#[macro_export]
macro_rules! mt_backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::support::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::support::Backend::Postgres).await } )*
        }
    };
}

/// A store on a fresh database of the given backend; the temp dir lives as long as the guard.
pub async fn fresh_store(backend: Backend) -> (Store, Option<tempfile::TempDir>) {
    let (store, dir, _) = fresh_store_at(backend).await;
    (store, dir)
}

/// `fresh_store` and the database's URL, for tests that reach into the database directly.
pub async fn fresh_store_at(backend: Backend) -> (Store, Option<tempfile::TempDir>, String) {
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}", dir.path().join("vigia.db").display()), Some(dir))
        }
        Backend::Postgres => (vigia_testkit::fresh_database_url().expect("private PostgreSQL cluster"), None),
    };
    let store = Store::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir, url)
}

/// argon2 is deliberately slow; hash the shared test password once per process.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(PASSWORD).unwrap())
}

pub async fn add_user(store: &Store, tenant_id: i64, login: &str, privilege: &str, profile: &str) -> User {
    let new = NewUser { login, email: None, password_hash: password_hash(), privilege, profile, operator: false };
    store.create_user(tenant_id, &new).await.unwrap()
}

/// The host's operator, as the first start creates it (an admin who also manages plugins).
pub async fn add_operator(store: &Store, tenant_id: i64, login: &str) -> User {
    let new = NewUser {
        login,
        email: None,
        password_hash: password_hash(),
        privilege: "admin",
        profile: "data admin",
        operator: true,
    };
    store.create_user(tenant_id, &new).await.unwrap()
}

/// Webhook channel `name` of the tenant written straight to the store, without configuration (for
/// tests of routes that only look it up); returns its id.
pub async fn bare_channel(store: &Store, tenant_id: i64, name: &str) -> i64 {
    let channel = ChannelWrite {
        name,
        plugin: "webhook",
        severities: "",
        tags: "",
        instance: None,
        enabled: true,
        grouping: Grouping::default(),
        events: &ChannelEvents::default(),
    };
    store.create_channel(tenant_id, &channel, |_| String::new()).await.unwrap().id
}

pub struct TestApp {
    pub ctx: Arc<AppContext>,
    pub router: Router,
    pub store: Store,
    /// User token of `admin` in tenant `default`.
    pub admin: String,
    pub admin_user: User,
    /// User token of `admin` in tenant `other`.
    pub other_admin: String,
    pub other_user: User,
    /// The database's URL (`sqlite://…` or `postgres://…`), for tests that go around the store.
    pub db_url: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_else(|| panic!("no error in {}: {}", self.status, self.text))
    }
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, Self::config()).await
    }

    /// What `start` uses: the defaults, but with rate limits (still on) generous enough for
    /// tests that sign in again and again, all from the one unknown address of in-process calls.
    /// `hardening::limits` tests the real budgets with `start_with`.
    pub fn config() -> Config {
        let mut config = Config::default();
        config.server.rate_limit.requests_per_minute = 1_000_000;
        config.server.rate_limit.sign_in_per_minute = 1_000_000;
        config
    }

    pub async fn start_with(backend: Backend, config: Config) -> TestApp {
        let (store, dir, db_url) = fresh_store_at(backend).await;
        let default = store.ensure_tenant("default").await.unwrap();
        let other = store.ensure_tenant("other").await.unwrap();
        let admin_user = add_operator(&store, default.id, "admin").await;
        let other_user = add_user(&store, other.id, "admin", "admin", "data admin").await;
        let ctx = vigia::server::context(store.clone(), &config, None, SecretBox::from_key(&SECRET_KEY));
        let admin = ctx.auth.issue_user_token(&admin_user).await.unwrap().0;
        let other_admin = ctx.auth.issue_user_token(&other_user).await.unwrap().0;
        let router = vigia::web::app(ctx.clone());
        TestApp { ctx, router, store, admin, admin_user, other_admin, other_user, db_url, _dir: dir }
    }

    /// The SQLite backend's directory (panics on PostgreSQL).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.as_ref().expect("a SQLite TestApp").path()
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, headers, text, json }
    }

    /// A JSON call with an optional bearer token.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Mints an API token with these scopes through the API, as `by`.
    pub async fn api_token(&self, by: &str, scopes: &[&str]) -> (i64, String) {
        let r = self
            .call(Method::POST, "/api/v1/tokens", Some(by), Some(serde_json::json!({"name": "test", "scopes": scopes})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        (r.json["id"].as_i64().unwrap(), r.json["token"].as_str().unwrap().to_string())
    }
}

/// utime + stime of a process (`self` or a pid) in seconds, for benchmarks.
pub fn cpu_seconds(pid: &str) -> f64 {
    // Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux).
    const HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / HZ
}

/// Monitored instance `pg1` (user `postgres`, password sealed with `SECRET_KEY`) of `tenant_id`
/// on a loopback `port`, with `update` applied: what sampler tests start a `Sampler` on.
pub async fn sampled_instance(
    store: &Store,
    tenant_id: i64,
    port: u16,
    update: &vigia::store::InstanceUpdate,
) -> vigia::store::Instance {
    let new = vigia::store::NewInstance {
        name: "pg1",
        host: "127.0.0.1",
        port: i64::from(port),
        username: "postgres",
        tags: "",
    };
    let secrets = SecretBox::from_key(&SECRET_KEY);
    let seal = |instance_id| secrets.seal("any", &SealedFor::InstancePassword { tenant_id, instance_id });
    store.create_instance(tenant_id, &new, seal).await.unwrap();
    store.update_instance(tenant_id, "pg1", update).await.unwrap()
}

/// An active client session of `shop`/`app`/`billing` on CPU, sampled at `ts_ms`, for tests that
/// write ASH ticks; override what a test is about with struct update syntax.
pub fn ash_session(pid: i32, ts_ms: i64, backend_start_ms: i64) -> vigia::model::AshSession {
    vigia::model::AshSession {
        pid,
        backend_start_ms,
        state: "active".into(),
        wait_event_type: "CPU".into(),
        wait_event: "CPU".into(),
        blocking_pids: vec![],
        query_id: 42,
        database: "shop".into(),
        user: "app".into(),
        application: "billing".into(),
        client: "local".into(),
        backend_type: "client backend".into(),
        command: "SELECT".into(),
        query_start_ms: Some(ts_ms - 100),
        xact_start_ms: Some(ts_ms - 100),
    }
}
