//! Configuration: a TOML file (every key optional, every key documented here) overridden by
//! `VIGIA_<SECTION>_<KEY>` environment variables. Field doc comments are the configuration docs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use crate::auth::AuthConfig;
use serde::{Deserialize, Serialize};

/// Why the configuration could not be loaded: always says where (file and line, or variable).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid environment override {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Top level of `vigia.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the SQLite database, the generated TLS certificate and other local state.
    /// Env: `VIGIA_DATA_DIR`.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub plugins: PluginsConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub sampler: SamplerConfig,
    pub alerting: AlertingConfig,
    pub status_page: crate::status::page::StatusPageConfig,
    pub reports: ReportsConfig,
    pub cluster: crate::cluster::ClusterConfig,
    /// The file this was read from (not a setting): plugins may never read it.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// `[server]`: the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. Plain HTTP on loopback by default.
    pub listen: String,
    /// `"self-signed"` generates a certificate in `data_dir/tls/` on first start and keeps it.
    /// Leave unset for plain HTTP or when `tls_cert`/`tls_key` are given.
    pub tls: Option<TlsMode>,
    /// PEM certificate chain; with `tls_key`, serves HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Largest accepted request body in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Seconds a stop (SIGTERM, Ctrl-C) may take: in-flight requests finish, background loops
    /// stop, then every writer stores what it holds. Past it, `vigia serve` exits with an error
    /// status naming what did not finish.
    pub shutdown_grace_seconds: u64,
    pub rate_limit: RateLimitConfig,
}

/// `[server.rate_limit]`: token buckets per client (a valid token, else the source address) so
/// one client cannot starve the others. Probes (`/health`, `/health/live`, `/health/ready`,
/// `/metrics`) are never limited. A limited request gets 429 with `Retry-After`; every other
/// answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
/// (seconds until the budget is whole again).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Limit requests. Off, nothing is limited and no `X-RateLimit-*` headers are sent.
    pub enabled: bool,
    /// Requests per minute per API or user token (requests without a valid token: per source
    /// address). Short bursts up to this many are allowed; the budget refills evenly.
    pub requests_per_minute: u32,
    /// Requests per minute per source address on the sign-in endpoints
    /// (`POST /api/v1/auth/token`, `/ds-api/user-token[/{organization}]`, the dashboard's
    /// `POST /sign-in`).
    pub sign_in_per_minute: u32,
    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed: behind them the
    /// client is the nearest address in that header that is not itself a trusted proxy. From any
    /// other peer the header is ignored. IPv6 clients are counted per /64 network.
    pub trusted_proxies: Vec<String>,
    /// Most clients tracked per budget (memory stays bounded under a flood of addresses or
    /// tokens): past it, new clients share one budget until idle ones are forgotten (every minute).
    pub max_tracked_clients: usize,
    /// Milliseconds a refused request waits before its 429 (never longer than its `Retry-After`).
    /// A client hammering in a loop is slowed to a few requests a second per connection instead
    /// of costing the host CPU at full speed; 0 answers at once.
    pub refusal_delay_ms: u64,
    /// Most refused requests held waiting at once; past it, refusals are answered at once (so
    /// the waiting costs bounded memory however many connections a flood opens).
    pub max_delayed_refusals: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Generate and keep a self-signed certificate (automation then uses `curl -k`).
    SelfSigned,
}

/// `[storage]`: where Vigia keeps its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite://path` or `postgres://user:pass@host/db`. Empty: `sqlite://<data_dir>/vigia.db`.
    pub url: String,
    /// Size of the connection pool.
    pub max_connections: u32,
}

/// `[plugins]`: WebAssembly plugins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory holding one sub-directory per plugin (`plugin.toml` + `.wasm`).
    pub dir: PathBuf,
    /// Largest number of plugins the runtime is sized for (instance pool, memory reservation).
    pub max_plugins: u32,
    /// Collector runs allowed at the same time; further due runs wait for a free slot.
    pub max_concurrent_collections: u32,
    /// Reload plugins when their files change (hot reload).
    pub watch: bool,
    /// The most any plugin manifest may declare; installs and reloads asking for more are refused.
    pub policy: crate::plugins::PluginPolicy,
}

