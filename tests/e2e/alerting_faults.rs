//! Fault test with the real `vigia` binary: alerts are raised and delivered through the real
//! `webhook` notifier while the host is killed (`kill -9`) several times at random moments and
//! restarted on the same data directory. At the receiver: 0 notifications lost, and the only
//! duplicates are deliveries that were in flight at a kill (at most one delivery pass per kill).

use crate::e2e_support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_support::{place_webhook, Server};
use serde_json::{json, Value};

/// Retries keep a failed attempt from going to the dead-letter queue during the test; the
/// operator lets plugins reach the loopback receiver.
const ALERTING: &str = "[alerting]\nretry_schedule_seconds = [0, 1, 1, 1, 1, 1, 1, 1]\ndelivery_poll_ms = 50\n\n[plugins.policy]\nprivate_networks = [\"127.0.0.0/8\"]\n";
/// Alerts raised in all (distinct dedup keys, one `firing` notification each).
const ALERTS: usize = 300;
/// Times the host is killed; it is started `KILLS + 1` times.
const KILLS: usize = 5;
/// Most rows the delivery worker has in flight at once (`BATCH` in `host/src/alerting/delivery.rs`).
const WORKER_BATCH: usize = 32;
/// Concurrent raising clients.
const PRODUCERS: usize = 4;

/// What the receiver saw: every request's idempotency key and alert id, and the number of
/// requests it holds unanswered.
#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, String)>>,
    open: AtomicUsize,
}

async fn hook(
    axum::extract::State(seen): axum::extract::State<Arc<Seen>>,
    headers: axum::http::HeaderMap,
    body: String,
) {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let alert = body["alerts"][0]["id"].as_str().unwrap_or_default().to_string();
    seen.requests.lock().unwrap().push((key, alert));
    // Counted open until answered or dropped (the connection closes when the host dies).
    let _open = Open::new(&seen.open);
    // Answer 200 after a small random delay, so deliveries are in flight when the host dies.
    let delay = rand::random_range(5..60);
    tokio::time::sleep(Duration::from_millis(delay)).await;
}

struct Open<'a>(&'a AtomicUsize);

