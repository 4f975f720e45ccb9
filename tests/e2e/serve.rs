//! End-to-end: the real `vigia` binary, started with a temp config, driven over HTTP(S).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_vigia");
const ADMIN_PASSWORD: &str = "e2e-admin-password";

/// A running `vigia serve`; killed on drop.
struct Server {
    child: Child,
    base: String,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(config: &Path, envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--config"]).arg(config).stdout(Stdio::piped()).stderr(Stdio::null());
        cmd.env_remove("VIGIA_ADMIN_PASSWORD");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn vigia");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(line) = stdout.lock().unwrap().iter().find(|l| l.contains(" listening on ")) {
                let base = line.rsplit(' ').next().unwrap().to_string();
                return Server { child, base, stdout: stdout.clone() };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("vigia exited early with {status}: {:?}", stdout.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "vigia did not start: {:?}", stdout.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// SIGTERM, then wait: a graceful shutdown exits 0.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("vigia.toml");
    let text = format!(
        "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\n{extra}\n[log]\nlevel = \"warn\"\n",
        dir.join("data").display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap()
}

async fn sign_in(base: &str, password: &str) -> String {
    let r = client()
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

fn vigia(config: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("VIGIA_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn serve_sign_in_mint_token_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let server = Server::start(&config, &[("VIGIA_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    assert!(server.output().iter().any(|l| l.contains("created user \"admin\"")));
    let base = server.base.clone();
    assert!(base.starts_with("http://127.0.0.1:"));

    let http = client();
    let r = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.text().await.unwrap(), "OK");

    let session = sign_in(&base, ADMIN_PASSWORD).await;
    let r = http
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(&session)
        .json(&json!({"name": "ci", "scopes": ["read:status", "monitoring:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let api_token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = http.get(format!("{base}/api/v1/health")).header("X-API-Token", &api_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scopes"], json!(["read:status", "monitoring:read"]));

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("vigia_http_requests_total{method=\"GET\",route=\"/api/v1/health\",status=\"200\"}"),
        "{metrics}"
    );
    let version: Value = http.get(format!("{base}/api/v1/version")).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    assert!(server.terminate().success(), "graceful shutdown exits 0");

    // Same data dir: no second admin, the token still works.
    let server = Server::start(&config, &[]);
    assert!(!server.output().iter().any(|l| l.contains("First start")));
    let r = client().get(format!("{}/api/v1/health", server.base)).bearer_auth(&api_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn first_start_prints_a_generated_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let server = Server::start(&config, &[]);
    let line = server.output().into_iter().find(|l| l.contains("with password: ")).expect("password printed");
    let password = line.rsplit(' ').next().unwrap().to_string();
    assert!(password.len() >= 16);
    sign_in(&server.base, &password).await;
}

#[test]
fn invalid_config_fails_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\nmax_body = 5\n").unwrap();
    let (ok, _, stderr) = vigia(&path, &["serve"], None);
    assert!(!ok);
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("max_body"), "{stderr}");
}

#[tokio::test]
async fn self_signed_tls_is_generated_kept_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "tls = \"self-signed\"");
    let server = Server::start(&config, &[("VIGIA_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let cert = dir.path().join("data/tls/cert.pem");
    let first = std::fs::read(&cert).unwrap();
    // The Datasentinel toolkit's probe, over HTTPS with -k.
    let r = client().get(format!("{}/ds-api/", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .post(format!("{}/ds-api/user-token", server.base))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    drop(server);
    let _again = Server::start(&config, &[]);
    assert_eq!(std::fs::read(&cert).unwrap(), first, "certificate kept across restarts");
}

#[tokio::test]
async fn postgres_backend_serves_and_readiness_follows_the_database() {
    let cluster = vigia_testkit::PgCluster::start().unwrap();
    let url = cluster.create_database("vigia_e2e").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &format!("[storage]\nurl = {url:?}"));
    let server = Server::start(&config, &[("VIGIA_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    sign_in(&server.base, ADMIN_PASSWORD).await;
    let http = client();
    let ready = |r: reqwest::Response| async move { (r.status().as_u16(), r.json::<Value>().await.unwrap()) };
    let (status, body) = ready(http.get(format!("{}/health/ready", server.base)).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));

    cluster.stop().unwrap();
    let (status, body) = ready(http.get(format!("{}/health/ready", server.base)).send().await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "failed");
    let r = http.get(format!("{}/health", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the LB probe never touches storage");

    cluster.restart_server().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = ready(http.get(format!("{}/health/ready", server.base)).send().await.unwrap()).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "readiness did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn cli_manages_users_and_tokens_that_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let (ok, out, err) = vigia(
        &config,
        &["user", "add", "ops@example.com", "--privilege", "read write", "--password-stdin"],
        Some("ops-password-1\n"),
    );
    assert!(ok, "{out}{err}");
    let (ok, out, _) = vigia(&config, &["user", "list"], None);
    assert!(ok && out.contains("ops@example.com") && out.contains("read write"), "{out}");
    let (ok, out, err) =
        vigia(&config, &["token", "create", "deploys", "--user", "ops@example.com", "--scope", "admin"], None);
    assert!(!ok && err.contains("does not hold scope admin"), "{out}{err}");
    let (ok, out, err) = vigia(
        &config,
        &["token", "create", "deploys", "--user", "ops@example.com", "--scope", "monitoring:write"],
        None,
    );
    assert!(ok, "{out}{err}");
    let token = out.lines().find(|l| l.starts_with("vg_")).expect("token printed").to_string();
    let id: String = out.split("(id ").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    let (ok, out, _) = vigia(&config, &["token", "list"], None);
    assert!(ok && out.contains(&token[..11]) && !out.contains(&token), "{out}");

    let server = Server::start(&config, &[]);
    let r = client().get(format!("{}/api/v1/health", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .post(format!("{}/api/v1/auth/token", server.base))
        .basic_auth("ops@example.com", Some("ops-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(server);

    let (ok, _, _) = vigia(&config, &["token", "revoke", &id], None);
    assert!(ok);
    let server = Server::start(&config, &[]);
    let r = client().get(format!("{}/api/v1/health", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (ok, out, _) = vigia(&config, &["version"], None);
    assert!(ok && out.starts_with("vigia "), "{out}");
}

#[tokio::test]
async fn audit_log_records_the_peer_and_the_cli_names_the_first_broken_entry() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let server = Server::start(&config, &[("VIGIA_ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let http = client();
    let r = http
        .post(format!("{}/api/v1/auth/token", server.base))
        .basic_auth("admin", Some("not-the-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let session = sign_in(&server.base, ADMIN_PASSWORD).await;
    let r = http
        .post(format!("{}/api/v1/tokens", server.base))
        .bearer_auth(&session)
        .json(&json!({"name": "ci", "scopes": ["monitoring:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http.get(format!("{}/api/v1/audit", server.base)).bearer_auth(&session).send().await.unwrap();
    let entries: Value = r.json().await.unwrap();
    let entries = entries["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(entries.iter().all(|e| e["source_ip"] == "127.0.0.1"), "the peer's address: {entries:?}");
    assert!(server.terminate().success());

    let (ok, out, err) = vigia(&config, &["audit", "verify"], None);
    assert!(ok && out.contains("audit log OK: 3 entries verify"), "{out}{err}");

    // Someone with access to the database file rewrites the failed sign-in as a success.
    let url = format!("sqlite://{}", dir.path().join("data/vigia.db").display());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let changed =
        sqlx::query("UPDATE audit_log SET success = TRUE, status = 200 WHERE id = 1").execute(&mut conn).await.unwrap();
    assert_eq!(changed.rows_affected(), 1);
    drop(conn);
    let (ok, out, err) = vigia(&config, &["audit", "verify"], None);
    assert!(!ok, "{out}{err}");
    assert!(err.contains("audit entry 1 does not verify"), "{out}{err}");

    // Without the host key there is nothing to verify with: said, not a new key made up.
    let elsewhere = tempfile::tempdir().unwrap();
    let keyless = write_config(elsewhere.path(), &format!("[storage]\nurl = {url:?}"));
    let (ok, out, err) = vigia(&keyless, &["audit", "verify"], None);
    assert!(!ok && err.contains("no host secret key"), "{out}{err}");
    assert!(!elsewhere.path().join("data/secret.key").exists());
}
