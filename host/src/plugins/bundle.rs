//! Plugin bundles (`.tar.gz` holding `plugin.toml` and the wasm, flat or under one top folder):
//! unpacked in memory with strict limits, and written into the plugins directory only through a
//! hidden staging folder renamed into place, so the watcher never sees a half-written plugin.
//! `digest` names a bundle's contents, however they were packed: what the database stores beside
//! an installed bundle and what a cluster member compares its directory with.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::MANIFEST_FILE;

/// Largest unpacked bundle.
pub const MAX_BUNDLE_BYTES: u64 = 128 << 20;
const MAX_ENTRIES: usize = 32;

/// The files of a bundle that matter: the manifest text and the wasm it names.
#[derive(Debug)]
pub struct Bundle {
    pub manifest_text: String,
    pub wasm_name: String,
    pub wasm: Vec<u8>,
}

impl Bundle {
    /// The digest of its contents (`digest`).
    pub fn digest(&self) -> String {
        digest(&self.manifest_text, &self.wasm)
    }
}

/// SHA-256 over the SHA-256 of the manifest text and of the wasm: the same contents give the
/// same hash whatever the tar headers or the compression. The loader's fingerprint.
pub(crate) fn contents_hash(manifest_text: &str, wasm: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(Sha256::digest(manifest_text.as_bytes()));
    h.update(Sha256::digest(wasm));
    h.finalize().into()
}

/// A bundle's contents as the database stores them beside it (`plugin_bundles.digest`): the
/// hex of `contents_hash`.
pub fn digest(manifest_text: &str, wasm: &[u8]) -> String {
    hex::encode(contents_hash(manifest_text, wasm))
}

pub fn unpack(tar_gz: &[u8]) -> Result<Bundle, String> {
    let decoder = flate2::read::GzDecoder::new(tar_gz);
    // `take` bounds the total decompressed bytes, defeating gzip bombs.
    let mut archive = tar::Archive::new(decoder.take(MAX_BUNDLE_BYTES + 1));
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut total = 0u64;
    let entries = archive.entries().map_err(|e| format!("not a tar.gz bundle: {e}"))?;
    for (i, entry) in entries.enumerate() {
        if i >= MAX_ENTRIES {
            return Err(format!("bundle has more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(|e| format!("corrupt bundle: {e}"))?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|e| format!("corrupt bundle path: {e}"))?.into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(format!("bundle entry {} is not a regular file", path.display()));
        }
        let name = relative_name(&path)?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| format!("corrupt bundle: {e}"))?;
        total += data.len() as u64;
        if total > MAX_BUNDLE_BYTES {
            return Err(format!("bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes"));
        }
        files.insert(name, data);
    }
    // Accept `plugin.toml` at the root or inside exactly one top-level folder.
    let prefix = if files.contains_key(MANIFEST_FILE) {
        String::new()
    } else {
        let tops: Vec<&String> = files.keys().filter(|k| k.ends_with(&format!("/{MANIFEST_FILE}"))).collect();
        match tops.as_slice() {
            [one] if one.matches('/').count() == 1 => one[..one.len() - MANIFEST_FILE.len()].to_string(),
            [] => return Err(format!("bundle has no {MANIFEST_FILE}")),
            _ => return Err(format!("bundle has several {MANIFEST_FILE} files")),
        }
    };
    let manifest_text = String::from_utf8(files.remove(&format!("{prefix}{MANIFEST_FILE}")).expect("found above"))
        .map_err(|_| format!("{MANIFEST_FILE} is not UTF-8"))?;
    let wasm_name = toml::from_str::<toml::Table>(&manifest_text)
        .map_err(|e| format!("{MANIFEST_FILE}: {e}"))?
        .get("wasm")
        .and_then(|w| w.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{MANIFEST_FILE}: missing `wasm`"))?;
    let wasm = files
        .remove(&format!("{prefix}{wasm_name}"))
        .ok_or_else(|| format!("bundle does not contain {wasm_name} named by {MANIFEST_FILE}"))?;
    Ok(Bundle { manifest_text, wasm_name, wasm })
}

/// A safe relative path (`a/b`), refusing absolute paths and `..`.
fn relative_name(path: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p.to_str().ok_or("non UTF-8 path in bundle")?.to_string()),
            std::path::Component::CurDir => {}
            _ => return Err(format!("unsafe path in bundle: {}", path.display())),
        }
    }
    if parts.is_empty() {
        return Err("empty path in bundle".into());
    }
    Ok(parts.join("/"))
}

fn unique_suffix() -> String {
    format!("{}-{}", std::process::id(), crate::store::now_ms())
}

/// Writes the bundle as `dir/<id>/` via a staging folder and renames; an existing version is
/// moved aside first and deleted after the swap.
pub fn write_into(dir: &Path, id: &str, bundle: &Bundle) -> std::io::Result<()> {
    let staging = dir.join(format!(".staging-{id}-{}", unique_suffix()));
    std::fs::create_dir_all(&staging)?;
    let result = (|| {
        write_synced(&staging.join(MANIFEST_FILE), bundle.manifest_text.as_bytes())?;
        write_synced(&staging.join(&bundle.wasm_name), &bundle.wasm)?;
        let target = dir.join(id);
        let old: Option<PathBuf> = if target.exists() {
            let old = dir.join(format!(".old-{id}-{}", unique_suffix()));
            std::fs::rename(&target, &old)?;
            Some(old)
        } else {
            None
        };
        std::fs::rename(&staging, &target)?;
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Moves the plugin folder out of sight first (so the watcher sees one "gone" event), then
/// deletes it.
pub fn delete_dir(dir: &Path, id: &str) -> std::io::Result<()> {
    let path = dir.join(id);
    let trash = dir.join(format!(".trash-{id}-{}", unique_suffix()));
    std::fs::rename(&path, &trash)?;
    std::fs::remove_dir_all(trash)
}

/// Packs (name, bytes) files into a gzipped tar: the bundle format `unpack` reads.
pub fn pack(files: &[(&str, &[u8])]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, *bytes)?;
    }
    archive.into_inner()?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targz(files: &[(&str, &[u8])]) -> Vec<u8> {
        pack(files).unwrap()
    }

    #[test]
    fn unpacks_flat_and_foldered_bundles() {
        let m = b"id = \"x\"\nwasm = \"x.wasm\"\n";
        let flat = unpack(&targz(&[("plugin.toml", m), ("x.wasm", b"W")])).unwrap();
        assert_eq!((flat.wasm_name.as_str(), flat.wasm.as_slice()), ("x.wasm", b"W".as_slice()));
        let nested = unpack(&targz(&[("x/plugin.toml", m), ("x/x.wasm", b"W")])).unwrap();
        assert_eq!(nested.wasm, b"W");
    }

    #[test]
    fn rejects_missing_files_and_garbage() {
        assert!(unpack(b"not gzip").is_err());
        let m = b"wasm = \"x.wasm\"\n";
        assert!(unpack(&targz(&[("plugin.toml", m)])).unwrap_err().contains("x.wasm"));
        assert!(unpack(&targz(&[("other.txt", b"")])).unwrap_err().contains("plugin.toml"));
        assert!(relative_name(Path::new("../etc/passwd")).is_err());
        assert!(relative_name(Path::new("/etc/passwd")).is_err());
    }
}
