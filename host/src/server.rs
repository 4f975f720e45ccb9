//! `vigia serve`: opens storage, starts the background loops, serves the API over HTTP or HTTPS
//! until SIGINT/SIGTERM, then shuts down in order within `[server] shutdown_grace_seconds`: HTTP
//! intake, every background loop, then the writers (nothing committed or buffered is lost).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use tokio_util::sync::CancellationToken;

use crate::activity::{self, ActivityWriter};
use crate::alerting::{Delivery, Evaluator, OutboxCheck};
use crate::api::rate_limit::RateLimits;
use crate::api::AppContext;
use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::bootstrap;
use crate::cluster::{self, leads, Health, Leadership, Local};
use crate::config::{Config, TlsMode};
use crate::fanout;
use crate::fsutil::write_private;
use crate::health::{Readiness, StorageCheck};
use crate::lifecycle::Background;
use crate::member::{self, Member, Prepared};
use crate::plugins::{HostServices, PluginHost, PluginHostOptions};
use crate::reports::runner::ScheduleRunner;
use crate::reseal;
use crate::sampler::Sampler;
use crate::scheduler::CollectorScheduler;
use crate::secrets::SecretBox;
use crate::store::{self, now_ms, Store};
use crate::telemetry;
use crate::timeseries::MetricWriter;
use futures::future::BoxFuture;

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
        audit: AuditLog::new(store.clone(), &secrets),
        plugins,
        auth: Authenticator::new(store.clone(), &config.auth),
        store,
        secrets,
        readiness,
        metrics: telemetry::metrics_handle(),
        max_body_bytes: config.server.max_body_bytes,
        started: Instant::now(),
        facts: crate::security::HostFacts::of(config),
        target_networks: config.sampler.target_networks().unwrap_or_default().into(),
        limits: rate_limits(config),
        status_pages: crate::api::status_page::StatusPages::new(&config.status_page),
        stopping: CancellationToken::new(),
        fresh_ash: activity::FreshAsh::default(),
        reports: config.reports.clone(),
        cluster: Local::of(&config.cluster, &config.data_dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "this host's cluster id could not be read");
            None
        }),
    })
}

/// `[server.rate_limit]`, or `None` when off.
fn rate_limits(config: &Config) -> Option<Arc<RateLimits>> {
    // Validated at load; a hand-built config with a bad entry trusts no proxy rather than all.
    let trusted = config.trusted_proxies().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "ignoring [server.rate_limit] trusted_proxies");
        Vec::new()
    });
    RateLimits::new(&config.server.rate_limit, trusted).map(Arc::new)
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    // Before the sampler writes, so its rows go to their partitions rather than the default.
    if let Err(e) = activity::ensure_partitions(&store, now_ms()).await {
        tracing::warn!(error = %e, "creating activity partitions failed; rows go to the default partition");
    }
    if let Some(first) = bootstrap::ensure_defaults(&store).await? {
        bootstrap::announce(&first);
    }
    let secrets = SecretBox::load_or_create(&config.data_dir)?;
    // Before anything opens a sealed value: from here on a v1 value opens nowhere.
    reseal::reseal_legacy(&store, &secrets).await.context("re-sealing v1 secrets for their rows")?;
    let plugins = start_plugins(&config, &store, secrets.clone()).await?;
    let ctx = context(store.clone(), &config, Some(plugins.clone()), secrets.clone());
    let prepared = member::prepare(&config, &store)?;
    let writers = Writers {
        metrics: MetricWriter::start(store.clone()),
        // The API reads the ticks this writer has not stored yet (fresh ASH).
        activity: member::activity_writer(&config, &store, prepared.as_ref(), &ctx.fresh_ash).await?,
    };
    let background = Background::new();
    start_background(&background, &config, &store, &plugins, &secrets, &writers, prepared.as_ref()).await?;
    let claimer = prepared.as_ref().map(|p| p.id().to_string());
    start_report_runner(&background, &config, &store, &plugins, &ctx.fresh_ash, claimer).await?;
    let caches = fanout::Caches { auth: ctx.auth.clone(), plugins: Some(plugins.clone()), bundles: None };
    watch_revocations(&background, &ctx.auth, prepared.is_some());
    if let Some(limits) = ctx.limits.clone() {
        background.every("rate-limit sweep", Duration::from_secs(60), move || {
            limits.sweep();
            metrics::gauge!("vigia_rate_limit_tracked_clients").set(limits.tracked() as f64);
            async {}
        });
    }
    // Histograms keep every observation until drained: without a Prometheus scrape they would
    // grow by a few bytes per request forever.
    let recorder = ctx.metrics.clone();
    background.every("metrics upkeep", Duration::from_secs(5), move || {
        recorder.run_upkeep();
        async {}
    });
    // The signal that stops intake also ends the event streams (`AppContext::stopping`).
    let stop = ctx.stopping.clone();
    let app = crate::web::app(ctx);

    let listener = TcpListener::bind(config.listen_addr())
        .with_context(|| format!("binding [server] listen = {}", config.server.listen))?;
    listener.set_nonblocking(true)?;
    let member = match prepared {
        Some(prepared) => {
            let mut joined =
                member::join(prepared, &config, &store, &listener, &secrets, &writers.activity, &background).await?;
            joined.materialise_plugins(&plugins, &store, config.cluster.heartbeat(), &background);
            fanout::start(&background, &store, fanout::Caches { bundles: joined.materialiser().cloned(), ..caches });
            Some(joined)
        }
        None => None,
    };
    let mut serving = tokio::spawn(serve(config.clone(), listener, app, store.backend().name(), stop.clone()));
    let signalled = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signalled.cancel();
    });
    tokio::select! {
        // A stop wins: serving also ends on it, and once both are ready an unbiased select could
        // take that for a failure (and skip draining the writers).
        biased;
        _ = stop.cancelled() => {}
        // Serving ended by itself: it could not start (TLS files) or the listener failed.
        served = &mut serving => {
            served.context("the HTTP server task failed")??;
            anyhow::bail!("the HTTP server stopped unexpectedly");
        }
    }
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
    shutdown(Instant::now() + grace, serving, &background, &writers, &store, member.as_ref()).await
}

