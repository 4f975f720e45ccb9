//! The set of installed plugins. Each plugin directory has a `Slot` whose serving version is an
//! `ArcSwapOption<LoadedPlugin>`: a reload compiles and checks the new version off to the side,
//! then swaps it in atomically; calls already running keep their `Arc` to the old version. A
//! failed (re)load records its error and leaves the last good version serving.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::Serialize;
use serde_json::Value;

use crate::events::{Audience, EventType};

use super::config;
use super::engine::PluginEngine;
use super::loader::{self, LoadedPlugin, Prepared};
use super::manifest::{Capabilities, Limits, Manifest, PluginKind};
use super::policy::CapabilityBounds;
use super::services::HostServices;
use super::stats::CallStats;

/// Whether a plugin serves calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadState {
    /// A version is loaded and enabled.
    Loaded,
    /// No version could be loaded; see `last_error`.
    Failed,
    /// A version is loaded but the operator disabled the plugin.
    Disabled,
}

/// One plugin as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    /// Directory name (equals the manifest id when it loads).
    pub id: String,
    /// Manifest version of the serving version (or of the broken manifest when none serves).
    pub version: Option<String>,
    /// Version the component itself reports through `info()`.
    pub plugin_version: Option<String>,
    pub kind: Option<PluginKind>,
    pub description: Option<String>,
    pub status: LoadState,
    /// Last load or reload failure. Set while an older version keeps serving after a bad reload.
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub capabilities: Option<Capabilities>,
    pub limits: Option<Limits>,
    /// `vigia:plugin` version the manifest targets.
    pub world: Option<String>,
    pub wasm_sha256: Option<String>,
    /// When the serving version was loaded (Unix epoch ms).
    pub loaded_at: Option<i64>,
    pub calls: u64,
    pub errors: u64,
    /// Calls that trapped or hit a resource limit.
    pub traps: u64,
    pub timeouts: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The configuration as stored (secrets sealed) and as the serving version sees it.
pub(crate) struct ConfigView {
    pub stored: Value,
    pub effective: Arc<str>,
}

#[derive(Default)]
struct Problem {
    error: Option<String>,
    at: Option<i64>,
    /// The broken manifest, when it at least parsed, so listings can show version/kind.
    manifest: Option<Manifest>,
}

pub(crate) struct Slot {
    pub id: String,
    pub current: ArcSwapOption<LoadedPlugin>,
    pub enabled: AtomicBool,
    pub config: ArcSwap<ConfigView>,
    pub stats: CallStats,
    problem: Mutex<Problem>,
    /// Serialises loads, installs and removals of this plugin.
    pub lock: tokio::sync::Mutex<()>,
}

