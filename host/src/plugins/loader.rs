//! Turning a plugin directory (or bundle bytes) into a ready-to-call plugin: manifest checks,
//! hash check, compile-or-cache, WIT version and world checks, `InstancePre`, then one `info()`
//! call to prove the component instantiates and answers. Every failure is a readable string.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use super::bindings::document_reporter::DocumentReporterPre;
use super::bindings::{collector::CollectorPre, notifier::NotifierPre, reporter::ReporterPre};
use super::engine::PluginEngine;
use super::invoke::{invoke, KindPre, Request, Response};
use super::manifest::{self, PluginKind, ValidManifest, HOST_WORLD_MAJOR, HOST_WORLD_MINOR, HOST_WORLD_VERSION};
use super::policy::CapabilityBounds;
use super::sandbox::{PluginState, SandboxPolicy};
use super::services::HostServices;
use super::types::PluginInfo;

/// Identifies the bytes a version was loaded from, so the watcher can skip no-op reloads.
pub(crate) type Fingerprint = [u8; 32];

/// A compiled, type-checked plugin version that has not run yet.
pub(crate) struct Prepared {
    pub valid: ValidManifest,
    pub pre: KindPre,
    pub policy: SandboxPolicy,
    pub fingerprint: Fingerprint,
}

/// A plugin version that serves calls. Immutable: a reload builds a new one and swaps it in.
pub(crate) struct LoadedPlugin {
    pub valid: ValidManifest,
    pub secret_paths: Vec<Vec<String>>,
    pub pre: KindPre,
    pub policy: SandboxPolicy,
    pub info: PluginInfo,
    pub loaded_at: i64,
    pub fingerprint: Fingerprint,
}

impl LoadedPlugin {
    pub fn kind(&self) -> PluginKind {
        self.valid.manifest.kind
    }

    /// Whether it exports `render-document` (a reporter built against 0.1.1's document world).
    pub fn renders_documents(&self) -> bool {
        matches!(self.pre, KindPre::DocumentReporter(_))
    }
}

/// Reads `dir/plugin.toml` and the wasm it names (cheap; full validation is `prepare`'s job).
pub(crate) fn read_dir(dir: &Path) -> Result<(String, Vec<u8>), String> {
    let manifest_path = dir.join(manifest::MANIFEST_FILE);
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))?;
    let manifest: manifest::Manifest =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let wasm_name = manifest.wasm;
    if wasm_name.contains(['/', '\\']) || wasm_name.starts_with('.') {
        return Err(format!("{}: wasm = {wasm_name:?} must be a plain file name", manifest_path.display()));
    }
    let wasm_path = dir.join(&wasm_name);
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("cannot read {}: {e}", wasm_path.display()))?;
    Ok((text, wasm))
}

pub(crate) fn fingerprint(manifest_text: &str, wasm: &[u8]) -> Fingerprint {
    super::bundle::contents_hash(manifest_text, wasm)
}

/// Validates and compiles. Blocking (compilation): run on `spawn_blocking`.
pub(crate) fn prepare(
    engine: &PluginEngine,
    bounds: &CapabilityBounds,
    manifest_text: &str,
    wasm: &[u8],
) -> Result<Prepared, String> {
    let valid = manifest::parse_and_validate(manifest_text, Some(wasm))?;
    bounds.check(&valid.manifest.capabilities)?;
    let policy = SandboxPolicy::from_manifest(&valid.manifest, bounds.addresses())?;
    let component = engine.load_component(wasm).map_err(|e| format!("{e:#}"))?;
    check_component(engine, &component, &valid)?;
    let instance_pre = engine
        .linker
        .instantiate_pre(&component)
        .map_err(|e| format!("component imports something this host does not provide: {e:#}"))?;
    let kind = valid.manifest.kind;
    let wrong_world = |e: wasmtime::Error| format!("component does not implement the {} world: {e:#}", kind.as_str());
    let pre = match kind {
        PluginKind::Collector => KindPre::Collector(CollectorPre::new(instance_pre).map_err(wrong_world)?),
        PluginKind::Notifier => KindPre::Notifier(NotifierPre::new(instance_pre).map_err(wrong_world)?),
        PluginKind::Reporter => reporter_pre(instance_pre, &valid.manifest.formats).map_err(wrong_world)?,
    };
    Ok(Prepared { valid, pre, policy, fingerprint: fingerprint(manifest_text, wasm) })
}