impl<'a> Open<'a> {
    fn new(n: &'a AtomicUsize) -> Open<'a> {
        n.fetch_add(1, Ordering::SeqCst);
        Open(n)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn receiver() -> (Arc<Seen>, String) {
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new().fallback(axum::routing::post(hook)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, origin)
}

async fn get(http: &reqwest::Client, server: &Server, token: &str, path: &str) -> Value {
    let r = http.get(format!("{}{path}", server.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// Raises the alerts of `todo` from `PRODUCERS` clients until it is empty or the host dies;
/// an alert counts as committed only once its call returned 2xx (else it goes back to `todo`).
fn produce(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    todo: &Arc<Mutex<VecDeque<usize>>>,
    committed: &Arc<Mutex<BTreeSet<usize>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..PRODUCERS)
        .map(|_| {
            let (http, todo, committed) = (http.clone(), todo.clone(), committed.clone());
            let (url, token) = (format!("{base}/api/v1/alerts"), token.to_string());
            tokio::spawn(async move {
                loop {
                    let Some(n) = todo.lock().unwrap().pop_front() else { return };
                    let key = format!("fault-{n:03}");
                    let body = json!({"dedup_key": key, "severity": "critical", "summary": key, "resource": "nas"});
                    match http.post(&url).bearer_auth(&token).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            committed.lock().unwrap().insert(n);
                            // Paced, so the host is killed while raising and delivering alike.
                            tokio::time::sleep(Duration::from_millis(rand::random_range(10..40))).await;
                        }
                        Ok(r) => panic!("raising {key}: {}", r.status()),
                        Err(_) => {
                            // The host is being killed: raise it again after the restart.
                            todo.lock().unwrap().push_back(n);
                            return;
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_kill_9_during_delivery_loses_nothing_and_duplicates_only_in_flight() {
    let started = Instant::now();
    let (seen, origin) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    place_webhook(dir.path(), &origin);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let todo = Arc::new(Mutex::new((0..ALERTS).collect::<VecDeque<_>>()));
    let committed = Arc::new(Mutex::new(BTreeSet::new()));
    let mut open_at_kills = Vec::new();
    let mut startups = Vec::new();
    for round in 0..=KILLS {
        let start = Instant::now();
        let mut running = Some(Server::start(dir.path(), ALERTING));
        startups.push(start.elapsed().as_millis());
        let server = running.as_ref().unwrap();
        let token = server.admin_token().await;
        if round == 0 {
            let channel = json!({"name": "ops", "plugin": "webhook", "config": {"url": format!("{origin}/hook")}});
            let r =
                http.post(format!("{}/api/v1/notifications/channels", server.base)).bearer_auth(&token).json(&channel);
            assert_eq!(r.send().await.unwrap().status(), 201);
        }
        // Each round raises a share of the alerts; the last one raises whatever is left.
        let share = if round == KILLS { usize::MAX } else { ALERTS / (KILLS + 1) };
        let batch: VecDeque<usize> = {
            let mut t = todo.lock().unwrap();
            let n = share.min(t.len());
            t.drain(..n).collect()
        };
        let round_todo = Arc::new(Mutex::new(batch));
        let producers = produce(&http, &server.base, &token, &round_todo, &committed);
        if round < KILLS {
            // Kill at a random moment once this round's deliveries are under way, while the
            // receiver holds a delivery unanswered.
            let before = seen.requests.lock().unwrap().len();
            let deadline = Instant::now() + Duration::from_secs(20);
            while seen.requests.lock().unwrap().len() == before {
                assert!(Instant::now() < deadline, "no deliveries in round {round}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(rand::random_range(0..250))).await;
            // (Should the round's deliveries all be done already, kill anyway after a while.)
            let deadline = Instant::now() + Duration::from_secs(2);
            while seen.open.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            open_at_kills.push(seen.open.load(Ordering::SeqCst));
            drop(running.take()); // SIGKILL
        }
        for p in producers {
            p.await.unwrap();
        }
        // Alerts not raised (the kill came first, or the call failed) go to the next round.
        {
            let mut left = round_todo.lock().unwrap().drain(..).collect::<Vec<_>>();
            let mut t = todo.lock().unwrap();
            left.extend(t.drain(..));
            t.extend(left);
        }
        if round < KILLS {
            continue;
        }
        let server = running.as_ref().unwrap();
        assert_eq!(committed.lock().unwrap().len(), ALERTS, "every alert raised after the last restart");

        let raised = started.elapsed().as_secs_f64();
        // Drain: every delivery of the outbox `delivered`.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = get(&http, server, &token, "/api/v1/notifications/queue/stats").await;
            if s["pending"] == 0 && s["sending"] == 0 && s["delivered"] == ALERTS {
                assert_eq!(s["dead"], 0, "{s}");
                break;
            }
            assert!(Instant::now() < deadline, "the outbox never drained: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let alerts = get(&http, server, &token, "/api/v1/alerts/active?limit=1000").await;
        let alerts: BTreeMap<String, String> = alerts
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["id"].to_string(), a["summary"].as_str().unwrap().to_string()))
            .collect();
        let expected: BTreeSet<String> = (0..ALERTS).map(|n| format!("fault-{n:03}")).collect();
        assert_eq!(alerts.values().cloned().collect::<BTreeSet<_>>(), expected, "one alert per raise");
        assert_eq!(alerts.len(), ALERTS, "no alert opened twice");

        let history = get(&http, server, &token, "/api/v1/notifications/history?limit=1000").await;
        let history = history.as_array().unwrap();
        assert_eq!(history.len(), ALERTS, "one delivery per alert");
        let mut keys = BTreeSet::new();
        for d in history {
            assert_eq!(d["state"], "delivered", "{d}");
            assert!(alerts.contains_key(d["alert"]["id"].as_str().unwrap()), "{d}");
            keys.insert(d["idempotency_key"].as_str().unwrap().to_string());
        }
        assert_eq!(keys.len(), ALERTS, "distinct idempotency keys");

        let requests = seen.requests.lock().unwrap().clone();
        let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
        for (key, alert) in &requests {
            assert!(alerts.contains_key(alert), "a delivery of an unknown alert {alert}");
            *per_key.entry(key.as_str()).or_default() += 1;
        }
        let received: BTreeSet<String> = per_key.keys().map(|k| k.to_string()).collect();
        let lost: Vec<_> = keys.difference(&received).collect();
        assert!(lost.is_empty(), "lost: {lost:?}");
        assert_eq!(received, keys, "the receiver saw only the outbox's keys");
        let duplicates = requests.len() - per_key.len();
        let duplicated_keys = per_key.values().filter(|&&n| n > 1).count();
        println!(
            "{ALERTS} alerts, {KILLS} kills, {} requests, {duplicates} duplicate requests ({duplicated_keys} keys), \
             receiver requests open at the kills: {open_at_kills:?}, startups (ms): {startups:?}, all raised at {raised:.1} s, total {:.1} s",
            requests.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(
            duplicates <= WORKER_BATCH * KILLS,
            "{duplicates} duplicates: more than the {WORKER_BATCH} deliveries a pass has in flight × {KILLS} kills"
        );
    }
}
