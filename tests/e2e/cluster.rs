//! Cluster membership with real `vigia serve` processes on one private PostgreSQL: every host
//! registers and beats, `GET /api/v1/cluster` on any of them lists all with their health, a clean
//! stop is seen at once, a restarted host is the same member again, and a killed one is declared
//! dead once its heartbeats are `dead_after_seconds` old.

use std::time::Duration;

use serde_json::Value;
use vigia_testkit::PgCluster;

use crate::e2e_support::{poll, Client, Server};

/// Members share one secret key (32 bytes, base64): each opens what another host sealed.
pub(crate) const SHARED_KEY: &str = "dmlnaWEtY2x1c3Rlci10ZXN0LWtleS0wMTIzNDU2Nzg=";

/// Starts a cluster member in `dir` with the shared secret key.
pub(crate) fn start_member(dir: &std::path::Path, config: &str) -> Server {
    Server::start_with_env(dir, config, &[("VIGIA_SECRET_KEY", SHARED_KEY)])
}

fn config(url: &str) -> String {
    format!(
        "[storage]\nurl = {url:?}\n[sampler]\nenabled = false\n\
         [cluster]\nenabled = true\nheartbeat_seconds = 1\ndead_after_seconds = 3\n"
    )
}

/// The health of each host `client`'s host lists, by id.
async fn members(client: &Client) -> Vec<(String, String)> {
    let answer = client.get("/api/v1/cluster").await;
    let hosts = answer["hosts"].as_array().unwrap();
    hosts.iter().map(|h| (h["id"].as_str().unwrap().into(), h["health"].as_str().unwrap().into())).collect()
}

