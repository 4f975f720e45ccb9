//! Plugin bundles stored in the database, materialised into this host's plugins directory (issue
//! 13; run by `member` with `[cluster] enabled`). A pass compares, for every plugin, three digests
//! of its contents (`bundle::digest`): the database's (`PluginBundleStore::bundle_digests`, one
//! small query), the directory's (hashed again only when its files changed), and the marker of
//! what this host last wrote or found in agreement (`<plugins dir>/.materialised.json`, hidden,
//! so neither the loader nor the watcher looks at it). `decide` turns them into an action: a
//! missing directory is written; one still holding what this host materialised follows the
//! database (an update or a removal through another member); one that differs from its marker
//! was edited or placed by hand, is never overwritten nor removed, and is reported as a
//! `Divergence`. The watcher, and a reload after each write, serve what was written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::registry::Registry;
use super::{bundle, loader, manifest};

/// What this host last materialised, plugin id → digest, in the plugins directory.
const MARKER_FILE: &str = ".materialised.json";

/// A stored bundle this host failed to write is fetched and tried again after this long (or
/// once another version is stored), not at every pass: bundles weigh up to 64 MiB.
const RETRY_FAILED_WRITE: Duration = Duration::from_secs(60);

/// How a plugin in this host's directory stands against the bundles stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceState {
    /// In this host's directory only: placed by hand, never installed through the API (or
    /// removed through it after being edited here).
    LocalOnly,
    /// Differs from the bundle installed through the API: edited or placed by hand here, kept.
    Differs,
    /// Installed through the API but absent from this host's directory: writing it failed.
    Missing,
}

/// One plugin whose directory on a host is not what the database says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Divergence {
    /// The plugin (its directory name).
    pub plugin: String,
    pub state: DivergenceState,
    /// What was found, in words.
    pub detail: String,
}

/// A plugin directory as a pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OnDisk {
    Absent,
    /// Readable: the digest of its contents.
    Contents(String),
    /// There, but its manifest or wasm cannot be read (the error).
    Unreadable(String),
}

/// Why a plugin directory is left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    NotWrittenHere,
    EditedHere,
    Unreadable,
    PlacedByHand,
    EditedThenRemoved,
}

impl Reason {
    fn detail(self) -> &'static str {
        match self {
            Reason::NotWrittenHere => {
                "differs from the bundle installed through the API and was not written by this host: left as it is"
            }
            Reason::EditedHere => "edited here since this host wrote it: left as it is",
            Reason::Unreadable => "cannot be read: left as it is",
            Reason::PlacedByHand => "placed by hand: not installed through the API",
            Reason::EditedThenRemoved => "removed through the API, but edited here since this host wrote it: kept",
        }
    }
}

/// What a pass does with one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The directory holds the stored bundle: the marker records it.
    Agree,
    /// Write the stored bundle: the directory is missing, or still holds what this host
    /// materialised and the database has another version.
    Write,
    /// Delete the directory: the bundle was removed from the database and the directory still
    /// holds what this host materialised.
    Remove,
    /// Neither stored nor on disk: the marker forgets it.
    Forget,
    /// Leave the directory alone and report it.
    Diverge(DivergenceState, Reason),
}

/// The decision for one plugin: its stored digest, its directory, and the digest this host
/// last materialised. A directory that differs from the marker is never written over.
fn decide(stored: Option<&str>, disk: &OnDisk, marker: Option<&str>) -> Action {
    use DivergenceState::{Differs, LocalOnly};
    match (stored, disk) {
        (Some(_), OnDisk::Absent) => Action::Write,
        (Some(db), OnDisk::Contents(here)) if here == db => Action::Agree,
        (Some(_), OnDisk::Contents(here)) if marker == Some(here.as_str()) => Action::Write,
        (Some(_), OnDisk::Contents(_)) if marker.is_none() => Action::Diverge(Differs, Reason::NotWrittenHere),
        (Some(_), OnDisk::Contents(_)) => Action::Diverge(Differs, Reason::EditedHere),
        (Some(_), OnDisk::Unreadable(_)) => Action::Diverge(Differs, Reason::Unreadable),
        (None, OnDisk::Absent) => Action::Forget,
        (None, OnDisk::Contents(here)) if marker == Some(here.as_str()) => Action::Remove,
        (None, OnDisk::Contents(_)) if marker.is_none() => Action::Diverge(LocalOnly, Reason::PlacedByHand),
        (None, OnDisk::Contents(_)) => Action::Diverge(LocalOnly, Reason::EditedThenRemoved),
        (None, OnDisk::Unreadable(_)) => Action::Diverge(LocalOnly, Reason::Unreadable),
    }
}

