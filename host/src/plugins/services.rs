//! Host capabilities offered to plugins, one trait each, so the runtime depends on behaviour, not
//! on the database: `PluginStateStore` (state-get/set/delete), `PluginSettingsStore` (enabled
//! flag and sealed configuration), `PluginBundleStore` (bundles installed through the API),
//! `PluginLogger` (the `log` import), and `smtp::MailSender` (the `smtp` import). `Store`
//! implements the three stores for production; `MemoryStore` serves tests and benchmarks;
//! `smtp::LettreMailer` sends mail.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::smtp::{LettreMailer, MailSender};
use crate::secrets::SecretBox;
use crate::store::Store;

pub use futures::future::BoxFuture;

/// Plugin-scoped key/value state that survives calls and restarts.
pub trait PluginStateStore: Send + Sync {
    fn get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>>;
    fn set<'a>(&'a self, plugin: &'a str, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>>;
    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
    /// How many keys the plugin holds (for the quota).
    fn count<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<u64>>;
}

/// What the operator set for a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSettings {
    pub enabled: bool,
    /// Operator configuration, secret values sealed for their plugin and path (`v2:…`).
    pub config: serde_json::Value,
}

/// Persistence of per-plugin settings.
pub trait PluginSettingsStore: Send + Sync {
    fn load<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredSettings>>>;
    fn set_enabled<'a>(&'a self, plugin: &'a str, enabled: bool) -> BoxFuture<'a, anyhow::Result<()>>;
    fn set_config<'a>(&'a self, plugin: &'a str, sealed: &'a serde_json::Value) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Drops settings and state of a removed plugin.
    fn forget<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// The bundles installed through the API (`plugin_bundles`): the source of truth a cluster's
/// members materialise their plugins directories from (`Materialiser`).
pub trait PluginBundleStore: Send + Sync {
    /// Stores (or replaces) plugin `id`'s bundle (`tar_gz` as installed, `digest` of its contents).
    fn put_bundle<'a>(&'a self, id: &'a str, digest: &'a str, tar_gz: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Forgets plugin `id`'s bundle; `false` when none was stored.
    fn delete_bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Every stored bundle's id and digest, without the bytes.
    fn bundle_digests(&self) -> BoxFuture<'_, anyhow::Result<BTreeMap<String, String>>>;
    /// Plugin `id`'s stored bundle.
    fn bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>>;
}

/// Severity of a plugin log line (mirrors WIT `log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Receives the plugin's `log` calls.
pub trait PluginLogger: Send + Sync {
    fn log(&self, plugin: &str, level: LogLevel, message: &str, fields: &[(String, String)]);
}

/// Logs through `tracing` with the plugin id as a field.
pub struct TracingLogger;

impl PluginLogger for TracingLogger {
    fn log(&self, plugin: &str, level: LogLevel, message: &str, fields: &[(String, String)]) {
        let fields = fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        match level {
            LogLevel::Trace => tracing::trace!(plugin, fields, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, fields, "{message}"),
            LogLevel::Info => tracing::info!(plugin, fields, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, fields, "{message}"),
            LogLevel::Error => tracing::error!(plugin, fields, "{message}"),
        }
    }
}

/// The host services handed to `PluginHost::start`.
#[derive(Clone)]
pub struct HostServices {
    pub state: Arc<dyn PluginStateStore>,
    pub settings: Arc<dyn PluginSettingsStore>,
    pub bundles: Arc<dyn PluginBundleStore>,
    /// Seals configuration secrets at rest.
    pub secrets: SecretBox,
    pub logger: Arc<dyn PluginLogger>,
    /// Used only for plugins whose manifest grants `smtp`.
    pub mailer: Arc<dyn MailSender>,
    /// Where loads, reloads and failures are told to live subscribers (`crate::events`).
    pub events: crate::events::Events,
}

impl HostServices {
    /// Production wiring: settings, state and bundles in the database, logs to `tracing`, mail over SMTP.
    pub fn with_store(store: Store, secrets: SecretBox) -> HostServices {
        let events = store.events().clone();
        let store = Arc::new(store);
        HostServices {
            state: store.clone(),
            settings: store.clone(),
            bundles: store,
            secrets,
            logger: Arc::new(TracingLogger),
            mailer: Arc::new(LettreMailer),
            events,
        }
    }

    /// Settings and state in memory (tests, benchmarks); mail still goes over real SMTP.
    pub fn in_memory(secrets: SecretBox) -> HostServices {
        let mem = Arc::new(MemoryStore::default());
        HostServices {
            state: mem.clone(),
            settings: mem.clone(),
            bundles: mem,
            secrets,
            logger: Arc::new(TracingLogger),
            mailer: Arc::new(LettreMailer),
            events: Default::default(),
        }
    }
}

impl PluginStateStore for Store {
    fn get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move { Ok(self.plugin_state_get(plugin, key).await?) })
    }
    fn set<'a>(&'a self, plugin: &'a str, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.plugin_state_set(plugin, key, value).await?) })
    }
    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.plugin_state_delete(plugin, key).await?) })
    }
    fn count<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<u64>> {
        Box::pin(async move { Ok(self.plugin_state_count(plugin).await?.max(0) as u64) })
    }
}

