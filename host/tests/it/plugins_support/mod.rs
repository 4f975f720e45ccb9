//! Shared harness of the `plugins_*` tests: real guest bundles and throwaway plugin directories.
//!
//! Bundles come from `cargo run -p xtask -- plugins` (run once per test process; a no-op when
//! they are up to date), which writes `target/vigia-plugins/<id>/{plugin.toml,<id>.wasm}`. Set
//! `VIGIA_TEST_PLUGIN_BUNDLES=<dir>` to use prebuilt bundles instead (CI caches, offline runs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigia::alerting::{AlertState, Severity};
use vigia::plugins::{
    Alert, CapabilityBounds, HostServices, PluginHost, PluginHostOptions, PluginPolicy, PluginStatus,
};
use vigia::secrets::SecretBox;

static BUNDLES: OnceLock<PathBuf> = OnceLock::new();

/// The sample alert of the notifier tests, as the host hands it to a plugin (the same one as
/// the SDK's `Alert::example`): `cpu-high` on `db1` at 97.5 with label `env=prod`, started
/// 2023-11-14T22:13:20Z and, when resolved, resolved ten minutes later.
pub fn alert(id: &str, severity: Severity, state: AlertState) -> Alert {
    let started_at_ms = 1_700_000_000_000;
    Alert {
        id: id.into(),
        rule: "cpu-high".into(),
        resource: "db1".into(),
        severity,
        state,
        summary: "CPU at 97.5%".into(),
        description: "cpu above 90% for 5m".into(),
        labels: vec![("env".into(), "prod".into())],
        value: Some(97.5),
        started_at_ms,
        resolved_at_ms: (state == AlertState::Resolved).then_some(started_at_ms + 600_000),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// The directory holding every built bundle; builds them on first use.
pub fn bundles_dir() -> &'static Path {
    BUNDLES.get_or_init(|| {
        if let Some(dir) = std::env::var_os("VIGIA_TEST_PLUGIN_BUNDLES") {
            return PathBuf::from(dir);
        }
        let root = workspace_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["run", "--quiet", "-p", "xtask", "--", "plugins"])
            .current_dir(&root)
            .status()
            .expect("running cargo xtask plugins");
        assert!(status.success(), "`cargo run -p xtask -- plugins` failed");
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        target.join("vigia-plugins")
    })
}

/// (manifest table, wasm bytes) of a built bundle.
pub fn bundle(id: &str) -> (toml::Table, Vec<u8>) {
    let dir = bundles_dir().join(id);
    let text = std::fs::read_to_string(dir.join("plugin.toml")).unwrap_or_else(|e| panic!("bundle {id}: {e}"));
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    let wasm_name = manifest["wasm"].as_str().unwrap().to_string();
    let wasm = std::fs::read(dir.join(wasm_name)).unwrap();
    (manifest, wasm)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The same component with an extra custom section: different bytes and hash, same behaviour.
pub fn with_custom_section(wasm: &[u8], tag: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"vigia-test";
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// Sets `a.b.c = value` in a manifest table, creating tables on the way.
/// Copies a built bundle into `<dir>/plugins/<id>/` (the plugins dir of `e2e_support::Server`),
/// editing its manifest with `edit` first.
pub fn place_bundle(dir: &Path, id: &str, edit: impl FnOnce(&mut toml::Table)) {
    let (mut manifest, wasm) = bundle(id);
    edit(&mut manifest);
    let target = dir.join("plugins").join(id);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join(manifest["wasm"].as_str().unwrap()), wasm).unwrap();
    std::fs::write(target.join("plugin.toml"), toml::to_string(&manifest).unwrap()).unwrap();
}

pub fn set(table: &mut toml::Table, path: &str, value: impl Into<toml::Value>) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut node = table;
    for p in parts {
        node = node.entry(p).or_insert_with(|| toml::Value::Table(Default::default())).as_table_mut().unwrap();
    }
    node.insert(last.to_string(), value.into());
}