impl Slot {
    fn new(id: &str) -> Slot {
        Slot {
            id: id.to_string(),
            current: ArcSwapOption::empty(),
            enabled: AtomicBool::new(true),
            config: ArcSwap::from_pointee(ConfigView {
                stored: Value::Object(Default::default()),
                effective: "{}".into(),
            }),
            stats: CallStats::default(),
            problem: Mutex::new(Problem::default()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn set_error(&self, error: String, manifest: Option<Manifest>) {
        let mut p = self.problem.lock().expect("problem lock");
        *p = Problem { error: Some(error), at: Some(crate::store::now_ms()), manifest };
    }

    fn clear_error(&self) {
        *self.problem.lock().expect("problem lock") = Problem::default();
    }

    pub fn status(&self) -> PluginStatus {
        let current = self.current.load_full();
        let problem = self.problem.lock().expect("problem lock");
        let stats = self.stats.snapshot();
        let manifest = current.as_ref().map(|c| &c.valid.manifest).or(problem.manifest.as_ref());
        let status = match (&current, self.enabled.load(Ordering::Relaxed)) {
            (None, _) => LoadState::Failed,
            (Some(_), false) => LoadState::Disabled,
            (Some(_), true) => LoadState::Loaded,
        };
        PluginStatus {
            id: self.id.clone(),
            version: manifest.map(|m| m.version.clone()),
            plugin_version: current.as_ref().map(|c| c.info.version.clone()),
            kind: manifest.map(|m| m.kind),
            description: manifest.map(|m| m.description.clone()),
            status,
            last_error: problem.error.clone(),
            last_error_at: problem.at,
            capabilities: manifest.map(|m| m.capabilities.clone()),
            limits: manifest.map(|m| m.limits.clone()),
            world: manifest.map(|m| m.world.clone()),
            wasm_sha256: manifest.map(|m| m.sha256.to_ascii_lowercase()),
            loaded_at: current.as_ref().map(|c| c.loaded_at),
            calls: stats.calls,
            errors: stats.errors,
            traps: stats.traps,
            timeouts: stats.timeouts,
            p50_ms: stats.p50_ms,
            p99_ms: stats.p99_ms,
        }
    }
}

/// Why a load failed, with the manifest when it at least parsed (boxed: it is large).
type LoadFailure = Box<(String, Option<Manifest>)>;

pub(crate) struct Registry {
    pub engine: Arc<PluginEngine>,
    /// What any manifest may declare; a reload asking for more keeps the old version serving.
    pub bounds: CapabilityBounds,
    pub services: HostServices,
    pub dir: PathBuf,
    slots: RwLock<BTreeMap<String, Arc<Slot>>>,
    /// Serialises installs and removals through the API with materialiser passes, so a pass
    /// never compares a directory (or the stored bundles) an install is changing.
    pub installs: tokio::sync::Mutex<()>,
}

/// Names under the plugins directory that are never plugins: our own staging/trash folders
/// and editor/OS droppings.
pub(crate) fn is_plugin_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.ends_with('~')
}

impl Registry {
    pub fn new(engine: Arc<PluginEngine>, bounds: CapabilityBounds, services: HostServices, dir: PathBuf) -> Registry {
        Registry { engine, bounds, services, dir, slots: RwLock::new(BTreeMap::new()), installs: Default::default() }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Slot>> {
        self.slots.read().expect("slots lock").get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Slot>> {
        self.slots.read().expect("slots lock").values().cloned().collect()
    }

    /// The plugin directory names currently on disk.
    pub fn names_on_disk(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_plugin_name(n))
            .collect();
        names.sort();
        names
    }

    /// Loads every plugin directory and drops slots whose directory is gone.
    pub async fn rescan(&self) {
        let on_disk = self.names_on_disk();
        let known: Vec<String> = self.slots.read().expect("slots lock").keys().cloned().collect();
        for gone in known.iter().filter(|k| !on_disk.contains(k)) {
            self.reload(gone).await;
        }
        for name in &on_disk {
            self.reload(name).await;
        }
    }

    /// Existing slot, or a new one with the stored settings applied.
    async fn slot_for(&self, name: &str) -> Arc<Slot> {
        if let Some(slot) = self.get(name) {
            return slot;
        }
        let slot = Arc::new(Slot::new(name));
        match self.services.settings.load(name).await {
            Ok(Some(settings)) => {
                slot.enabled.store(settings.enabled, Ordering::Relaxed);
                slot.config.store(Arc::new(ConfigView { stored: settings.config, effective: "{}".into() }));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(plugin = name, error = %e, "could not load plugin settings; using defaults"),
        }
        self.slots.write().expect("slots lock").entry(name.to_string()).or_insert(slot).clone()
    }

    /// (Re)loads the plugin in `dir/<name>`; unloads it when the directory is gone.
    pub async fn reload(&self, name: &str) {
        if !is_plugin_name(name) {
            return;
        }
        let path = self.dir.join(name);
        if !path.is_dir() {
            if let Some(slot) = self.get(name) {
                let _guard = slot.lock.lock().await;
                if !path.is_dir() {
                    self.slots.write().expect("slots lock").remove(name);
                    tracing::info!(plugin = name, "plugin removed from the plugins directory; unloaded");
                }
            }
            return;
        }
        let slot = self.slot_for(name).await;
        let _guard = slot.lock.lock().await;
        let (engine, bounds) = (self.engine.clone(), self.bounds.clone());
        let name_owned = name.to_string();
        let current_fp = slot.current.load().as_ref().map(|c| c.fingerprint);
        // Reading, hashing and compiling are blocking work: keep them off the async workers.
        let prepared = tokio::task::spawn_blocking(move || -> Result<Option<Prepared>, LoadFailure> {
            let (text, wasm) = loader::read_dir(&path).map_err(|e| Box::new((e, None)))?;
            if current_fp == Some(loader::fingerprint(&text, &wasm)) {
                return Ok(None);
            }
            let lenient = toml::from_str::<Manifest>(&text).ok();
            let prepared =
                loader::prepare(&engine, &bounds, &text, &wasm).map_err(|e| Box::new((e, lenient.clone())))?;
            if prepared.valid.manifest.id != name_owned {
                return Err(Box::new((
                    format!(
                        "manifest id {:?} does not match its directory name {name_owned:?}",
                        prepared.valid.manifest.id
                    ),
                    lenient,
                )));
            }
            Ok(Some(prepared))
        })
        .await
        .unwrap_or_else(|e| Err(Box::new((format!("loader panicked: {e}"), None))));
        match prepared {
            Ok(None) => {
                // Same bytes as the serving version (e.g. our own install, or a reverted bad edit).
                slot.clear_error();
            }
            Ok(Some(prepared)) => {
                let manifest = prepared.valid.manifest.clone();
                match loader::finish(&self.engine, &self.services, prepared).await {
                    Ok(loaded) => self.swap_in(&slot, loaded),
                    Err(e) => self.record_failure(&slot, e, Some(manifest)),
                }
            }
            Err(failure) => {
                let (e, manifest) = *failure;
                self.record_failure(&slot, e, manifest)
            }
        }
    }

    fn record_failure(&self, slot: &Slot, error: String, manifest: Option<Manifest>) {
        match slot.current.load().as_ref() {
            Some(serving) => tracing::warn!(
                plugin = %slot.id, error = %error, serving_version = %serving.valid.manifest.version,
                "plugin reload failed; the previous version keeps serving"
            ),
            None => tracing::warn!(plugin = %slot.id, error = %error, "plugin failed to load"),
        }
        let serving = slot.current.load().is_some();
        let data = serde_json::json!({"id": slot.id, "error": error, "serving": serving});
        slot.set_error(error, manifest);
        self.publish(EventType::PluginFailed, data);
    }

    /// The configuration `stored` as `loaded` sees it (its defaults merged, secrets opened).
    fn config_view(&self, slot: &Slot, loaded: &LoadedPlugin, stored: Value) -> ConfigView {
        let (defaults, secrets) = (&loaded.valid.defaults, &self.services.secrets);
        let effective = match config::effective(&slot.id, defaults, &stored, &loaded.secret_paths, secrets) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(plugin = %slot.id, error = %e, "stored configuration unusable; using defaults");
                loaded.valid.defaults.clone()
            }
        };
        ConfigView { stored, effective: effective.to_string().into() }
    }

    /// Applies `name`'s stored settings again: another cluster member changed them (the change
    /// feed said so), or the feed was cut. A plugin this host does not have is left alone.
    pub async fn refresh_settings(&self, name: &str) {
        let Some(slot) = self.get(name) else { return };
        let _guard = slot.lock.lock().await;
        let (enabled, stored) = match self.services.settings.load(name).await {
            Ok(Some(settings)) => (settings.enabled, settings.config),
            // Forgotten (the plugin was removed elsewhere): back to the defaults.
            Ok(None) => (true, Value::Object(Default::default())),
            Err(e) => return tracing::warn!(plugin = name, error = %e, "could not read changed plugin settings"),
        };
        let view = match slot.current.load_full() {
            Some(loaded) => self.config_view(&slot, &loaded, stored),
            None => ConfigView { stored, effective: "{}".into() },
        };
        slot.config.store(Arc::new(view));
        slot.enabled.store(enabled, Ordering::Relaxed);
        tracing::debug!(plugin = name, enabled, "plugin settings changed elsewhere applied");
    }

    /// Makes `loaded` the serving version of `slot` (caller holds `slot.lock`).
    pub fn swap_in(&self, slot: &Slot, loaded: LoadedPlugin) {
        let stored = slot.config.load().stored.clone();
        slot.config.store(Arc::new(self.config_view(slot, &loaded, stored)));
        tracing::info!(
            plugin = %slot.id, version = %loaded.valid.manifest.version, kind = loaded.kind().as_str(),
            "plugin loaded"
        );
        let data = serde_json::json!({
            "id": slot.id, "version": loaded.valid.manifest.version, "kind": loaded.kind().as_str(),
        });
        let kind = match slot.current.load().is_some() {
            true => EventType::PluginReloaded,
            false => EventType::PluginLoaded,
        };
        slot.current.store(Some(Arc::new(loaded)));
        slot.clear_error();
        self.publish(kind, data);
    }

    /// Plugins are host-wide: every tenant with the right to list them hears of them.
    fn publish(&self, kind: EventType, data: serde_json::Value) {
        self.services.events.publish(kind, None, None, Audience::Settings, data);
    }

    /// Registers an installed plugin at once (the watcher will see identical bytes and skip).
    pub async fn install_loaded(
        &self,
        id: &str,
        loaded: LoadedPlugin,
        write: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<Arc<Slot>> {
        let slot = self.slot_for(id).await;
        let _guard = slot.lock.lock().await;
        write()?;
        self.swap_in(&slot, loaded);
        Ok(slot.clone())
    }

    pub async fn remove(&self, id: &str, delete: impl FnOnce(&Path) -> std::io::Result<()>) -> std::io::Result<bool> {
        let path = self.dir.join(id);
        let slot = self.get(id);
        let _guard = match &slot {
            Some(s) => Some(s.lock.lock().await),
            None => None,
        };
        let existed = path.is_dir();
        if existed {
            delete(&path)?;
        }
        let removed = self.slots.write().expect("slots lock").remove(id).is_some();
        Ok(existed || removed)
    }
}

/// The manifest schema of a slot's serving version, with its secret paths.
pub(crate) fn schema_of(loaded: &LoadedPlugin) -> (&Value, &Value, &[Vec<String>]) {
    (&loaded.valid.schema, &loaded.valid.defaults, &loaded.secret_paths)
}
