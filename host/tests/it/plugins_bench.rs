//! Plugin runtime benchmark (criterion-free). Ignored by default; run in release:
//!
//! ```text
//! cargo test -p vigia --release --test it plugins_bench:: -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Prints: warm instantiate+trivial collect p50/p99 (full `PluginHost::collect` path and per
//! phase), warm call overhead on a reused instance, cold compile vs cached load per plugin,
//! hot-reload latency (manifest rename → new version serving), and RSS with 10 plugins loaded.

use crate::plugins_support;

use std::time::{Duration, Instant};

use plugins_support::*;
use vigia::plugins::{CollectContext, LoadState};

fn pct(samples: &mut [u64], p: f64) -> f64 {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * p).round() as usize] as f64
}

fn us(samples: &mut [u64]) -> String {
    format!("p50 {:>8.1} µs  p99 {:>8.1} µs", pct(samples, 0.5) / 1e3, pct(samples, 0.99) / 1e3)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn plugin_runtime_benchmark() {
    let n = std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000usize);
    println!("\n== plugin runtime benchmark (n = {n}) ==");

    // 1. Warm calls of a trivial collector (misbehave, mode ok: reads config, returns 1 sample).
    let sb = Sandbox::new();
    sb.install("misbehave", "trivial", |_| {});
    let host = sb.start().await;
    for _ in 0..1000 {
        host.collect("trivial", CollectContext::default()).await.unwrap();
    }
    let mut full = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        host.collect("trivial", CollectContext::default()).await.unwrap();
        full.push(t.elapsed().as_nanos() as u64);
    }
    println!("collect() full path, fresh instance per call: {}", us(&mut full));
    let mut phases = host.bench_phases("trivial", n).await.unwrap();
    println!("  phase new_state (WASI ctx)      : {}", us(&mut phases.new_state));
    println!("  phase Store::new                : {}", us(&mut phases.new_store));
    println!("  phase instantiate (pooled, CoW) : {}", us(&mut phases.instantiate));
    println!("  phase collect on fresh instance : {}", us(&mut phases.first_call));
    println!("  phase drop store                : {}", us(&mut phases.drop_store));
    let mut inst_call: Vec<u64> = phases.instantiate.iter().zip(&phases.first_call).map(|(a, b)| a + b).collect();
    println!("  instantiate + collect           : {}", us(&mut inst_call));
    println!("warm call on a reused instance    : {}", us(&mut phases.reused_call));
    drop(host);

    // 2. Cold compile vs cached load, per plugin (start() of a directory holding only it).
    let baseline = {
        let empty = Sandbox::new();
        let t = Instant::now();
        drop(empty.start().await);
        t.elapsed()
    };
    println!("\nhost start with no plugins: {:.1} ms (subtracted below)", baseline.as_secs_f64() * 1e3);
    let names = bundle_names();
    for name in &names {
        let sb = Sandbox::new();
        sb.install(name, name, |_| {});
        let size = std::fs::metadata(sb.dir.join(name).join(format!("{name}.wasm"))).unwrap().len();
        let t = Instant::now();
        let host = sb.start().await;
        let cold = t.elapsed().saturating_sub(baseline);
        let status = host.status(name).unwrap();
        assert_eq!(status.status, LoadState::Loaded, "{status:?}");
        drop(host);
        let t = Instant::now();
        let host = sb.start().await;
        let warm = t.elapsed().saturating_sub(baseline);
        assert_eq!(host.cache_stats().compiled, 0);
        println!(
            "{name:>18} ({:>6} KiB wasm): cold compile+load {:>8.1} ms, cached load {:>6.1} ms",
            size / 1024,
            cold.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3
        );
    }

    // 3. Hot reload: rename of a new manifest → the new version serves.
    let sb = Sandbox::new();
    let (manifest, wasm) = bundle("misbehave");
    sb.write("misbehave", &manifest, &wasm);
    let host = sb.start().await;
    let plugin_dir = sb.dir.join("misbehave");
    let rounds = 20;
    for (label, fresh_bytes) in [("new wasm bytes (compile)", true), ("known wasm bytes (cache hit)", false)] {
        let mut lat = Vec::new();
        for i in 0..rounds {
            let bytes = if fresh_bytes {
                with_custom_section(&wasm, &format!("r{i}"))
            } else if i % 2 == 0 {
                wasm.clone()
            } else {
                with_custom_section(&wasm, "r1")
            };
            let wasm_name = format!("v{i}-{fresh_bytes}.wasm");
            atomic_write(&plugin_dir.join(&wasm_name), &bytes);
            // Let the watcher digest the new (unreferenced) file before starting the clock.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut m = manifest.clone();
            let version = format!("0.{}.{i}", u8::from(fresh_bytes));
            set(&mut m, "version", version.as_str());
            set(&mut m, "wasm", wasm_name.as_str());
            set(&mut m, "sha256", sha256_hex(&bytes));
            let t = Instant::now();
            atomic_write(&plugin_dir.join("plugin.toml"), toml::to_string(&m).unwrap().as_bytes());
            while host.status("misbehave").and_then(|s| s.version) != Some(version.clone()) {
                assert!(t.elapsed() < Duration::from_secs(20), "reload never happened");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            lat.push(t.elapsed().as_nanos() as u64);
            host.collect("misbehave", CollectContext::default()).await.unwrap();
        }
        let ms = |v: f64| v / 1e6;
        println!(
            "\nhot reload, {label}: p50 {:.0} ms, p99 {:.0} ms (debounce {} ms included)",
            ms(pct(&mut lat, 0.5)),
            ms(pct(&mut lat, 0.99)),
            vigia::plugins::RELOAD_DEBOUNCE.as_millis()
        );
    }
    drop(host);

    // 4. RSS with 10 plugins: compile them here (warming the cache), then measure a start in a
    // fresh process, as after a restart (this process has compiled a lot and kept the heap).
    let sb = Sandbox::new();
    let mut ids = Vec::new();
    for name in names.iter().filter(|n| n.as_str() != "python-collector") {
        sb.install(name, name, |_| {});
        ids.push(name.clone());
    }
    for copy in 0.. {
        if ids.len() >= 10 {
            break;
        }
        let id = format!("misbehave-{copy}");
        sb.install("misbehave", &id, |_| {});
        ids.push(id);
    }
    drop(sb.start().await);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["rss_with_ten_plugins", "--ignored", "--exact", "--nocapture"])
        .env("VIGIA_BENCH_RSS_ROOT", sb.tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("RSS:")).unwrap_or("RSS: probe failed");
    println!("\n{line} [{}]", ids.join(", "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by plugin_runtime_benchmark in a fresh process"]
async fn rss_with_ten_plugins() {
    let Some(root) = std::env::var_os("VIGIA_BENCH_RSS_ROOT").map(std::path::PathBuf::from) else { return };
    let before = rss_kib();
    let opts = vigia::plugins::PluginHostOptions {
        dir: root.join("plugins"),
        data_dir: root.join("data"),
        max_plugins: 16,
        watch: true,
        bounds: vigia::plugins::CapabilityBounds::new(
            &vigia::plugins::PluginPolicy { tcp_networks: vec!["127.0.0.0/8".into()], ..Default::default() },
            &[&root.join("data")],
        )
        .unwrap(),
    };
    let services = vigia::plugins::HostServices::in_memory(vigia::secrets::SecretBox::from_key(&[1; 32]));
    let host = vigia::plugins::PluginHost::start(opts, services).await.unwrap();
    assert_eq!(host.cache_stats().compiled, 0);
    let loaded = rss_kib();
    for s in host.list() {
        assert_eq!(s.status, LoadState::Loaded);
        if s.id.starts_with("misbehave") {
            host.collect(&s.id, CollectContext::default()).await.unwrap();
        }
    }
    let after = rss_kib();
    println!(
        "RSS: fresh process {} MiB; 10 plugins loaded from cache {} MiB (+{} MiB); after one call each {} MiB",
        before / 1024,
        loaded / 1024,
        loaded.saturating_sub(before) / 1024,
        after / 1024,
    );
}

fn bundle_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bundles_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "wrong-major")
        .collect();
    names.sort();
    names
}
