//! The one place that configures wasmtime: a shared `Engine` (pooling allocator, epoch
//! interruption, copy-on-write memory images), its epoch ticker, the `Linker` every plugin is
//! instantiated with, and the on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings;
use super::manifest::MAX_PLUGIN_MEMORY_MB;
use super::sandbox::{HostCtx, PluginState};

/// One epoch tick. Deadlines are checked at tick granularity, so a call overruns its
/// `timeout_ms` by at most this much; 5 ms keeps the ticker thread's cost negligible.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Bytes of each linear memory kept resident between calls (only dirtied pages are reset).
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Upper bound accepted for `EngineOptions::max_plugins`.
pub const MAX_PLUGINS: u32 = 1024;

/// How many calls of one plugin may run at once before callers queue; together with the
/// number of plugins it sizes the instance pool.
pub const CALLS_PER_PLUGIN: u32 = 4;

/// Sizes the engine: `max_plugins * CALLS_PER_PLUGIN` concurrent instances are pre-reserved.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub max_plugins: u32,
    /// `<data_dir>/plugin-cache`: compiled artefacts, reused across restarts.
    pub cache_dir: PathBuf,
}

/// How many components were compiled vs. loaded from the cache since start; tests and the
/// benchmark use it to prove that a restart does not recompile.
#[derive(Debug, Default)]
pub struct CacheCounters {
    pub compiled: AtomicU64,
    pub cache_hits: AtomicU64,
}

/// Bytes of compiled function bodies kept for incremental recompilation.
const FUNCTION_CACHE_BYTES: usize = 64 << 20;

/// In-memory Cranelift function cache. When full it starts over: simpler than LRU and the
/// next compile of a plugin refills it with what matters.
#[derive(Debug, Default)]
struct FunctionCache {
    entries: std::sync::Mutex<CacheEntries>,
}

/// Cached bodies by key, and their total size in bytes.
type CacheEntries = (std::collections::HashMap<Vec<u8>, Vec<u8>>, usize);

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
        let entries = self.entries.lock().expect("function cache lock");
        entries.0.get(key).map(|v| std::borrow::Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.entries.lock().expect("function cache lock");
        let size = key.len() + value.len();
        if entries.1 + size > FUNCTION_CACHE_BYTES {
            entries.0.clear();
            entries.1 = 0;
        }
        entries.1 += size;
        entries.0.insert(key.to_vec(), value);
        true
    }
}

/// The shared engine plus everything derived from it.
pub struct PluginEngine {
    pub engine: Engine,
    pub linker: Linker<PluginState>,
    /// Upper bound on concurrent plugin instances (the pool size).
    pub max_instances: u32,
    cache_dir: PathBuf,
    compat_hash: String,
    pub counters: CacheCounters,
    ticker_stop: Arc<AtomicBool>,
}

