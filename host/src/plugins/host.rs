//! `PluginHost`: the public face of the plugin runtime. Loads every plugin at start, watches the
//! directory, runs calls, and manages settings, bundles and removal.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use super::bindings::wit;
use super::bundle;
use super::config;
use super::engine::{EngineOptions, PluginEngine};
use super::errors::{InvokeError, PluginError};
use super::invoke::{invoke, ms, Request, Response};
use super::loader;
use super::manifest::PluginKind;
use super::policy::{CapabilityBounds, PluginPolicy};
use super::registry::{schema_of, ConfigView, LoadState, PluginStatus, Registry};
use super::services::HostServices;
use super::types::{CollectContext, MetricSample, Notification, Receipt, Rendered, Renderer, ReportRequest};
use super::watcher::{self, DirWatcher};
use crate::health::{CheckFuture, ReadinessCheck};

/// Where plugins live and how big the runtime is.
#[derive(Debug, Clone)]
pub struct PluginHostOptions {
    /// `[plugins] dir`: one sub-directory per plugin.
    pub dir: PathBuf,
    /// The host's data directory; compiled plugins are cached in `<data_dir>/plugin-cache/`.
    pub data_dir: PathBuf,
    /// Sizes the instance pool (`max_plugins * 4` concurrent calls).
    pub max_plugins: u32,
    /// Watch `dir` and hot-reload changes.
    pub watch: bool,
    /// The operator's bound on manifests (`[plugins.policy]` plus the host's protected files).
    pub bounds: CapabilityBounds,
}

impl PluginHostOptions {
    pub fn new(dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> PluginHostOptions {
        let data_dir: PathBuf = data_dir.into();
        let bounds = CapabilityBounds::new(&PluginPolicy::default(), &[&data_dir]).expect("the default policy parses");
        PluginHostOptions { dir: dir.into(), data_dir, max_plugins: 32, watch: true, bounds }
    }
}

/// Compile-cache counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub compiled: u64,
    pub cache_hits: u64,
}

/// The plugin runtime. Share it as `Arc<PluginHost>`.
pub struct PluginHost {
    registry: Arc<Registry>,
    /// Calls beyond the pool size queue here instead of failing instantiation.
    permits: Arc<Semaphore>,
    /// Taken (and stopped) by `stop_watching` when the server stops.
    watcher: std::sync::Mutex<Option<DirWatcher>>,
}

impl PluginHost {
    /// Builds the engine, loads every plugin under `opts.dir` (broken ones are listed as
    /// `failed`, never fatal) and starts the watcher.
    pub async fn start(opts: PluginHostOptions, services: HostServices) -> anyhow::Result<Arc<PluginHost>> {
        std::fs::create_dir_all(&opts.dir)?;
        let engine_opts =
            EngineOptions { max_plugins: opts.max_plugins, cache_dir: opts.data_dir.join("plugin-cache") };
        let engine = tokio::task::spawn_blocking(move || PluginEngine::new(&engine_opts)).await??;
        let permits = Arc::new(Semaphore::new(engine.max_instances as usize));
        let registry = Arc::new(Registry::new(engine, opts.bounds, services, opts.dir.clone()));
        // Watch before the initial scan so a change made during it is not missed.
        let watcher =
            if opts.watch { Some(watcher::start(Arc::downgrade(&registry), opts.dir.clone())?) } else { None };
        let started = Instant::now();
        registry.rescan().await;
        let statuses: Vec<_> = registry.all().iter().map(|s| s.status()).collect();
        let failed = statuses.iter().filter(|s| s.status == LoadState::Failed).count();
        tracing::info!(
            dir = %opts.dir.display(), plugins = statuses.len(), failed,
            ms = started.elapsed().as_millis() as u64, "plugins loaded"
        );
        Ok(Arc::new(PluginHost { registry, permits, watcher: std::sync::Mutex::new(watcher) }))
    }

