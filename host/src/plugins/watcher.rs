//! Hot reload: a `notify` watcher on the plugins directory feeds a debouncer task that waits for
//! a short quiet period (editors and `cp` write in several steps), then reloads each touched
//! plugin directory. The reload itself compiles off to the side and swaps atomically.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Weak;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::registry::{is_plugin_name, Registry};

/// Quiet time after the last event before reloading: long enough to coalesce a multi-file
/// copy, short enough for the ≤ 250 ms rename-to-serving target.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// A steady stream of events still triggers a reload this often.
const MAX_BATCH: Duration = Duration::from_millis(1000);

enum Touched {
    Plugin(String),
    Everything,
}

/// Keeps the OS watch alive; dropping it stops hot reload.
pub struct DirWatcher {
    _watcher: notify::RecommendedWatcher,
    debouncer: tokio::task::JoinHandle<()>,
}

impl DirWatcher {
    /// Stops watching and waits for a reload in progress to finish.
    pub async fn stop(self) {
        let DirWatcher { _watcher, debouncer } = self;
        // Dropping the OS watch drops its sender: the debouncer ends after its current batch.
        drop(_watcher);
        let _ = debouncer.await;
    }
}

pub(crate) fn start(registry: Weak<Registry>, dir: PathBuf) -> anyhow::Result<DirWatcher> {
    let (tx, rx) = mpsc::unbounded_channel::<Touched>();
    let root = dir.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) => {
            if event.need_rescan() {
                let _ = tx.send(Touched::Everything);
            }
            for path in &event.paths {
                match plugin_of(&root, path) {
                    Some(name) => {
                        let _ = tx.send(Touched::Plugin(name));
                    }
                    None if path == &root => {
                        let _ = tx.send(Touched::Everything);
                    }
                    None => {}
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "plugin directory watch error; rescanning");
            let _ = tx.send(Touched::Everything);
        }
    })?;
    watcher.watch(&dir, RecursiveMode::Recursive)?;
    let debouncer = tokio::spawn(debounce_loop(registry, rx));
    Ok(DirWatcher { _watcher: watcher, debouncer })
}

/// The plugin directory name a path belongs to (`<dir>/<name>/...`).
fn plugin_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    match rel.components().next()? {
        Component::Normal(name) => name.to_str().filter(|n| is_plugin_name(n)).map(str::to_string),
        _ => None,
    }
}

async fn debounce_loop(registry: Weak<Registry>, mut rx: mpsc::UnboundedReceiver<Touched>) {
    while let Some(first) = rx.recv().await {
        let mut names = BTreeSet::new();
        let mut everything = false;
        let mut add = |t: Touched| match t {
            Touched::Plugin(n) => {
                names.insert(n);
            }
            Touched::Everything => everything = true,
        };
        add(first);
        let started = Instant::now();
        loop {
            match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                Ok(Some(t)) => {
                    add(t);
                    if started.elapsed() >= MAX_BATCH {
                        break;
                    }
                }
                Ok(None) => return,
                Err(_quiet) => break,
            }
        }
        let Some(registry) = registry.upgrade() else { return };
        if everything {
            registry.rescan().await;
        } else {
            for name in names {
                registry.reload(&name).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_to_plugin_names() {
        let root = Path::new("/p");
        assert_eq!(plugin_of(root, Path::new("/p/http-check/plugin.toml")).as_deref(), Some("http-check"));
        assert_eq!(plugin_of(root, Path::new("/p/http-check")).as_deref(), Some("http-check"));
        assert_eq!(plugin_of(root, Path::new("/p/.staging-x/plugin.toml")), None);
        assert_eq!(plugin_of(root, Path::new("/p")), None);
        assert_eq!(plugin_of(root, Path::new("/elsewhere/x")), None);
    }
}
