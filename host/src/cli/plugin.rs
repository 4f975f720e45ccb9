//! `vigia plugin …`: scaffold, build, validate, install and list plugins.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};
use sha2::{Digest, Sha256};

use super::plugin_sources::{self, Part};
use crate::config::Config;
use crate::plugins::{self, Manifest, PluginKind};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a working plugin project: source, plugin.toml and build instructions.
    New {
        /// Plugin id (lowercase letters, digits and dashes); also the directory name.
        name: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
        /// Where to create the project directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin project to wasm32-wasip2 and write its bundle (dist/<id>/ and dist/<id>.tar.gz).
    Build {
        /// The project directory (with plugin.toml).
        #[arg(default_value = ".")]
        path: PathBuf,
    },
    /// Check a plugin directory or .tar.gz bundle the way the server would load it.
    Validate { path: PathBuf },
    /// Install a bundle: through a running server's API with --url, else into [plugins] dir.
    Install {
        /// A plugin directory or .tar.gz bundle.
        path: PathBuf,
        /// Base URL of a running Vigia, e.g. http://127.0.0.1:8470.
        #[arg(long)]
        url: Option<String>,
        /// API token with plugins:manage (or env VIGIA_TOKEN).
        #[arg(long, env = "VIGIA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// List the plugins in [plugins] dir (or on a running server with --url).
    List {
        #[arg(long)]
        url: Option<String>,
        #[arg(long, env = "VIGIA_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Collector,
    Notifier,
    Reporter,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

pub async fn run(cmd: PluginCommand, config: &Config) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::New { name, kind, lang, dir } => scaffold(&name, kind, lang, &dir),
        PluginCommand::Build { path } => build(&path).map(|_| ()),
        PluginCommand::Validate { path } => {
            let status = validate(&path, config).await?;
            println!("{status}");
            Ok(())
        }
        PluginCommand::Install { path, url, token } => install(&path, url.as_deref(), token.as_deref(), config).await,
        PluginCommand::List { url, token } => list(url.as_deref(), token.as_deref(), config).await,
    }
}

fn scaffold(name: &str, kind: KindArg, lang: Lang, dir: &Path) -> anyhow::Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        bail!("plugin name {name:?} must use lowercase letters, digits and dashes");
    }
    let (kind_name, rust_src) = match kind {
        KindArg::Collector => ("collector", include_str!("templates/collector.rs")),
        KindArg::Notifier => ("notifier", include_str!("templates/notifier.rs")),
        KindArg::Reporter => ("reporter", include_str!("templates/reporter.rs")),
    };
    let project = dir.join(name);
    if project.exists() {
        bail!("{} already exists", project.display());
    }
    std::fs::create_dir_all(&project)?;
    let fill = |text: &str| text.replace("{{name}}", name);
    let (wasm, default_config) = (format!("{name}.wasm"), if kind_name == "collector" { "value = 1\n" } else { "" });
    let manifest = format!(
        "id = \"{name}\"\nversion = \"0.1.0\"\nkind = \"{kind_name}\"\nworld = \"0.1.0\"\nwasm = \"{wasm}\"\nsha256 = \"\"\n\
         description = \"{name} {kind_name}\"\n\n[capabilities]\n\n[limits]\nmemory_mb = 32\ntimeout_ms = 5000\n\n\
         [config.schema]\ntype = \"object\"\n\n[config.default]\n{default_config}"
    );
    std::fs::write(project.join("plugin.toml"), manifest)?;
    match lang {
        Lang::Rust => {
            std::fs::create_dir_all(project.join("src"))?;
            std::fs::write(project.join("src/lib.rs"), fill(rust_src))?;
            std::fs::write(project.join("Cargo.toml"), fill(include_str!("templates/Cargo.toml.tmpl")))?;
            // Pins the SDK's dependencies (wit-bindgen above all) to the versions this binary was
            // tested with; cargo drops the entries the project does not use on its first build.
            std::fs::write(project.join("Cargo.lock"), plugin_sources::CARGO_LOCK)?;
            plugin_sources::vendor_sdk(&project)?;
        }
        Lang::Python => {
            if kind_name != "collector" {
                bail!("the Python template is a collector; write the other kinds from examples/python-collector");
            }
            std::fs::write(project.join("app.py"), fill(include_str!("templates/collector.py")))?;
            plugin_sources::write(Part::Wit, &project.join("wit"))?;
        }
        Lang::Js => bail!("JavaScript scaffolding is not available yet: use --lang rust or --lang python"),
    }
    println!(
        "created {} ({kind_name}, {}); next: vigia plugin build {}",
        project.display(),
        lang_name(lang),
        project.display()
    );
    Ok(())
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "rust",
        Lang::Python => "python",
        Lang::Js => "js",
    }
}