    /// Ends hot reload (a reload in progress finishes first). Calls keep working.
    pub async fn stop_watching(&self) {
        let watcher = self.watcher.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(w) = watcher {
            w.stop().await;
        }
    }

    pub fn list(&self) -> Vec<PluginStatus> {
        self.registry.all().iter().map(|s| s.status()).collect()
    }

    pub fn status(&self, id: &str) -> Option<PluginStatus> {
        self.registry.get(id).map(|s| s.status())
    }

    /// Compile-cache counters (a restart with a warm cache shows `compiled == 0`).
    pub fn cache_stats(&self) -> CacheStats {
        let c = &self.registry.engine.counters;
        CacheStats { compiled: c.compiled.load(Ordering::Relaxed), cache_hits: c.cache_hits.load(Ordering::Relaxed) }
    }

    /// The materialiser of the bundles stored in the database into this host's directory (a
    /// cluster member's). Make one per host: it keeps what it hashed.
    pub fn materialiser(&self) -> Arc<super::Materialiser> {
        Arc::new(super::Materialiser::new(self.registry.clone()))
    }

    /// Re-reads the plugins directory now (what the watcher does on changes).
    pub async fn rescan(&self) {
        self.registry.rescan().await
    }

    async fn call(&self, id: &str, wanted: PluginKind, req: Request<'_>) -> Result<Response, InvokeError> {
        self.call_with(id, wanted, req, None).await
    }

    /// `call` with `overrides` merged over the plugin's effective configuration for this call only.
    async fn call_with(
        &self,
        id: &str,
        wanted: PluginKind,
        req: Request<'_>,
        overrides: Option<&serde_json::Value>,
    ) -> Result<Response, InvokeError> {
        let slot = self.registry.get(id).ok_or_else(|| InvokeError::NotFound(id.to_string()))?;
        let Some(plugin) = slot.current.load_full() else {
            let error = slot.status().last_error.unwrap_or_else(|| "not loaded".into());
            return Err(InvokeError::Failed { id: id.to_string(), error });
        };
        if !slot.enabled.load(Ordering::Relaxed) {
            return Err(InvokeError::Disabled(id.to_string()));
        }
        if plugin.kind() != wanted {
            return Err(InvokeError::WrongKind {
                id: id.to_string(),
                actual: plugin.kind().as_str(),
                wanted: wanted.as_str(),
            });
        }
        let mut config = slot.config.load().effective.clone();
        if let Some(overrides) = overrides {
            config = merge_overrides(&plugin, &config, overrides)
                .map_err(|message| InvokeError::Plugin { kind: super::types::ErrorKind::Permanent, message })?
                .to_string()
                .into();
        }
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let result =
            invoke(&self.registry.engine, &plugin.pre, &plugin.policy, &self.registry.services, config, req).await;
        slot.stats.record(ms(started.elapsed()), result.as_ref().map(|_| ()));
        result
    }

    /// Benchmark hook: per-phase timings of `n` calls of collector `id` (see `PhaseSamples`).
    #[doc(hidden)]
    pub async fn bench_phases(&self, id: &str, n: usize) -> anyhow::Result<super::invoke::PhaseSamples> {
        let slot = self.registry.get(id).ok_or_else(|| anyhow::anyhow!("no plugin {id}"))?;
        let plugin = slot.current.load_full().ok_or_else(|| anyhow::anyhow!("{id} not loaded"))?;
        let config = slot.config.load().effective.clone();
        let r = &self.registry;
        Ok(super::invoke::bench_phases(&r.engine, &plugin.pre, &plugin.policy, &r.services, config, n).await?)
    }

    pub async fn collect(&self, id: &str, ctx: CollectContext) -> Result<Vec<MetricSample>, InvokeError> {
        let ctx = wit::CollectContext::from(&ctx);
        match self.call(id, PluginKind::Collector, Request::Collect(&ctx)).await? {
            Response::Samples(s) => Ok(s.into_iter().map(Into::into).collect()),
            _ => unreachable!("collect answers with samples"),
        }
    }

