//! `cargo xtask …`: build orchestration that plain cargo cannot express (wasm plugin bundles).

mod bundle;
mod python;
mod rust_guests;

use anyhow::{bail, Result};
use std::path::PathBuf;

const USAGE: &str = "usage: cargo xtask plugins [--python]

  plugins    build every Rust guest crate for wasm32-wasip2 and assemble
             target/vigia-plugins/<id>/{plugin.toml,<id>.wasm} with sha256 filled in
  --python   also build examples/python-collector with componentize-py";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["plugins"] => build_plugins(false),
        ["plugins", "--python"] => build_plugins(true),
        _ => bail!("{USAGE}"),
    }
}

fn build_plugins(with_python: bool) -> Result<()> {
    let workspace = workspace_root();
    let out = target_dir(&workspace).join("vigia-plugins");
    let wasm_dir = rust_guests::build(&workspace)?;
    for guest in rust_guests::discover(&workspace)? {
        bundle::assemble(&guest.dir, &wasm_dir.join(guest.wasm_file_name()), &out)?;
    }
    if with_python {
        python::build(&workspace, &out)?;
    }
    println!("bundles in {}", out.display());
    Ok(())
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}

fn target_dir(workspace: &std::path::Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"))
}
