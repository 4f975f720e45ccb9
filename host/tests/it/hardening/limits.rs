//! Abuse resistance: rate limits (per token, per source address, trusted proxies, a tighter
//! sign-in budget, probes exempt) and the sign-in lockout (same answer for unknown logins,
//! reset by `users:manage` within its tenant and below its rights, bounded argon2 work).
//! In-process calls have no peer address unless a test gives one (`ConnectInfo`, as the real
//! server inserts it); tests/e2e/rate_limit.rs checks the real server's wiring.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use vigia::config::Config;

use crate::support::{add_user, Backend, Resp, TestApp, PASSWORD};

fn limited(general: u32, sign_in: u32) -> Config {
    let mut config = TestApp::config();
    config.server.rate_limit.requests_per_minute = general;
    config.server.rate_limit.sign_in_per_minute = sign_in;
    // Refusals answered at once, except in the test of the delay itself.
    config.server.rate_limit.refusal_delay_ms = 0;
    config
}

/// A request from `peer` (as the server would see it) with optional headers.
async fn from(
    app: &TestApp,
    peer: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    let addr: SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    app.send(req).await
}

fn header(r: &Resp, name: &str) -> Option<u64> {
    r.headers.get(name).map(|v| v.to_str().unwrap().parse().unwrap())
}

fn sign_in_body(login: &str, password: &str) -> serde_json::Value {
    json!({"username": login, "password": password})
}

async fn past_its_budget_a_client_gets_429_with_retry_after_and_probes_stay_exempt(b: Backend) {
    let app = TestApp::start_with(b, limited(3, 100)).await;
    for left in [2, 1, 0] {
        let r = app.get("/api/v1/health", &app.admin).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(3));
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some(left));
        let reset = header(&r, "x-ratelimit-reset").expect("X-RateLimit-Reset");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = app.get("/api/v1/health", &app.admin).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.error(), "rate limit exceeded: at most 3 requests per minute; retry in 20 s");
    assert_eq!(header(&r, "retry-after"), Some(20));
    assert_eq!((header(&r, "x-ratelimit-limit"), header(&r, "x-ratelimit-remaining")), (Some(3), Some(0)));
    assert!(header(&r, "x-ratelimit-reset").is_some());
    // Every route of the token, not just that one; unknown routes too.
    assert_eq!(app.get("/api/v1/tokens", &app.admin).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.get("/api/v1/no-such-route", &app.admin).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Probes are never limited and carry no budget headers.
    for path in ["/health", "/health/live", "/health/ready", "/metrics"] {
        for _ in 0..5 {
            let r = app.call(Method::GET, path, None, None).await;
            assert!(r.status.is_success(), "{path}: {}", r.text);
            assert!(r.headers.get("x-ratelimit-limit").is_none(), "{path}");
        }
    }
}