    pub async fn deliver(&self, id: &str, n: Notification) -> Result<Receipt, InvokeError> {
        let n = wit::Notification::from(&n);
        match self.call(id, PluginKind::Notifier, Request::Deliver(&n)).await? {
            Response::Receipt(r) => Ok(Receipt { detail: r.detail }),
            _ => unreachable!("deliver answers with a receipt"),
        }
    }

    /// `deliver` with per-call configuration (a notification channel's): `overrides` is merged
    /// over the plugin's effective configuration, validated against its schema, and is what the
    /// plugin's `config()` returns during this call.
    pub async fn deliver_with_config(
        &self,
        id: &str,
        n: Notification,
        overrides: &serde_json::Value,
    ) -> Result<Receipt, InvokeError> {
        let n = wit::Notification::from(&n);
        match self.call_with(id, PluginKind::Notifier, Request::Deliver(&n), Some(overrides)).await? {
            Response::Receipt(r) => Ok(Receipt { detail: r.detail }),
            _ => unreachable!("deliver answers with a receipt"),
        }
    }

    /// Checks per-call `overrides` for notifier `id` (as `deliver_with_config` will) and returns
    /// them with the plugin's secrets masked, for display.
    pub fn check_overrides(&self, id: &str, overrides: &serde_json::Value) -> Result<serde_json::Value, PluginError> {
        let (plugin, effective) = self.notifier(id)?;
        merge_overrides(&plugin, &effective, overrides).map_err(PluginError::Invalid)?;
        Ok(config::mask(overrides, &plugin.secret_paths))
    }

    /// New per-call `overrides` for notifier `id` replacing `previous` (`{}` for a new channel):
    /// secrets given as `********` resolved to what they stand for (refused with a changed bound
    /// destination), then checked as `check_overrides` does. Returns what to store.
    pub fn resolve_overrides(
        &self,
        id: &str,
        overrides: &serde_json::Value,
        previous: &serde_json::Value,
    ) -> Result<serde_json::Value, PluginError> {
        let (plugin, effective) = self.notifier(id)?;
        let base: serde_json::Value =
            serde_json::from_str(&effective).map_err(|e| PluginError::Invalid(e.to_string()))?;
        let resolved = config::resolve_masks(overrides, previous, &base, &plugin.secret_paths, &plugin.valid.bindings)
            .map_err(PluginError::Invalid)?;
        merge_overrides(&plugin, &effective, &resolved).map_err(PluginError::Invalid)?;
        Ok(resolved)
    }

    /// Refuses a channel of notifier `id` whose configuration (the plugin's merged with
    /// `overrides`) names a destination the plugin could never reach: not admitted by its
    /// manifest, not resolving, or resolving to an address the operator's policy refuses.
    pub async fn check_reachable(&self, id: &str, overrides: &serde_json::Value) -> Result<(), PluginError> {
        let (plugin, effective) = self.notifier(id)?;
        let merged = merge_overrides(&plugin, &effective, overrides).map_err(PluginError::Invalid)?;
        super::reach::check(&plugin, &merged).await.map_err(PluginError::Invalid)
    }

    /// The serving version of notifier `id` and its effective configuration (JSON text).
    fn notifier(&self, id: &str) -> Result<(Arc<super::loader::LoadedPlugin>, Arc<str>), PluginError> {
        let slot = self.registry.get(id).ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        let plugin = slot
            .current
            .load_full()
            .ok_or_else(|| PluginError::Invalid(format!("plugin {id} is not loaded; fix it first")))?;
        if plugin.kind() != PluginKind::Notifier {
            return Err(PluginError::Invalid(format!("plugin {id} is a {}, not a notifier", plugin.kind().as_str())));
        }
        let effective = slot.config.load().effective.clone();
        Ok((plugin, effective))
    }