/// A reporter exporting `render-document` (0.1.1) renders report documents; one built for 0.1.0
/// still loads, as a series reporter, unless its manifest promises document formats.
fn reporter_pre(instance_pre: InstancePre<PluginState>, formats: &[String]) -> wasmtime::Result<KindPre> {
    match DocumentReporterPre::new(instance_pre.clone()) {
        Ok(pre) => Ok(KindPre::DocumentReporter(pre)),
        Err(e) if !formats.is_empty() => Err(e.context(format!(
            "the manifest lists formats {formats:?}, which needs the document-reporter world (vigia:plugin@0.1.1)"
        ))),
        Err(_) => Ok(KindPre::Reporter(ReporterPre::new(instance_pre)?)),
    }
}

/// Rejects components built against another major of `vigia:plugin` and components whose
/// exports are another world than the manifest's `kind`, with messages naming both sides.
fn check_component(engine: &PluginEngine, component: &Component, valid: &ValidManifest) -> Result<(), String> {
    let ty = component.component_type();
    for (name, _) in ty.imports(&engine.engine) {
        let Some(rest) = name.strip_prefix("vigia:plugin/") else { continue };
        let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
        match manifest::parse_major_minor(version) {
            Some((HOST_WORLD_MAJOR, HOST_WORLD_MINOR)) => {}
            _ => {
                return Err(format!(
                    "component imports {name}: it was built against vigia:plugin@{version} but this host \
                     implements vigia:plugin@{HOST_WORLD_VERSION} (only {HOST_WORLD_MAJOR}.{HOST_WORLD_MINOR}.x is accepted)"
                ))
            }
        }
    }
    let exports: Vec<String> = ty
        .exports(&engine.engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
        .map(|(n, _)| n.to_string())
        .collect();
    let kind = valid.manifest.kind;
    if !exports.iter().any(|e| e == kind.entry_export()) {
        let actual = [PluginKind::Collector, PluginKind::Notifier, PluginKind::Reporter]
            .into_iter()
            .find(|k| exports.iter().any(|e| e == k.entry_export()));
        return Err(match actual {
            Some(actual) => format!(
                "manifest says kind = \"{}\" but the component implements the {} world (exports `{}`)",
                kind.as_str(),
                actual.as_str(),
                actual.entry_export()
            ),
            None => format!(
                "component does not implement the {} world: it exports [{}], expected `info` and `{}`",
                kind.as_str(),
                exports.join(", "),
                kind.entry_export()
            ),
        });
    }
    Ok(())
}

/// Runs `info()` once (proving the component instantiates and answers), producing the serving
/// version.
pub(crate) async fn finish(
    engine: &Arc<PluginEngine>,
    services: &HostServices,
    prepared: Prepared,
) -> Result<LoadedPlugin, String> {
    let Prepared { valid, pre, policy, fingerprint } = prepared;
    let config: Arc<str> = valid.defaults.to_string().into();
    let info = match invoke(engine, &pre, &policy, services, config, Request::Info).await {
        Ok(Response::Info(info)) => PluginInfo::from(info),
        Ok(_) => unreachable!("info() answers with info"),
        Err(e) => return Err(format!("info() failed: {e}")),
    };
    if info.id != valid.manifest.id {
        // The manifest is authoritative (it names the directory, settings and state); a
        // different self-reported id is worth a warning, not a refusal: copies of one component
        // under several ids are legitimate (e.g. two instances of a generic collector).
        tracing::warn!(plugin = %valid.manifest.id, reported = %info.id, "component reports a different id than its manifest");
    }
    let secret_paths = manifest::secret_paths(&valid.schema);
    Ok(LoadedPlugin { valid, secret_paths, pre, policy, info, loaded_at: crate::store::now_ms(), fingerprint })
}