/// Why a pass could not run (a plugin that cannot be written is a `Divergence`, not an error).
#[derive(Debug, thiserror::Error)]
pub enum MaterialiseError {
    #[error("reading the stored plugin bundles: {0}")]
    Storage(String),
    #[error("scanning the plugins directory: {0}")]
    Scan(String),
    #[error("recording what was materialised in {MARKER_FILE}: {0}")]
    Marker(std::io::Error),
}

/// What a plugin directory's files looked like (name, length, modification time): unchanged,
/// its digest is not computed again.
type Stamp = Vec<(String, u64, Option<SystemTime>)>;

/// Digests of plugin directories with the stamp they were computed for.
type DigestCache = HashMap<String, (Stamp, String)>;

/// Materialises the stored bundles into this host's plugins directory. One per host
/// (`PluginHost::materialiser`); `poke` asks for a pass now.
pub struct Materialiser {
    registry: Arc<Registry>,
    poked: Notify,
    digests: Arc<Mutex<DigestCache>>,
    /// Writes that failed: plugin id → (stored digest, error, when).
    failed: Mutex<HashMap<String, (String, String, Instant)>>,
}

impl Materialiser {
    pub(crate) fn new(registry: Arc<Registry>) -> Materialiser {
        Materialiser { registry, poked: Notify::new(), digests: Arc::default(), failed: Mutex::default() }
    }

    /// Asks for a pass now (e.g. a change feed heard of an install): the loop waiting in
    /// `next` wakes at once, or right after the pass it is in.
    pub fn poke(&self) {
        self.poked.notify_one();
    }

    /// Waits until poked or `period` passed.
    pub async fn next(&self, period: Duration) {
        tokio::select! {
            _ = self.poked.notified() => {}
            _ = tokio::time::sleep(period) => {}
        }
    }

    /// One pass: every stored bundle made present, updates and removals made through other
    /// hosts followed, hand-made directories left alone. Returns this host's divergences, by
    /// plugin. Installs and removals through the API wait for it (and it for them).
    pub async fn pass(&self) -> Result<Vec<Divergence>, MaterialiseError> {
        let _installing = self.registry.installs.lock().await;
        let stored = self.registry.services.bundles.bundle_digests().await.map_err(storage)?;
        let (registry, digests) = (self.registry.clone(), self.digests.clone());
        let (disk, mut marker) = tokio::task::spawn_blocking(move || {
            let disk = scan(&registry.dir, &registry.names_on_disk(), &mut digests.lock().expect("digest cache lock"));
            (disk, read_marker(&registry.dir))
        })
        .await
        .map_err(|e| MaterialiseError::Scan(e.to_string()))?;
        let before = marker.clone();
        let ids: BTreeSet<&String> = stored.keys().chain(disk.keys()).chain(before.keys()).collect();
        let mut divergences = Vec::new();
        for id in ids {
            let on_disk = disk.get(id).cloned().unwrap_or(OnDisk::Absent);
            let (db, last) = (stored.get(id).map(String::as_str), before.get(id).map(String::as_str));
            let diverge = |state: DivergenceState, detail: String| Divergence { plugin: id.clone(), state, detail };
            match decide(db, &on_disk, last) {
                Action::Agree => {
                    marker.insert(id.clone(), db.unwrap_or_default().to_string());
                }
                Action::Write => match self.write_unless_failing(id, db.unwrap_or_default()).await {
                    Ok(Some(digest)) => {
                        marker.insert(id.clone(), digest);
                    }
                    Ok(None) => {}
                    Err(e) if on_disk == OnDisk::Absent => {
                        divergences.push(diverge(DivergenceState::Missing, format!("the stored bundle: {e}")))
                    }
                    Err(e) => divergences.push(diverge(DivergenceState::Differs, format!("the stored update: {e}"))),
                },
                Action::Remove => {
                    let dir = self.registry.dir.clone();
                    match self.registry.remove(id, |_| bundle::delete_dir(&dir, id)).await {
                        Ok(_) => {
                            tracing::info!(plugin = %id, "plugin removed through another host: removed here too");
                            marker.remove(id);
                        }
                        Err(e) => tracing::warn!(plugin = %id, error = %e, "removing a plugin removed elsewhere"),
                    }
                }
                Action::Forget => {
                    marker.remove(id);
                }
                Action::Diverge(state, reason) => {
                    let detail = match &on_disk {
                        OnDisk::Unreadable(e) => format!("{} ({e})", reason.detail()),
                        _ => reason.detail().to_string(),
                    };
                    divergences.push(diverge(state, detail));
                }
            }
        }
        if marker != before {
            write_marker(&self.registry.dir, &marker).map_err(MaterialiseError::Marker)?;
        }
        Ok(divergences)
    }

