//! End-to-end: `vigia plugin new` scaffolds a collector (Rust or Python) in a directory outside the
//! repository that `vigia plugin build` — given a relative path, from another working directory —
//! turns into a bundle, `validate` accepts, `install` puts in the plugins dir and `list` shows.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vigia");

/// A temporary directory outside the repository with a config whose data and plugins live there.
struct Sandbox {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("vigia.toml");
        let data = dir.path().join("data").display().to_string();
        let plugins = dir.path().join("plugins").display().to_string();
        std::fs::write(
            &config,
            format!("data_dir = {data:?}\n[plugins]\ndir = {plugins:?}\n[log]\nlevel = \"warn\"\n"),
        )
        .unwrap();
        Sandbox { dir, config }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `vigia --config … ARGS` in `cwd`; returns success and stdout+stderr.
    fn vigia(&self, args: &[&str], cwd: &Path) -> (bool, String) {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .current_dir(cwd)
            // Reuse one target directory across runs: the scaffold's dependencies build once.
            .env("CARGO_TARGET_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold-test"))
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    /// `vigia plugin build RELATIVE` from the sandbox root; returns the bundle's tarball.
    fn build(&self, relative: &str, id: &str) -> PathBuf {
        let (ok, out) = self.vigia(&["plugin", "build", relative], self.path());
        assert!(ok, "{out}");
        let tarball = self.path().join(relative).join(format!("dist/{id}.tar.gz"));
        assert!(tarball.exists(), "{out}");
        tarball
    }

    /// Builds as [`Sandbox::build`], then `vigia plugin validate`s the tarball.
    fn build_and_validate(&self, relative: &str, id: &str) -> PathBuf {
        let tarball = self.build(relative, id);
        let (ok, out) = self.vigia(&["plugin", "validate", tarball.to_str().unwrap()], self.path());
        assert!(ok && out.contains(&format!("ok: {id} 0.1.0 (collector)")), "{out}");
        tarball
    }
}

/// The directory the vigia binary was built from: scaffolds must not point into it.
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().canonicalize().unwrap()
}

#[test]
fn scaffold_build_validate_install_and_list_a_rust_collector() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();

    // Scaffolded from one directory into another (`--dir` relative to the caller).
    let (ok, out) = sandbox.vigia(&["plugin", "new", "disk-gauge", "--kind", "collector", "--dir", ".."], &elsewhere);
    assert!(ok, "{out}");
    let project = sandbox.path().join("disk-gauge");
    assert!(project.join("src/lib.rs").exists() && project.join("plugin.toml").exists());
    assert!(project.join("vendor/vigia-sdk/src/lib.rs").exists() && project.join("vendor/wit/worlds.wit").exists());
    let cargo = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(cargo.contains("path = \"vendor/vigia-sdk\""), "{cargo}");
    assert!(!cargo.contains(checkout().to_str().unwrap()), "the scaffold points into the checkout: {cargo}");
    let (ok, out) = sandbox.vigia(&["plugin", "new", "disk-gauge", "--kind", "collector"], sandbox.path());
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = sandbox.vigia(&["plugin", "new", "Bad Name", "--kind", "collector"], sandbox.path());
    assert!(!ok && out.contains("lowercase"), "{out}");

    let tarball = sandbox.build_and_validate("disk-gauge", "disk-gauge");
    // The lock file seeded from the workspace was trimmed to what the project uses.
    let lock = std::fs::read_to_string(project.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"wit-bindgen\"") && !lock.contains("name = \"wasmtime\""), "{lock}");

    // A tampered bundle directory fails validation with the reason.
    let bundle_dir = project.join("dist/disk-gauge");
    let manifest = std::fs::read_to_string(bundle_dir.join("plugin.toml")).unwrap();
    std::fs::write(bundle_dir.join("plugin.toml"), manifest.replace("sha256 = \"", "sha256 = \"0")).unwrap();
    let (ok, out) = sandbox.vigia(&["plugin", "validate", bundle_dir.to_str().unwrap()], sandbox.path());
    assert!(!ok && out.contains("sha256"), "{out}");

    let (ok, out) = sandbox.vigia(&["plugin", "install", tarball.to_str().unwrap()], sandbox.path());
    assert!(ok, "{out}");
    assert!(sandbox.path().join("plugins/disk-gauge/plugin.toml").exists());
    let (ok, out) = sandbox.vigia(&["plugin", "list"], sandbox.path());
    assert!(ok, "{out}");
    let row = out.lines().find(|l| l.starts_with("disk-gauge")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("collector") && row.contains("ok"), "{row}");
}

#[test]
fn scaffold_and_build_python_collectors_from_another_directory() {
    let sandbox = Sandbox::new();
    let (ok, out) = sandbox.vigia(&["plugin", "new", "pyg", "--kind", "collector", "--lang", "python"], sandbox.path());
    assert!(ok, "{out}");
    assert!(sandbox.path().join("pyg/wit/worlds.wit").exists(), "the project carries its WIT");
    sandbox.build_and_validate("pyg", "pyg");

    // A project without its own wit/ (like examples/python-collector) builds against the WIT
    // the binary carries (componentize-py fails on a WIT without the world it is asked for).
    let example = checkout().join("examples/python-collector");
    let copy = sandbox.path().join("python-collector");
    std::fs::create_dir(&copy).unwrap();
    for file in ["app.py", "plugin.toml"] {
        std::fs::copy(example.join(file), copy.join(file)).unwrap();
    }
    sandbox.build("python-collector", "python-collector");
}