    pub async fn render(&self, id: &str, r: ReportRequest) -> Result<Rendered, InvokeError> {
        let r = wit::ReportRequest::from(&r);
        match self.call(id, PluginKind::Reporter, Request::Render(&r)).await? {
            Response::Rendered(r) => {
                Ok(Rendered { content_type: r.content_type, filename: r.filename, bytes: r.bytes })
            }
            _ => unreachable!("render answers with a document"),
        }
    }

    /// Renders a report document as `format` with document reporter `id`.
    pub async fn render_document(
        &self,
        id: &str,
        document: &super::document::Document,
        format: &str,
    ) -> Result<Rendered, InvokeError> {
        match self.call(id, PluginKind::Reporter, Request::RenderDocument(document, format)).await? {
            Response::Rendered(r) => {
                Ok(Rendered { content_type: r.content_type, filename: r.filename, bytes: r.bytes })
            }
            _ => unreachable!("render-document answers with a document"),
        }
    }

    /// Loaded, enabled reporters that render documents, with the formats their manifests list.
    pub fn renderers(&self) -> Vec<Renderer> {
        let mut renderers: Vec<Renderer> = self
            .registry
            .all()
            .into_iter()
            .filter(|slot| slot.enabled.load(Ordering::Relaxed))
            .filter_map(|slot| {
                let plugin = slot.current.load_full()?;
                let manifest = &plugin.valid.manifest;
                plugin.renders_documents().then(|| Renderer {
                    id: manifest.id.clone(),
                    version: manifest.version.clone(),
                    description: manifest.description.clone(),
                    formats: manifest.formats.clone(),
                })
            })
            .collect();
        renderers.sort_by(|a, b| a.id.cmp(&b.id));
        renderers
    }

