//! The plugin SDK crate and WIT package carried inside the binary (packed by host/build.rs), so
//! `vigia plugin new` and `vigia plugin build` work on a machine without the Vigia source tree.

use std::path::Path;

/// Which source tree a packed file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The `vigia-sdk` crate (sdk/), with a standalone Cargo.toml.
    Sdk,
    /// The `vigia:plugin` WIT package (wit/).
    Wit,
}

include!(concat!(env!("OUT_DIR"), "/plugin_sources.rs"));

/// Where a scaffolded Rust project keeps its copies: the SDK finds the WIT at `../wit`, as in the repo.
pub const VENDOR_DIR: &str = "vendor";

/// Writes the files of `part` into `dir` (created if needed), keeping their relative paths.
pub fn write(part: Part, dir: &Path) -> std::io::Result<()> {
    for (_, relative, text) in FILES.iter().filter(|(p, _, _)| *p == part) {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// Writes the SDK as `<project>/vendor/vigia-sdk` and the WIT as `<project>/vendor/wit`.
pub fn vendor_sdk(project: &Path) -> std::io::Result<()> {
    let vendor = project.join(VENDOR_DIR);
    write(Part::Sdk, &vendor.join("vigia-sdk"))?;
    write(Part::Wit, &vendor.join("wit"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn packed(part: Part) -> Vec<(&'static str, &'static str)> {
        FILES.iter().filter(|(p, _, _)| *p == part).map(|&(_, path, text)| (path, text)).collect()
    }

    fn on_disk(dir: &Path, base: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            } else if path.is_dir() {
                on_disk(&path, base, found);
            } else {
                found.push(path.strip_prefix(base).unwrap().to_str().unwrap().replace('\\', "/"));
            }
        }
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    #[test]
    fn packed_files_equal_the_sdk_and_wit_on_disk() {
        for (part, dir) in [(Part::Sdk, "sdk"), (Part::Wit, "wit")] {
            let base = repo().join(dir);
            let mut expected = Vec::new();
            on_disk(&base, &base, &mut expected);
            expected.sort();
            let packed = packed(part);
            let names: Vec<&str> = packed.iter().map(|(path, _)| *path).collect();
            assert_eq!(names, expected, "{dir}/ and the packed copy list different files");
            for (path, text) in packed.iter().filter(|(path, _)| *path != "Cargo.toml" || part == Part::Wit) {
                assert_eq!(*text, std::fs::read_to_string(base.join(path)).unwrap(), "{dir}/{path} is stale");
            }
        }
    }

    #[test]
    fn the_packed_sdk_manifest_stands_alone() {
        let (_, manifest) = packed(Part::Sdk).into_iter().find(|(path, _)| *path == "Cargo.toml").unwrap();
        assert!(!manifest.contains("workspace = true"), "{manifest}");
        let manifest: toml::Table = toml::from_str(manifest).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("vigia-sdk"));
        assert_eq!(manifest["package"]["version"].as_str(), Some(env!("CARGO_PKG_VERSION")));
        let wit_bindgen = &manifest["dependencies"]["wit-bindgen"];
        assert!(wit_bindgen["version"].as_str().is_some_and(|v| !v.is_empty()), "{wit_bindgen}");
        assert_eq!(manifest["dependencies"]["wasip2"]["optional"].as_bool(), Some(true));
    }

    #[test]
    fn vendoring_keeps_the_wit_where_the_sdk_looks_for_it() {
        let dir = tempfile::tempdir().unwrap();
        vendor_sdk(dir.path()).unwrap();
        let sdk = dir.path().join("vendor/vigia-sdk");
        let bindings = std::fs::read_to_string(sdk.join("src/bindings.rs")).unwrap();
        assert!(bindings.contains("path: \"../wit\""), "the SDK moved its WIT path; update VENDOR_DIR's layout");
        assert!(sdk.join("../wit/worlds.wit").exists() && sdk.join("Cargo.toml").exists());
    }
}
