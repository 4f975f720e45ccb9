//! End-to-end: `vigia plugin new` scaffolds a collector that `vigia plugin build` turns into a
//! bundle, `validate` accepts, `install` puts in the plugins dir and `list` shows.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vigia");

fn vigia(config: &Path, args: &[&str], cwd: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        // Reuse one target directory across runs: the scaffold's dependencies build once.
        .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold-test"))
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn scaffold_build_validate_install_and_list_a_collector() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigia.toml");
    let data = dir.path().join("data").display().to_string();
    let plugins = dir.path().join("plugins").display().to_string();
    std::fs::write(&config, format!("data_dir = {data:?}\n[plugins]\ndir = {plugins:?}\n[log]\nlevel = \"warn\"\n"))
        .unwrap();

    let (ok, out) = vigia(&config, &["plugin", "new", "disk-gauge", "--kind", "collector"], dir.path());
    assert!(ok, "{out}");
    let project = dir.path().join("disk-gauge");
    assert!(project.join("src/lib.rs").exists() && project.join("plugin.toml").exists());
    let (ok, out) = vigia(&config, &["plugin", "new", "disk-gauge", "--kind", "collector"], dir.path());
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = vigia(&config, &["plugin", "new", "Bad Name", "--kind", "collector"], dir.path());
    assert!(!ok && out.contains("lowercase"), "{out}");

    let (ok, out) = vigia(&config, &["plugin", "build", "disk-gauge"], dir.path());
    assert!(ok, "{out}");
    let tarball = project.join("dist/disk-gauge.tar.gz");
    assert!(tarball.exists(), "{out}");

    let (ok, out) = vigia(&config, &["plugin", "validate", tarball.to_str().unwrap()], dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("ok: disk-gauge 0.1.0 (collector)"), "{out}");

    // A tampered bundle directory fails validation with the reason.
    let bundle_dir = project.join("dist/disk-gauge");
    let manifest = std::fs::read_to_string(bundle_dir.join("plugin.toml")).unwrap();
    std::fs::write(bundle_dir.join("plugin.toml"), manifest.replace("sha256 = \"", "sha256 = \"0")).unwrap();
    let (ok, out) = vigia(&config, &["plugin", "validate", bundle_dir.to_str().unwrap()], dir.path());
    assert!(!ok && out.contains("sha256"), "{out}");

    let (ok, out) = vigia(&config, &["plugin", "install", tarball.to_str().unwrap()], dir.path());
    assert!(ok, "{out}");
    assert!(dir.path().join("plugins/disk-gauge/plugin.toml").exists());
    let (ok, out) = vigia(&config, &["plugin", "list"], dir.path());
    assert!(ok, "{out}");
    let row = out.lines().find(|l| l.starts_with("disk-gauge")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("collector") && row.contains("ok"), "{row}");
}
