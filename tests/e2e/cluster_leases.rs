//! Instance leases across 3 real `vigia serve` processes on one private PostgreSQL, which is
//! also the monitored server under many instance names (as the density benchmark does): every
//! instance is sampled by exactly one host, a killed host's instances are sampled again by the
//! others within 2 lease periods with the gap marked, a restarted host takes its share back, and
//! a SIGTERM'd host hands its leases over at once. Overlapping ASH chunks of one instance (two
//! hosts sampling it at once) are looked for over the whole run.
//! `VIGIA_E2E_CLUSTER_INSTANCES` sets the number of instances (default 60; the 300 is a
//! manual run, too heavy for a 2-core CI next to the other tests in debug builds).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use vigia_testkit::PgCluster;

use crate::cluster::start_member;
use crate::e2e_support::{poll, Client, Server};

const LEASE_SECONDS: i64 = 4;

/// Runs `vigia serve` in `dir` with its own secret key, expecting it to refuse to start; answers
/// what it said.
fn refused_start(dir: &std::path::Path, config: &str) -> String {
    let path = dir.join("vigia.toml");
    let text = format!("data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\n{config}", dir.join("data"));
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigia"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("VIGIA_ADMIN_PASSWORD", crate::e2e_support::PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a host with another secret key started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn config(url: &str) -> String {
    format!(
        "[storage]\nurl = {url:?}\n[sampler]\nash_chunk_seconds = 10\nash_tail_seconds = 1\n\
         [cluster]\nenabled = true\nheartbeat_seconds = 1\ndead_after_seconds = 3\nlease_seconds = {LEASE_SECONDS}\n"
    )
}

