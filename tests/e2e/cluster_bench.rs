//! Cluster benchmark (ignored; BENCHMARKS.md "Cluster (issue 13)"): 3 real members on one
//! private PostgreSQL sampling `VIGIA_BENCH_INSTANCES` instances (default 60) at 1 s, then
//! - failover over `VIGIA_BENCH_KILLS` kills (default 10, a member in turn): from the kill to
//!   every lease of the victim held again, and to the last of its instances sampled again (the
//!   end of its gap); the victim then restarts and the load rebalances before the next kill;
//! - PostgreSQL load of the coordination: calls and execution time of the statements on the
//!   cluster's tables (hosts, leases, collector claims, the advisory lock) per second, from
//!   pg_stat_statements, against everything the members ran;
//! - each member's CPU (utime + stime) per stored tick while all three sample.
//!
//! `cluster_scaling_over_one_two_three_members` samples the same instances on 1, 2 and 3 members.

use std::time::{Duration, Instant};

use serde_json::json;
use vigia_testkit::PgCluster;

use crate::cluster::start_member;
use crate::e2e_support::{poll, Client, Server};

const LEASE_SECONDS: u64 = 4;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(url: &str) -> String {
    format!(
        "[storage]\nurl = {url:?}\n[server.rate_limit]\nrequests_per_minute = 1000000\n\
         [cluster]\nenabled = true\nheartbeat_seconds = 1\ndead_after_seconds = 3\nlease_seconds = {LEASE_SECONDS}\n"
    )
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn count(pg: &PgCluster, sql: &str) -> usize {
    pg.psql("vigia", sql).unwrap().trim().parse().unwrap()
}

async fn id_of(server: &Server) -> String {
    Client::new(server).await.get("/api/v1/cluster").await["this_host"].as_str().unwrap().to_string()
}

/// Waits until every one of `n` leases is held unlapsed, by members other than `not`.
async fn all_held(pg: &PgCluster, n: usize, not: &str) {
    let sql = format!("SELECT count(*) FROM instance_leases WHERE expires_at > vigia_now_ms() AND owner <> '{not}'");
    poll("every lease held", Duration::from_secs(120), async || (count(pg, &sql) == n).then_some(())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn cluster_failover_and_coordination_load() {
    let (n, kills) = (env("VIGIA_BENCH_INSTANCES", 60), env("VIGIA_BENCH_KILLS", 10));
    let pg = PgCluster::start_with(&format!("max_connections = {}", 2 * n + 100)).unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    pg.psql("vigia", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut members: Vec<Server> = dirs.iter().map(|d| start_member(d.path(), &config)).collect();
    register(&Client::new(&members[0]).await, &pg, n).await;
    all_held(&pg, n, "").await;
    tokio::time::sleep(Duration::from_secs(20)).await;

    // Steady state: CPU per member and the coordination's share of PostgreSQL's work.
    pg.psql("vigia", "SELECT pg_stat_statements_reset()").unwrap();
    let before: Vec<u64> = members.iter().map(|m| cpu_ticks(m.pid())).collect();
    let window = Duration::from_secs(30);
    tokio::time::sleep(window).await;
    let used: Vec<f64> = members.iter().zip(&before).map(|(m, b)| (cpu_ticks(m.pid()) - b) as f64 / 100.0).collect();
    let held = pg.psql("vigia", "SELECT owner, count(*) FROM instance_leases GROUP BY owner ORDER BY owner").unwrap();
    for (i, cpu) in used.iter().enumerate() {
        eprintln!("member {i}: {:.1} % of a core", cpu / window.as_secs_f64() * 100.0);
    }
    let total: f64 = used.iter().sum();
    eprintln!(
        "leases per member:\n{held}\nall members: {:.0} µs per stored tick",
        total / (n as f64 * window.as_secs_f64()) * 1e6
    );
    let load = pg
        .psql(
            "vigia",
            "SELECT (query ~* '(hosts|instance_leases|collector_runs|advisory|vigia_now_ms)') AS coordination, \
             sum(calls), round(sum(total_exec_time)::numeric, 1) FROM pg_stat_statements s JOIN pg_database d \
             ON d.oid = s.dbid WHERE d.datname = 'vigia' GROUP BY 1 ORDER BY 1",
        )
        .unwrap();
    eprintln!("vigia database over {window:?} (coordination | calls | exec ms):\n{load}");

    // Failover, a member in turn.
    let (mut to_leases, mut to_samples) = (Vec::new(), Vec::new());
    for k in 0..kills {
        let victim = k % 3;
        let id = id_of(&members[victim]).await;
        let theirs: Vec<i64> = pg
            .psql("vigia", &format!("SELECT instance_id FROM instance_leases WHERE owner = '{id}'"))
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        members[victim].crash();
        let (killed, killed_ms) = (Instant::now(), chrono::Utc::now().timestamp_millis());
        all_held(&pg, n, &id).await;
        to_leases.push(killed.elapsed().as_secs_f64());
        let ids = theirs.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT count(DISTINCT instance_id), max(end_ts) FROM ash_gaps WHERE instance_id IN ({ids}) AND end_ts > {killed_ms}"
        );
        let last = poll("every instance of the victim sampled again", Duration::from_secs(120), async || {
            let row = pg.psql("vigia", &sql).unwrap();
            let (sampled, last) = row.split_once('|')?;
            (sampled.parse::<usize>().ok()? == theirs.len()).then(|| last.parse::<i64>().unwrap())
        })
        .await;
        to_samples.push((last - killed_ms) as f64 / 1000.0);
        eprintln!(
            "kill {k}: {} instances, leases held again after {:.2} s, sampled again after {:.2} s",
            theirs.len(),
            to_leases[k],
            to_samples[k]
        );
        members[victim] = start_member(dirs[victim].path(), &config);
        let sql = format!("SELECT count(*) FROM instance_leases WHERE owner = '{id}' AND expires_at > vigia_now_ms()");
        poll("the restarted member's share back", Duration::from_secs(120), async || {
            (count(&pg, &sql) > 0).then_some(())
        })
        .await;
        all_held(&pg, n, "").await;
    }
    eprintln!(
        "failover over {kills} kills: leases p50 {:.2} s p99 {:.2} s; sampled again p50 {:.2} s p99 {:.2} s (lease {LEASE_SECONDS} s)",
        percentile(to_leases.clone(), 0.5),
        percentile(to_leases, 0.99),
        percentile(to_samples.clone(), 0.5),
        percentile(to_samples, 0.99)
    );
}

/// Registers `n` instances (`db0000`…) on `pg` through `admin`, sampled at 1 s.
async fn register(admin: &Client, pg: &PgCluster, n: usize) {
    for i in 0..n {
        let body = json!({"host": "127.0.0.1", "port": pg.port(), "user": "postgres", "password": "x"});
        admin.call(reqwest::Method::POST, &format!("/api/v1/instances/db{i:04}"), Some(body), 201).await;
        admin
            .call(reqwest::Method::PATCH, &format!("/api/v1/instances/db{i:04}/collection-rate/high"), None, 200)
            .await;
    }
}

/// The share of due ticks stored around `from`..`to` (epoch ms): ticks of the ASH chunks that
/// overlap the window, over the seconds those chunks span (a chunk is about a minute).
fn stored_share(pg: &PgCluster, from: i64, to: i64) -> f64 {
    let sql = format!(
        "SELECT sum(ticks), sum((end_ts - start_ts) / 1000 + 1) FROM ash_chunks WHERE end_ts >= {from} AND start_ts < {to}"
    );
    let row = pg.psql("vigia", &sql).unwrap();
    let (ticks, seconds) = row.split_once('|').unwrap();
    ticks.parse::<f64>().unwrap_or(0.0) / seconds.parse::<f64>().unwrap_or(1.0).max(1.0)
}

/// Scaling: the same `VIGIA_BENCH_INSTANCES` instances (default 300, each seeing 10 active
/// sessions) sampled at 1 s by 1, then 2, then 3 members on one machine: instances and CPU per
/// member, every member's CPU per stored tick, and the total against one member's (the cost of
/// being spread; on one 2-core machine the members share the cores, so this measures overhead,
/// not added capacity).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn cluster_scaling_over_one_two_three_members() {
    use sqlx::{Connection, Executor};
    let n = env("VIGIA_BENCH_INSTANCES", 300);
    let window = Duration::from_secs(env("VIGIA_BENCH_WINDOW_SECONDS", 90) as u64);
    // While instances move, the old and the new holder's sampling connections overlap.
    let pg = PgCluster::start_with(&format!("max_connections = {}", 4 * n + 100)).unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    let mut sleepers = Vec::new();
    for _ in 0..10 {
        let mut conn = sqlx::PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sleepers.push(tokio::spawn(async move { conn.execute("SELECT pg_sleep(3600)").await.map(drop) }));
    }
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut members = vec![start_member(dirs[0].path(), &config)];
    register(&Client::new(&members[0]).await, &pg, n).await;
    let mut one_member = None;
    for k in 1..=3 {
        if k > 1 {
            members.push(start_member(dirs[k - 1].path(), &config));
        }
        let spread = "SELECT count(DISTINCT owner) FROM instance_leases WHERE expires_at > vigia_now_ms()";
        poll("every member holds a share", Duration::from_secs(120), async || (count(&pg, spread) == k).then_some(()))
            .await;
        all_held(&pg, n, "").await;
        // Warm-up: chunks cut, series created, the moved instances' first minute behind them.
        tokio::time::sleep(Duration::from_secs(70)).await;
        let (before, from) = (members.iter().map(|m| cpu_ticks(m.pid())).collect::<Vec<_>>(), now_ms());
        tokio::time::sleep(window).await;
        let used: Vec<f64> =
            members.iter().zip(&before).map(|(m, b)| (cpu_ticks(m.pid()) - b) as f64 / 100.0).collect();
        let to = now_ms();
        // The chunks of the window are cut within a minute after it.
        tokio::time::sleep(Duration::from_secs(65)).await;
        let share = stored_share(&pg, from, to);
        let held = pg.psql("vigia", "SELECT count(*) FROM instance_leases GROUP BY owner ORDER BY 1").unwrap();
        let total: f64 = used.iter().sum();
        let per_tick = total / (n as f64 * window.as_secs_f64() * share.max(0.01)) * 1e6;
        let per_member: Vec<String> =
            used.iter().map(|cpu| format!("{:.1} %", cpu / window.as_secs_f64() * 100.0)).collect();
        let ratio = per_tick / *one_member.get_or_insert(per_tick);
        eprintln!(
            "{k} member(s): instances per member {}; CPU per member {}; {:.1} % of due ticks stored; \
             {per_tick:.0} µs of all members' CPU per stored tick ({ratio:.2}× one member's)",
            held.lines().collect::<Vec<_>>().join("/"),
            per_member.join(" / "),
            share * 100.0
        );
    }
    drop(sleepers);
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
