//! One plugin call: a fresh `Store` from the version's `InstancePre` (pooled, copy-on-write, so
//! a few µs), a deadline enforced twice (epoch callback for guest code, tokio timer for time spent
//! blocked in host calls), then classification of whatever went wrong into an `InvokeError`.
//!
//! Fresh store per call rather than reusing instances: a trap or a timeout leaves an instance in
//! an unknown state, and guest globals would leak data between calls; pooling makes the fresh
//! instance cheap enough (see the benchmark) that isolation costs almost nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::document_reporter::{vigia::plugin::report, DocumentReporterPre};
use super::bindings::{collector::CollectorPre, notifier::NotifierPre, reporter::ReporterPre};
use super::bindings::{wit, HostServiceError, QuotaError};
use super::engine::{PluginEngine, EPOCH_TICK};
use super::errors::InvokeError;
use super::sandbox::{PluginState, SandboxPolicy};
use super::services::HostServices;
use super::types::samples_size;

/// The instantiation recipe of one plugin version, typed by world.
pub(crate) enum KindPre {
    Collector(CollectorPre<PluginState>),
    Notifier(NotifierPre<PluginState>),
    Reporter(ReporterPre<PluginState>),
    /// A reporter that also renders report documents (world `document-reporter`).
    DocumentReporter(DocumentReporterPre<PluginState>),
}

/// Largest value a call may return (samples, receipt, rendered document).
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// A call's input, borrowed from the caller.
pub(crate) enum Request<'a> {
    Info,
    Collect(&'a wit::CollectContext),
    Deliver(&'a wit::Notification),
    Render(&'a wit::ReportRequest),
    RenderDocument(&'a report::Document, &'a str),
}

pub(crate) enum Response {
    Info(wit::PluginInfo),
    Samples(Vec<wit::MetricSample>),
    Receipt(wit::Receipt),
    Rendered(wit::Rendered),
}

impl Response {
    fn size(&self) -> usize {
        match self {
            Response::Info(i) => i.id.len() + i.version.len() + i.description.len(),
            Response::Samples(s) => samples_size(s),
            Response::Receipt(r) => r.detail.len(),
            Response::Rendered(r) => r.bytes.len() + r.content_type.len() + r.filename.len(),
        }
    }
}

type CallResult = wasmtime::Result<Result<Response, wit::PluginError>>;

async fn run(pre: &KindPre, store: &mut Store<PluginState>, req: Request<'_>) -> CallResult {
    // `info` exists in every world; the entry point must match the kind (checked by the caller).
    match (pre, req) {
        (KindPre::Collector(p), Request::Info) => {
            Ok(Ok(Response::Info(p.instantiate_async(&mut *store).await?.call_info(&mut *store).await?)))
        }
        (KindPre::Notifier(p), Request::Info) => {
            Ok(Ok(Response::Info(p.instantiate_async(&mut *store).await?.call_info(&mut *store).await?)))
        }
        (KindPre::Reporter(p), Request::Info) => {
            Ok(Ok(Response::Info(p.instantiate_async(&mut *store).await?.call_info(&mut *store).await?)))
        }
        (KindPre::Collector(p), Request::Collect(c)) => {
            let i = p.instantiate_async(&mut *store).await?;
            Ok(i.call_collect(&mut *store, c).await?.map(Response::Samples))
        }
        (KindPre::Notifier(p), Request::Deliver(n)) => {
            let i = p.instantiate_async(&mut *store).await?;
            Ok(i.call_deliver(&mut *store, n).await?.map(Response::Receipt))
        }
        (KindPre::Reporter(p), Request::Render(r)) => {
            let i = p.instantiate_async(&mut *store).await?;
            Ok(i.call_render(&mut *store, r).await?.map(Response::Rendered))
        }
        (KindPre::DocumentReporter(p), Request::Info) => {
            Ok(Ok(Response::Info(p.instantiate_async(&mut *store).await?.call_info(&mut *store).await?)))
        }
        (KindPre::DocumentReporter(p), Request::Render(r)) => {
            let i = p.instantiate_async(&mut *store).await?;
            Ok(i.call_render(&mut *store, r).await?.map(Response::Rendered))
        }
        (KindPre::DocumentReporter(p), Request::RenderDocument(document, format)) => {
            let i = p.instantiate_async(&mut *store).await?;
            Ok(i.call_render_document(&mut *store, document, &format.to_string()).await?.map(Response::Rendered))
        }
        _ => Err(wasmtime::format_err!("request does not match the plugin kind")),
    }
}

/// Runs one call of one plugin version in a fresh sandbox.
pub(crate) async fn invoke(
    engine: &Arc<PluginEngine>,
    pre: &KindPre,
    policy: &SandboxPolicy,
    services: &HostServices,
    config_json: Arc<str>,
    req: Request<'_>,
) -> Result<Response, InvokeError> {
    let (state, captured) = policy.new_state(policy.host_ctx(services, config_json));
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|s| &mut s.limiter);

    let timeout = policy.timeout;
    let deadline = Instant::now() + timeout;
    // Guest code checks the epoch at loop heads and calls: every tick either kills the call
    // (deadline passed) or yields to the executor so one spinning plugin cannot starve others.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });

    // The timer covers time blocked in host calls (sleep, sockets, HTTP), where no epoch check
    // runs; the slack lets the epoch path, which reports a clean trap, win for guest code.
    let outcome = tokio::time::timeout(timeout + 2 * EPOCH_TICK, run(pre, &mut store, req)).await;

    let plugin = &*policy.plugin_id;
    captured.emit(plugin);
    let stderr = || {
        let mut s = captured.stderr.text();
        if s.len() > 4096 {
            let cut = (0..=4096).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
            s.truncate(cut);
            s.push('…');
        }
        s.trim_end().to_string()
    };
    let timeout_ms = timeout.as_millis() as u64;
    let result = match outcome {
        Err(_elapsed) => return Err(InvokeError::Timeout { timeout_ms }),
        Ok(Ok(Ok(response))) => response,
        Ok(Ok(Err(plugin_error))) => {
            return Err(InvokeError::Plugin { kind: plugin_error.kind.into(), message: plugin_error.message })
        }
        Ok(Err(e)) => return Err(classify(e, store.data().limiter.denied.clone(), stderr(), timeout_ms)),
    };
    let size = result.size();
    if size > MAX_OUTPUT_BYTES {
        return Err(InvokeError::OutputTooLarge { bytes: size, limit: MAX_OUTPUT_BYTES });
    }
    Ok(result)
}

fn classify(e: wasmtime::Error, denied: Option<String>, stderr: String, timeout_ms: u64) -> InvokeError {
    if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return InvokeError::Timeout { timeout_ms };
    }
    if let Some(q) = e.downcast_ref::<QuotaError>() {
        return InvokeError::ResourceLimit(q.0.clone());
    }
    if let Some(h) = e.downcast_ref::<HostServiceError>() {
        return InvokeError::HostUnavailable(h.to_string());
    }
    // A refused memory.grow usually surfaces as an abort (`unreachable`) in the guest's allocator.
    if let Some(denied) = denied {
        return InvokeError::ResourceLimit(denied);
    }
    // `{:#}` chains the wasm backtrace context with the trap reason ("wasm `unreachable`…"),
    // without the host-side Rust backtrace that `{:?}` would resolve (slow and useless here).
    let message: String = format!("{e:#}").chars().take(4096).collect();
    InvokeError::Trap { message, stderr }
}