impl PluginSettingsStore for Store {
    fn load<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredSettings>>> {
        Box::pin(async move {
            let Some(row) = self.plugin_settings(plugin).await? else { return Ok(None) };
            let config = serde_json::from_str(&row.config_json)
                .map_err(|e| anyhow::anyhow!("stored configuration of plugin {plugin} is not JSON: {e}"))?;
            Ok(Some(StoredSettings { enabled: row.enabled, config }))
        })
    }
    fn set_enabled<'a>(&'a self, plugin: &'a str, enabled: bool) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.set_plugin_enabled(plugin, enabled).await?) })
    }
    fn set_config<'a>(&'a self, plugin: &'a str, sealed: &'a serde_json::Value) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.set_plugin_config(plugin, &sealed.to_string()).await?) })
    }
    fn forget<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.delete_plugin_data(plugin).await?) })
    }
}

impl PluginBundleStore for Store {
    fn put_bundle<'a>(&'a self, id: &'a str, digest: &'a str, tar_gz: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.put_plugin_bundle(id, digest, tar_gz).await?) })
    }
    fn delete_bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move { Ok(self.delete_plugin_bundle(id).await?) })
    }
    fn bundle_digests(&self) -> BoxFuture<'_, anyhow::Result<BTreeMap<String, String>>> {
        Box::pin(async move { Ok(self.plugin_bundle_digests().await?.into_iter().map(|b| (b.id, b.digest)).collect()) })
    }
    fn bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move { Ok(self.plugin_bundle(id).await?) })
    }
}

/// In-memory settings, state and bundles.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<HashMap<(String, String), Vec<u8>>>,
    settings: Mutex<HashMap<String, StoredSettings>>,
    /// id → (digest, tar.gz).
    bundles: Mutex<BTreeMap<String, (String, Vec<u8>)>>,
}

impl PluginBundleStore for MemoryStore {
    fn put_bundle<'a>(&'a self, id: &'a str, digest: &'a str, tar_gz: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        self.bundles.lock().expect("bundles lock").insert(id.into(), (digest.into(), tar_gz.to_vec()));
        Box::pin(async { Ok(()) })
    }
    fn delete_bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        let existed = self.bundles.lock().expect("bundles lock").remove(id).is_some();
        Box::pin(async move { Ok(existed) })
    }
    fn bundle_digests(&self) -> BoxFuture<'_, anyhow::Result<BTreeMap<String, String>>> {
        let map = self.bundles.lock().expect("bundles lock");
        let digests = map.iter().map(|(id, (digest, _))| (id.clone(), digest.clone())).collect();
        Box::pin(async move { Ok(digests) })
    }
    fn bundle<'a>(&'a self, id: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        let bytes = self.bundles.lock().expect("bundles lock").get(id).map(|(_, b)| b.clone());
        Box::pin(async move { Ok(bytes) })
    }
}

impl PluginStateStore for MemoryStore {
    fn get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        let v = self.state.lock().expect("state lock").get(&(plugin.to_string(), key.to_string())).cloned();
        Box::pin(async move { Ok(v) })
    }
    fn set<'a>(&'a self, plugin: &'a str, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        self.state.lock().expect("state lock").insert((plugin.into(), key.into()), value.to_vec());
        Box::pin(async { Ok(()) })
    }
    fn delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        self.state.lock().expect("state lock").remove(&(plugin.to_string(), key.to_string()));
        Box::pin(async { Ok(()) })
    }
    fn count<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<u64>> {
        let n = self.state.lock().expect("state lock").keys().filter(|(p, _)| p == plugin).count() as u64;
        Box::pin(async move { Ok(n) })
    }
}

impl PluginSettingsStore for MemoryStore {
    fn load<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<Option<StoredSettings>>> {
        let v = self.settings.lock().expect("settings lock").get(plugin).cloned();
        Box::pin(async move { Ok(v) })
    }
    fn set_enabled<'a>(&'a self, plugin: &'a str, enabled: bool) -> BoxFuture<'a, anyhow::Result<()>> {
        let mut map = self.settings.lock().expect("settings lock");
        map.entry(plugin.into())
            .or_insert_with(|| StoredSettings { enabled: true, config: serde_json::json!({}) })
            .enabled = enabled;
        Box::pin(async { Ok(()) })
    }
    fn set_config<'a>(&'a self, plugin: &'a str, sealed: &'a serde_json::Value) -> BoxFuture<'a, anyhow::Result<()>> {
        let mut map = self.settings.lock().expect("settings lock");
        map.entry(plugin.into())
            .or_insert_with(|| StoredSettings { enabled: true, config: serde_json::json!({}) })
            .config = sealed.clone();
        Box::pin(async { Ok(()) })
    }
    fn forget<'a>(&'a self, plugin: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        self.settings.lock().expect("settings lock").remove(plugin);
        self.state.lock().expect("state lock").retain(|(p, _), _| p != plugin);
        Box::pin(async { Ok(()) })
    }
}
