//! Readiness checks: subsystems register a named check; `/health/ready` runs them all.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::Store;

/// `Ok(detail)`: healthy, with an optional note for operators; `Err(reason)`: not ready.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send + 'a>>;

/// One dependency whose failure should take this replica out of rotation.
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &str;
    fn check(&self) -> CheckFuture<'_>;
}

/// A check that has not answered within this time has failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// `ok` or `failed`.
    pub status: &'static str,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Something worth knowing that does not fail the check (e.g. a plugin that failed to load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadinessReport {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub checks: BTreeMap<String, CheckResult>,
}

impl ReadinessReport {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// The registered checks; later subsystems (outbox, plugins) add theirs at start.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<Vec<Arc<dyn ReadinessCheck>>>>,
}

impl Readiness {
    pub fn register(&self, check: Arc<dyn ReadinessCheck>) {
        self.checks.write().expect("readiness lock").push(check);
    }

    /// Runs every check concurrently, each bounded by a timeout.
    pub async fn run(&self) -> ReadinessReport {
        let checks: Vec<_> = self.checks.read().expect("readiness lock").clone();
        let runs = checks.iter().map(|c| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
            };
            let duration_ms = (started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
            let result = match outcome {
                Ok(detail) => CheckResult { status: "ok", duration_ms, error: None, detail },
                Err(e) => CheckResult { status: "failed", duration_ms, error: Some(e), detail: None },
            };
            (c.name().to_string(), result)
        });
        let checks: BTreeMap<_, _> = futures::future::join_all(runs).await.into_iter().collect();
        let ready = checks.values().all(|c| c.status == "ok");
        ReadinessReport { status: if ready { "ready" } else { "not_ready" }, checks }
    }
}

/// Storage answers a trivial query.
pub struct StorageCheck(pub Store);

impl ReadinessCheck for StorageCheck {
    fn name(&self) -> &str {
        "storage"
    }
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move { self.0.ping().await.map(|_| None).map_err(|e| e.to_string()) })
    }
}
