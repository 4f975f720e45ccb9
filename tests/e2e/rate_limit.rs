//! End-to-end: the real server sees each client's address (rate limiting keys on it) and
//! believes `X-Forwarded-For` from a trusted proxy only.

use reqwest::StatusCode;

use crate::e2e_support::Server;

async fn status(client: &reqwest::Client, url: &str, forwarded_for: Option<&str>) -> StatusCode {
    let mut req = client.get(url);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn the_peer_address_keys_the_budget_and_a_trusted_proxy_forwards_its_clients() {
    let client = reqwest::Client::new();
    // The test is the "proxy": loopback is trusted.
    let dir = tempfile::tempdir().unwrap();
    let extra = "[server.rate_limit]\nrequests_per_minute = 2\ntrusted_proxies = [\"127.0.0.1\"]\n";
    let server = Server::start(dir.path(), extra);
    let version = format!("{}/api/v1/version", server.base);
    for _ in 0..2 {
        assert_eq!(status(&client, &version, Some("203.0.113.1")).await, StatusCode::OK);
    }
    let r = client.get(&version).header("x-forwarded-for", "203.0.113.1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(status(&client, &version, Some("203.0.113.2")).await, StatusCode::OK, "another client");
    assert_eq!(status(&client, &version, None).await, StatusCode::OK, "the proxy itself");
    for _ in 0..3 {
        assert_eq!(status(&client, &format!("{}/health", server.base), None).await, StatusCode::OK, "exempt");
    }
    drop(server);

    // Loopback not trusted: the header is ignored, everything counts against 127.0.0.1.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "[server.rate_limit]\nrequests_per_minute = 2\n");
    let version = format!("{}/api/v1/version", server.base);
    assert_eq!(status(&client, &version, Some("203.0.113.1")).await, StatusCode::OK);
    assert_eq!(status(&client, &version, Some("203.0.113.2")).await, StatusCode::OK);
    assert_eq!(status(&client, &version, Some("203.0.113.3")).await, StatusCode::TOO_MANY_REQUESTS);
}