/// Drops the token cache when any process (another host on the same PostgreSQL too) revoked a
/// token or changed a user's rights: every second, or on a cluster member (told at once by the
/// change feed, `fanout`) every 10 s in case the feed was cut unnoticed.
fn watch_revocations(background: &Background, auth: &crate::auth::Authenticator, member: bool) {
    let auth = auth.clone();
    let every = Duration::from_secs(if member { 10 } else { 1 });
    background.every("token revocation sync", every, move || {
        let auth = auth.clone();
        async move {
            if let Err(e) = auth.sync_revocations().await {
                tracing::warn!(error = %e, "reading the revocation epoch failed; retried in a second");
            }
        }
    });
}

/// The writers every producer feeds; drained last at shutdown.
struct Writers {
    metrics: MetricWriter,
    activity: ActivityWriter,
}

/// Stops intake (HTTP, then every background loop), drains the writers and closes storage, all
/// before `deadline`. Everything that did not finish in time is named in the error, which makes
/// `vigia serve` exit with a failure status.
async fn shutdown(
    deadline: Instant,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
    background: &Background,
    writers: &Writers,
    store: &Store,
    member: Option<&Member>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut problems: Vec<String> = Vec::new();
    // In-flight requests get half the grace period; the writers need the rest.
    let http_deadline = started + (deadline - started) / 2;
    match tokio::time::timeout_at(http_deadline.into(), serving).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => problems.push(format!("HTTP server: {e:#}")),
        Ok(Err(e)) => problems.push(format!("HTTP server task: {e}")),
        Err(_) => tracing::warn!("requests still open after half the grace period were dropped"),
    }
    if let Err(stragglers) = background.stop(deadline.into()).await {
        problems.push(stragglers.to_string());
    }
    // After sampling and the heartbeat stopped: the others take the leases and know of the stop
    // at once, instead of after the leases lapse and `dead_after_seconds`.
    if let Some(member) = member {
        member.leave(&mut problems).await;
    }
    match tokio::time::timeout_at(deadline.into(), writers.activity.shutdown()).await {
        Ok(Some(d)) => {
            tracing::info!(
                queued_batches = d.batches,
                open_chunks = d.chunks,
                ticks = d.ticks,
                "activity writer drained"
            );
            if d.failed_chunks > 0 {
                problems.push(format!("{} open ASH chunks could not be stored", d.failed_chunks));
            }
        }
        Ok(None) => problems.push("the activity writer had stopped before the shutdown".into()),
        Err(_) => problems.push("the activity writer did not finish storing within the grace period".into()),
    }
    match tokio::time::timeout_at(deadline.into(), writers.metrics.flush()).await {
        Ok(flushed) => {
            tracing::info!(points = flushed.written, "metric writer drained");
            if flushed.failed > 0 {
                problems.push(format!("{} metric samples could not be stored", flushed.failed));
            }
        }
        Err(_) => problems.push("the metric writer did not finish storing within the grace period".into()),
    }
    store.close().await;
    let ms = started.elapsed().as_millis() as u64;
    if problems.is_empty() {
        tracing::info!(ms, "stopped cleanly");
        return Ok(());
    }
    tracing::error!(ms, problems = %problems.join("; "), "shutdown incomplete");
    anyhow::bail!("shutdown incomplete: {}", problems.join("; "))
}

