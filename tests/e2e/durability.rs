//! End-to-end durability of Active Session History (real binary, private PostgreSQL clusters,
//! 1 s sampling, both storage backends): a clean stop (SIGTERM) in the middle of a chunk loses
//! no tick; a crash (SIGKILL) loses at most the last tail interval (≤ 10 s); either way the
//! silence until the restart is reported as a `host_down` gap; and a stop whose writers cannot
//! reach storage exits with a failure status instead of pretending all went well.

use crate::e2e_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use vigia_testkit::PgCluster;

use e2e_support::Server;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    /// SIGTERM: nothing may be lost.
    Clean,
    /// SIGKILL: at most the last tail interval may be lost.
    Crash,
}

/// `[storage]` of the server under test: SQLite in its data dir, or a fresh PostgreSQL database.
fn storage(backend: &str, cluster: &PgCluster, name: &str) -> String {
    match backend {
        "sqlite" => String::new(),
        _ => format!("[storage]\nurl = {:?}\n", cluster.create_database(name).unwrap()),
    }
}

fn config(storage: &str) -> String {
    // Activity and inventory cycles are slowed down: only ASH matters here.
    format!(
        "[sampler]\nactivity_interval_seconds = 600\ninventory_interval_seconds = 600\nstatements_interval_seconds = 600\n\
         ash_chunk_seconds = 60\nash_tail_seconds = 5\n{storage}"
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn new(server: &Server) -> Client {
        Client { http: reqwest::Client::new(), base: server.base.clone(), token: server.admin_token().await }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let r = request.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Session history of `busy` with gaps, over `[from, to]`.
    async fn history(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
        let body =
            json!({"from": fmt(from), "to": fmt(to), "gaps": true, "filters": [{"tag": "name", "value": "busy"}]});
        self.send(reqwest::Method::POST, "/api/v1/activity/session-history", Some(body)).await
    }
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    let text = v.as_str().unwrap_or_else(|| panic!("a time: {v}"));
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").unwrap().and_utc()
}

/// Registers the monitored cluster as `busy`, sampled every second.
async fn register(client: &Client, cluster: &PgCluster) {
    let body = json!({"host": "127.0.0.1", "port": cluster.port(), "user": "postgres", "password": "x"});
    client.send(reqwest::Method::POST, "/api/v1/instances/busy", Some(body)).await;
    client.send(reqwest::Method::PATCH, "/api/v1/instances/busy/collection-rate/high", None).await;
}

/// Sleeps until between 25 s and 45 s into a minute, so the stop falls mid-chunk with at least
/// 25 s of the chunk buffered.
async fn until_mid_minute() {
    let second = Utc::now().second();
    let wait = match second {
        0..25 => 25 - second,
        25..=45 => 0,
        _ => 60 - second + 25,
    };
    tokio::time::sleep(Duration::from_secs(wait.into())).await;
}

/// An always-active session on the monitored server: every tick samples it once.
async fn busy_session(cluster: &PgCluster) -> (i32, tokio::task::JoinHandle<()>) {
    let mut conn = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await.unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.execute("SELECT pg_sleep(3600)").await;
    });
    (pid, task)
}