    /// `write`, unless writing the bundle stored as `digest` failed less than
    /// `RETRY_FAILED_WRITE` ago (that error again).
    async fn write_unless_failing(&self, id: &str, digest: &str) -> Result<Option<String>, String> {
        let failed = |f: &HashMap<String, (String, String, Instant)>| {
            f.get(id).filter(|(d, _, at)| d == digest && at.elapsed() < RETRY_FAILED_WRITE).map(|(_, e, _)| e.clone())
        };
        if let Some(error) = failed(&self.failed.lock().expect("failed writes lock")) {
            return Err(error);
        }
        let result = self.write(id).await;
        let mut failures = self.failed.lock().expect("failed writes lock");
        match &result {
            Err(e) => {
                tracing::warn!(plugin = id, error = %e, "writing a stored plugin bundle failed");
                failures.insert(id.to_string(), (digest.to_string(), e.clone(), Instant::now()));
            }
            Ok(_) => {
                failures.remove(id);
            }
        }
        result
    }

    /// Writes plugin `id`'s stored bundle into the directory and loads it; the digest written,
    /// or `None` when it is no longer stored.
    async fn write(&self, id: &str) -> Result<Option<String>, String> {
        let bundles = &self.registry.services.bundles;
        let Some(tar_gz) = bundles.bundle(id).await.map_err(|e| format!("could not be read: {e:#}"))? else {
            return Ok(None);
        };
        let (dir, wanted) = (self.registry.dir.clone(), id.to_string());
        let written = tokio::task::spawn_blocking(move || -> Result<String, String> {
            let bundle = bundle::unpack(&tar_gz)?;
            let valid = manifest::parse_and_validate(&bundle.manifest_text, Some(&bundle.wasm))?;
            if valid.manifest.id != wanted {
                return Err(format!("is plugin {:?}, not {wanted:?}", valid.manifest.id));
            }
            if bundle.wasm_name.contains(['/', '\\']) || bundle.wasm_name.starts_with('.') {
                return Err(format!("names wasm {:?}, not a plain file name", bundle.wasm_name));
            }
            bundle::write_into(&dir, &wanted, &bundle).map_err(|e| format!("could not be written: {e}"))?;
            Ok(bundle.digest())
        })
        .await
        .map_err(|e| format!("could not be written: {e}"))??;
        tracing::info!(plugin = id, "plugin bundle installed through another host: written here");
        self.registry.reload(id).await;
        Ok(Some(written))
    }
}

fn storage(e: anyhow::Error) -> MaterialiseError {
    MaterialiseError::Storage(format!("{e:#}"))
}

/// The files of a plugin directory (name, length, modification time), by name.
fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        files.push((entry.file_name().to_string_lossy().into_owned(), meta.len(), meta.modified().ok()));
    }
    files.sort();
    Ok(files)
}

/// Each plugin directory `names` of `dir` as a pass sees it, hashed again only when its files
/// changed since `cache` saw them.
fn scan(dir: &Path, names: &[String], cache: &mut DigestCache) -> BTreeMap<String, OnDisk> {
    cache.retain(|name, _| names.contains(name));
    let mut out = BTreeMap::new();
    for name in names {
        let path = dir.join(name);
        let stamp = stamp(&path).ok();
        let cached = cache.get(name).filter(|(seen, _)| Some(seen) == stamp.as_ref()).map(|(_, d)| d.clone());
        let state = match cached {
            Some(digest) => OnDisk::Contents(digest),
            None => match loader::read_dir(&path) {
                Ok((text, wasm)) => {
                    let digest = bundle::digest(&text, &wasm);
                    if let Some(stamp) = stamp {
                        cache.insert(name.clone(), (stamp, digest.clone()));
                    }
                    OnDisk::Contents(digest)
                }
                Err(e) => OnDisk::Unreadable(e),
            },
        };
        out.insert(name.clone(), state);
    }
    out
}

/// What this host last materialised. Missing or unreadable, nothing: every directory that
/// differs from the database is then treated as made by hand (kept), never overwritten.
fn read_marker(dir: &Path) -> BTreeMap<String, String> {
    let path = dir.join(MARKER_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "unreadable record of materialised plugins; ignored");
            BTreeMap::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable record of materialised plugins; ignored");
            BTreeMap::new()
        }
    }
}

