//! The event stream over real HTTP from the real binary: an alert raised through the API arrives
//! as `alert.opened` on an open `curl -N`-like connection, and SIGTERM ends the stream at once,
//! so an open dashboard does not hold a clean stop for half the grace period (30 s by default).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::e2e_support::Server;

/// Reads the stream until `needle` appears (or panics after 20 s).
async fn read_until(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await;
        match chunk {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("no {needle:?} in the stream ({other:?}); so far: {seen}"),
        }
    }
    seen
}

#[tokio::test]
async fn events_stream_over_http_and_a_stop_ends_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), "");
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let mut stream = http.get(format!("{}/api/v1/events", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    let alert = json!({"dedup_key": "backup", "severity": "critical", "summary": "nightly backup failed", "resource": "backup"});
    let r = http.post(format!("{}/api/v1/alerts", server.base)).bearer_auth(&token).json(&alert).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let seen = read_until(&mut stream, "\n\n").await;
    assert!(seen.contains("event: alert.opened") && seen.contains("nightly backup failed"), "{seen}");

    let stopping = Instant::now();
    let exit = server.terminate(Duration::from_secs(10)).expect("the server stops with a stream open");
    assert!(exit.success(), "a clean stop: {exit:?}");
    assert!(stopping.elapsed() < Duration::from_secs(5), "the stream held the stop for {:?}", stopping.elapsed());
    // The stream ended with the server (not cut mid-event).
    assert!(matches!(stream.chunk().await, Ok(None) | Err(_)));
}