fn instances() -> usize {
    std::env::var("VIGIA_E2E_CLUSTER_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(60)
}

/// Unlapsed leases per owner, as the database says.
fn holders(pg: &PgCluster) -> BTreeMap<String, usize> {
    let out = pg
        .psql("vigia", "SELECT owner, count(*) FROM instance_leases WHERE expires_at > vigia_now_ms() GROUP BY owner")
        .unwrap();
    out.lines().filter_map(|l| l.split_once('|')).map(|(o, n)| (o.to_string(), n.parse().unwrap())).collect()
}

/// Pairs of ASH chunks of one instance overlapping in time: two samplers at once.
fn overlapping_chunks(pg: &PgCluster) -> String {
    pg.psql(
        "vigia",
        "SELECT a.instance_id, a.start_ts, a.end_ts, b.start_ts, b.end_ts FROM ash_chunks a JOIN ash_chunks b \
         ON a.instance_id = b.instance_id AND a.start_ts < b.start_ts AND a.end_ts >= b.start_ts",
    )
    .unwrap()
}

async fn id_of(server: &Server) -> String {
    Client::new(server).await.get("/api/v1/cluster").await["this_host"].as_str().unwrap().to_string()
}

/// Waits until the hosts in `expected` hold every one of `total` leases between them, each at
/// least one, and no one else holds any; answers how long that took.
async fn settle(pg: &PgCluster, expected: &[&str], total: usize, what: &str) -> Duration {
    let started = Instant::now();
    poll(what, Duration::from_secs(90), async || {
        let held = holders(pg);
        let ok = held.values().sum::<usize>() == total
            && expected.iter().all(|h| held.get(*h).is_some_and(|n| *n > 0))
            && held.keys().all(|h| expected.contains(&h.as_str()));
        ok.then_some(())
    })
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sampler_per_instance_through_kills_restarts_and_stops() {
    let n = instances();
    let pg = PgCluster::start_with(&format!("max_connections = {}", 2 * n + 100)).unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Members share one secret key: each opens the instance passwords another host sealed.
    let start = |dir: &std::path::Path| start_member(dir, &config);
    let a = start(dirs[0].path());
    let mut b = start(dirs[1].path());
    let mut c = start(dirs[2].path());
    // A host with another key is refused, naming why.
    let stranger = tempfile::tempdir().unwrap();
    let refused = refused_start(stranger.path(), &config);
    assert!(refused.contains("secret key differs from live member"), "{refused}");
    let (id_a, id_b, id_c) = (id_of(&a).await, id_of(&b).await, id_of(&c).await);
    let admin = Client::new(&a).await;
    for i in 0..n {
        let name = format!("db{i:03}");
        let body = json!({"host": "127.0.0.1", "port": pg.port(), "user": "postgres", "password": "x"});
        admin.call(reqwest::Method::POST, &format!("/api/v1/instances/{name}"), Some(body), 201).await;
        admin.call(reqwest::Method::PATCH, &format!("/api/v1/instances/{name}/collection-rate/high"), None, 200).await;
    }
    settle(&pg, &[&id_a, &id_b, &id_c], n, "every instance leased, spread over the 3 hosts").await;
    let spread = holders(&pg);
    eprintln!("spread over 3 hosts: {spread:?}");
    assert!(spread.values().all(|&k| k >= n / 6), "uneven spread {spread:?}");
    // The API of any host says the same.
    let listed = Client::new(&b).await.get("/api/v1/cluster").await;
    let listed_total: u64 = listed["hosts"].as_array().unwrap().iter().map(|h| h["instances"].as_u64().unwrap()).sum();
    assert_eq!(listed_total as usize, n, "{listed}");
    tokio::time::sleep(Duration::from_secs(12)).await; // a chunk cut on every instance

    // kill -9: C's instances are sampled again within 2 lease periods, the gap marked.
    let of_c = pg.psql("vigia", &format!("SELECT instance_id FROM instance_leases WHERE owner = '{id_c}'")).unwrap();
    let of_c: Vec<i64> = of_c.lines().map(|l| l.parse().unwrap()).collect();
    c.crash();
    let killed_at = chrono::Utc::now().timestamp_millis();
    let took = settle(&pg, &[&id_a, &id_b], n, "the killed host's instances taken over").await;
    eprintln!("takeover of {} instances after kill -9: {took:?}", of_c.len());
    let first = of_c[0];
    let gap_sql = format!(
        "SELECT start_ts, end_ts FROM ash_gaps WHERE instance_id = {first} AND end_ts > {killed_at} ORDER BY start_ts LIMIT 1"
    );
    let gap = poll("the failover gap of a taken-over instance", Duration::from_secs(60), async || {
        let row = pg.psql("vigia", &gap_sql).unwrap();
        let (start, end) = row.split_once('|')?;
        Some((start.parse::<i64>().unwrap(), end.parse::<i64>().unwrap()))
    })
    .await;
    eprintln!("gap of instance {first}: {} ms before the kill to {} ms after", killed_at - gap.0, gap.1 - killed_at);
    assert!(gap.0 <= killed_at, "the gap starts before the kill: {gap:?} vs {killed_at}");
    assert!(gap.1 - killed_at <= 2 * LEASE_SECONDS * 1000, "sampled again {} ms after the kill", gap.1 - killed_at);

    // C comes back (same id) and takes its share back from A and B.
    let mut c = start(dirs[2].path());
    assert_eq!(id_of(&c).await, id_c);
    settle(&pg, &[&id_a, &id_b, &id_c], n, "the restarted host's share rebalanced to it").await;

    // SIGTERM: B hands its leases over as it stops, without waiting for them to lapse.
    let stopping = Instant::now();
    assert!(b.terminate(Duration::from_secs(60)).is_some_and(|s| s.success()), "B stops cleanly");
    let unlapsed = pg
        .psql("vigia", &format!("SELECT count(*) FROM instance_leases WHERE owner = '{id_b}' AND expires_at > 0"))
        .unwrap();
    assert_eq!(unlapsed, "0", "B released every lease as it stopped");
    let took = settle(&pg, &[&id_a, &id_c], n, "the stopped host's instances taken over").await;
    eprintln!("handover after SIGTERM: stop took {:?}, takeover {took:?} more", stopping.elapsed() - took);
    tokio::time::sleep(Duration::from_secs(12)).await; // chunks cut after the moves

    let overlaps = overlapping_chunks(&pg);
    assert!(
        overlaps.is_empty(),
        "an instance sampled by two hosts at once (instance|start|end|start|end):\n{overlaps}"
    );
    let sampled = pg.psql("vigia", "SELECT count(DISTINCT instance_id) FROM ash_chunks").unwrap();
    assert_eq!(sampled, n.to_string(), "every instance has stored ASH");
    assert!(c.terminate(Duration::from_secs(60)).is_some());
}