impl PluginEngine {
    pub fn new(opts: &EngineOptions) -> anyhow::Result<Arc<PluginEngine>> {
        // Each pooled memory reserves 4 GiB of address space (so bounds checks can be elided);
        // 1024 plugins * 4 calls * 2 memories stays far below the 128 TiB user address space.
        let max_plugins = opts.max_plugins.clamp(1, MAX_PLUGINS);
        let max_instances = max_plugins.saturating_mul(CALLS_PER_PLUGIN);

        let mut pool = PoolingAllocationConfig::new();
        // A Rust component is ~3-6 core instances (main module, shims, fixups) with 1-2 memories;
        // componentize-py guests have more. Limits per component are generous, totals are what
        // reserve address space.
        pool.total_component_instances(max_instances)
            .total_core_instances(max_instances * 16)
            .total_memories(max_instances * 2)
            .total_tables(max_instances * 4)
            .total_stacks(max_instances)
            .max_core_instances_per_component(64)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_component_instance_size(4 << 20)
            .max_core_instance_size(4 << 20)
            .table_elements(100_000)
            .max_memory_size((MAX_PLUGIN_MEMORY_MB as usize) << 20)
            // Keep freed slots warm so the next call of the same plugin reuses its already-mapped
            // memory image, and reset only the pages a call dirtied (PAGEMAP_SCAN, Linux >= 6.7)
            // with memset instead of madvise: the pages stay resident, so the next call takes no
            // page faults. Together this halves instantiate+call (see the plugin benchmark).
            .max_unused_warm_slots(max_instances.min(256))
            .pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10);

        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .memory_init_cow(true)
            .parallel_compilation(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

        // Hot reload of a rebuilt plugin recompiles only the functions that changed: Cranelift's
        // incremental cache keeps compiled function bodies (in memory, bounded).
        config
            .enable_incremental_compilation(Arc::new(FunctionCache::default()))
            .map_err(anyhow::Error::from)
            .context("enabling incremental compilation")?;

        let engine = Engine::new(&config).map_err(anyhow::Error::from).context("configuring the wasm engine")?;

        let mut linker = Linker::<PluginState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from).context("linking WASI")?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:http")?;
        // The host interface is defined once at 0.1.0; wasmtime's linker resolves any 0.1.x
        // import to it (semver-compatible names), so guests built against a later 0.1 patch work.
        bindings::collector::Collector::add_to_linker::<PluginState, HasSelf<HostCtx>>(&mut linker, |s| &mut s.host)
            .map_err(anyhow::Error::from)
            .context("linking the vigia:plugin host interface")?;
        // `smtp` is imported by the notifier world only; components that do not import it (every
        // collector and reporter, notifiers built before it existed) link as before. Granting it
        // is a per-call check (`HostCtx::mailer`), not a link-time one.
        bindings::notifier::vigia::plugin::smtp::add_to_linker::<PluginState, HasSelf<HostCtx>>(&mut linker, |s| {
            &mut s.host
        })
        .map_err(anyhow::Error::from)
        .context("linking the vigia:plugin smtp interface")?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat_hash = format!("{:016x}", hasher.finish());

        std::fs::create_dir_all(&opts.cache_dir)
            .with_context(|| format!("creating the plugin cache {}", opts.cache_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Only this process writes here: `deserialize_file` trusts these files as native code.
            let _ = std::fs::set_permissions(&opts.cache_dir, std::fs::Permissions::from_mode(0o700));
        }

        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), ticker_stop.clone());

        Ok(Arc::new(PluginEngine {
            engine,
            linker,
            max_instances,
            cache_dir: opts.cache_dir.clone(),
            compat_hash,
            counters: CacheCounters::default(),
            ticker_stop,
        }))
    }

    /// Compiles `wasm` or loads its compiled artefact from the cache. Blocking (compilation
    /// takes 50 ms to seconds): call from `spawn_blocking`.
    pub fn load_component(&self, wasm: &[u8]) -> anyhow::Result<Component> {
        let sha = hex::encode(Sha256::digest(wasm));
        let path = self.cache_path(&sha);
        if path.exists() {
            // SAFETY: `cache_dir` is private to this process (0700) and every file in it was
            // written by `store_cache` below from `Component::serialize` of this engine
            // configuration; the compatibility hash in the name rules out other wasmtime builds.
            #[allow(unsafe_code)]
            let cached = unsafe { Component::deserialize_file(&self.engine, &path) };
            match cached {
                Ok(component) => {
                    self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(sha256 = %sha, "plugin loaded from the compile cache");
                    return Ok(component);
                }
                Err(e) => {
                    // A truncated or stale file: recompile and overwrite it.
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached plugin artefact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let started = std::time::Instant::now();
        let component = Component::new(&self.engine, wasm).map_err(|e| anyhow::anyhow!("invalid component: {e:#}"))?;
        self.counters.compiled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(sha256 = %sha, ms = started.elapsed().as_millis() as u64, "compiled plugin");
        if let Err(e) = self.store_cache(&path, &component) {
            tracing::warn!(error = %e, "could not write the plugin compile cache");
        }
        Ok(component)
    }

    fn cache_path(&self, wasm_sha256: &str) -> PathBuf {
        self.cache_dir.join(format!("{wasm_sha256}-{}.cwasm", self.compat_hash))
    }

    fn store_cache(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // Write-then-rename so a crash never leaves a half-written artefact under the final name.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// A plain thread rather than a tokio task: it must keep ticking when every runtime worker is
/// busy running guest code, which is exactly when deadlines matter.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    // Hold only a weak reference so dropping the last `PluginEngine` ends the thread.
    let weak = engine.weak();
    drop(engine);
    std::thread::Builder::new()
        .name("vigia-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .expect("spawning the epoch ticker thread");
}