/// A spinner with the step's name, so a minute-long compile visibly progresses.
fn step<T>(message: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let bar = indicatif::ProgressBar::new_spinner().with_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let result = work();
    match &result {
        Ok(_) => bar.finish_with_message(format!("{message} ✓ ({:.1}s)", bar.elapsed().as_secs_f64())),
        Err(_) => bar.abandon_with_message(format!("{message} ✗")),
    }
    result
}

/// Builds the project and writes `dist/<id>/` + `dist/<id>.tar.gz`; returns the tarball path.
fn build(path: &Path) -> anyhow::Result<PathBuf> {
    let manifest_text = std::fs::read_to_string(path.join("plugin.toml"))
        .with_context(|| format!("reading {}/plugin.toml", path.display()))?;
    let mut manifest: toml::Table = toml::from_str(&manifest_text).context("parsing plugin.toml")?;
    let id = manifest.get("id").and_then(|v| v.as_str()).context("plugin.toml has no id")?.to_string();
    let kind = manifest.get("kind").and_then(|v| v.as_str()).context("plugin.toml has no kind")?.to_string();
    let wasm = if path.join("Cargo.toml").exists() {
        step("[1/2] compiling to wasm32-wasip2", || build_rust(path))?
    } else if path.join("app.py").exists() {
        step("[1/2] componentizing Python", || build_python(path, &kind))?
    } else {
        bail!("{} has neither Cargo.toml nor app.py", path.display());
    };
    step("[2/2] writing the bundle", || {
        let bytes = std::fs::read(&wasm)?;
        let wasm_name = format!("{id}.wasm");
        manifest.insert("wasm".into(), wasm_name.clone().into());
        manifest.insert("sha256".into(), hex::encode(Sha256::digest(&bytes)).into());
        let out = path.join("dist").join(&id);
        std::fs::create_dir_all(&out)?;
        let manifest_text = toml::to_string(&manifest)?;
        std::fs::write(out.join("plugin.toml"), &manifest_text)?;
        std::fs::write(out.join(&wasm_name), &bytes)?;
        let tarball = path.join("dist").join(format!("{id}.tar.gz"));
        std::fs::write(
            &tarball,
            plugins::pack_bundle(&[("plugin.toml", manifest_text.as_bytes()), (&wasm_name, &bytes)])?,
        )?;
        println!("bundle: {} ({} KiB)", tarball.display(), bytes.len() / 1024);
        Ok(tarball)
    })
}

fn build_rust(path: &Path) -> anyhow::Result<PathBuf> {
    let output = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(path.join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!("cargo build failed (is the target installed? rustup target add wasm32-wasip2)");
    }
    // The artefact path comes from cargo itself, wherever its target directory is.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context("cargo produced no .wasm file (is crate-type = [\"cdylib\"] set?)")
}

/// Runs componentize-py inside the project, against the project's `wit/` or else the WIT
/// this binary carries.
fn build_python(path: &Path, kind: &str) -> anyhow::Result<PathBuf> {
    let packed_wit = tempfile::tempdir()?;
    let wit = if path.join("wit").is_dir() {
        PathBuf::from("wit")
    } else {
        plugin_sources::write(Part::Wit, packed_wit.path())?;
        packed_wit.path().to_path_buf()
    };
    std::fs::create_dir_all(path.join("dist"))?;
    // Paths handed to the tool are relative to the project: it runs there, not where we were called.
    let status = Command::new("componentize-py")
        .arg("-d")
        .arg(&wit)
        .args(["-w", kind, "componentize", "app", "-o", "dist/plugin.wasm"])
        .current_dir(path)
        .status()
        .context("running componentize-py (pip install componentize-py)")?;
    if !status.success() {
        bail!("componentize-py failed");
    }
    Ok(path.join("dist").join("plugin.wasm"))
}