/// Milliseconds of a duration as f64, for latency statistics.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nanosecond samples of each phase of a call, for the benchmark (`PluginHost::bench_phases`).
#[doc(hidden)]
#[derive(Debug, Default, Clone)]
pub struct PhaseSamples {
    /// WASI context + store data.
    pub new_state: Vec<u64>,
    /// `Store::new` + limiter + deadline setup.
    pub new_store: Vec<u64>,
    /// `InstancePre::instantiate_async` (pooled, copy-on-write).
    pub instantiate: Vec<u64>,
    /// The `collect` call on the fresh instance.
    pub first_call: Vec<u64>,
    /// Dropping the store (returns the slot to the pool, resets dirty pages).
    pub drop_store: Vec<u64>,
    /// Further `collect` calls on one reused instance (what instance reuse would cost).
    pub reused_call: Vec<u64>,
}

/// Measures the phases of `n` fresh-store collector calls, then `n` calls on one reused instance.
pub(crate) async fn bench_phases(
    engine: &Arc<PluginEngine>,
    pre: &KindPre,
    policy: &SandboxPolicy,
    services: &HostServices,
    config_json: Arc<str>,
    n: usize,
) -> wasmtime::Result<PhaseSamples> {
    let KindPre::Collector(pre) = pre else { wasmtime::bail!("bench_phases needs a collector") };
    let ctx = wit::CollectContext { resource: "bench".into(), scheduled_at_ms: 0, interval_ms: 1000 };
    let host = || policy.host_ctx(services, config_json.clone());
    let ns = |a: Instant, b: Instant| (b - a).as_nanos() as u64;
    let mut out = PhaseSamples::default();
    for _ in 0..n {
        let t0 = Instant::now();
        let (state, _captured) = policy.new_state(host());
        let t1 = Instant::now();
        let mut store = Store::new(&engine.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        let t2 = Instant::now();
        let instance = pre.instantiate_async(&mut store).await?;
        let t3 = Instant::now();
        let _ = instance.call_collect(&mut store, &ctx).await?;
        let t4 = Instant::now();
        drop(store);
        let t5 = Instant::now();
        out.new_state.push(ns(t0, t1));
        out.new_store.push(ns(t1, t2));
        out.instantiate.push(ns(t2, t3));
        out.first_call.push(ns(t3, t4));
        out.drop_store.push(ns(t4, t5));
    }
    let (state, _captured) = policy.new_state(host());
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    let instance = pre.instantiate_async(&mut store).await?;
    for _ in 0..n {
        let t = Instant::now();
        let _ = instance.call_collect(&mut store, &ctx).await?;
        out.reused_call.push(ns(t, Instant::now()));
    }
    Ok(out)
}
