//! `cargo xtask …`: build orchestration that plain cargo cannot express (wasm plugin bundles,
//! running the server with them, the whole test suite).

mod bundle;
mod python;
mod rust_guests;
#[cfg(test)]
mod tidy;
#[cfg(test)]
mod tidy_assets;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

  run [ARGS]         build the server and the first-party plugins, then start `vigia serve`
                     on embedded defaults (SQLite in ./data, plugins in ./data/plugins)
  test [ARGS]        build every plugin bundle (Python example included) and run the whole
                     test suite (`cargo test --workspace ARGS`)
  plugins [--python] build every Rust guest crate for wasm32-wasip2 and assemble
                     target/vigia-plugins/<id>/{plugin.toml,<id>.wasm} with sha256 filled in,
                     plus examples/python-collector when componentize-py is installed
                     (--python: required)";

/// Plugins `cargo xtask run` installs (fixtures and examples stay out of a real server).
const FIRST_PARTY: &[&str] = &["http-check", "redis", "webhook", "csv", "pdf", "slack", "email", "html"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["run", rest @ ..] => run(rest),
        ["test", rest @ ..] => test(rest),
        ["plugins"] => build_plugins(Python::IfAvailable).map(|_| ()),
        ["plugins", "--python"] => build_plugins(Python::Required).map(|_| ()),
        _ => bail!("{USAGE}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Python {
    /// Build the Python example when componentize-py is installed.
    IfAvailable,
    /// Fail without componentize-py (the test suite loads the Python example).
    Required,
    Skip,
}

/// Builds all bundles; returns the directory holding them.
fn build_plugins(python: Python) -> Result<PathBuf> {
    let workspace = workspace_root();
    let out = target_dir(&workspace).join("vigia-plugins");
    let wasm_dir = rust_guests::build(&workspace)?;
    for guest in rust_guests::discover(&workspace)? {
        bundle::assemble(&guest.dir, &wasm_dir.join(guest.wasm_file_name()), &out)?;
    }
    if python != Python::Skip {
        python::build(&workspace, &out, python == Python::Required)?;
    }
    println!("bundles in {}", out.display());
    Ok(out)
}

fn run(extra: &[&str]) -> Result<()> {
    let workspace = workspace_root();
    let bundles = build_plugins(Python::Skip)?;
    let plugins_dir = workspace.join("data").join("plugins");
    for id in FIRST_PARTY {
        copy_dir(&bundles.join(id), &plugins_dir.join(id))?;
    }
    cargo(&workspace, &["build", "--release", "-p", "vigia"])?;
    let mut args = vec!["run", "--release", "-q", "-p", "vigia", "--", "serve"];
    args.extend(extra);
    let status = Command::new(env!("CARGO"))
        .args(&args)
        .env("VIGIA_PLUGINS_DIR", &plugins_dir)
        .current_dir(&workspace)
        .status()
        .context("starting vigia")?;
    if !status.success() {
        bail!("vigia exited with {status}");
    }
    Ok(())
}

fn test(extra: &[&str]) -> Result<()> {
    if !has_postgres_server() {
        bail!("the tests start private PostgreSQL clusters: install the server binaries (initdb, pg_ctl; Debian package `postgresql`)");
    }
    if Command::new("redis-server").arg("--version").output().is_err() {
        bail!(
            "the Redis collector is tested against a private redis-server: install it (Debian package `redis-server`)"
        );
    }
    build_plugins(Python::Required)?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra);
    cargo(&workspace_root(), &args)
}

fn cargo(dir: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("running cargo {args:?}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Replaces `to` with a copy of the flat directory `from` (a plugin bundle).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

fn has_postgres_server() -> bool {
    let in_lib = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    in_lib || Command::new("initdb").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}

fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"))
}
