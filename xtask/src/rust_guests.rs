//! Finds the Rust guest crates (a `plugin.toml` beside a `Cargo.toml`) and builds them for wasm32-wasip2.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Folders whose sub-folders may hold plugin crates.
const GUEST_PARENTS: &[&str] = &["plugins", "tests/fixtures", "examples"];

pub struct Guest {
    pub dir: PathBuf,
    pub package: String,
}

impl Guest {
    /// Cargo names a cdylib after the package with `-` turned into `_`.
    pub fn wasm_file_name(&self) -> String {
        format!("{}.wasm", self.package.replace('-', "_"))
    }
}

pub fn discover(workspace: &Path) -> Result<Vec<Guest>> {
    let mut guests = Vec::new();
    for parent in GUEST_PARENTS {
        let Ok(entries) = std::fs::read_dir(workspace.join(parent)) else { continue };
        for entry in entries {
            let dir = entry?.path();
            let cargo_toml = dir.join("Cargo.toml");
            if dir.join("plugin.toml").is_file() && cargo_toml.is_file() {
                guests.push(Guest { package: package_name(&cargo_toml)?, dir });
            }
        }
    }
    guests.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(guests)
}

/// Builds all guests in one cargo run (parallel, one lock) and returns the folder holding the `.wasm` files.
pub fn build(workspace: &Path) -> Result<PathBuf> {
    ensure_target_installed();
    let guests = discover(workspace)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace).args(["build", "--release", "--target", WASM_TARGET]);
    // The workspace's release profile keeps line tables for the host binary; in a plugin they are
    // ~90% of the file. Function names (used in trap backtraces) survive a debuginfo strip.
    command.env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    for guest in &guests {
        command.args(["-p", &guest.package]);
    }
    println!("building {} guest crates for {WASM_TARGET}", guests.len());
    let status = command.status().context("running cargo")?;
    if !status.success() {
        bail!("cargo build for {WASM_TARGET} failed (is the target installed? `rustup target add {WASM_TARGET}`)");
    }
    Ok(crate::target_dir(workspace).join(WASM_TARGET).join("release"))
}

/// A fresh machine lacks the wasm target: add it through rustup when rustup is there (a no-op
/// when already installed). Without rustup the build below says what is missing.
fn ensure_target_installed() {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(out) = installed {
        if out.status.success() && !String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == WASM_TARGET) {
            println!("installing the {WASM_TARGET} target with rustup");
            let _ = Command::new("rustup").args(["target", "add", WASM_TARGET]).status();
        }
    }
}

fn package_name(cargo_toml: &Path) -> Result<String> {
    let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(cargo_toml)?)
        .with_context(|| format!("parsing {}", cargo_toml.display()))?;
    manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no package.name", cargo_toml.display()))
}
