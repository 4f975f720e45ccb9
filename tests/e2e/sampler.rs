//! End-to-end: the real `vigia` binary samples a real private PostgreSQL cluster. A session
//! blocked on a row lock shows up in `session-history` with its blocker and in `locks`; statements
//! reach `top-queries`; the inventory reaches `pg-instance-infos`; stopping the cluster turns
//! `connected` false and sampling resumes when it is back.

use crate::e2e_support;

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use vigia_testkit::PgCluster;

use e2e_support::{poll, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampler_sees_lock_waits_statements_inventory_and_outages() {
    let cluster = PgCluster::start().unwrap();
    cluster.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").unwrap();
    cluster
        .psql("postgres", "CREATE TABLE stock (id int PRIMARY KEY, n int); INSERT INTO stock VALUES (1, 0)")
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "[sampler]\nash_chunk_seconds = 1\nstatements_interval_seconds = 2\nactivity_interval_seconds = 2\ninventory_interval_seconds = 2\n",
    );
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let body = json!({"host": "127.0.0.1", "port": cluster.port(), "user": "postgres", "password": "x", "tags": "environment=e2e"});
    let r = http
        .post(format!("{base}/ds-api/pool/pg-instances/shop"))
        .header("user-token", &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "Connection created and connected!"}));
    for toggle in ["collection-rate/high", "lock-monitoring-delay/1"] {
        let r = http.patch(format!("{base}/api/v1/instances/shop/{toggle}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{toggle}");
    }

    // Hold a row lock and make another session wait for it.
    let url = cluster.url("postgres");
    let mut holder = PgConnection::connect(&url).await.unwrap();
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut holder).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder.execute("UPDATE stock SET n = n + 1 WHERE id = 1").await.unwrap();
    let mut waiter = PgConnection::connect(&url).await.unwrap();
    let waiter_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut waiter).await.unwrap();
    let blocked = tokio::spawn(async move {
        waiter.execute("UPDATE stock SET n = n + 10 WHERE id = 1").await.unwrap();
        waiter
    });

    let activity = |endpoint: &'static str, body: Value| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/activity/{endpoint}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{endpoint}");
            r.json::<Vec<Value>>().await.unwrap()
        }
    };
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let (since, until) = (fmt(chrono::Utc::now()), fmt(chrono::Utc::now() + chrono::Duration::days(1)));
    let window = {
        let (since, until) = (since.clone(), until.clone());
        move || json!({"from": since, "to": until, "filters": [{"tag": "name", "value": "shop"}]})
    };
    let sample = poll("the waiter in session-history", Duration::from_secs(60), async || {
        let rows = activity("session-history", window()).await;
        rows.into_iter().find(|r| r["process_id"] == format!("{waiter_pid} - shop"))
    })
    .await;
    assert_eq!(sample["wait_event_type"], "Lock", "{sample}");
    assert_eq!(sample["blocking_pids"], holder_pid.to_string(), "the right blocker: {sample}");
    assert_eq!((sample["database"].clone(), sample["user_name"].clone()), (json!("postgres"), json!("postgres")));
    let rows = activity("session-history", window()).await;
    assert!(rows
        .iter()
        .any(|r| r["process_id"] == format!("{holder_pid} - shop") && r["state"] == "idle in transaction"));
    assert!(
        rows.iter().all(|r| r["application_name"] != "vigia-sampler"),
        "the sampler's own backends are not sampled"
    );

    let tree = poll("a blocking tree in locks", Duration::from_secs(60), async || {
        let rows = activity("locks", window()).await;
        rows.iter().any(|r| r["pid"] == waiter_pid && r["blocked_by"] == holder_pid).then_some(rows)
    })
    .await;
    assert!(tree.iter().any(|r| r["pid"] == holder_pid && r["depth"] == 0), "{tree:?}");

    holder.execute("COMMIT").await.unwrap();
    let mut waiter = blocked.await.unwrap();
    for _ in 0..3 {
        waiter.execute("SELECT count(*) FROM stock WHERE n > 5").await.unwrap();
    }
    let query = poll("the statement in top-queries", Duration::from_secs(60), async || {
        let rows = activity("top-queries", json!({"from": since, "to": until, "by": "calls", "limit": 100})).await;
        rows.into_iter().find(|r| r["text"].as_str().is_some_and(|t| t.contains("FROM stock WHERE n >")))
    })
    .await;
    assert!(query["calls"].as_i64().unwrap() >= 1, "{query}");
    let infos = poll("the inventory", Duration::from_secs(30), async || {
        let rows = activity("pg-instance-infos", json!({})).await;
        rows.into_iter().find(|r| r.get("version").is_some())
    })
    .await;
    assert!(infos["version"].as_str().unwrap().starts_with("15"), "{infos}");
    assert_eq!(infos["pg_instance"], "127.0.0.1@shop");

    // An outage: connected turns false with a reason, then true again once the server is back.
    let connected = async |want: bool| {
        let r = http.get(format!("{base}/api/v1/instances/shop")).bearer_auth(&token).send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        (v["connected"] == want).then_some(v)
    };
    drop(waiter);
    cluster.stop().unwrap();
    let down = poll("connected = false", Duration::from_secs(60), async || connected(false).await).await;
    assert!(down["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{down}");
    cluster.restart_server().unwrap();
    poll("connected = true", Duration::from_secs(90), async || connected(true).await).await;
    let after = fmt(chrono::Utc::now());
    let mut fresh = PgConnection::connect(&url).await.unwrap();
    fresh.execute("BEGIN").await.unwrap();
    fresh.execute("UPDATE stock SET n = 0 WHERE id = 1").await.unwrap();
    let fresh_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut fresh).await.unwrap();
    poll("samples after the restart", Duration::from_secs(60), async || {
        let rows = activity("session-history", json!({"from": after, "to": until})).await;
        rows.into_iter().find(|r| r["process_id"] == format!("{fresh_pid} - shop"))
    })
    .await;
}
