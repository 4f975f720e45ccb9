//! Shared harness of the alerting tests: a `TestApp` with instances, metric points written
//! through the real `MetricWriter`, and the evaluator driven pass by pass with explicit times.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::alerting::Evaluator;
use vigia::store::NewInstance;
use vigia::timeseries::{MetricWriter, Sample};

use crate::support::{Resp, TestApp};

/// Seconds between two evaluation passes in tests.
pub const STEP_MS: i64 = 15_000;

pub struct Env {
    pub app: TestApp,
    pub tenant: i64,
    pub writer: MetricWriter,
    pub evaluator: Evaluator,
    /// The time of the next pass (advanced by `eval`).
    pub now: i64,
}

impl Env {
    /// `instances`: (name, tags); every instance's host is `db1`.
    pub async fn new(app: TestApp, instances: &[(&str, &str)]) -> Env {
        let tenant = app.admin_user.tenant_id;
        for (name, tags) in instances {
            let new = NewInstance { name, host: "db1", port: 5432, username: "postgres", tags };
            app.store.create_instance(tenant, &new, |_| "x".into()).await.unwrap();
        }
        let writer = MetricWriter::start(app.store.clone());
        let evaluator = Evaluator::new(app.store.clone(), Duration::from_secs(300));
        Env { app, tenant, writer, evaluator, now: vigia::store::now_ms() }
    }

    /// Writes `value` for `metric` of instance `resource` at the current time, then runs one pass.
    pub async fn eval_with(&mut self, points: &[(&str, &str, f64)]) {
        let samples = points
            .iter()
            .map(|(resource, metric, value)| Sample {
                tenant_id: self.tenant,
                resource: resource.to_string(),
                metric: metric.to_string(),
                labels: BTreeMap::new(),
                unit: None,
                ts: self.now,
                value: *value,
            })
            .collect();
        self.writer.write(samples, "test").await;
        self.writer.flush().await;
        self.eval().await;
    }

    /// One evaluation pass at the current time, then time moves on one step.
    pub async fn eval(&mut self) {
        self.evaluator.evaluate_once(self.now).await.unwrap();
        self.now += STEP_MS;
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.call(method, path, Some(&self.app.admin), body).await
    }

    /// Creates a rule, asserting 201; returns its id.
    pub async fn rule(&self, body: Value) -> i64 {
        let r = self.call(Method::POST, "/api/v1/alerts/rules", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_i64().unwrap()
    }

    pub async fn active(&self) -> Vec<Value> {
        let r = self.call(Method::GET, "/api/v1/alerts/active", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json.as_array().unwrap().clone()
    }

    /// (resource, rule, state, severity) of each active alert, sorted.
    pub async fn active_summary(&self) -> Vec<(String, String, String, String)> {
        let mut out: Vec<_> = self
            .active()
            .await
            .iter()
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap().to_string();
                (s("resource"), s("rule"), s("state"), s("severity"))
            })
            .collect();
        out.sort();
        out
    }

    /// Event kinds of alert `id`.
    pub async fn events(&self, id: i64) -> Vec<String> {
        let r = self.call(Method::GET, &format!("/api/v1/alerts/{id}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
    }

    /// Raises a custom alert; returns the response.
    pub async fn raise(&self, key: &str, severity: &str, resource: &str, extra: Value) -> Resp {
        let mut body =
            json!({"dedup_key": key, "severity": severity, "summary": format!("{key} failed"), "resource": resource});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.call(Method::POST, "/api/v1/alerts", Some(body)).await
    }
}

pub fn tuple(r: &str, rule: &str, state: &str, sev: &str) -> (String, String, String, String) {
    (r.into(), rule.into(), state.into(), sev.into())
}

/// One request the receiver saw.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the request arrived.
    pub at: std::time::Instant,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub status: u16,
    pub body: Value,
}

/// A loopback webhook receiver: answers with the scripted statuses in order (200 once they are
/// used up; `0` hangs without answering) and records every request; `accepted()` counts distinct idempotency keys answered
/// 2xx, which is what a receiver deduplicating by key delivers.
pub struct Receiver {
    pub port: u16,
    script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

type Shared = (
    std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
    std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
);

async fn hook(
    axum::extract::State((script, seen, delay)): axum::extract::State<Shared>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    let status = script.lock().unwrap().pop_front().unwrap_or(200);
    seen.lock().unwrap().push(Received {
        at: std::time::Instant::now(),
        path: uri.path().to_string(),
        idempotency_key: headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(String::from),
        status,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
    if status == 0 {
        // Scripted hang: no answer for a minute (the caller times out or dies first).
        tokio::time::sleep(Duration::from_secs(60)).await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let delay = delay.load(std::sync::atomic::Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared: Shared = Default::default();
        let app = axum::Router::new().fallback(axum::routing::post(hook)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { port, script: shared.0, seen: shared.1, delay_ms: shared.2 }
    }

    /// Every answer waits this long (after recording the request).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// The next answers, in order.
    pub fn script(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses.iter().copied());
    }

    pub fn requests(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Distinct idempotency keys answered 2xx.
    pub fn accepted(&self) -> std::collections::BTreeSet<String> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .filter_map(|r| r.idempotency_key)
            .collect()
    }

    /// Waits (up to 15 s) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let seen = self.requests();
            if seen.len() >= n {
                return seen;
            }
            assert!(std::time::Instant::now() < deadline, "receiver saw {} of {n} requests: {seen:?}", seen.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
