//! Running poppler's command-line tools on rendered PDFs; a missing poppler fails the test with
//! the command that installs it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the tests leave their PDFs and page images (under cargo's per-target temp dir).
pub fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vigia-plugin-pdf");
    std::fs::create_dir_all(&dir).expect("create the test output directory");
    dir
}

/// Runs a poppler tool, failing loudly when poppler is not installed, the tool fails, or it
/// reports a damaged file.
pub fn poppler(tool: &str, args: &[&str]) -> Output {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}): install poppler-utils (`apt-get install -y poppler-utils`) to run these tests"
        )
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{tool} {args:?} failed: {stderr}");
    assert!(!stderr.contains("Error"), "{tool} {args:?} complained: {stderr}");
    output
}

pub fn stdout(output: Output) -> String {
    String::from_utf8(output.stdout).expect("poppler prints UTF-8")
}
