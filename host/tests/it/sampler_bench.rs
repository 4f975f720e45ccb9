//! Density benchmark of the native sampler (ignored by default; numbers go to BENCHMARKS.md):
//! N instances at 1 s ASH (`collection-rate: high`) spread over a few private clusters with
//! raised `max_connections`, each cluster with 10 sleeping "active" sessions to sample. Measures
//! the CPU of this process (sampler + ingest into SQLite + metric writer) per stored tick in the
//! steady state (a window after a warm-up that lets every series be created), the ticks stored
//! per second, and the CPU the monitored servers spend answering the sampler.
//! `VIGIA_BENCH_WARMUP_SECS` (90) and `VIGIA_BENCH_WINDOW_SECS` (120) set the two periods.
//! Run: `VIGIA_BENCH_INSTANCES=1000 cargo test -p vigia --release --test it sampler_bench:: -- --ignored --nocapture`

use crate::support;

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use vigia::activity::ActivityWriter;
use vigia::config::SamplerConfig;
use vigia::sampler::Sampler;
use vigia::secrets::{SealedFor, SecretBox};
use vigia::store::{InstanceUpdate, NewInstance};
use vigia::timeseries::MetricWriter;
use vigia_testkit::PgCluster;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 =
        status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// Pids of the sampler's backends on a cluster.