/// `[log]`: what the host prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `"pretty"` for people, `"json"` for log collectors.
    pub format: LogFormat,
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or a tracing filter such as
    /// `"info,vigia=debug"`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// `[sampler]`: the native PostgreSQL sampler and what it keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplerConfig {
    /// Sample registered PostgreSQL instances. Off, instances can still be registered.
    pub enabled: bool,
    /// Seconds between `pg_stat_statements` cycles (deltas per statement).
    pub statements_interval_seconds: u64,
    /// Seconds between instance activity cycles (databases, background writer, connections).
    pub activity_interval_seconds: u64,
    /// Seconds between table and index activity cycles.
    pub tables_interval_seconds: u64,
    /// Seconds between inventory reads (version, sizes, settings).
    pub inventory_interval_seconds: u64,
    /// Databases with more tables than this are skipped by table and index monitoring.
    pub max_tables: u64,
    /// `statement_timeout` of every sampler query, in milliseconds.
    pub statement_timeout_ms: u64,
    /// Longest query text kept, in bytes (texts are truncated beyond).
    pub max_query_text: usize,
    /// Seconds of ASH ticks stored together in one compressed chunk (1 to 60; longer chunks
    /// compress better; the ticks not stored yet are read from the writer's memory, so
    /// session-history shows a sample about a second after it was taken whatever the length).
    pub ash_chunk_seconds: u64,
    /// Seconds between persisting the ticks of the chunks still being filled (a crash loses at
    /// most this much ASH; a clean stop loses nothing). 0 turns it off.
    pub ash_tail_seconds: u64,
    /// Days raw samples (ASH, statements, tables) are kept.
    pub raw_retention_days: u64,
    /// Days the 1-minute rollups are kept, and the metric points (the sampler's `pg.*` gauges
    /// and what collector plugins return).
    pub minute_rollup_retention_days: u64,
    /// Days the 1-hour rollups are kept.
    pub hour_rollup_retention_days: u64,
    /// Networks (CIDR) monitored instances and connection tests may reach, e.g.
    /// `["10.20.0.0/16"]`; empty: anywhere. A host is resolved first and refused when any of its
    /// addresses lies outside, so `settings:write` cannot probe the rest of the network.
    pub target_networks: Vec<String>,
}

impl SamplerConfig {
    /// `target_networks`, parsed (validated at load).
    pub fn target_networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.target_networks
            .iter()
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("[sampler] target_networks entry {n:?} is not a network such as 10.0.0.0/8"))
            })
            .collect()
    }
}

/// `[alerting]`: alert rule evaluation and notification delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertingConfig {
    /// Evaluate alert rules and deliver notifications. Off, rules and alerts can still be managed.
    pub enabled: bool,
    /// Seconds between evaluations of the alert rules against the latest metric points.
    pub evaluation_interval_seconds: u64,
    /// A series whose latest point is older than this many seconds is not evaluated.
    pub stale_after_seconds: u64,
    /// Delivery attempts of a notification: entry n is the delay in seconds before attempt n+1 (the
    /// first attempt is immediate, so the list starts with 0); after the last attempt fails, the
    /// notification goes to the dead-letter queue. Permanent errors go there at once.
    pub retry_schedule_seconds: Vec<u64>,
    /// Milliseconds between two looks at the notification outbox by the delivery worker.
    pub delivery_poll_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            plugins: PluginsConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            sampler: SamplerConfig::default(),
            alerting: AlertingConfig::default(),
            status_page: Default::default(),
            reports: Default::default(),
            cluster: Default::default(),
            source: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8470".into(),
            tls: None,
            tls_cert: None,
            tls_key: None,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_seconds: 30,
            rate_limit: RateLimitConfig::default(),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            requests_per_minute: 500,
            sign_in_per_minute: 10,
            trusted_proxies: Vec::new(),
            max_tracked_clients: 100_000,
            refusal_delay_ms: 1000,
            max_delayed_refusals: 10_000,
        }
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            enabled: true,
            statements_interval_seconds: 60,
            activity_interval_seconds: 60,
            tables_interval_seconds: 3600,
            inventory_interval_seconds: 300,
            max_tables: 1000,
            statement_timeout_ms: 2000,
            max_query_text: 2048,
            ash_chunk_seconds: 60,
            ash_tail_seconds: 5,
            raw_retention_days: 14,
            minute_rollup_retention_days: 90,
            hour_rollup_retention_days: 730,
            target_networks: Vec::new(),
        }
    }
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            enabled: true,
            evaluation_interval_seconds: 15,
            stale_after_seconds: 300,
            retry_schedule_seconds: vec![0, 5, 30, 120, 600, 1800, 3600],
            delivery_poll_ms: 200,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { url: String::new(), max_connections: 8 }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("./plugins"),
            max_plugins: 32,
            max_concurrent_collections: 4,
            watch: true,
            policy: Default::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Pretty, level: "info".into() }
    }
}

