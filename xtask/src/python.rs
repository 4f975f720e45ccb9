//! Builds examples/python-collector with componentize-py (optional tool) and bundles it.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

const EXAMPLE: &str = "examples/python-collector";

/// Builds the Python example; without componentize-py it is skipped, unless `required`.
pub fn build(workspace: &Path, out: &Path, required: bool) -> Result<()> {
    let tool_present = Command::new("componentize-py").arg("--version").output().is_ok_and(|o| o.status.success());
    if !tool_present && required {
        bail!("componentize-py is needed to build {EXAMPLE}: pip install componentize-py==0.25.1");
    }
    if !tool_present {
        println!("  skipping {EXAMPLE}: componentize-py not found (pip install componentize-py==0.25.1)");
        return Ok(());
    }
    let source = workspace.join(EXAMPLE);
    let wasm = crate::target_dir(workspace).join("python-collector").join("python-collector.wasm");
    std::fs::create_dir_all(wasm.parent().expect("wasm path has a parent"))?;
    println!("building {EXAMPLE} with componentize-py");
    let status = Command::new("sh").arg(source.join("build.sh")).arg(&wasm).status().context("running build.sh")?;
    if !status.success() {
        bail!("{EXAMPLE}/build.sh failed");
    }
    crate::bundle::assemble(&source, &wasm, out)
}