async fn stop_and_restart(backend: &'static str, stop: Stop) {
    let cluster = PgCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&storage(backend, &cluster, "vigia_store"));
    let env = [("VIGIA_LOG_LEVEL", "info,sqlx=warn")];
    let mut server = Server::start_with_env(dir.path(), &config, &env);
    let client = Client::new(&server).await;
    let (pid, _sleeper) = busy_session(&cluster).await;
    register(&client, &cluster).await;
    let sampling_since = Utc::now();
    // The sampler picks new instances up within its 5 s poll; then 12 s of ticks at least.
    tokio::time::sleep(Duration::from_secs(17)).await;
    until_mid_minute().await;

    let stopped_at = Utc::now();
    match stop {
        Stop::Clean => {
            let exit = server.terminate(Duration::from_secs(30)).expect("vigia exits within its grace period");
            assert!(
                exit.success(),
                "a clean stop exits with success: {exit}\n{}",
                std::fs::read_to_string(dir.path().join("vigia.log")).unwrap_or_default()
            );
        }
        Stop::Crash => server.crash(),
    }
    drop(server);
    // An upgrade takes a few seconds: that silence is what the gap must report.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let server = Server::start_with_env(dir.path(), &config, &env);
    let client = Client::new(&server).await;

    // The gap is recorded when the first tick after the restart is stored.
    let (from, to) = (sampling_since - chrono::Duration::seconds(5), Utc::now() + chrono::Duration::minutes(5));
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let answer = client.history(from, to).await;
        if answer["gaps"].as_array().is_some_and(|gaps| gaps.iter().any(|g| parse_time(&g["to"]) > stopped_at)) {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "no gap recorded after the restart: {answer}\n{}",
            std::fs::read_to_string(dir.path().join("vigia.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let me = format!("{pid} - busy");
    let ticks: BTreeSet<DateTime<Utc>> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["process_id"] == me.as_str())
        .map(|r| parse_time(&r["time"]))
        .collect();
    let before: Vec<DateTime<Utc>> = ticks.iter().copied().filter(|t| *t <= stopped_at).collect();
    assert!(
        before.len() >= 8,
        "{} ticks before the stop at {stopped_at} (sampling since {sampling_since}): {before:?}\n{}",
        before.len(),
        std::fs::read_to_string(dir.path().join("vigia.log")).unwrap_or_default()
    );
    // Nothing missing inside what was kept: consecutive ticks are one second apart (two when
    // a tick's time rounds down).
    for pair in before.windows(2) {
        assert!((pair[1] - pair[0]).num_seconds() <= 2, "ticks lost between {} and {}", pair[0], pair[1]);
    }
    let last = *before.last().unwrap();
    let lost = (stopped_at - last).num_milliseconds() as f64 / 1000.0;
    match stop {
        Stop::Clean => assert!(lost <= 2.0, "a clean stop lost {lost} s of ticks (last {last}, stop {stopped_at})"),
        Stop::Crash => assert!(lost <= 11.0, "a crash lost {lost} s of ticks (last {last}, stop {stopped_at})"),
    }
    eprintln!("{backend} {stop:?}: {} ticks before the stop, last {lost:.1} s before it", before.len());

    // The gap over the stop (registering the instance and raising its rate restarts its task
    // too; that is no concern here).
    let gaps: Vec<&Value> = answer["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| parse_time(&g["from"]) <= stopped_at && stopped_at <= parse_time(&g["to"]))
        .collect();
    assert_eq!(gaps.len(), 1, "one gap covers the stop: {answer}");
    let gap = gaps[0];
    assert_eq!(gap["reason"], "host_down", "{gap}");
    assert_eq!(parse_time(&gap["from"]), last, "the gap starts at the last stored tick: {gap}");
    // It ends at the first tick after the restart (still in its open chunk, so not answered yet).
    let resumed = parse_time(&gap["to"]);
    assert!(resumed >= stopped_at + chrono::Duration::seconds(4) && resumed <= Utc::now(), "{gap}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_stop_loses_no_tick_sqlite() {
    stop_and_restart("sqlite", Stop::Clean).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_stop_loses_no_tick_postgres() {
    stop_and_restart("postgres", Stop::Clean).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_at_most_a_tail_interval_sqlite() {
    stop_and_restart("sqlite", Stop::Crash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_at_most_a_tail_interval_postgres() {
    stop_and_restart("postgres", Stop::Crash).await;
}

/// Storage gone at stop time: the writers cannot store what they hold, and the exit status
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_cannot_flush_exits_with_failure() {
    let monitored = PgCluster::start().unwrap();
    let storage_cluster = PgCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = storage("postgres", &storage_cluster, "vigia_store");
    let mut server =
        Server::start_with_env(dir.path(), &config(&storage), &[("VIGIA_SERVER_SHUTDOWN_GRACE_SECONDS", "4")]);
    let client = Client::new(&server).await;
    let (_pid, _sleeper) = busy_session(&monitored).await;
    register(&client, &monitored).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    storage_cluster.stop().unwrap();
    let started = Instant::now();
    let exit = server.terminate(Duration::from_secs(30)).expect("vigia exits even when it cannot flush");
    assert!(!exit.success(), "an incomplete shutdown must not exit with success");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded by the grace period: {:?}", started.elapsed());
}
