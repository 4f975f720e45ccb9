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
            let new = NewInstance { name, host: "db1", port: 5432, username: "postgres", password_sealed: "x", tags };
            app.store.create_instance(tenant, &new).await.unwrap();
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
        let mut body = json!({"dedup_key": key, "severity": severity, "summary": format!("{key} failed"), "resource": resource});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.call(Method::POST, "/api/v1/alerts", Some(body)).await
    }
}

pub fn tuple(r: &str, rule: &str, state: &str, sev: &str) -> (String, String, String, String) {
    (r.into(), rule.into(), state.into(), sev.into())
}