fn sampler_backends(cluster: &PgCluster) -> Vec<String> {
    let out =
        cluster.psql("postgres", "SELECT pid FROM pg_stat_activity WHERE application_name = 'vigia-sampler'").unwrap();
    out.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn density_at_one_second_ash() {
    let n: usize = std::env::var("VIGIA_BENCH_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let per_cluster = 250;
    let clusters: Vec<PgCluster> = (0..n.div_ceil(per_cluster))
        .map(|_| PgCluster::start_with(&format!("max_connections = {}", per_cluster * 2 + 50)).unwrap())
        .collect();
    // Ten sessions per cluster stay active (sleeping inside a statement) for the sampler to see.
    let mut sleepers = Vec::new();
    for c in &clusters {
        for _ in 0..10 {
            let mut conn = PgConnection::connect(&c.url("postgres")).await.unwrap();
            sleepers.push(tokio::spawn(async move { conn.execute("SELECT pg_sleep(3600)").await.map(drop) }));
        }
    }
    let app = support::TestApp::start(support::Backend::Sqlite).await;
    let secrets = SecretBox::from_key(&support::SECRET_KEY);
    let tenant = app.admin_user.tenant_id;
    for i in 0..n {
        let port = clusters[i / per_cluster].port() as i64;
        let name = format!("db{i}");
        let new = NewInstance { name: &name, host: "127.0.0.1", port, username: "postgres", tags: "" };
        let seal = |instance_id| secrets.seal("x", &SealedFor::InstancePassword { tenant_id: tenant, instance_id });
        app.store.create_instance(tenant, &new, seal).await.unwrap();
        let high = InstanceUpdate { collection_rate: Some("high".into()), ..Default::default() };
        app.store.update_instance(tenant, &name, &high).await.unwrap();
    }
    let config = SamplerConfig::default();
    let activity = ActivityWriter::start(app.store.clone(), &config);
    let metrics = MetricWriter::start(app.store.clone());
    let started = Instant::now();
    let sampler = Sampler::new(app.store.clone(), secrets, metrics, activity.sender(), config)
        .with_poll_interval(Duration::from_secs(1))
        .spawn();
    loop {
        // The store is busy while a thousand tasks start: a timed-out read is simply retried.
        let connected = app.store.list_instances(tenant).await.map_or(0, |l| l.iter().filter(|i| i.connected).count());
        if connected == n {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "only {connected} of {n} connected");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("{n} instances connected in {:?}", started.elapsed());
    // Warm-up: connection set-up, the first inventory/statement cycles and, about 60 s after
    // each task started, its second activity cycle, which creates the series of the per-database
    // deltas and session gauges (the first cycle has no previous counters). The window starts
    // after that, so it measures the steady state: ASH ticks plus the per-minute work (chunk
    // cuts with rollups, statements and activity cycles), series all cached.
    let secs = |var: &str, default: u64| std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let warmup = Duration::from_secs(secs("VIGIA_BENCH_WARMUP_SECS", 90));
    let window = Duration::from_secs(secs("VIGIA_BENCH_WINDOW_SECS", 120));
    let warm_cpu = support::cpu_seconds("self");
    let warm_from = vigia::store::now_ms();
    tokio::time::sleep(warmup).await;
    let backends: Vec<String> = clusters.iter().flat_map(sampler_backends).collect();
    let server_before: f64 = backends.iter().map(|p| support::cpu_seconds(p)).sum();
    let me_before = support::cpu_seconds("self");
    let warm_to = vigia::store::now_ms();
    let t0 = Instant::now();
    let from = vigia::store::now_ms();
    // CPU of each 10 s of the window, to tell the ticks alone from the minute's work (the
    // cut of 250 chunks, statements and activity cycles). `/proc` counts CPU in 10 ms, which is
    // 40 µs per tick over one second at 250 ticks/s: too coarse for one second.
    const BUCKET: Duration = Duration::from_secs(10);
    let mut buckets = Vec::new();
    let mut last = me_before;
    let mut next = tokio::time::Instant::now();
    while t0.elapsed() + BUCKET / 2 < window {
        next += BUCKET;
        tokio::time::sleep_until(next).await;
        let now = support::cpu_seconds("self");
        buckets.push(now - last);
        last = now;
    }
    let to = vigia::store::now_ms();
    let me = support::cpu_seconds("self") - me_before;
    let wall = (to - from) as f64 / 1000.0;
    let server: f64 = backends.iter().map(|p| support::cpu_seconds(p)).sum::<f64>() - server_before;
    activity.flush().await;
    let ids: Vec<i64> = app.store.list_instances(tenant).await.unwrap().iter().map(|i| i.id).collect();
    let stored = |from: i64, to: i64| {
        let store = app.store.clone();
        let ids = ids.clone();
        async move {
            let chunks = store.ash_chunks(&ids, from, to).await.unwrap();
            let (mut ticks, mut sessions) = (0usize, 0usize);
            for c in &chunks {
                let chunk = vigia::activity::codec::AshChunk::decode(c.start_ts, &c.data).unwrap();
                ticks += chunk.ticks.iter().filter(|t| (from..to).contains(*t)).count();
                sessions += chunk.rows.iter().filter(|r| (from..to).contains(&r.ts)).count();
            }
            (ticks, sessions)
        }
    };
    let (ticks, sessions) = stored(from, to).await;
    let (warm_ticks, _) = stored(warm_from, warm_to).await;
    buckets.sort_by(f64::total_cmp);
    let per_tick = |cpu: f64| cpu / (BUCKET.as_secs_f64() * ticks as f64 / wall).max(1.0) * 1e6;
    let (lowest, median) =
        (buckets.first().copied().unwrap_or(0.0), buckets.get(buckets.len() / 2).copied().unwrap_or(0.0));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{n} instances at 1 s ASH, steady window of {wall:.0} s after {} s of warm-up: vigia (sampler + ingest) \
         {:.1}% of one core, RSS {:.0} MiB",
        warmup.as_secs(),
        me / wall * 100.0,
        rss_mib()
    );
    println!(
        "  {:.1} ticks/s stored of {n} due ({:.0} session samples/s): {:.1} µs of vigia CPU per stored tick \
         (10 s buckets: lowest {:.0} µs, median {:.0} µs)",
        ticks as f64 / wall,
        sessions as f64 / wall,
        me / ticks.max(1) as f64 * 1e6,
        per_tick(lowest),
        per_tick(median)
    );
    println!(
        "  warm-up (first cycles, series creation): {:.1} µs per stored tick over {} ticks",
        (me_before - warm_cpu) / warm_ticks.max(1) as f64 * 1e6,
        warm_ticks
    );
    println!(
        "  monitored servers: {:.1}% of one core for {} sampler backends ({:.0} µs per instance-second)",
        server / wall * 100.0,
        backends.len(),
        server / (n as f64 * wall) * 1e6
    );
    println!("  load average at the end: {}", load.trim());
    sampler.abort();
    for s in sleepers {
        s.abort();
    }
}