/// Replaces the marker atomically (written aside, synced, renamed over).
fn write_marker(dir: &Path, marker: &BTreeMap<String, String>) -> std::io::Result<()> {
    let staged = dir.join(format!("{MARKER_FILE}.new"));
    let text = serde_json::to_vec_pretty(marker).expect("a map of strings serialises");
    bundle::write_synced(&staged, &text)?;
    std::fs::rename(&staged, dir.join(MARKER_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use DivergenceState::{Differs, LocalOnly};
    use OnDisk::{Absent, Contents, Unreadable};

    fn here(digest: &str) -> OnDisk {
        Contents(digest.into())
    }

    #[test]
    fn decisions_follow_their_table() {
        let broken = Unreadable("cannot read plugin.toml".into());
        // (stored in the database, the directory, the marker) → action
        let table: &[(Option<&str>, OnDisk, Option<&str>, Action)] = &[
            // Installed through the API, not here yet (or deleted by hand): written.
            (Some("a"), Absent, None, Action::Write),
            (Some("a"), Absent, Some("a"), Action::Write),
            (Some("b"), Absent, Some("a"), Action::Write),
            // In agreement, whatever the marker says (an install through this host's API).
            (Some("a"), here("a"), Some("a"), Action::Agree),
            (Some("a"), here("a"), None, Action::Agree),
            (Some("b"), here("b"), Some("a"), Action::Agree),
            // Updated through another host, this directory untouched since written: rewritten.
            (Some("b"), here("a"), Some("a"), Action::Write),
            // Edited by hand after it was written: kept.
            (Some("a"), here("x"), Some("a"), Action::Diverge(Differs, Reason::EditedHere)),
            (Some("b"), here("x"), Some("a"), Action::Diverge(Differs, Reason::EditedHere)),
            // Placed by hand before it was installed through the API: kept.
            (Some("a"), here("x"), None, Action::Diverge(Differs, Reason::NotWrittenHere)),
            (Some("a"), broken.clone(), Some("a"), Action::Diverge(Differs, Reason::Unreadable)),
            (Some("a"), broken.clone(), None, Action::Diverge(Differs, Reason::Unreadable)),
            // Removed through another host, untouched here: removed.
            (None, here("a"), Some("a"), Action::Remove),
            // Never installed through the API, or edited here before its removal: kept.
            (None, here("x"), None, Action::Diverge(LocalOnly, Reason::PlacedByHand)),
            (None, here("x"), Some("a"), Action::Diverge(LocalOnly, Reason::EditedThenRemoved)),
            (None, broken.clone(), None, Action::Diverge(LocalOnly, Reason::Unreadable)),
            (None, broken, Some("a"), Action::Diverge(LocalOnly, Reason::Unreadable)),
            // Gone everywhere: the marker forgets it.
            (None, Absent, Some("a"), Action::Forget),
        ];
        for (stored, disk, marker, want) in table {
            assert_eq!(decide(*stored, disk, *marker), *want, "stored {stored:?}, disk {disk:?}, marker {marker:?}");
        }
    }

    #[test]
    fn divergences_serialise_as_the_api_shows_them() {
        let d = Divergence { plugin: "p".into(), state: LocalOnly, detail: "placed by hand".into() };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json, serde_json::json!({"plugin": "p", "state": "local_only", "detail": "placed by hand"}));
        assert_eq!(serde_json::from_value::<Divergence>(json).unwrap(), d);
    }

    #[test]
    fn directory_digests_are_cached_until_a_file_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let plugin = tmp.path().join("p");
        std::fs::create_dir_all(&plugin).unwrap();
        // Read as the loader reads (the hash is checked when loading, not here).
        let manifest = "id = \"p\"\nversion = \"1.0.0\"\nkind = \"collector\"\nworld = \"0.1.0\"\n\
                        wasm = \"p.wasm\"\nsha256 = \"00\"\n";
        std::fs::write(plugin.join("plugin.toml"), manifest).unwrap();
        std::fs::write(plugin.join("p.wasm"), b"one").unwrap();
        let (names, mut cache) = (vec!["p".to_string()], DigestCache::new());
        let first = scan(tmp.path(), &names, &mut cache);
        assert_eq!(first["p"], Contents(bundle::digest(manifest, b"one")));
        assert_eq!(scan(tmp.path(), &names, &mut cache), first);
        std::fs::write(plugin.join("p.wasm"), b"two!").unwrap();
        assert_ne!(scan(tmp.path(), &names, &mut cache), first, "a changed length is seen");
        std::fs::remove_file(plugin.join("p.wasm")).unwrap();
        assert!(matches!(scan(tmp.path(), &names, &mut cache)["p"], Unreadable(_)));
        assert!(scan(tmp.path(), &[], &mut cache).is_empty() && cache.is_empty());
    }

    #[test]
    fn the_marker_is_replaced_whole_and_a_broken_one_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(read_marker(tmp.path()).is_empty());
        let marker = BTreeMap::from([("p".to_string(), "abc".to_string())]);
        write_marker(tmp.path(), &marker).unwrap();
        assert_eq!(read_marker(tmp.path()), marker);
        std::fs::write(tmp.path().join(MARKER_FILE), "{not json").unwrap();
        assert!(read_marker(tmp.path()).is_empty());
    }
}