async fn tokens_and_addresses_have_budgets_of_their_own(b: Backend) {
    let app = TestApp::start_with(b, limited(2, 100)).await;
    // Minting it is the admin token's first request of the minute, this its second.
    let (_, api_token) = app.api_token(&app.admin, &["read:status"]).await;
    assert_eq!(app.get("/api/v1/health", &app.admin).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/health", &app.admin).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another token (of the same user or not) has its own budget, from the same address.
    assert_eq!(app.get("/api/v1/health", &api_token).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/health", &app.other_admin).await.status, StatusCode::OK);
    let bearer = format!("Bearer {}", app.admin);
    let r = from(&app, "192.0.2.1", Method::GET, "/api/v1/health", &[("authorization", &bearer)], None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "a token's budget follows it everywhere");

    // Without a token: per address.
    for _ in 0..2 {
        assert_eq!(from(&app, "192.0.2.1", Method::GET, "/api/v1/version", &[], None).await.status, StatusCode::OK);
    }
    let r = from(&app, "192.0.2.1", Method::GET, "/api/v1/version", &[], None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(from(&app, "192.0.2.2", Method::GET, "/api/v1/version", &[], None).await.status, StatusCode::OK);
    // Made-up tokens get no budget of their own: they count against their address.
    for (i, expected) in
        [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].into_iter().enumerate()
    {
        let bogus = format!("Bearer vg_made-up-{i}");
        let r = from(&app, "192.0.2.3", Method::GET, "/api/v1/health", &[("authorization", &bogus)], None).await;
        assert_eq!(r.status, expected, "attempt {i}: {}", r.text);
    }
    // IPv6 clients are counted per /64.
    for _ in 0..2 {
        assert_eq!(from(&app, "[2001:db8::1]", Method::GET, "/api/v1/version", &[], None).await.status, StatusCode::OK);
    }
    let r = from(&app, "[2001:db8::2]", Method::GET, "/api/v1/version", &[], None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "same /64");
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(b: Backend) {
    let mut config = limited(2, 100);
    config.server.rate_limit.trusted_proxies = vec!["10.0.0.0/8".into()];
    let app = TestApp::start_with(b, config).await;
    let get = |peer: &'static str, xff: &'static str| {
        let app = &app;
        async move { from(app, peer, Method::GET, "/api/v1/version", &[("x-forwarded-for", xff)], None).await.status }
    };
    // Behind the proxy: each forwarded client has its own budget, whatever it claims further left.
    assert_eq!(get("10.0.0.1", "203.0.113.1").await, StatusCode::OK);
    assert_eq!(get("10.0.0.2", "198.51.100.9, 203.0.113.1").await, StatusCode::OK);
    assert_eq!(get("10.0.0.1", "1.1.1.1, 203.0.113.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get("10.0.0.1", "203.0.113.2").await, StatusCode::OK);
    // From anywhere else the header is ignored: rotating it does not buy a fresh budget.
    assert_eq!(get("198.51.100.7", "203.0.113.10").await, StatusCode::OK);
    assert_eq!(get("198.51.100.7", "203.0.113.11").await, StatusCode::OK);
    assert_eq!(get("198.51.100.7", "203.0.113.12").await, StatusCode::TOO_MANY_REQUESTS);
}

async fn sign_in_has_a_tighter_budget_per_address(b: Backend) {
    let app = TestApp::start_with(b, limited(100, 2)).await;
    let body = sign_in_body("admin", PASSWORD).to_string();
    let post = |path: &'static str, body: Option<String>, headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            from(app, "192.0.2.1", Method::POST, path, &headers, body.as_deref()).await
        }
    };
    let org = || Some(json!({"username": "admin", "password": PASSWORD, "organization": "default"}).to_string());
    for _ in 0..2 {
        let r = post("/api/v1/auth/token", org(), vec![]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(header(&r, "x-ratelimit-limit"), Some(2));
    }
    let r = post("/api/v1/auth/token", org(), vec![]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "even the right password: {}", r.text);
    assert_eq!(r.error(), "rate limit exceeded: at most 2 requests per minute on sign-in; retry in 30 s");
    assert_eq!(header(&r, "retry-after"), Some(30));
    // The Datasentinel sign-in shares the budget.
    let basic = vec![("authorization", "Basic YWRtaW46eA==".to_string())];
    assert_eq!(post("/ds-api/user-token/default", None, basic).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Other addresses and the general budget are untouched.
    let r = from(&app, "192.0.2.2", Method::POST, "/api/v1/auth/token", &[], Some(&body)).await;
    assert_ne!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(from(&app, "192.0.2.1", Method::GET, "/api/v1/version", &[], None).await.status, StatusCode::OK);
}

async fn rate_limiting_can_be_turned_off(b: Backend) {
    let mut config = limited(1, 1);
    config.server.rate_limit.enabled = false;
    let app = TestApp::start_with(b, config).await;
    for _ in 0..3 {
        let r = app.get("/api/v1/health", &app.admin).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers.get("x-ratelimit-limit").is_none());
    }
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> Resp {
    app.call(Method::POST, "/api/v1/auth/token", None, Some(sign_in_body(login, password))).await
}

async fn five_failures_lock_a_login_and_an_unknown_login_answers_the_same(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    add_user(&app.store, tenant, "alice", "read", "data admin").await;
    for login in ["alice", "ghost"] {
        for attempt in 0..5 {
            let r = sign_in(&app, login, "not-the-password").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{login} attempt {attempt}: {}", r.text);
        }
    }
    let alice = sign_in(&app, "alice", PASSWORD).await;
    let ghost = sign_in(&app, "ghost", PASSWORD).await;
    assert_eq!(alice.status, StatusCode::TOO_MANY_REQUESTS, "the right password is refused: {}", alice.text);
    assert_eq!(alice.error(), "too many failed sign-ins for this login: try again in 15 minutes");
    assert_eq!((ghost.status, ghost.text.as_str()), (alice.status, alice.text.as_str()), "unknown login");
    let (a, g) = (header(&alice, "retry-after").unwrap(), header(&ghost, "retry-after").unwrap());
    assert!((895..=900).contains(&a) && a.abs_diff(g) <= 1, "{a} {g}");
    // Every way of naming the login is locked, with its organization or another (so a lock
    // tells nothing about where a login exists), and in Datasentinel's form.
    for org in ["default", "other"] {
        let named = |login: &str| json!({"username": login, "password": PASSWORD, "organization": org});
        let a = app.call(Method::POST, "/api/v1/auth/token", None, Some(named("alice"))).await;
        let g = app.call(Method::POST, "/api/v1/auth/token", None, Some(named("ghost"))).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{org}: {}", a.text);
        assert_eq!((g.status, g.text), (a.status, a.text), "{org}");
    }
    let basic = format!("Basic {}", base64_of(&format!("alice:{PASSWORD}")));
    let r =
        app.send(Request::post("/ds-api/user-token").header("authorization", basic).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    // Other logins are not: the operator still signs in, and tokens keep working.
    let admin = json!({"username": "admin", "password": PASSWORD, "organization": "default"});
    assert_eq!(app.call(Method::POST, "/api/v1/auth/token", None, Some(admin)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/health", &app.admin).await.status, StatusCode::OK);
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn lock(app: &TestApp, login: &str) {
    for _ in 0..5 {
        assert_eq!(sign_in(app, login, "not-the-password").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sign_in(app, login, PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn reset_lockout_needs_users_manage_within_the_tenant_and_rights(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    add_user(&app.store, tenant, "alice", "read", "data admin").await;
    lock(&app, "alice").await;
    let reset = |token: String, login: &'static str| {
        let app = &app;
        async move {
            app.call(Method::POST, "/api/v1/security/reset-lockout", Some(&token), Some(json!({"login": login}))).await
        }
    };

    let (_, reader) = app.api_token(&app.admin, &["read:status", "monitoring:read"]).await;
    let r = reset(reader, "alice").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.error(), "missing required scope: users:manage");
    // Another tenant's admin: alice is not its user, and that answer is the unknown login's.
    let theirs = reset(app.other_admin.clone(), "alice").await;
    let unknown = reset(app.other_admin.clone(), "nobody").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert_eq!(theirs.text, unknown.text);
    // A narrow users:manage token cannot reset a user with more rights (it could keep guessing).
    let (_, manager) = app.api_token(&app.admin, &["users:manage"]).await;
    let r = reset(manager, "admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(sign_in(&app, "alice", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS, "still locked");

    let r = reset(app.admin.clone(), "alice").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json!({"login": "alice", "was_locked": true}));
    assert_eq!(sign_in(&app, "alice", PASSWORD).await.status, StatusCode::OK, "unlocked");
    let r = reset(app.admin.clone(), "alice").await;
    assert_eq!(r.json, json!({"login": "alice", "was_locked": false}));

    // Guesses at the other tenant's "admin" lock that name everywhere; this tenant lifting its
    // own "admin" leaves the other's locked, which only the other tenant can lift.
    let other = |password: &str| json!({"username": "admin", "password": password, "organization": "other"});
    for _ in 0..5 {
        let r = app.call(Method::POST, "/api/v1/auth/token", None, Some(other("not-the-password"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let ours = json!({"username": "admin", "password": PASSWORD, "organization": "default"});
    let r = app.call(Method::POST, "/api/v1/auth/token", None, Some(ours.clone())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let r = reset(app.admin.clone(), "admin").await;
    assert_eq!(r.json, json!({"login": "admin", "was_locked": true}));
    assert_eq!(app.call(Method::POST, "/api/v1/auth/token", None, Some(ours)).await.status, StatusCode::OK);
    let r = app.call(Method::POST, "/api/v1/auth/token", None, Some(other(PASSWORD))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "still locked in the other tenant: {}", r.text);
    let r = reset(app.other_admin.clone(), "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.call(Method::POST, "/api/v1/auth/token", None, Some(other(PASSWORD))).await.status, StatusCode::OK);
}

async fn password_checks_are_bounded(b: Backend) {
    let mut config = TestApp::config();
    config.auth.max_concurrent_sign_ins = 1;
    config.auth.sign_in_queue_timeout_ms = 1;
    let app = TestApp::start_with(b, config).await;
    let logins: Vec<String> = (0..8).map(|i| format!("ghost{i}")).collect();
    let answers = futures::future::join_all(logins.iter().map(|l| sign_in(&app, l, "not-the-password"))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status).collect();
    let busy: Vec<&Resp> = answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!busy.is_empty(), "one slot, eight sign-ins at once: {statuses:?}");
    for r in &busy {
        assert_eq!(r.error(), "too many sign-ins in progress: try again in a moment");
        assert_eq!(header(r, "retry-after"), Some(1));
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    // The slot is free again afterwards.
    let admin = json!({"username": "admin", "password": PASSWORD, "organization": "default"});
    assert_eq!(app.call(Method::POST, "/api/v1/auth/token", None, Some(admin)).await.status, StatusCode::OK);
}

/// A refusal waits `refusal_delay_ms` (a client looping on 429s is slowed, not served at full
/// speed), but never more than `max_delayed_refusals` wait at once.
async fn refusals_are_held_back_a_bounded_number_at_a_time(b: Backend) {
    let mut config = limited(1, 100);
    config.server.rate_limit.refusal_delay_ms = 400;
    let app = TestApp::start_with(b, config).await;
    assert_eq!(app.get("/api/v1/health", &app.admin).await.status, StatusCode::OK);
    let started = std::time::Instant::now();
    let r = app.get("/api/v1/health", &app.admin).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "{:?}", started.elapsed());

    let mut config = limited(1, 100);
    config.server.rate_limit.refusal_delay_ms = 60_000;
    config.server.rate_limit.max_delayed_refusals = 0;
    let app = TestApp::start_with(b, config).await;
    assert_eq!(app.get("/api/v1/health", &app.admin).await.status, StatusCode::OK);
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), app.get("/api/v1/health", &app.admin))
        .await
        .expect("no waiting room left: answered at once");
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

backend_tests!(
    refusals_are_held_back_a_bounded_number_at_a_time,
    past_its_budget_a_client_gets_429_with_retry_after_and_probes_stay_exempt,
    tokens_and_addresses_have_budgets_of_their_own,
    forwarded_for_counts_only_behind_a_trusted_proxy,
    sign_in_has_a_tighter_budget_per_address,
    rate_limiting_can_be_turned_off,
    five_failures_lock_a_login_and_an_unknown_login_answers_the_same,
    reset_lockout_needs_users_manage_within_the_tenant_and_rights,
    password_checks_are_bounded,
);