impl Config {
    /// Loads `path` (if given) then applies `VIGIA_*` overrides from `env`, then validates.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                // Deserialize straight from the text first: only then do errors carry line and column.
                toml::from_str::<Config>(&text)
                    .map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?
            }
            None => toml::Table::new(),
        };
        let mut overrides: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("VIGIA_")).collect();
        overrides.sort();
        for (var, value) in overrides {
            apply_env_override(&mut table, &var, &value)?;
        }
        let config: Config = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Env {
            var: "VIGIA_*".into(),
            message: e.message().to_string(),
        })?;
        config.validate()?;
        Ok(Config { source: path.map(Path::to_path_buf), ..config })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "[server] listen = {:?} is not an address like 127.0.0.1:8470",
                self.server.listen
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return invalid("[server] tls_cert and tls_key must be set together".into());
        }
        if self.server.tls.is_some() && self.server.tls_cert.is_some() {
            return invalid("[server] tls = \"self-signed\" conflicts with tls_cert/tls_key: choose one".into());
        }
        self.plugin_bounds()?;
        self.sampler.target_networks().map_err(ConfigError::Invalid)?;
        if self.server.max_body_bytes == 0 {
            return invalid("[server] max_body_bytes must be positive".into());
        }
        let url = &self.storage.url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return invalid(format!(
                "[storage] url must start with sqlite:// or postgres://, got {:?}",
                crate::store::redact(url)
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(format!("[log] level = {:?} is not a level or tracing filter", self.log.level));
        }
        if self.plugins.max_plugins == 0 || self.plugins.max_concurrent_collections == 0 {
            return invalid("[plugins] max_plugins and max_concurrent_collections must be positive".into());
        }
        if !(1..=60).contains(&self.sampler.ash_chunk_seconds) {
            return invalid("[sampler] ash_chunk_seconds must be 1 to 60".into());
        }
        if self.sampler.ash_tail_seconds > 60 {
            return invalid("[sampler] ash_tail_seconds must be 0 (off) to 60".into());
        }
        if self.server.shutdown_grace_seconds == 0 {
            return invalid("[server] shutdown_grace_seconds must be at least 1".into());
        }
        if self.alerting.evaluation_interval_seconds == 0 || self.alerting.delivery_poll_ms == 0 {
            return invalid("[alerting] evaluation_interval_seconds and delivery_poll_ms must be positive".into());
        }
        if self.alerting.retry_schedule_seconds.first() != Some(&0) {
            return invalid(
                "[alerting] retry_schedule_seconds must start with 0 (the first attempt is immediate)".into(),
            );
        }
        if self.auth.user_token_ttl_hours == 0 {
            return invalid("[auth] user_token_ttl_hours must be positive".into());
        }
        let auth = &self.auth;
        if auth.lockout_failures == 0 || [auth.lockout_window_seconds, auth.lockout_seconds].contains(&0) {
            return invalid(
                "[auth] lockout_failures, lockout_window_seconds and lockout_seconds must be positive".into(),
            );
        }
        if auth.sign_in_queue_timeout_ms == 0 {
            return invalid("[auth] sign_in_queue_timeout_ms must be positive".into());
        }
        let rl = &self.server.rate_limit;
        if rl.requests_per_minute == 0 || rl.sign_in_per_minute == 0 || rl.max_tracked_clients == 0 {
            return invalid("[server.rate_limit] budgets must be positive (enabled = false turns limits off)".into());
        }
        self.trusted_proxies()?;
        self.cluster.check(&self.storage_url()).map_err(ConfigError::Invalid)
    }

    /// `[server.rate_limit] trusted_proxies` parsed: a bare address is its own /32 or /128.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        let parse = |p: &String| {
            let p = p.trim();
            p.parse::<ipnet::IpNet>().or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| {
                ConfigError::Invalid(format!(
                    "[server.rate_limit] trusted_proxies entry {p:?} is not an address or network such as 10.0.0.0/8"
                ))
            })
        };
        self.server.rate_limit.trusted_proxies.iter().map(parse).collect()
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.server.listen.parse().expect("validated at load")
    }

    /// `[plugins.policy]` with the host's own files, which no plugin may ever read: the data
    /// directory, this configuration file, the TLS key and a SQLite database kept elsewhere.
    pub fn plugin_bounds(&self) -> Result<crate::plugins::CapabilityBounds, ConfigError> {
        let mut protected: Vec<&Path> = vec![&self.data_dir];
        protected.extend(self.source.as_deref());
        protected.extend(self.server.tls_key.as_deref());
        let url = self.storage_url();
        let sqlite = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .map(|rest| Path::new(rest.split('?').next().unwrap_or(rest)));
        protected.extend(sqlite);
        crate::plugins::CapabilityBounds::new(&self.plugins.policy, &protected).map_err(ConfigError::Invalid)
    }

    /// The storage URL, defaulting to a SQLite file in `data_dir`.
    pub fn storage_url(&self) -> String {
        if self.storage.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("vigia.db").display())
        } else {
            self.storage.url.clone()
        }
    }
}