/// Serves the API over HTTP or HTTPS until `stop` is cancelled, then lets in-flight requests finish.
async fn serve(
    config: Config,
    listener: TcpListener,
    app: axum::Router,
    backend: &'static str,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    match tls_files(&config)? {
        None => {
            println!("Vigia {} listening on http://{addr}", crate::version::VERSION);
            tracing::info!(%addr, backend, "serving HTTP");
            // With the peer's address, which rate limiting keys on and the audit log records.
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await?;
        }
        Some((cert, key)) => {
            // One process-wide crypto provider; a second install (tests) is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key {}", cert.display(), key.display()))?;
            println!("Vigia {} listening on https://{addr}", crate::version::VERSION);
            tracing::info!(%addr, backend, "serving HTTPS");
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            let grace = Duration::from_secs(config.server.shutdown_grace_seconds) / 2;
            tokio::spawn(async move {
                stop.cancelled().await;
                stopper.graceful_shutdown(Some(grace));
            });
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await?;
        }
    }
    Ok(())
}

/// Starts every background loop under `background`: collector scheduler, sampler, plugin hot
/// reload, notification delivery when alerting is enabled (which first queues again what a
/// crash left in flight), and the once-per-cluster passes (`start_leader_passes`). A cluster
/// `member` samples its leased instances and claims each collector slot.
async fn start_background(
    background: &Background,
    config: &Config,
    store: &Store,
    plugins: &Arc<PluginHost>,
    secrets: &SecretBox,
    writers: &Writers,
    member: Option<&Prepared>,
) -> anyhow::Result<()> {
    let owner = store.ensure_tenant(bootstrap::DEFAULT_TENANT).await?;
    let max_concurrent = config.plugins.max_concurrent_collections as usize;
    let scheduler = CollectorScheduler::new(plugins.clone(), writers.metrics.clone(), owner.id, max_concurrent);
    let scheduler = match member {
        Some(member) => scheduler.with_claims(store.clone(), member.id().to_string()),
        None => scheduler,
    };
    background.spawn("collector scheduler", scheduler.run(background.token()));
    if config.sampler.enabled {
        let sampler = Sampler::new(
            store.clone(),
            secrets.clone(),
            writers.metrics.clone(),
            writers.activity.sender(),
            config.sampler.clone(),
        );
        let sampler = match member {
            Some(member) => sampler.with_leases(member.leases.clone()),
            None => sampler,
        };
        background.spawn("sampler", sampler.run(background.token()));
    }
    start_leader_passes(background, config, store, member.map(|m| m.leader.clone()));
    let (watched, token) = (plugins.clone(), background.token());
    background.spawn("plugin watcher", async move {
        token.cancelled().await;
        watched.stop_watching().await;
    });
    if config.alerting.enabled {
        let a = &config.alerting;
        let schedule = a.retry_schedule_seconds.iter().map(|s| Duration::from_secs(*s)).collect();
        let delivery = Delivery::new(store.clone(), plugins.clone(), secrets.clone(), schedule)
            .with_claimer(member.map(|m| m.id().to_string()));
        delivery.requeue_in_flight().await.context("starting the notification delivery worker")?;
        let poll = Duration::from_millis(a.delivery_poll_ms);
        background.spawn("notification delivery", delivery.run(poll, background.token()));
    }
    Ok(())
}

/// The passes that run once per cluster, on its leader (`cluster::leads`; always on a single
/// host): alert evaluation, activity rollups and retention, the status pass, the token purge.
fn start_leader_passes(background: &Background, config: &Config, store: &Store, leader: Option<Arc<Leadership>>) {
    let pass = |name: &'static str, every: Duration, work: fn(Store, Config) -> BoxFuture<'static, ()>| {
        let (store, config, leader) = (store.clone(), config.clone(), leader.clone());
        background.every(name, every, move || {
            let (store, config, leading) = (store.clone(), config.clone(), leads(leader.as_deref()));
            async move {
                if leading {
                    work(store, config).await;
                }
            }
        });
    };
    pass("activity maintenance", activity::MAINTENANCE_EVERY, |store, config| {
        Box::pin(maintain_activity(store, config))
    });
    pass("token purge", Duration::from_secs(3600), |store, _| Box::pin(purge_dead_tokens(store)));
    pass("status pass", crate::status::schedule::EVERY, |store, _| Box::pin(status_pass(store)));
    if config.alerting.enabled {
        let every = Duration::from_secs(config.alerting.evaluation_interval_seconds);
        pass("alert evaluator", every, |store, config| Box::pin(evaluate_alerts(store, config)));
    }
    if config.cluster.enabled {
        pass("orphaned deliveries", config.cluster.heartbeat(), |store, config| {
            Box::pin(requeue_orphans(store, config))
        });
    }
}