fn health_of(members: &[(String, String)], id: &str) -> Option<String> {
    members.iter().find(|(host, _)| host == id).map(|(_, health)| health.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_register_beat_stop_and_die() {
    let pg = PgCluster::start().unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One after the other: the first start creates the schema and the admin, the second joins.
    let a = start_member(dir_a.path(), &config);
    let mut b = start_member(dir_b.path(), &config);
    let (client_a, client_b) = (Client::new(&a).await, Client::new(&b).await);
    let seen_from_a = client_a.get("/api/v1/cluster").await;
    let seen_from_b = client_b.get("/api/v1/cluster").await;
    let (id_a, id_b) = (seen_from_a["this_host"].as_str().unwrap(), seen_from_b["this_host"].as_str().unwrap());
    assert_ne!(id_a, id_b);
    for answer in [&seen_from_a, &seen_from_b] {
        let hosts = answer["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "{answer}");
        assert!(hosts.iter().all(|h| h["health"] == "alive" && h["version"].is_string()), "{answer}");
        let this: Vec<&Value> = hosts.iter().filter(|h| h["this_host"] == true).collect();
        assert_eq!(this.len(), 1, "{answer}");
    }
    let b_address =
        seen_from_a["hosts"].as_array().unwrap().iter().find(|h| h["id"] == id_b).unwrap()["address"].clone();
    assert!(b.base.ends_with(b_address.as_str().unwrap()), "{} is listed at {b_address}", b.base);

    // A clean stop is known at once.
    assert!(b.terminate(Duration::from_secs(30)).is_some());
    assert_eq!(health_of(&members(&client_a).await, id_b).as_deref(), Some("stopped"));

    // Started again, it is the same member, alive.
    let mut b = start_member(dir_b.path(), &config);
    assert_eq!(Client::new(&b).await.get("/api/v1/cluster").await["this_host"], id_b);
    assert_eq!(health_of(&members(&client_a).await, id_b).as_deref(), Some("alive"));

    // Killed, it beats no more, and is declared dead once its last beat is 3 s old.
    b.crash();
    let killed_at = chrono::Utc::now().timestamp_millis();
    let answer = client_a
        .poll("/api/v1/cluster", "the killed host declared dead", |answer| {
            answer["hosts"].as_array().unwrap().iter().any(|h| h["id"] == id_b && h["health"] == "dead")
        })
        .await;
    let seen_at = chrono::Utc::now().timestamp_millis();
    let dead = answer["hosts"].as_array().unwrap().iter().find(|h| h["id"] == id_b).unwrap();
    let last_beat = chrono::DateTime::parse_from_rfc3339(dead["heartbeat_at"].as_str().unwrap()).unwrap();
    let last_beat = last_beat.timestamp_millis();
    assert!(last_beat <= killed_at, "a beat after the kill: {dead}");
    assert!(seen_at - last_beat > 3_000, "declared dead {} ms after its last beat: {dead}", seen_at - last_beat);
    assert_eq!(health_of(&members(&client_a).await, id_a).as_deref(), Some("alive"));
}

/// The id of the one alive host `client`'s host lists as leader, if exactly one is.
async fn leader(client: &Client) -> Option<String> {
    let answer = client.get("/api/v1/cluster").await;
    let leaders: Vec<&Value> = answer["hosts"].as_array().unwrap().iter().filter(|h| h["leader"] == true).collect();
    (leaders.len() == 1).then(|| leaders[0]["id"].as_str().unwrap().to_string())
}

async fn status_with(server: &Server, token: &str) -> u16 {
    let url = format!("{}/api/v1/cluster", server.base);
    reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

/// Once-per-cluster work with two members: one leader, taken over when it is killed; every
/// collector slot run by one host only; a token revoked on one host refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_one_run_per_collector_slot_and_revocations_reach_every_host() {
    let pg = PgCluster::start().unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for dir in &dirs {
        crate::plugins_support::place_bundle(dir.path(), "rust-collector", |m| {
            crate::plugins_support::set(m, "config.default.interval_seconds", 1);
            crate::plugins_support::set(m, "config.default.resource", "cluster-collector");
        });
    }
    let mut a = start_member(dirs[0].path(), &config);
    let mut b = start_member(dirs[1].path(), &config);
    let client_a = Client::new(&a).await;
    let first = poll("one leader", Duration::from_secs(60), async || leader(&client_a).await).await;

    // A token revoked on A is refused by B within the revocation sync (1 s).
    let minted =
        client_a.post("/api/v1/tokens", serde_json::json!({"name": "both hosts", "scopes": ["plugins:manage"]})).await;
    let token = minted["token"].as_str().unwrap().to_string();
    assert_eq!(status_with(&b, &token).await, 200);
    let revoke = format!("/api/v1/tokens/{}", minted["id"]);
    let revoked =
        reqwest::Client::new().delete(format!("{}{revoke}", a.base)).bearer_auth(&client_a.token).send().await.unwrap();
    assert!(revoked.status().is_success(), "revoking: {}", revoked.status());
    let revoked_at = std::time::Instant::now();
    poll("the revoked token refused by the other host", Duration::from_secs(30), async || {
        (status_with(&b, &token).await == 401).then_some(())
    })
    .await;
    let took = revoked_at.elapsed();
    eprintln!("revocation on A refused by B after {took:?}");
    // B's own poll runs every 10 s on a member: within 3 s, only the change feed told it.
    assert!(took < Duration::from_secs(3), "B still accepted the revoked token after {took:?}");

    // Each 1 s slot of the collector ran on one host: one stored point per claimed slot.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let runs = pg
        .psql("vigia", "SELECT host, count(*) FROM collector_runs WHERE plugin_id = 'rust-collector' GROUP BY host")
        .unwrap();
    eprintln!("collector slots per host:\n{runs}");
    let claimed: usize = runs.lines().map(|l| l.split_once('|').unwrap().1.parse::<usize>().unwrap()).sum();
    // Runs of claimed slots are stamped when they end (within the slot's claim delay and the
    // run's time), so a slot run twice shows as a point more than the claims, not by timestamps.
    let stored: usize = pg
        .psql(
            "vigia",
            "SELECT count(*) FROM metric_points p JOIN metric_series s ON s.id = p.series_id \
             WHERE s.metric = 'example.answer' AND s.resource = 'cluster-collector'",
        )
        .unwrap()
        .parse()
        .unwrap();
    assert!(claimed >= 6, "{claimed} slots claimed in 8 s");
    assert!(stored <= claimed, "{stored} points for {claimed} claimed slots: a slot ran twice");
    assert!(stored + 2 >= claimed, "{stored} points for {claimed} claimed slots: claimed slots did not run");
    plugin_settings_reach_every_host(&client_a, &Client::new(&b).await).await;

    // The leader killed, the other host takes the leadership.
    let (survivor, killed) = if first == leader_id(&a).await { (&b, &mut a) } else { (&a, &mut b) };
    killed.crash();
    let killed_at = std::time::Instant::now();
    let client = Client::new(survivor).await;
    let next =
        poll("the survivor leads", Duration::from_secs(60), async || leader(&client).await.filter(|id| *id != first))
            .await;
    eprintln!("leadership taken over {:?} after the leader's kill", killed_at.elapsed());
    assert_eq!(next, leader_id(survivor).await);
}

/// A plugin's configuration and enabled flag changed through A are what B applies, told by the
/// change feed (B reads plugin settings from the database only when told).
async fn plugin_settings_reach_every_host(a: &Client, b: &Client) {
    let path = "/api/v1/plugins/rust-collector/config";
    let body = serde_json::json!({"interval_seconds": 1, "resource": "renamed-on-a"});
    a.call(reqwest::Method::PUT, path, Some(body), 200).await;
    let changed_at = std::time::Instant::now();
    poll("B applies the configuration changed on A", Duration::from_secs(30), async || {
        (b.get(path).await["resource"] == "renamed-on-a").then_some(())
    })
    .await;
    let took = changed_at.elapsed();
    eprintln!("plugin configuration changed on A applied by B after {took:?}");
    assert!(took < Duration::from_secs(3), "B applied A's configuration only after {took:?}");

    a.call(reqwest::Method::PATCH, "/api/v1/plugins/rust-collector/disable", None, 200).await;
    poll("B sees the plugin disabled on A", Duration::from_secs(3), async || {
        (b.get("/api/v1/plugins/rust-collector").await["status"] == "disabled").then_some(())
    })
    .await;
    a.call(reqwest::Method::PATCH, "/api/v1/plugins/rust-collector/enable", None, 200).await;
    poll("B sees the plugin enabled again", Duration::from_secs(3), async || {
        (b.get("/api/v1/plugins/rust-collector").await["status"] == "loaded").then_some(())
    })
    .await;
}

async fn leader_id(server: &Server) -> String {
    Client::new(server).await.get("/api/v1/cluster").await["this_host"].as_str().unwrap().to_string()
}
