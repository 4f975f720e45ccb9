//! Cluster membership with real `vigia serve` processes on one private PostgreSQL: every host
//! registers and beats, `GET /api/v1/cluster` on any of them lists all with their health, a clean
//! stop is seen at once, a restarted host is the same member again, and a killed one is declared
//! dead once its heartbeats are `dead_after_seconds` old.

use std::time::Duration;

use serde_json::Value;
use vigia_testkit::PgCluster;

use crate::e2e_support::{Client, Server};

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
