//! Shared by end-to-end tests: start the real `vigia` binary on a free port with a config written
//! into a temp dir, sign in as the bootstrap admin, and kill the process when dropped; a JSON client
//! of the API, polling with a generous deadline, and the placement of the real webhook notifier.
#![allow(dead_code)]

pub mod browser;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::plugins_support;

pub const BIN: &str = env!("CARGO_BIN_EXE_vigia");
pub const PASSWORD: &str = "e2e-admin-password";

/// The binary as a command, under `VIGIA_E2E_WRAPPER` if set (a profiler such as
/// `heaptrack -o /tmp/vigia`; then `pid()` is the wrapper's and RSS readings are not the host's).
fn wrapped_binary() -> Command {
    match std::env::var("VIGIA_E2E_WRAPPER") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut words = wrapper.split_whitespace();
            let mut command = Command::new(words.next().unwrap_or_default());
            command.args(words).arg(BIN);
            command
        }
        _ => Command::new(BIN),
    }
}

/// A running `vigia serve`; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Writes `vigia.toml` into `dir` (data in `dir/data`, plugins in `dir/plugins`, listening on
    /// a free loopback port, `extra` appended) and starts the server with the admin password set.
    pub fn start(dir: &Path, extra: &str) -> Server {
        Self::start_with_env(dir, extra, &[])
    }

    /// `start` with extra environment variables (e.g. `VIGIA_<SECTION>_<KEY>` overrides).
    pub fn start_with_env(dir: &Path, extra: &str, env: &[(&str, &str)]) -> Server {
        let config = dir.join("vigia.toml");
        let text = format!(
            "data_dir = {:?}\n[server]\nlisten = \"127.0.0.1:0\"\n[plugins]\ndir = {:?}\n[log]\nlevel = \"warn\"\n{extra}\n",
            dir.join("data").display().to_string(),
            dir.join("plugins").display().to_string()
        );
        std::fs::write(&config, text).unwrap();
        let mut child = wrapped_binary()
            .args(["serve", "--config"])
            .arg(&config)
            .env("VIGIA_ADMIN_PASSWORD", PASSWORD)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            // Appended across restarts of one data dir, for a failing test to show.
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(dir.join("vigia.log")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(" listening on ") {
                    let _ = tx.send(line.rsplit(' ').next().unwrap().to_string());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(120)).expect("vigia started");
        Server { child, base }
    }

    /// Sends SIGTERM (a clean stop, as systemd or `docker stop` does) and waits up to `limit`
    /// for the process to exit; `None` if it did not.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return Some(exit);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The server's process id (for RSS and CPU readings in load tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL (a crash: nothing runs after it) and reaps it.
    pub fn crash(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A user token of the bootstrap admin.
    pub async fn admin_token(&self) -> String {
        self.user_token("admin").await
    }

    /// A user token of `login`, whose password is `PASSWORD`.
    pub async fn user_token(&self, login: &str) -> String {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/token", self.base))
            .json(&json!({"username": login, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().expect("a token").to_string()
    }
}

/// Deadline of every poll: generous, for a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `probe` every 250 ms until it answers something (`limit` at most).
pub async fn poll<T>(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Places the real `webhook` notifier in the server's plugins dir, allowed to reach `origin` only.
pub fn place_webhook(dir: &Path, origin: &str) {
    plugins_support::place_bundle(dir, "webhook", |m| {
        plugins_support::set(m, "capabilities.allowed_outbound_hosts", vec![origin.to_string()])
    });
}

/// The API as the bootstrap admin: JSON in and out, the answer's status asserted.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Client {
    pub async fn new(server: &Server) -> Client {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        Client { http, base: server.base.clone(), token: server.admin_token().await }
    }

    /// Sends a request and asserts the status it answers; returns the body (`null` if empty).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None, 200).await
    }

    /// POSTs and asserts 201 Created.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body), 201).await
    }

    /// Polls `GET path` until `pred` holds (`PATIENCE` at most); returns the answer that held.
    pub async fn poll(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let answer = self.get(path).await;
            if pred(&answer) {
                return answer;
            }
            assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}; last answer {answer}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