/// The bundle bytes for a directory (plugin.toml + its wasm) or a .tar.gz file.
fn bundle_bytes(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.is_file() {
        return std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    }
    let text = std::fs::read_to_string(path.join("plugin.toml"))
        .with_context(|| format!("reading {}/plugin.toml", path.display()))?;
    let manifest: toml::Table = toml::from_str(&text).context("parsing plugin.toml")?;
    let wasm_name = manifest.get("wasm").and_then(|v| v.as_str()).context("plugin.toml has no wasm")?;
    let wasm = std::fs::read(path.join(wasm_name)).with_context(|| format!("reading {wasm_name}"))?;
    Ok(plugins::pack_bundle(&[("plugin.toml", text.as_bytes()), (wasm_name, &wasm)])?)
}

/// Loads the bundle in a scratch runtime exactly as the server would.
async fn validate(path: &Path, config: &Config) -> anyhow::Result<String> {
    let bundle = bundle_bytes(path)?;
    let manifest: Manifest = plugins::validate_bundle(&bundle, &config.data_dir, config.plugin_bounds()?).await?;
    Ok(format!(
        "ok: {} {} ({}), world {}; capabilities: outbound HTTP {:?}, TCP {:?}, read-only paths {:?}, clocks {}, smtp {}",
        manifest.id,
        manifest.version,
        match manifest.kind {
            PluginKind::Collector => "collector",
            PluginKind::Notifier => "notifier",
            PluginKind::Reporter => "reporter",
        },
        manifest.world,
        manifest.capabilities.allowed_outbound_hosts,
        manifest.capabilities.allowed_tcp,
        manifest.capabilities.read_only_paths,
        manifest.capabilities.clocks,
        manifest.capabilities.smtp,
    ))
}

async fn install(path: &Path, url: Option<&str>, token: Option<&str>, config: &Config) -> anyhow::Result<()> {
    let bundle = bundle_bytes(path)?;
    match url {
        Some(url) => {
            let token = token.context("--token (or VIGIA_TOKEN) is needed to install through the API")?;
            let response = reqwest::Client::new()
                .post(format!("{}/api/v1/plugins", url.trim_end_matches('/')))
                .bearer_auth(token)
                .header("content-type", "application/gzip")
                .body(bundle)
                .send()
                .await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("server answered {status}: {}", body["error"].as_str().unwrap_or("no detail"));
            }
            println!(
                "installed {} {} on {url}",
                body["id"].as_str().unwrap_or("?"),
                body["version"].as_str().unwrap_or("")
            );
        }
        None => {
            let manifest = plugins::validate_bundle(&bundle, &config.data_dir, config.plugin_bounds()?).await?;
            plugins::write_bundle(&bundle, &config.plugins.dir)?;
            println!(
                "installed {} {} into {} (a running server picks it up)",
                manifest.id,
                manifest.version,
                config.plugins.dir.display()
            );
        }
    }
    Ok(())
}

async fn list(url: Option<&str>, token: Option<&str>, config: &Config) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = match url {
        Some(url) => {
            let token = token.context("--token (or VIGIA_TOKEN) is needed to list through the API")?;
            let response = reqwest::Client::new()
                .get(format!("{}/api/v1/plugins", url.trim_end_matches('/')))
                .bearer_auth(token)
                .send()
                .await?;
            let body: serde_json::Value = response.json().await?;
            body["plugins"].as_array().cloned().with_context(|| format!("unexpected answer: {body}"))?
        }
        None => plugins::scan_dir(&config.plugins.dir),
    };
    println!("{:<24} {:<10} {:<10} {:<9} error", "id", "version", "kind", "status");
    for p in rows {
        let s = |k: &str| p[k].as_str().unwrap_or("-").to_string();
        println!(
            "{:<24} {:<10} {:<10} {:<9} {}",
            s("id"),
            s("version"),
            s("kind"),
            s("status"),
            p["last_error"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
