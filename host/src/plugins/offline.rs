//! Plugin checks without a running server, for the CLI: validate a bundle exactly as the server
//! would load it, write a bundle into a plugins directory, and list a directory's plugins.

use std::path::Path;

use super::engine::{EngineOptions, PluginEngine};
use super::manifest::{self, Manifest};
use super::policy::CapabilityBounds;
use super::services::HostServices;
use super::{bundle, loader};
use crate::secrets::SecretBox;

/// Unpacks, checks the manifest and hash, compiles, type-checks the world and calls `info()`.
/// Compiled artefacts go to `<data_dir>/plugin-cache`, so a later server start reuses them.
/// `bounds` is the operator's policy: a bundle the server would refuse is refused here too.
pub async fn validate_bundle(tar_gz: &[u8], data_dir: &Path, bounds: CapabilityBounds) -> anyhow::Result<Manifest> {
    let bundle = bundle::unpack(tar_gz).map_err(anyhow::Error::msg)?;
    let options = EngineOptions { max_plugins: 1, cache_dir: data_dir.join("plugin-cache") };
    let (engine, prepared) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let engine = PluginEngine::new(&options)?;
        let prepared =
            loader::prepare(&engine, &bounds, &bundle.manifest_text, &bundle.wasm).map_err(anyhow::Error::msg)?;
        Ok((engine, prepared))
    })
    .await??;
    // A throwaway key: validation never stores secrets.
    let services = HostServices::in_memory(SecretBox::from_key(&rand::random()));
    let loaded = loader::finish(&engine, &services, prepared).await.map_err(anyhow::Error::msg)?;
    Ok(loaded.valid.manifest)
}

/// Writes a bundle into `dir/<id>/` (staged, then renamed, so a watching server never sees half).
pub fn write_bundle(tar_gz: &[u8], dir: &Path) -> anyhow::Result<()> {
    let bundle = bundle::unpack(tar_gz).map_err(anyhow::Error::msg)?;
    let valid = manifest::parse_and_validate(&bundle.manifest_text, Some(&bundle.wasm)).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir)?;
    bundle::write_into(dir, &valid.manifest.id, &bundle)?;
    Ok(())
}

/// One row per plugin directory: id, version, kind, and whether its manifest and hash check out.
pub fn scan_dir(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut rows: Vec<serde_json::Value> = entries
        .flatten()
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let checked =
                loader::read_dir(&e.path()).and_then(|(text, wasm)| manifest::parse_and_validate(&text, Some(&wasm)));
            match checked {
                Ok(v) => serde_json::json!({"id": v.manifest.id, "version": v.manifest.version,
                    "kind": v.manifest.kind.as_str(), "status": "ok"}),
                Err(error) => serde_json::json!({"id": name, "status": "invalid", "last_error": error}),
            }
        })
        .collect();
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    rows
}
