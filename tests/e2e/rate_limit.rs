//! End-to-end: the real server sees each client's address (rate limiting keys on it), over HTTP
//! and HTTPS alike, and believes `X-Forwarded-For` from a trusted proxy only.

use reqwest::StatusCode;

use crate::e2e_support::Server;

fn client() -> reqwest::Client {
    reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap()
}

async fn status(client: &reqwest::Client, url: &str, forwarded_for: Option<&str>) -> StatusCode {
    let mut req = client.get(url);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap().status()
}

/// Two requests a minute, loopback (the test, playing the proxy) trusted.
const BEHIND_PROXY: &str = "[server.rate_limit]\nrequests_per_minute = 2\ntrusted_proxies = [\"127.0.0.1\"]\n";

async fn forwarded_clients_have_their_own_budgets(server: &Server) {
    let client = client();
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
}

#[tokio::test]
async fn the_peer_address_keys_the_budget_and_a_trusted_proxy_forwards_its_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), BEHIND_PROXY);
    forwarded_clients_have_their_own_budgets(&server).await;
    drop(server);

    // Loopback not trusted: the header is ignored, everything counts against 127.0.0.1.
    let (client, dir) = (client(), tempfile::tempdir().unwrap());
    let server = Server::start(dir.path(), "[server.rate_limit]\nrequests_per_minute = 2\n");
    let version = format!("{}/api/v1/version", server.base);
    assert_eq!(status(&client, &version, Some("203.0.113.1")).await, StatusCode::OK);
    assert_eq!(status(&client, &version, Some("203.0.113.2")).await, StatusCode::OK);
    assert_eq!(status(&client, &version, Some("203.0.113.3")).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn over_https_too() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), BEHIND_PROXY, &[("VIGIA_SERVER_TLS", "self-signed")]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    forwarded_clients_have_their_own_budgets(&server).await;
}