/// A private plugins directory and data directory.
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub data: PathBuf,
    pub services: HostServices,
    /// The operator policy the host starts with: loopback TCP and HTTP and `/etc` reads (what
    /// the fixtures and receivers need); the data directory stays protected whatever it says.
    pub policy: PluginPolicy,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plugins");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        let services = HostServices::in_memory(SecretBox::from_key(&[9; 32]));
        let policy = PluginPolicy {
            read_only_paths: vec!["/etc".into()],
            tcp_networks: vec!["127.0.0.0/8".into()],
            private_networks: vec!["127.0.0.0/8".into(), "::1".into()],
            ..PluginPolicy::default()
        };
        Sandbox { tmp, dir, data, services, policy }
    }

    /// Writes `<dir>/<id>/` with the manifest (id, wasm name and sha256 filled in) and wasm,
    /// each file written to a temp name and renamed so a watcher never reads half a file.
    pub fn write(&self, id: &str, manifest: &toml::Table, wasm: &[u8]) {
        let mut manifest = manifest.clone();
        set(&mut manifest, "id", id);
        set(&mut manifest, "wasm", format!("{id}.wasm"));
        set(&mut manifest, "sha256", sha256_hex(wasm));
        let plugin_dir = self.dir.join(id);
        std::fs::create_dir_all(&plugin_dir).unwrap();
        atomic_write(&plugin_dir.join(format!("{id}.wasm")), wasm);
        atomic_write(&plugin_dir.join("plugin.toml"), toml::to_string(&manifest).unwrap().as_bytes());
    }

    /// Installs bundle `bundle_id` as plugin `id`, after `edit` adjusts its manifest.
    pub fn install(&self, bundle_id: &str, id: &str, edit: impl FnOnce(&mut toml::Table)) {
        let (mut manifest, wasm) = bundle(bundle_id);
        edit(&mut manifest);
        self.write(id, &manifest, &wasm);
    }

    pub fn options(&self) -> PluginHostOptions {
        let bounds = CapabilityBounds::new(&self.policy, &[&self.data]).unwrap();
        PluginHostOptions { dir: self.dir.clone(), data_dir: self.data.clone(), max_plugins: 16, watch: true, bounds }
    }

    pub async fn start(&self) -> Arc<PluginHost> {
        PluginHost::start(self.options(), self.services.clone()).await.expect("plugin host starts")
    }
}

pub fn atomic_write(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Polls `status(id)` until `pred` holds (hot reload is asynchronous) or panics after 15 s.
pub async fn wait_for(host: &PluginHost, id: &str, what: &str, pred: impl Fn(Option<&PluginStatus>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = host.status(id);
        if pred(status.as_ref()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; status: {status:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,vigia=info".into()))
        .with_test_writer()
        .try_init();
}

/// One HTTP request as the loopback server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// A loopback HTTP/1.1 server: answers each request with the status `routes` gives its path
/// (404 otherwise), one request per connection; records requests and counts connections.
pub struct Server {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub async fn start(routes: &[(&str, u16)]) -> Server {
        let routes: BTreeMap<String, u16> = routes.iter().map(|(p, s)| (p.to_string(), *s)).collect();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (seen2, connections2) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                connections2.fetch_add(1, Ordering::SeqCst);
                let (routes, seen) = (routes.clone(), seen2.clone());
                tokio::spawn(async move {
                    let Ok(Some(req)) = tokio::time::timeout(Duration::from_secs(10), read_request(&mut s)).await
                    else {
                        return;
                    };
                    let status = routes.get(&req.path).copied().unwrap_or(404);
                    seen.lock().unwrap().push(req);
                    let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbody");
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        Server { port, seen, connections }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads the head and a `content-length` body; `None` if the peer goes away first.
pub async fn read_request(s: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").map(|v| v.parse().unwrap()).unwrap_or(0);
    while buf.len() < head_end + 4 + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Seen { method, path, headers, body: buf[head_end + 4..head_end + 4 + len].to_vec() })
}
