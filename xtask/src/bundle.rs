//! Assembles one plugin bundle: `<out>/<id>/plugin.toml` (sha256 filled in) beside `<out>/<id>/<wasm>`.

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The fields the bundle layout depends on; the host validates the rest.
struct Manifest {
    id: String,
    kind: String,
    wasm: String,
}

pub fn assemble(source_dir: &Path, wasm: &Path, out: &Path) -> Result<()> {
    let manifest_path = source_dir.join("plugin.toml");
    let text =
        std::fs::read_to_string(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = parse(&text).with_context(|| format!("in {}", manifest_path.display()))?;
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let digest = hex::encode(Sha256::digest(&bytes));

    let bundle = out.join(&manifest.id);
    std::fs::create_dir_all(&bundle)?;
    std::fs::write(bundle.join(&manifest.wasm), &bytes)?;
    std::fs::write(bundle.join("plugin.toml"), with_sha256(&text, &digest)?)?;
    println!("  {:<16} {:<9} {:>6} KiB  sha256 {}", manifest.id, manifest.kind, bytes.len() / 1024, &digest[..12]);
    Ok(())
}

fn parse(text: &str) -> Result<Manifest> {
    let table: toml::Table = toml::from_str(text)?;
    let field = |name: &str| {
        table.get(name).and_then(|v| v.as_str()).map(str::to_owned).with_context(|| format!("missing `{name}`"))
    };
    let manifest = Manifest { id: field("id")?, kind: field("kind")?, wasm: field("wasm")? };
    ensure!(
        !manifest.id.is_empty()
            && manifest.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "id `{}` must match [a-z0-9-]+",
        manifest.id
    );
    ensure!(manifest.wasm == format!("{}.wasm", manifest.id), "wasm must be `{}.wasm`", manifest.id);
    Ok(manifest)
}

/// Rewrites the top-level `sha256 = …` line in place so comments and layout survive.
fn with_sha256(text: &str, digest: &str) -> Result<String> {
    let mut replaced = false;
    let mut in_root_table = true;
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        in_root_table &= !trimmed.starts_with('[');
        if in_root_table && trimmed.split('=').next().is_some_and(|key| key.trim() == "sha256") {
            lines.push(format!("sha256 = \"{digest}\""));
            replaced = true;
        } else {
            lines.push(line.to_owned());
        }
    }
    if !replaced {
        bail!("no top-level `sha256 = \"\"` line to fill in");
    }
    Ok(lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_only_the_top_level_sha256() {
        let text = "id = \"x\"\nsha256 = \"\" # filled by xtask\n[config.default]\nsha256 = \"keep\"\n";
        let out = with_sha256(text, "abc").unwrap();
        assert_eq!(out, "id = \"x\"\nsha256 = \"abc\"\n[config.default]\nsha256 = \"keep\"\n");
    }

    #[test]
    fn rejects_bad_ids_and_mismatched_wasm_names() {
        assert!(parse("id = \"Bad_Id\"\nkind = \"collector\"\nwasm = \"Bad_Id.wasm\"").is_err());
        assert!(parse("id = \"ok\"\nkind = \"collector\"\nwasm = \"other.wasm\"").is_err());
        assert!(parse("id = \"ok\"\nkind = \"collector\"\nwasm = \"ok.wasm\"").is_ok());
    }
}
