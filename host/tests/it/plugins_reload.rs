//! Hot reload, the compile cache, bundle installation and removal, for real components.

use crate::plugins_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use plugins_support::*;
use serde_json::json;
use vigia::plugins::{CollectContext, InvokeError, LoadState, PluginError, PluginHost};

fn ctx() -> CollectContext {
    CollectContext { resource: "test".into(), scheduled_at_ms: 0, interval_ms: 1000 }
}

fn version_of(host: &PluginHost, id: &str) -> Option<String> {
    host.status(id).and_then(|s| s.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_wasm_under_load_swaps_versions_without_a_failed_call() {
    init_tracing();
    let sb = Sandbox::new();
    let (manifest, wasm) = bundle("misbehave");
    sb.write("misbehave", &manifest, &wasm);
    let host = sb.start().await;
    assert_eq!(version_of(&host, "misbehave").as_deref(), Some("0.1.0"));

    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (host, stop) = (host.clone(), stop.clone());
        tokio::spawn(async move {
            let mut calls = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let samples = host.collect("misbehave", ctx()).await.expect("every call succeeds during reloads");
                assert_eq!(samples[0].name, "fixture.ok");
                calls += 1;
                tokio::task::yield_now().await;
            }
            calls
        })
    };
    // Two successive replacements with new bytes (custom section) and new manifest versions.
    // Files are replaced wasm-first, so the watcher may briefly see a hash mismatch: that reload
    // fails and the old version keeps serving until the manifest lands.
    for (i, version) in ["0.2.0", "0.3.0"].iter().enumerate() {
        let mut m = manifest.clone();
        set(&mut m, "version", *version);
        sb.write("misbehave", &m, &with_custom_section(&wasm, &format!("v{i}")));
        wait_for(&host, "misbehave", &format!("version {version}"), |s| {
            s.is_some_and(|s| s.version.as_deref() == Some(version) && s.last_error.is_none())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let calls = caller.await.expect("caller saw no failure");
    assert!(calls > 10, "only {calls} calls made");
    let status = host.status("misbehave").unwrap();
    assert_eq!((status.status, status.errors), (LoadState::Loaded, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_calls_finish_on_the_old_version() {
    init_tracing();
    let sb = Sandbox::new();
    let (manifest, wasm) = bundle("misbehave");
    let mut m = manifest.clone();
    // A long call, so the swap lands inside it even on a busy machine.
    set(&mut m, "limits.timeout_ms", 20_000);
    sb.write("misbehave", &m, &wasm);
    let host = sb.start().await;
    host.set_config("misbehave", json!({"mode": "sleep", "ms": 5000})).await.unwrap();
    let slow = {
        let host = host.clone();
        tokio::spawn(async move { host.collect("misbehave", ctx()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Same wasm (compile cache hit, so the swap is quick), new manifest version.
    set(&mut m, "version", "0.2.0");
    sb.write("misbehave", &m, &wasm);
    wait_for(&host, "misbehave", "the new version", |s| s.is_some_and(|s| s.version.as_deref() == Some("0.2.0"))).await;
    assert!(!slow.is_finished(), "the swap happened while the old call was running");
    let samples = slow.await.unwrap().expect("the in-flight call completes on the old version");
    assert!(samples[0].value >= 5000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_replacement_keeps_the_old_version_and_reports_the_error() {
    init_tracing();
    let sb = Sandbox::new();
    let (manifest, wasm) = bundle("misbehave");
    sb.write("misbehave", &manifest, &wasm);
    let host = sb.start().await;
    let loaded_at = host.status("misbehave").unwrap().loaded_at;

    // Corrupt wasm with a matching sha256: only compilation can tell.
    let mut m = manifest.clone();
    set(&mut m, "version", "9.9.9");
    sb.write("misbehave", &m, b"\0asm\x0d\0\x01\0this is not a component");
    // The wasm and the manifest are two writes: a reload may first see the new wasm with the old
    // manifest (a sha256 mismatch, equally refused). Wait for the error of the final state.
    wait_for(&host, "misbehave", "the reload error", |s| {
        s.is_some_and(|s| s.last_error.as_deref().is_some_and(|e| e.contains("invalid component")))
    })
    .await;
    let status = host.status("misbehave").unwrap();
    assert!(status.last_error.as_deref().unwrap().contains("invalid component"), "{status:?}");
    assert_eq!(status.status, LoadState::Loaded, "still serving");
    assert_eq!(status.version.as_deref(), Some("0.1.0"));
    assert_eq!(status.loaded_at, loaded_at);
    host.collect("misbehave", ctx()).await.expect("old version serves");

    // A broken manifest is just as harmless.
    std::fs::write(sb.dir.join("misbehave/plugin.toml"), "id = \"misbehave\"\nbogus = 1\n").unwrap();
    wait_for(&host, "misbehave", "the manifest error", |s| {
        s.is_some_and(|s| s.last_error.as_deref().is_some_and(|e| e.contains("bogus")))
    })
    .await;
    host.collect("misbehave", ctx()).await.expect("old version still serves");

    // Fixing the directory clears the error.
    sb.write("misbehave", &manifest, &wasm);
    wait_for(&host, "misbehave", "recovery", |s| s.is_some_and(|s| s.last_error.is_none())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_appear_and_disappear_with_their_directories() {
    init_tracing();
    let sb = Sandbox::new();
    let host = sb.start().await;
    assert!(host.list().is_empty());
    sb.install("misbehave", "late", |_| {});
    wait_for(&host, "late", "the new plugin", |s| s.is_some_and(|s| s.status == LoadState::Loaded)).await;
    host.collect("late", ctx()).await.unwrap();
    // Other kinds hot-load the same way.
    sb.install("webhook", "webhook", |_| {});
    sb.install("csv", "csv", |_| {});
    wait_for(&host, "webhook", "a notifier", |s| s.is_some_and(|s| s.status == LoadState::Loaded)).await;
    wait_for(&host, "csv", "a reporter", |s| s.is_some_and(|s| s.status == LoadState::Loaded)).await;
    std::fs::remove_dir_all(sb.dir.join("late")).unwrap();
    wait_for(&host, "late", "unload", |s| s.is_none()).await;
    assert_eq!(host.collect("late", ctx()).await, Err(InvokeError::NotFound("late".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_from_the_compile_cache() {
    init_tracing();
    let sb = Sandbox::new();
    sb.install("misbehave", "one", |_| {});
    sb.install("misbehave", "two", |_| {}); // same wasm: compiled once, then a cache hit
    sb.install("webhook", "webhook", |_| {});
    let first = sb.start().await;
    let cold = first.cache_stats();
    assert_eq!((cold.compiled, cold.cache_hits), (2, 1), "{cold:?}");
    drop(first);
    let second = sb.start().await;
    let warm = second.cache_stats();
    assert_eq!((warm.compiled, warm.cache_hits), (0, 3), "second start compiles nothing: {warm:?}");
    second.collect("one", ctx()).await.unwrap();
    assert!(std::fs::read_dir(sb.data.join("plugin-cache")).unwrap().count() >= 2);
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    vigia::plugins::pack_bundle(files).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_validated_before_anything_is_written_and_removal_cleans_up() {
    init_tracing();
    let sb = Sandbox::new();
    let host = sb.start().await;
    let (mut manifest, wasm) = bundle("misbehave");
    set(&mut manifest, "sha256", sha256_hex(&wasm));
    let text = toml::to_string(&manifest).unwrap();

    // Hash mismatch, wrong major, garbage: refused, nothing written.
    let bad_hash = tar_gz(&[("plugin.toml", text.as_bytes()), ("misbehave.wasm", b"\0asm other")]);
    assert!(matches!(host.install_bundle(&bad_hash).await, Err(PluginError::Invalid(e)) if e.contains("sha256")));
    let (mut wm, ww) = bundle("wrong-major");
    set(&mut wm, "world", "0.1.0");
    set(&mut wm, "sha256", sha256_hex(&ww));
    let wrong = tar_gz(&[("plugin.toml", toml::to_string(&wm).unwrap().as_bytes()), ("wrong-major.wasm", &ww)]);
    let err = host.install_bundle(&wrong).await.unwrap_err().to_string();
    assert!(err.contains("1.0.0") && err.contains("0.1.1"), "{err}");
    assert!(host.install_bundle(b"garbage").await.is_err());
    assert_eq!(std::fs::read_dir(&sb.dir).unwrap().count(), 0, "nothing written for refused bundles");

    // A good bundle (foldered layout) serves at once.
    let good = tar_gz(&[("misbehave/plugin.toml", text.as_bytes()), ("misbehave/misbehave.wasm", &wasm)]);
    let status = host.install_bundle(&good).await.unwrap();
    assert_eq!(status.status, LoadState::Loaded);
    host.collect("misbehave", ctx()).await.unwrap();
    assert!(sb.dir.join("misbehave/plugin.toml").exists());
    host.set_config("misbehave", json!({"mode": "state"})).await.unwrap();
    host.collect("misbehave", ctx()).await.unwrap();

    host.remove("misbehave").await.unwrap();
    assert!(host.status("misbehave").is_none());
    assert!(!sb.dir.join("misbehave").exists());
    assert!(matches!(host.remove("misbehave").await, Err(PluginError::NotFound(_))));
    // Settings and state are forgotten: a reinstall starts fresh.
    host.install_bundle(&good).await.unwrap();
    assert_eq!(host.config("misbehave", false).await.unwrap()["mode"], "ok");
    // The watcher saw our own writes; give it time to (not) reload, then check nothing broke.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let status = host.status("misbehave").unwrap();
    assert_eq!((status.status, status.last_error), (LoadState::Loaded, None));
}
