//! Load test (ignored; its numbers are in BENCHMARKS.md): 200 concurrent clients flood the
//! sign-in endpoint of the real binary with wrong passwords while a legitimate client keeps
//! calling the API with its token. The host's memory must stay bounded (argon2 is ~19 MiB a
//! check: the rate limit answers most of the flood before any, and the semaphore bounds the
//! rest) and the legitimate calls must stay fast. Run with rate limiting on (the default) and
//! off, where only the lockout and the argon2 semaphore stand.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::e2e_support::Server;

const FLOODERS: usize = 200;
const SECONDS: u64 = 20;

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn flood(label: &str, extra: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), extra);
    let token = server.admin_token().await;
    let pid = server.pid();
    let rss_before = status_kib(pid, "VmRSS");
    let http = reqwest::Client::builder().pool_max_idle_per_host(FLOODERS + 8).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let mut flooders = tokio::task::JoinSet::new();
    for i in 0..FLOODERS {
        let (http, stop, counts, url) =
            (http.clone(), stop.clone(), counts.clone(), format!("{}/api/v1/auth/token", server.base));
        flooders.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"username": format!("guess{}", i % 20), "password": "not-it"});
                let slot = match http.post(&url).json(&body).send().await.map(|r| r.status().as_u16()) {
                    Ok(401) => 0,
                    Ok(429) => 1,
                    Ok(_) => 2,
                    Err(_) => 3,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // The legitimate client: 400 calls a minute, within its token's default budget. On its own
    // thread and runtime, so the time it measures is the server's, not the flood generator's
    // queue of 200 tasks.
    let (base, legit_token) = (server.base.clone(), token.clone());
    let legit = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(legitimate_calls(&base, &legit_token))
    });
    let mut latencies = tokio::task::spawn_blocking(move || legit.join().unwrap()).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    while flooders.join_next().await.is_some() {}
    let peak = status_kib(pid, "VmHWM");
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let total: u64 = c.iter().sum();
    println!(
        "{label}: {total} sign-in attempts in {SECONDS} s ({:.0}/s) from {FLOODERS} clients: {} 401, {} 429, {} other, {} errors",
        total as f64 / SECONDS as f64,
        c[0],
        c[1],
        c[2],
        c[3]
    );
    println!(
        "  legitimate GET /api/v1/health x{}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; RSS {} MiB before, peak {} MiB",
        latencies.len(),
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0,
        rss_before / 1024,
        peak / 1024
    );
    assert_eq!(c[3], 0, "no connection failed");
}

/// Calls `GET /api/v1/health` every 150 ms for the test's duration; the latency of each call.
async fn legitimate_calls(base: &str, token: &str) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(SECONDS) {
        let t = Instant::now();
        let r = http.get(format!("{base}/api/v1/health")).bearer_auth(token).send().await.unwrap();
        latencies.push(t.elapsed());
        assert_eq!(r.status(), 200, "the legitimate client is never limited by the flood");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: cargo test -p vigia --release --test e2e sign_in_flood -- --ignored --nocapture --test-threads 1"]
async fn sign_in_flood_with_rate_limits() {
    flood("rate limits on (defaults)", "").await;
}

/// The same without the refusal delay: what answering every refusal at once costs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: cargo test -p vigia --release --test e2e sign_in_flood -- --ignored --nocapture --test-threads 1"]
async fn sign_in_flood_with_rate_limits_refusing_at_once() {
    flood("rate limits on, refusals answered at once", "[server.rate_limit]\nrefusal_delay_ms = 0\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test: cargo test -p vigia --release --test e2e sign_in_flood -- --ignored --nocapture --test-threads 1"]
async fn sign_in_flood_without_rate_limits() {
    flood("rate limits off: lockout and the argon2 semaphore only", "[server.rate_limit]\nenabled = false\n").await;
}
