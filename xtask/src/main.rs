//! Build orchestration for the workspace: `cargo xtask run` and `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <command>\n\n  run    build everything and start `vigia serve` on embedded defaults\n  test   run the whole test suite");
            bail!("unknown or missing command")
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing with its name if it fails.
fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("running cargo {args:?}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Builds the server in release mode and runs it with the defaults (SQLite in ./data).
fn run(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    cargo(root, &["build", "--release", "-p", "vigia"])?;
    let mut args = vec!["run", "--release", "-q", "-p", "vigia", "--", "serve"];
    args.extend(extra.iter().map(String::as_str));
    cargo(root, &args)
}

/// The whole test suite.
fn test(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    if !has_postgres_server() {
        bail!("PostgreSQL server binaries (initdb, pg_ctl) are needed by the tests: install the `postgresql` package (.ci/run does)");
    }
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo(root, &args)
}

fn has_postgres_server() -> bool {
    let in_lib = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().any(|d| d.path().join("bin/initdb").exists()))
        .unwrap_or(false);
    in_lib || Command::new("initdb").arg("--version").output().is_ok_and(|o| o.status.success())
}