    /// Sends `message` through the SMTP server the operator configured for mail plugin `id` (its
    /// `smtp_*` keys; the plugin must be granted `smtp`). An empty `from` takes the plugin's
    /// configured `from`. The host's own mail (reports) goes out this way, so SMTP credentials
    /// stay the operator's plugin configuration and nowhere else.
    pub async fn send_mail(
        &self,
        id: &str,
        mut message: super::MailMessage,
        timeout: std::time::Duration,
    ) -> Result<String, super::MailError> {
        use super::MailError::Permanent;
        let slot = self.registry.get(id).ok_or_else(|| Permanent(format!("mail plugin {id:?} is not installed")))?;
        let plugin = slot.current.load_full().ok_or_else(|| Permanent(format!("mail plugin {id:?} is not loaded")))?;
        if !plugin.valid.manifest.capabilities.smtp {
            return Err(Permanent(format!("plugin {id:?} is not granted smtp, so it names no mail server")));
        }
        let effective: serde_json::Value = serde_json::from_str(&slot.config.load().effective)
            .map_err(|e| Permanent(format!("configuration of {id:?}: {e}")))?;
        let server = super::SmtpServer::from_config(&effective, timeout)
            .map_err(|e| Permanent(format!("mail plugin {id:?}: {e}")))?;
        if message.from.is_empty() {
            message.from = effective.get("from").and_then(|f| f.as_str()).unwrap_or_default().to_string();
        }
        self.registry.services.mailer.send(&server, &message).await
    }

    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), PluginError> {
        let slot = self.registry.get(id).ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        self.registry.services.settings.set_enabled(id, enabled).await.map_err(storage)?;
        slot.enabled.store(enabled, Ordering::Relaxed);
        tracing::info!(plugin = id, enabled, "plugin enabled flag changed");
        Ok(())
    }

    /// The effective configuration (defaults merged). `masked` replaces secrets by `********`.
    pub async fn config(&self, id: &str, masked: bool) -> Result<serde_json::Value, PluginError> {
        let slot = self.registry.get(id).ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        let view = slot.config.load_full();
        match slot.current.load_full() {
            Some(plugin) => {
                let effective: serde_json::Value =
                    serde_json::from_str(&view.effective).map_err(|e| PluginError::Invalid(e.to_string()))?;
                Ok(if masked { config::mask(&effective, &plugin.secret_paths) } else { effective })
            }
            // Not loaded: no schema to tell secrets apart, so show stored values masked wholesale
            // only where they are sealed.
            None => Ok(mask_sealed(&view.stored)),
        }
    }

    /// The configuration's JSON Schema and the paths of its secrets (`x-secret`), for forms.
    pub fn schema(&self, id: &str) -> Result<(serde_json::Value, Vec<Vec<String>>), PluginError> {
        let slot = self.registry.get(id).ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        let plugin = slot
            .current
            .load_full()
            .ok_or_else(|| PluginError::Invalid(format!("plugin {id} is not loaded: it has no schema to show")))?;
        let (schema, _, secret_paths) = schema_of(&plugin);
        Ok((schema.clone(), secret_paths.to_vec()))
    }

    /// Replaces the operator configuration: validated against the serving version's schema,
    /// secrets sealed at rest; a secret given as `********` keeps its stored value.
    pub async fn set_config(&self, id: &str, new: serde_json::Value) -> Result<(), PluginError> {
        let slot = self.registry.get(id).ok_or_else(|| PluginError::NotFound(id.to_string()))?;
        let _guard = slot.lock.lock().await;
        let plugin = slot
            .current
            .load_full()
            .ok_or_else(|| PluginError::Invalid(format!("plugin {id} is not loaded; fix it before configuring it")))?;
        let (schema, defaults, secret_paths) = schema_of(&plugin);
        let stored = slot.config.load().stored.clone();
        let secrets = &self.registry.services.secrets;
        let secrets_of = (secret_paths, plugin.valid.bindings.as_slice());
        let (sealed, effective) = config::prepare_update(id, &new, &stored, defaults, schema, secrets_of, secrets)
            .map_err(PluginError::Invalid)?;
        self.registry.services.settings.set_config(id, &sealed).await.map_err(storage)?;
        slot.config.store(Arc::new(ConfigView { stored: sealed, effective: effective.to_string().into() }));
        tracing::info!(plugin = id, "plugin configuration updated");
        Ok(())
    }

    /// Validates a `.tar.gz` bundle completely (manifest, hash, compile, WIT version, world,
    /// `info()`), and only then stores it in the database (the source of truth every cluster
    /// member materialises), writes it into the plugins directory and serves it.
    pub async fn install_bundle(&self, tar_gz: &[u8]) -> Result<PluginStatus, PluginError> {
        let bundle = bundle::unpack(tar_gz).map_err(PluginError::Invalid)?;
        let (engine, bounds) = (self.registry.engine.clone(), self.registry.bounds.clone());
        let (bundle, prepared) = tokio::task::spawn_blocking(move || {
            let prepared = loader::prepare(&engine, &bounds, &bundle.manifest_text, &bundle.wasm);
            (bundle, prepared)
        })
        .await
        .map_err(|e| PluginError::Invalid(format!("validation panicked: {e}")))?;
        let prepared = prepared.map_err(PluginError::Invalid)?;
        let id = prepared.valid.manifest.id.clone();
        let loaded = loader::finish(&self.registry.engine, &self.registry.services, prepared)
            .await
            .map_err(PluginError::Invalid)?;
        let _installing = self.registry.installs.lock().await;
        self.registry.services.bundles.put_bundle(&id, &bundle.digest(), tar_gz).await.map_err(storage)?;
        let dir = self.registry.dir.clone();
        let slot = self.registry.install_loaded(&id, loaded, || bundle::write_into(&dir, &id, &bundle)).await?;
        tracing::info!(plugin = %id, "plugin bundle installed");
        Ok(slot.status())
    }

    /// Unloads the plugin, deletes its directory and its stored bundle, and forgets its settings
    /// and state.
    pub async fn remove(&self, id: &str) -> Result<(), PluginError> {
        if !super::registry::is_plugin_name(id) || id.contains(['/', '\\']) {
            return Err(PluginError::NotFound(id.to_string()));
        }
        let _installing = self.registry.installs.lock().await;
        let stored = self.registry.services.bundles.delete_bundle(id).await.map_err(storage)?;
        let dir = self.registry.dir.clone();
        let existed = self.registry.remove(id, |_| bundle::delete_dir(&dir, id)).await?;
        if !existed && !stored {
            return Err(PluginError::NotFound(id.to_string()));
        }
        self.registry.services.settings.forget(id).await.map_err(storage)?;
        tracing::info!(plugin = id, "plugin removed");
        Ok(())
    }

    /// Applies the stored settings of `id` again (another cluster member changed them).
    pub async fn refresh_settings(&self, id: &str) {
        self.registry.refresh_settings(id).await
    }

    /// Applies every plugin's stored settings again (the change feed was cut meanwhile).
    pub async fn refresh_all_settings(&self) {
        for slot in self.registry.all() {
            self.registry.refresh_settings(&slot.id).await;
        }
    }

    /// A readiness check that lists failed plugins in the log but never fails readiness: one
    /// broken plugin must not take the whole host out of rotation.
    pub fn readiness_check(&self) -> Arc<dyn ReadinessCheck> {
        Arc::new(PluginsReadiness(self.registry.clone()))
    }
}

