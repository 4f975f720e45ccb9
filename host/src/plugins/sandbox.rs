//! The per-call sandbox: the `Store` data of one plugin call. WASI with no environment, no
//! inherited stdio (output is captured into bounded buffers), only read-only preopens, TCP only
//! to allow-listed addresses, `wasi:http` behind the outbound policy, optionally frozen clocks,
//! and a memory limiter that remembers why it refused growth.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::addresses::AddressPolicy;
use super::http_policy::{parse_tcp_rule, OutboundPolicy, OutboundRule, MAX_RESPONSE_BYTES};
use super::manifest::Manifest;
use super::services::{HostServices, PluginLogger, PluginStateStore};
use super::smtp::{MailSender, SMTP_TIMEOUT};

/// Log lines per call; later ones are dropped.
pub const LOG_LINES_PER_CALL: u32 = 1000;

/// Bytes of stdout and of stderr kept per call; the rest is dropped (and counted), never an
/// error, because a failing `print!` would turn chatty plugins into trapping ones.
pub const CAPTURE_BYTES: usize = 64 << 10;

/// Everything a plugin may touch, fixed when the plugin is loaded.
pub struct SandboxPolicy {
    pub plugin_id: Arc<str>,
    outbound: Arc<[OutboundRule]>,
    /// The operator's bound on resolved HTTP destinations.
    addresses: AddressPolicy,
    tcp: Arc<[SocketAddr]>,
    read_only_paths: Vec<String>,
    clocks: bool,
    smtp: bool,
    pub memory_bytes: usize,
    pub timeout: Duration,
}

impl SandboxPolicy {
    pub fn from_manifest(m: &Manifest, addresses: AddressPolicy) -> Result<SandboxPolicy, String> {
        let outbound: Vec<_> =
            m.capabilities.allowed_outbound_hosts.iter().map(|r| OutboundRule::parse(r)).collect::<Result<_, _>>()?;
        let tcp: Vec<_> = m.capabilities.allowed_tcp.iter().map(|r| parse_tcp_rule(r)).collect::<Result<_, _>>()?;
        for path in &m.capabilities.read_only_paths {
            if !std::path::Path::new(path).is_dir() {
                return Err(format!("read_only_paths entry {path:?} is not an existing directory"));
            }
        }
        Ok(SandboxPolicy {
            plugin_id: m.id.as_str().into(),
            outbound: outbound.into(),
            addresses,
            tcp: tcp.into(),
            read_only_paths: m.capabilities.read_only_paths.clone(),
            clocks: m.capabilities.clocks,
            smtp: m.capabilities.smtp,
            memory_bytes: (m.limits.memory_mb as usize) << 20,
            timeout: Duration::from_millis(m.limits.timeout_ms),
        })
    }

    /// The manifest's outbound HTTP rules and the operator's address bound (channel checks).
    pub fn outbound(&self) -> (&[OutboundRule], &AddressPolicy) {
        (&self.outbound, &self.addresses)
    }

    /// What the `vigia:plugin` imports of one call work with; `smtp` only if the manifest grants it.
    pub fn host_ctx(&self, services: &HostServices, config_json: Arc<str>) -> HostCtx {
        HostCtx {
            plugin_id: self.plugin_id.clone(),
            config_json,
            state: services.state.clone(),
            logger: services.logger.clone(),
            log_budget: LOG_LINES_PER_CALL,
            mailer: self.smtp.then(|| services.mailer.clone()),
            // Leave the plugin time to report a clean error before its call deadline.
            smtp_timeout: SMTP_TIMEOUT.min(self.timeout.mul_f64(0.8)),
        }
    }