/// Notifications and report runs a dead member was sending go back to `pending`: the others
/// send them (at least once; the dead member may have sent some before it died).
async fn requeue_orphans(store: Store, config: Config) {
    let (now, dead_after) = (now_ms(), Duration::from_secs(config.cluster.dead_after_seconds));
    let live: Vec<String> = match store.list_hosts().await {
        Ok(hosts) => {
            hosts.into_iter().filter(|h| cluster::health(h, now, dead_after) == Health::Alive).map(|h| h.id).collect()
        }
        Err(e) => return tracing::warn!(error = %e, "listing the members failed; orphaned deliveries looked for later"),
    };
    match store.requeue_orphans(&live).await {
        Ok((0, 0)) => {}
        Ok((notifications, runs)) => {
            tracing::warn!(notifications, runs, "deliveries a dead member had in flight queued again")
        }
        Err(e) => tracing::warn!(error = %e, "queueing orphaned deliveries again failed"),
    }
}

async fn maintain_activity(store: Store, config: Config) {
    if let Err(e) = activity::maintain(&store, &config.sampler, now_ms()).await {
        tracing::warn!(error = %e, "activity maintenance failed; retried later");
    }
}

async fn status_pass(store: Store) {
    if let Err(e) = crate::status::schedule::advance_maintenance(&store, now_ms()).await {
        tracing::warn!(error = %e, "moving maintenance windows failed; retried at the next pass");
    }
    // After the windows moved, so a window starting now shows in the same pass.
    if let Err(e) = crate::status::refresh::refresh_statuses(&store, now_ms()).await {
        tracing::warn!(error = %e, "deriving service statuses failed; retried at the next pass");
    }
}

async fn evaluate_alerts(store: Store, config: Config) {
    let evaluator = Evaluator::new(store, Duration::from_secs(config.alerting.stale_after_seconds));
    if let Err(e) = evaluator.evaluate_once(now_ms()).await {
        tracing::warn!(error = %e, "alert evaluation failed");
    }
}

/// Starts the report schedule runner (after queueing again what a crash left in flight): a pass
/// every `runner::EVERY`, which also runs once what the host missed while it was down.
async fn start_report_runner(
    background: &Background,
    config: &Config,
    store: &Store,
    plugins: &Arc<PluginHost>,
    fresh: &activity::FreshAsh,
    claimer: Option<String>,
) -> anyhow::Result<()> {
    let retry = config.alerting.retry_schedule_seconds.iter().map(|s| Duration::from_secs(*s)).collect();
    let runner =
        ScheduleRunner::new(store.clone(), fresh.clone(), Some(plugins.clone()), config.reports.clone(), retry)
            .with_claimer(claimer);
    runner.requeue_in_flight().await.context("starting the report schedule runner")?;
    background.every("report schedules", crate::reports::runner::EVERY, move || {
        let runner = runner.clone();
        async move {
            if let Err(e) = runner.pass(now_ms()).await {
                tracing::warn!(error = %e, "scheduled reports pass failed; retried at the next pass");
            }
        }
    });
    Ok(())
}

/// Starts the WebAssembly plugin runtime on `[plugins] dir` (broken plugins are listed, never fatal).
pub async fn start_plugins(config: &Config, store: &Store, secrets: SecretBox) -> anyhow::Result<Arc<PluginHost>> {
    let mut options = PluginHostOptions::new(&config.plugins.dir, &config.data_dir);
    options.max_plugins = config.plugins.max_plugins;
    options.watch = config.plugins.watch;
    options.bounds = config.plugin_bounds()?;
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

/// Deletes dead tokens (expired or revoked a week ago), so sign-ins don't grow the table forever.
/// Deletes tokens dead for a week, and the claims of collector slots older than a day.
async fn purge_dead_tokens(store: Store) {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    match store.purge_dead_tokens(7 * DAY_MS).await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "deleted dead tokens"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "token purge failed"),
    }
    if let Err(e) = store.prune_collector_runs(now_ms() - DAY_MS).await {
        tracing::warn!(error = %e, "pruning collector run claims failed");
    }
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
