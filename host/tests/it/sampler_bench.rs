//! Density benchmark of the native sampler (ignored by default; numbers go to BENCHMARKS.md):
//! N instances at 1 s ASH (`collection-rate: high`) spread over a few private clusters with
//! raised `max_connections`, each cluster with 10 sleeping "active" sessions to sample. Measures
//! the CPU of this process (sampler + ingest into SQLite + metric writer) as % of one core, the
//! ticks stored per second, and the CPU the monitored servers spend answering the sampler.
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
    // Let connection set-up and the first inventory/statement cycles pass, then measure a window.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let window = Duration::from_secs(60);
    let backends: Vec<String> = clusters.iter().flat_map(sampler_backends).collect();
    let server_before: f64 = backends.iter().map(|p| support::cpu_seconds(p)).sum();
    let me_before = support::cpu_seconds("self");
    let t0 = Instant::now();
    let from = vigia::store::now_ms();
    tokio::time::sleep(window).await;
    let to = vigia::store::now_ms();
    let me = support::cpu_seconds("self") - me_before;
    let server: f64 = backends.iter().map(|p| support::cpu_seconds(p)).sum::<f64>() - server_before;
    let wall = t0.elapsed().as_secs_f64();
    activity.flush().await;
    let ids: Vec<i64> = app.store.list_instances(tenant).await.unwrap().iter().map(|i| i.id).collect();
    let chunks = app.store.ash_chunks(&ids, from, to).await.unwrap();
    let (mut ticks, mut sessions) = (0usize, 0usize);
    for c in &chunks {
        let chunk = vigia::activity::codec::AshChunk::decode(c.start_ts, &c.data).unwrap();
        ticks += chunk.ticks.iter().filter(|t| (from..=to).contains(*t)).count();
        sessions += chunk.rows.iter().filter(|r| (from..=to).contains(&r.ts)).count();
    }
    println!(
        "{n} instances at 1 s ASH over {wall:.0} s: vigia (sampler + ingest) {:.1}% of one core, RSS {:.0} MiB",
        me / wall * 100.0,
        rss_mib()
    );
    println!(
        "  {:.0} ticks/s stored ({:.0} session samples/s), {:.1} µs of vigia CPU per instance-second",
        ticks as f64 / wall,
        sessions as f64 / wall,
        me / (n as f64 * wall) * 1e6
    );
    println!(
        "  monitored servers: {:.1}% of one core for {} sampler backends ({:.0} µs per instance-second)",
        server / wall * 100.0,
        backends.len(),
        server / (n as f64 * wall) * 1e6
    );
    sampler.abort();
    for s in sleepers {
        s.abort();
    }
}