    /// A fresh store state for one call, plus handles on its captured output.
    pub fn new_state(&self, host: HostCtx) -> (PluginState, Captured) {
        let stdout = CapturePipe::new(CAPTURE_BYTES);
        let stderr = CapturePipe::new(CAPTURE_BYTES);
        let mut b = WasiCtxBuilder::new();
        // Defaults already give: no env, no args, closed stdin, no preopens, no name lookups.
        b.stdout(stdout.clone()).stderr(stderr.clone()).allow_udp(false).allow_ip_name_lookup(false);
        if !self.clocks {
            let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            b.wall_clock(FrozenWall(now)).monotonic_clock(FrozenMonotonic);
        }
        for path in &self.read_only_paths {
            if let Err(e) = b.preopened_dir(path, path, FsPerms::ReadOnly) {
                tracing::warn!(plugin = %self.plugin_id, path = %path, error = %e, "read-only path unavailable");
            }
        }
        if self.tcp.is_empty() {
            b.allow_tcp(false);
        } else {
            let allowed = self.tcp.clone();
            b.allow_tcp(true).socket_addr_check(move |addr, usage| {
                let ok = match usage {
                    // `connect` first binds implicitly to the unspecified address: allow only that
                    // bind, never an explicit one (no listening plugins).
                    SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                    SocketAddrUse::TcpConnect => allowed.contains(&addr),
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        let state = PluginState {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundPolicy {
                plugin_id: self.plugin_id.clone(),
                rules: self.outbound.clone(),
                addresses: self.addresses.clone(),
                timeout: self.timeout,
                max_response_bytes: MAX_RESPONSE_BYTES,
            },
            table: ResourceTable::new(),
            limiter: CallLimiter { memory_bytes: self.memory_bytes, denied: None },
            host,
        };
        (state, Captured { stdout, stderr })
    }
}

/// The `T` of `Store<T>` for a plugin call.
pub struct PluginState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundPolicy,
    table: ResourceTable,
    pub limiter: CallLimiter,
    pub host: HostCtx,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// What the `vigia:plugin/host` imports work with during one call.
pub struct HostCtx {
    pub plugin_id: Arc<str>,
    /// Effective configuration (defaults merged, secrets opened) as the JSON the guest reads.
    pub config_json: Arc<str>,
    pub state: Arc<dyn PluginStateStore>,
    pub logger: Arc<dyn PluginLogger>,
    /// Log lines still allowed in this call; a plugin cannot flood the host's logs.
    pub log_budget: u32,
    /// The `smtp` capability: `None` unless the manifest grants it.
    pub mailer: Option<Arc<dyn MailSender>>,
    /// Bounds one SMTP exchange.
    pub smtp_timeout: Duration,
}

/// Memory/table limits of one call. Refusals are recorded so a trap that follows (Rust aborts
/// on allocation failure) is reported as a resource limit rather than a generic crash.
pub struct CallLimiter {
    memory_bytes: usize,
    pub denied: Option<String>,
}

const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.denied = Some(format!(
                "memory limit of {} MiB reached (had {current} bytes, asked for {desired})",
                self.memory_bytes >> 20
            ));
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.denied = Some(format!("table limit of {MAX_TABLE_ELEMENTS} elements reached"));
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        8
    }
}

struct FrozenWall(Duration);

impl HostWallClock for FrozenWall {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

struct FrozenMonotonic;

impl HostMonotonicClock for FrozenMonotonic {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The stdout/stderr of one call.
pub struct Captured {
    pub stdout: CapturePipe,
    pub stderr: CapturePipe,
}

impl Captured {
    /// Sends captured output to `tracing`, one event per line, tagged with the plugin id.
    pub fn emit(&self, plugin: &str) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let text = pipe.text();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if stream == "stderr" {
                    tracing::warn!(plugin, stream, "{line}");
                } else {
                    tracing::info!(plugin, stream, "{line}");
                }
            }
            let dropped = pipe.dropped();
            if dropped > 0 {
                tracing::warn!(plugin, stream, dropped, "plugin output truncated");
            }
        }
    }
}

/// A bounded in-memory stdout/stderr: keeps the first `cap` bytes, silently drops the rest.
#[derive(Clone)]
pub struct CapturePipe {
    buf: Arc<Mutex<Vec<u8>>>,
    dropped: Arc<AtomicUsize>,
    cap: usize,
}

impl CapturePipe {
    fn new(cap: usize) -> CapturePipe {
        CapturePipe { buf: Arc::default(), dropped: Arc::default(), cap }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().expect("capture lock")).into_owned()
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }

    fn push(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().expect("capture lock");
        let room = self.cap.saturating_sub(buf.len());
        let keep = room.min(bytes.len());
        buf.extend_from_slice(&bytes[..keep]);
        if keep < bytes.len() {
            self.dropped.fetch_add(bytes.len() - keep, Ordering::Relaxed);
        }
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always writable: excess is dropped in `push`.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for CapturePipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
