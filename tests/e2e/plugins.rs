//! End-to-end: the real `vigia` binary with real plugin bundles — a Redis collector feeding the
//! metric store from a private `redis-server`, installs through the API, config validation,
//! dry-run invocation and enable/disable.

use crate::e2e_support;
use crate::plugins_support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::Server;
use serde_json::{json, Value};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A private redis-server on a free loopback port, stopped on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn redis_collector_samples_reach_the_metric_history() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let port = redis.port;
    plugins_support::place_bundle(dir.path(), "redis", |m| {
        m["capabilities"]
            .as_table_mut()
            .unwrap()
            .insert("allowed_tcp".into(), toml::Value::Array(vec![format!("127.0.0.1:{port}").into()]));
        let default = m["config"]["default"].as_table().unwrap().clone();
        let mut default = default;
        default.insert("port".into(), (port as i64).into());
        default.insert("interval_seconds".into(), 1.into());
        default.insert("resource".into(), "redis-main".into());
        // interval_seconds and resource are host keys: the redis schema (additionalProperties =
        // false) does not list them, and the host must accept them anyway.
        m["config"].as_table_mut().unwrap().insert("default".into(), default.into());
    });
    // The operator lets plugins reach loopback; the manifest then names the one port.
    let server = Server::start(dir.path(), "[plugins.policy]\ntcp_networks = [\"127.0.0.0/8\"]\n");
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let plugins = get_json(&http, &format!("{}/api/v1/plugins/redis", server.base), &token).await;
    assert_eq!(plugins["status"], "loaded", "{plugins}");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = format!(
            "{}/api/v1/metrics/history?resource=redis-main&metric=redis.connected_clients&range=1h",
            server.base
        );
        let history = get_json(&http, &url, &token).await;
        let points = history["series"][0]["points"].as_array().map(Vec::len).unwrap_or(0);
        if points >= 2 {
            let value = history["series"][0]["points"][0][1].as_f64().unwrap();
            assert!(value >= 1.0, "the collector itself is a connected client: {history}");
            assert_eq!(history["series"][0]["source"], "redis");
            break;
        }
        assert!(Instant::now() < deadline, "no redis samples after 30 s: {history}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn plugins_are_installed_configured_invoked_and_disabled_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    // A broken plugin is listed as failed and reported by readiness, but never fails the host.
    std::fs::create_dir_all(dir.path().join("plugins/broken")).unwrap();
    std::fs::write(dir.path().join("plugins/broken/plugin.toml"), "id = \"broken\"\nnot toml at all [").unwrap();
    let server = Server::start(dir.path(), "");
    let token = server.admin_token().await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.base);
    let r = http.get(url("/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready["checks"]["plugins"]["status"], "ok");
    assert!(ready["checks"]["plugins"]["detail"].as_str().unwrap().contains("1 failed: broken"), "{ready}");
    let broken = get_json(&http, &url("/api/v1/plugins/broken"), &token).await;
    assert_eq!(broken["status"], "failed");
    assert!(broken["last_error"].as_str().unwrap().contains("plugin.toml"), "{broken}");

    let (manifest, wasm) = plugins_support::bundle("rust-collector");
    let manifest_text = toml::to_string(&manifest).unwrap();
    let wasm_name = manifest["wasm"].as_str().unwrap();
    let tarball =
        vigia::plugins::pack_bundle(&[("plugin.toml", manifest_text.as_bytes()), (wasm_name, &wasm)]).unwrap();

    let r = http.post(url("/api/v1/plugins")).bearer_auth(&token).body(b"not a tarball".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("bundle"));

    let r = http
        .post(url("/api/v1/plugins"))
        .bearer_auth(&token)
        .header("content-type", "application/gzip")
        .body(tarball)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let installed: Value = r.json().await.unwrap();
    assert_eq!((installed["id"].as_str(), installed["status"].as_str()), (Some("rust-collector"), Some("loaded")));
    assert!(installed["capabilities"].is_object(), "capabilities are shown: {installed}");

    let r = http
        .put(url("/api/v1/plugins/rust-collector/config"))
        .bearer_auth(&token)
        .json(&json!({"answer": "forty-two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "config is validated against the schema");
    let r = http
        .put(url("/api/v1/plugins/rust-collector/config"))
        .bearer_auth(&token)
        .json(&json!({"answer": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r: Value = http
        .post(url("/api/v1/plugins/rust-collector/invoke"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = r["samples"].as_array().unwrap().iter().find(|s| s["name"] == "example.answer").expect("sample");
    assert_eq!(answer["value"], 7.0);

    let r = http.patch(url("/api/v1/plugins/rust-collector/disable")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "disabled");
    let r = http.post(url("/api/v1/plugins/rust-collector/invoke")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 409);

    let (_, reader) = {
        let r: Value = http
            .post(url("/api/v1/tokens"))
            .bearer_auth(&token)
            .json(&json!({"name": "reader", "scopes": ["settings:read"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ((), r["token"].as_str().unwrap().to_string())
    };
    let r = http.get(url("/api/v1/plugins")).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.delete(url("/api/v1/plugins/rust-collector")).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http.delete(url("/api/v1/plugins/rust-collector")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(url("/api/v1/plugins/rust-collector")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