/// Applies `VIGIA_<SECTION>_<KEY>=value` (or `VIGIA_<KEY>` for top-level keys). Variables that
/// name no section or top-level key (e.g. `VIGIA_ADMIN_PASSWORD`) are not configuration and are
/// left alone; an unknown key inside a known section is reported by `deny_unknown_fields`.
fn apply_env_override(table: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(Config::default()).expect("defaults serialize");
    let name = var["VIGIA_".len()..].to_ascii_lowercase();
    // Strings stay strings (a port-like "8470" in a string key must not turn into an integer);
    // other keys take the TOML literal so numbers and booleans keep their types.
    let parsed = |default: Option<&toml::Value>| -> Result<toml::Value, ConfigError> {
        match default {
            None | Some(toml::Value::String(_)) => Ok(toml::Value::String(value.into())),
            Some(d) => toml::from_str::<toml::Table>(&format!("v = {value}")).map(|t| t["v"].clone()).map_err(|_| {
                ConfigError::Env { var: var.into(), message: format!("{value:?} is not a valid {}", d.type_str()) }
            }),
        }
    };
    if let Some(default) = defaults.get(&name).filter(|v| !v.is_table()) {
        table.insert(name.clone(), parsed(Some(default))?);
        return Ok(());
    }
    let Some((section, key)) = defaults
        .iter()
        .filter(|(_, v)| v.is_table())
        .find_map(|(s, _)| name.strip_prefix(&format!("{s}_")).map(|k| (s.clone(), k.to_string())))
    else {
        return Ok(());
    };
    let default = defaults[&section].get(&key);
    let value = parsed(default)?;
    let entry = table.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry.as_table_mut() {
        Some(t) => {
            t.insert(key, value);
            Ok(())
        }
        None => {
            Err(ConfigError::Env { var: var.into(), message: format!("[{section}] is not a table in the config file") })
        }
    }
}

/// `[reports]`: how reports are mailed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// The mail notifier plugin (granted `smtp`) whose SMTP server and `from` address mail
    /// reports: reports have no SMTP settings of their own.
    pub mailer: String,
    /// Seconds one SMTP exchange may take before the server counts as unreachable (the API
    /// then answers 502 naming it, rather than hanging).
    pub mail_timeout_seconds: u64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig { mailer: "email".into(), mail_timeout_seconds: 20 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8470");
        assert_eq!(c.storage_url(), "sqlite://./data/vigia.db");
        assert_eq!(c.plugins.dir, PathBuf::from("./plugins"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let f = write("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
        let err = Config::load(Some(f.path()), env(&[])).unwrap_err().to_string();
        assert!(err.contains(&f.path().display().to_string()), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_keeps_types() {
        let f = write("data_dir = \"/tmp/a\"\n[server]\nmax_body_bytes = 10\n");
        let c = Config::load(
            Some(f.path()),
            env(&[
                ("VIGIA_SERVER_MAX_BODY_BYTES", "2048"),
                ("VIGIA_LOG_FORMAT", "json"),
                ("VIGIA_DATA_DIR", "/tmp/b"),
                ("VIGIA_ADMIN_PASSWORD", "not-config"),
                ("VIGIA_SERVER_TLS_CERT", "/c.pem"),
                ("VIGIA_SERVER_TLS_KEY", "/k.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.max_body_bytes, 2048);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/b"));
        assert_eq!(c.server.tls_cert, Some(PathBuf::from("/c.pem")));
    }

    #[test]
    fn bad_env_and_bad_values_are_named() {
        let err = Config::load(None, env(&[("VIGIA_SERVER_LISTN", "x")])).unwrap_err().to_string();
        assert!(err.contains("listn"), "{err}");
        let err = Config::load(None, env(&[("VIGIA_SERVER_LISTEN", "nowhere")])).unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        let err = Config::load(None, env(&[("VIGIA_STORAGE_URL", "mysql://x")])).unwrap_err().to_string();
        assert!(err.contains("sqlite://"), "{err}");
        let err = Config::load(None, env(&[("VIGIA_ALERTING_RETRY_SCHEDULE_SECONDS", "[5, 10]")])).unwrap_err();
        assert!(err.to_string().contains("retry_schedule_seconds"), "{err}");
        let ok = Config::load(None, env(&[("VIGIA_ALERTING_RETRY_SCHEDULE_SECONDS", "[0, 1]")])).unwrap();
        assert_eq!(ok.alerting.retry_schedule_seconds, [0, 1]);
    }
}
