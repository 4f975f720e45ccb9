//! `vigia serve`: opens storage, builds the API and serves it over HTTP or HTTPS until SIGINT/SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::activity::ActivityWriter;
use crate::alerting::{Delivery, Evaluator, OutboxCheck};
use crate::api::{self, AppContext};
use crate::auth::Authenticator;
use crate::bootstrap;
use crate::config::{Config, TlsMode};
use crate::health::{Readiness, StorageCheck};
use crate::plugins::{HostServices, PluginHost, PluginHostOptions};
use crate::sampler::Sampler;
use crate::scheduler::CollectorScheduler;
use crate::secrets::SecretBox;
use crate::store::{self, Store};
use crate::telemetry;
use crate::timeseries::MetricWriter;

/// Connects to the configured storage (creating `data_dir` for SQLite) and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
    let url = config.storage_url();
    let store = Store::connect(&url, config.storage.max_connections)
        .await
        .with_context(|| format!("opening storage {}", store::redact(&url)))?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// Everything the API needs, with the readiness checks registered.
pub fn context(store: Store, config: &Config, plugins: Option<Arc<PluginHost>>, secrets: SecretBox) -> Arc<AppContext> {
    let readiness = Readiness::default();
    readiness.register(Arc::new(StorageCheck(store.clone())));
    readiness.register(Arc::new(OutboxCheck::new(store.clone())));
    if let Some(p) = &plugins {
        readiness.register(p.readiness_check());
    }
    Arc::new(AppContext {
        plugins,
        auth: Authenticator::new(store.clone(), Duration::from_secs(config.auth.user_token_ttl_hours * 3600)),
        store,
        secrets,
        readiness,
        metrics: telemetry::metrics_handle(),
        max_body_bytes: config.server.max_body_bytes,
        started: Instant::now(),
    })
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    if let Some(first) = bootstrap::ensure_defaults(&store).await? {
        bootstrap::announce(&first);
    }
    let secrets = SecretBox::load_or_create(&config.data_dir)?;
    let plugins = start_plugins(&config, &store, secrets.clone()).await?;
    let writer = MetricWriter::start(store.clone());
    let owner = store.ensure_tenant(bootstrap::DEFAULT_TENANT).await?;
    let max_concurrent = config.plugins.max_concurrent_collections as usize;
    CollectorScheduler::new(plugins.clone(), writer.clone(), owner.id, max_concurrent).spawn();
    let activity = ActivityWriter::start(store.clone(), &config.sampler);
    if config.sampler.enabled {
        Sampler::new(store.clone(), secrets.clone(), writer.clone(), activity.sender(), config.sampler.clone()).spawn();
    }
    if config.alerting.enabled {
        start_alerting(&config, &store, &plugins, &secrets).await?;
    }
    let ctx = context(store.clone(), &config, Some(plugins), secrets);
    let app = api::app(ctx);
    spawn_token_purge(store.clone());

    let listener = TcpListener::bind(config.listen_addr())
        .with_context(|| format!("binding [server] listen = {}", config.server.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    match tls_files(&config)? {
        None => {
            println!("Vigia {} listening on http://{addr}", crate::version::VERSION);
            tracing::info!(%addr, backend = store.backend().name(), "serving HTTP");
            axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Some((cert, key)) => {
            // One process-wide crypto provider; a second install (tests) is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key {}", cert.display(), key.display()))?;
            println!("Vigia {} listening on https://{addr}", crate::version::VERSION);
            tracing::info!(%addr, backend = store.backend().name(), "serving HTTPS");
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, tls).handle(handle).serve(app.into_make_service()).await?;
        }
    }
    tracing::info!("shutting down");
    writer.flush().await;
    store.close().await;
    Ok(())
}

/// Starts the alert evaluator and the notification delivery worker (which first queues again
/// what a crash left in flight).
async fn start_alerting(
    config: &Config,
    store: &Store,
    plugins: &Arc<PluginHost>,
    secrets: &SecretBox,
) -> anyhow::Result<()> {
    let a = &config.alerting;
    let schedule = a.retry_schedule_seconds.iter().map(|s| Duration::from_secs(*s)).collect();
    Delivery::new(store.clone(), plugins.clone(), secrets.clone(), schedule)
        .start(Duration::from_millis(a.delivery_poll_ms))
        .await
        .context("starting the notification delivery worker")?;
    Evaluator::new(store.clone(), Duration::from_secs(a.stale_after_seconds))
        .spawn(Duration::from_secs(a.evaluation_interval_seconds));
    Ok(())
}

/// Starts the WebAssembly plugin runtime on `[plugins] dir` (broken plugins are listed, never fatal).
pub async fn start_plugins(config: &Config, store: &Store, secrets: SecretBox) -> anyhow::Result<Arc<PluginHost>> {
    let mut options = PluginHostOptions::new(&config.plugins.dir, &config.data_dir);
    options.max_plugins = config.plugins.max_plugins;
    options.watch = config.plugins.watch;
    PluginHost::start(options, HostServices::with_store(store.clone(), secrets))
        .await
        .with_context(|| format!("starting the plugin runtime on {}", config.plugins.dir.display()))
}

/// The certificate and key to serve, generating the self-signed pair on first use.
fn tls_files(config: &Config) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    if let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) {
        return Ok(Some((cert.clone(), key.clone())));
    }
    if config.server.tls != Some(TlsMode::SelfSigned) {
        return Ok(None);
    }
    let dir = config.data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !(cert.exists() && key.exists()) {
        generate_self_signed(&dir, &cert, &key)?;
        tracing::info!(cert = %cert.display(), "generated a self-signed TLS certificate");
    }
    Ok(Some((cert, key)))
}

fn generate_self_signed(dir: &Path, cert: &Path, key: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        names.push(host.trim().to_string());
    }
    let generated = rcgen::generate_simple_self_signed(names).context("generating a self-signed certificate")?;
    std::fs::write(cert, generated.cert.pem())?;
    write_private(key, generated.key_pair.serialize_pem().as_bytes())?;
    Ok(())
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(bytes)?;
    Ok(())
}

/// Dead tokens (expired or revoked a week ago) are deleted hourly so sign-ins don't grow the table forever.
fn spawn_token_purge(store: Store) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store.purge_dead_tokens(7 * 24 * 3600 * 1000).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "deleted dead tokens"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "token purge failed"),
            }
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