fn storage(e: anyhow::Error) -> PluginError {
    PluginError::Storage(format!("{e:#}"))
}

/// The effective configuration with `overrides` merged over it, checked against the schema.
fn merge_overrides(
    plugin: &super::loader::LoadedPlugin,
    effective: &str,
    overrides: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    if !overrides.is_object() {
        return Err("channel configuration must be a JSON object".into());
    }
    let effective: serde_json::Value = serde_json::from_str(effective).map_err(|e| e.to_string())?;
    let mut merged = config::merge(&effective, overrides);
    config::drop_redirected(&mut merged, &effective, overrides, &plugin.valid.bindings);
    let (schema, _, _) = schema_of(plugin);
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("schema: {e}"))?;
    let errors: Vec<(String, String)> =
        validator.iter_errors(&merged).take(5).map(|e| (e.to_string(), e.instance_path().to_string())).collect();
    if errors.is_empty() {
        return Ok(merged);
    }
    // Errors quote values: one about a secret (or inside one) is not described, so none is echoed.
    let secret_pointers: Vec<String> = plugin.secret_paths.iter().map(|p| format!("/{}", p.join("/"))).collect();
    let about_a_secret = |at: &str| secret_pointers.iter().any(|s| at == s || at.starts_with(&format!("{s}/")));
    Err(if errors.iter().any(|(_, at)| about_a_secret(at)) {
        "configuration does not satisfy the plugin schema (details hidden: they concern a secret)".into()
    } else {
        let described: Vec<String> = errors.iter().map(|(e, at)| format!("{e} (at {at})")).collect();
        format!("configuration does not satisfy the plugin schema: {}", described.join("; "))
    })
}

fn mask_sealed(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if crate::secrets::SecretBox::is_sealed(s) => config::MASK.into(),
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), mask_sealed(v))).collect(),
        other => other.clone(),
    }
}

struct PluginsReadiness(Arc<Registry>);

impl ReadinessCheck for PluginsReadiness {
    fn name(&self) -> &str {
        "plugins"
    }
    fn check(&self) -> CheckFuture<'_> {
        // A broken plugin never takes the host out of rotation; it is reported, not failed.
        Box::pin(async move {
            let statuses: Vec<_> = self.0.all().iter().map(|s| s.status()).collect();
            let failed: Vec<String> = statuses
                .iter()
                .filter(|s| s.status == LoadState::Failed)
                .map(|s| format!("{} ({})", s.id, s.last_error.as_deref().unwrap_or("not loaded")))
                .collect();
            let loaded = statuses.iter().filter(|s| s.status == LoadState::Loaded).count();
            Ok(Some(if failed.is_empty() {
                format!("{loaded} loaded")
            } else {
                format!("{loaded} loaded, {} failed: {}", failed.len(), failed.join("; "))
            }))
        })
    }
}
