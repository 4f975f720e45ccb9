//! End-to-end fresh ASH: the real `vigia` binary with the default 60 s ASH chunks samples a real
//! private PostgreSQL cluster every second, and a session that turned up at second *t* is in
//! `session-history` within seconds, long before its chunk is cut (the next minute).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use vigia_testkit::PgCluster;

use crate::e2e_support::Server;

/// Seconds a sample may take to be readable: the target is 2, the bound is loose for a busy
/// machine, and still far below the 60 s before the chunk holding it is cut.
const BOUND: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_in_session_history_seconds_after_it_started() {
    let cluster = PgCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Defaults: 60 s chunks, so without the fresh path a sample waits up to a minute.
    let server = Server::start(dir.path(), "");
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let body = json!({"host": "127.0.0.1", "port": cluster.port(), "user": "postgres", "password": "x"});
    let r = http.post(format!("{base}/api/v1/instances/live")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = http.patch(format!("{base}/api/v1/instances/live/collection-rate/high")).bearer_auth(&token).send().await;
    assert_eq!(r.unwrap().status(), 200);

    let url = cluster.url("postgres");
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let since = fmt(chrono::Utc::now() - chrono::Duration::minutes(1));
    let until = fmt(chrono::Utc::now() + chrono::Duration::days(1));
    let find = async |pid: i32| -> Option<Value> {
        let body = json!({"from": since, "to": until, "utc_time": true, "filters": [{"tag": "name", "value": "live"}]});
        let r = http
            .post(format!("{base}/api/v1/activity/session-history"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows: Vec<Value> = r.json().await.unwrap();
        rows.into_iter().find(|r| r["process_id"] == format!("{pid} - live"))
    };
    let idle_in_transaction = async || {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        conn.execute("BEGIN").await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await.unwrap();
        (conn, pid)
    };

    // First make sure the sampler is connected and ticking (no timing asserted here).
    let (_warm, warm_pid) = idle_in_transaction().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while find(warm_pid).await.is_none() {
        assert!(Instant::now() < deadline, "the sampler never showed a session");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Start early in a minute, so the chunk of the sample stays open for the whole bound.
    let second = chrono::Utc::now().timestamp() % 60;
    if !(1..=40).contains(&second) {
        tokio::time::sleep(Duration::from_secs(((61 - second) % 60) as u64 + 1)).await;
    }

    let (_conn, pid) = idle_in_transaction().await;
    let started = Instant::now();
    let at = chrono::Utc::now();
    let sample = loop {
        if let Some(sample) = find(pid).await {
            break sample;
        }
        assert!(started.elapsed() < BOUND, "the session was not in session-history {BOUND:?} after it started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let waited = started.elapsed();
    eprintln!("fresh ASH: a session started at {at} was readable after {waited:?}");
    assert_eq!(sample["state"], "idle in transaction", "{sample}");
    let time = chrono::DateTime::parse_from_rfc3339(sample["time"].as_str().unwrap()).unwrap();
    assert!(time.timestamp() / 60 == at.timestamp() / 60, "sampled in the chunk still open: {sample}");
}
