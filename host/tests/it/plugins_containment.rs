//! Containment: a misbehaving plugin (the `misbehave` fixture, mode picked by its config) is
//! stopped at each sandbox boundary while the host, and other plugins, keep working.

use crate::plugins_support;

use std::time::{Duration, Instant};

use plugins_support::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use vigia::plugins::{CollectContext, ErrorKind, InvokeError, LoadState, PluginHost};

fn ctx() -> CollectContext {
    CollectContext { resource: "test".into(), scheduled_at_ms: 0, interval_ms: 1000 }
}

async fn collect_with(
    host: &PluginHost,
    id: &str,
    config: serde_json::Value,
) -> Result<Vec<vigia::plugins::MetricSample>, InvokeError> {
    host.set_config(id, config).await.expect("valid config");
    host.collect(id, ctx()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_reports_stderr_and_the_next_call_works() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |_| {});
    let host = sb.start().await;
    let err = collect_with(&host, "misbehave", json!({"mode": "trap"})).await.unwrap_err();
    match &err {
        InvokeError::Trap { message, stderr } => {
            assert!(stderr.contains("deliberate panic"), "stderr: {stderr}");
            assert!(message.contains("unreachable") || message.contains("wasm"), "message: {message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.to_string().contains("deliberate panic"), "display includes stderr: {err}");
    let ok = collect_with(&host, "misbehave", json!({"mode": "ok"})).await.unwrap();
    assert_eq!(ok[0].name, "fixture.ok");
    let status = host.status("misbehave").unwrap();
    assert_eq!((status.calls, status.traps, status.status), (2, 1, LoadState::Loaded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_killed_at_its_deadline_while_other_calls_are_served() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "spinner", |m| set(m, "limits.timeout_ms", 800));
    sb.install("misbehave", "steady", |_| {});
    let host = sb.start().await;
    host.set_config("spinner", json!({"mode": "loop"})).await.unwrap();
    let started = Instant::now();
    let spinning = {
        let host = host.clone();
        tokio::spawn(async move { host.collect("spinner", ctx()).await })
    };
    // While the spinner burns its budget, the other plugin keeps answering. (How fast is a
    // benchmark's business; a loaded CI machine must not fail this test.)
    let mut served = 0;
    while !spinning.is_finished() {
        host.collect("steady", ctx()).await.expect("steady plugin keeps working");
        served += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = spinning.await.unwrap().unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err, InvokeError::Timeout { timeout_ms: 800 });
    // Never before its deadline; the upper bound only proves it was killed rather than left running.
    assert!(elapsed >= Duration::from_millis(790) && elapsed < Duration::from_secs(20), "killed after {elapsed:?}");
    assert!(served >= 3, "only {served} calls served meanwhile");
    assert_eq!(host.status("spinner").unwrap().timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_is_denied_past_the_limit() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |m| set(m, "limits.memory_mb", 32));
    let host = sb.start().await;
    match collect_with(&host, "misbehave", json!({"mode": "membomb"})).await.unwrap_err() {
        InvokeError::ResourceLimit(msg) => assert!(msg.contains("32 MiB"), "{msg}"),
        other => panic!("expected a resource limit, got {other:?}"),
    }
    collect_with(&host, "misbehave", json!({"mode": "ok"})).await.expect("healthy after the bomb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabyte_output_is_rejected() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |m| {
        set(m, "limits.memory_mb", 512);
        set(m, "limits.timeout_ms", 60_000);
    });
    let host = sb.start().await;
    match collect_with(&host, "misbehave", json!({"mode": "bigoutput", "mb": 100})).await.unwrap_err() {
        InvokeError::OutputTooLarge { bytes, limit } => assert!(bytes > 100_000_000 && limit == 16 << 20, "{bytes}"),
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
    // A small output of the same kind passes.
    let small = collect_with(&host, "misbehave", json!({"mode": "bigoutput", "mb": 1})).await.unwrap();
    assert_eq!(small.len(), 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_invisible_unless_a_read_only_path_is_granted() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "blind", |_| {});
    sb.install("misbehave", "reader", |m| set(m, "capabilities.read_only_paths", vec!["/etc"]));
    let host = sb.start().await;
    match collect_with(&host, "blind", json!({"mode": "readfile"})).await.unwrap_err() {
        InvokeError::Plugin { kind: ErrorKind::Permanent, message } => {
            assert!(message.contains("/etc/passwd"), "{message}")
        }
        other => panic!("expected the read to fail inside the plugin, got {other:?}"),
    }
    let read = collect_with(&host, "reader", json!({"mode": "readfile"})).await.unwrap();
    assert!(read[0].value > 0.0, "granted read-only path is readable");
}

/// A loopback TCP listener counting accepted connections (for 3 s).
async fn listener() -> (u16, tokio::task::JoinHandle<usize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut n = 0;
        while let Ok(Ok((mut s, _))) = tokio::time::timeout(Duration::from_secs(3), l.accept()).await {
            n += 1;
            let _ = s.shutdown().await;
        }
        n
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_only_reaches_allow_listed_addresses() {
    init_tracing();
    let (allowed, allowed_task) = listener().await;
    let (forbidden, forbidden_task) = listener().await;
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |m| {
        set(m, "capabilities.allowed_tcp", vec![format!("127.0.0.1:{allowed}")]);
    });
    let host = sb.start().await;
    let ok = collect_with(&host, "misbehave", json!({"mode": "tcp", "target": format!("127.0.0.1:{allowed}")})).await;
    assert_eq!(ok.unwrap()[0].name, "fixture.tcp_connected");
    let denied = collect_with(&host, "misbehave", json!({"mode": "tcp", "target": format!("127.0.0.1:{forbidden}")}));
    match denied.await.unwrap_err() {
        InvokeError::Plugin { message, .. } => assert!(message.contains(&forbidden.to_string()), "{message}"),
        other => panic!("expected a refused connect, got {other:?}"),
    }
    assert_eq!(allowed_task.await.unwrap(), 1);
    assert_eq!(forbidden_task.await.unwrap(), 0, "the forbidden port never saw a connection");
}

/// A loopback HTTP server answering `ok` and counting requests.
async fn http_server() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, app).await });
    (port, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_only_reaches_allow_listed_hosts() {
    init_tracing();
    let (allowed, allowed_hits) = http_server().await;
    let (forbidden, forbidden_hits) = http_server().await;
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |m| {
        set(m, "capabilities.allowed_outbound_hosts", vec![format!("http://127.0.0.1:{allowed}")]);
    });
    let host = sb.start().await;
    let url = format!("http://127.0.0.1:{allowed}/health");
    let ok = collect_with(&host, "misbehave", json!({"mode": "http", "url": url})).await.unwrap();
    assert_eq!(ok[0].value, 200.0);
    let url = format!("http://127.0.0.1:{forbidden}/health");
    match collect_with(&host, "misbehave", json!({"mode": "http", "url": url})).await.unwrap_err() {
        InvokeError::Plugin { message, .. } => assert!(message.to_lowercase().contains("denied"), "{message}"),
        other => panic!("expected a denied request, got {other:?}"),
    }
    // Same port, other scheme or host: still denied.
    let url = format!("http://localhost:{allowed}/health");
    assert!(collect_with(&host, "misbehave", json!({"mode": "http", "url": url})).await.is_err());
    assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
    assert_eq!(forbidden_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_clocks_stop_time_and_the_deadline_still_holds() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "frozen", |m| {
        set(m, "capabilities.clocks", false);
        set(m, "limits.timeout_ms", 300);
    });
    sb.install("misbehave", "ticking", |m| set(m, "capabilities.clocks", true));
    let host = sb.start().await;
    let err = collect_with(&host, "frozen", json!({"mode": "sleep", "ms": 20})).await.unwrap_err();
    assert_eq!(err, InvokeError::Timeout { timeout_ms: 300 });
    let ok = collect_with(&host, "ticking", json!({"mode": "sleep", "ms": 20})).await.unwrap();
    assert!(ok[0].value >= 20.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_persists_across_calls_and_reloads() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |_| {});
    let host = sb.start().await;
    for expected in 1..=3 {
        let s = collect_with(&host, "misbehave", json!({"mode": "state"})).await.unwrap();
        assert_eq!(s[0].value, expected as f64);
    }
    drop(host);
    let host = sb.start().await;
    let s = collect_with(&host, "misbehave", json!({"mode": "state"})).await.unwrap();
    assert_eq!(s[0].value, 4.0, "state survives a restart (same state store)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_major_and_broken_plugins_fail_alone() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |_| {});
    // Manifest honest about 1.0.0: refused by the manifest check.
    sb.install("wrong-major", "wrong-major", |_| {});
    // Manifest lying ("0.1.0"): refused by inspecting the component's imports.
    sb.install("wrong-major", "wrong-major-lying", |m| set(m, "world", "0.1.0"));
    // Corrupt wasm with a matching hash; and a hash mismatch.
    let (manifest, _) = bundle("misbehave");
    sb.write("corrupt", &manifest, b"\0asm\x0d\0\x01\0garbage");
    sb.install("misbehave", "mismatch", |_| {});
    std::fs::write(sb.dir.join("mismatch/mismatch.wasm"), b"changed").unwrap();
    // Notifier manifest over a collector component.
    sb.install("misbehave", "wrong-kind", |m| set(m, "kind", "notifier"));
    let host = sb.start().await;

    assert_eq!(host.status("misbehave").unwrap().status, LoadState::Loaded);
    collect_with(&host, "misbehave", json!({"mode": "ok"})).await.unwrap();
    let failed = |id: &str| {
        let s = host.status(id).unwrap_or_else(|| panic!("{id} listed"));
        assert_eq!(s.status, LoadState::Failed, "{id}: {s:?}");
        s.last_error.unwrap()
    };
    for id in ["wrong-major", "wrong-major-lying"] {
        let e = failed(id);
        assert!(e.contains("1.0.0") && e.contains("0.1.1"), "{id}: {e}");
    }
    assert!(failed("corrupt").contains("invalid component"));
    assert!(failed("mismatch").contains("sha256 mismatch"));
    assert!(failed("wrong-kind").contains("collector"));
    assert!(matches!(host.collect("corrupt", ctx()).await, Err(InvokeError::Failed { .. })));
    assert!(matches!(host.collect("nope", ctx()).await, Err(InvokeError::NotFound(_))));
    assert_eq!(host.list().len(), 6);
    // Readiness is never failed by plugins.
    assert!(host.readiness_check().check().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_plugins_and_invalid_configs_are_refused() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "misbehave", |_| {});
    let host = sb.start().await;
    host.set_enabled("misbehave", false).await.unwrap();
    assert_eq!(host.status("misbehave").unwrap().status, LoadState::Disabled);
    assert_eq!(host.collect("misbehave", ctx()).await, Err(InvokeError::Disabled("misbehave".into())));
    host.set_enabled("misbehave", true).await.unwrap();
    host.collect("misbehave", ctx()).await.unwrap();
    let err = host.set_config("misbehave", json!({"mode": "explode"})).await.unwrap_err();
    assert!(err.to_string().contains("schema"), "{err}");
    assert_eq!(host.config("misbehave", true).await.unwrap()["mode"], "ok");
    let wrong = host.deliver("misbehave", sample_notification()).await.unwrap_err();
    assert!(matches!(wrong, InvokeError::WrongKind { .. }), "{wrong:?}");
}

fn sample_notification() -> vigia::plugins::Notification {
    vigia::plugins::Notification { idempotency_key: "k".into(), channel: "c".into(), attempt: 1, alerts: vec![] }
}
