//! Several `vigia serve` processes on one PostgreSQL database (issue 13), coordinated by the
//! database itself, with no consensus of our own. With `[cluster] enabled` each host registers
//! in `hosts` under its own id (`<data_dir>/host-id`, kept across restarts), beats every
//! `heartbeat_seconds` and marks a clean stop; a host whose last beat is older than
//! `dead_after_seconds` is dead. At every beat it also moves its instance leases (`leases`,
//! `placement`): each enabled instance is sampled by the one member holding its lease.
//! `GET /api/v1/cluster` lists the members, their health and what each holds.

pub mod leader;
pub mod leases;
pub mod placement;

pub use leader::{leads, Leadership};
pub use leases::{LeaseKeeper, Owned, Sampling};

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{HostRow, Store, StoreError, StoreResult};

/// The file in the data directory that holds this host's id.
const HOST_ID_FILE: &str = "host-id";

/// `[cluster]`: running several hosts on one PostgreSQL database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Join the cluster of every `vigia serve` sharing this `[storage] url`, which must be
    /// PostgreSQL (SQLite is one process's file). Off: a single host, as before.
    pub enabled: bool,
    /// The address the other hosts and the operator see for this host's API (empty: the
    /// address it listens on).
    pub advertise: String,
    /// Seconds between two heartbeats.
    pub heartbeat_seconds: u64,
    /// A host whose last heartbeat is older than this is dead (at least 3 heartbeats).
    pub dead_after_seconds: u64,
    /// How long an instance lease lasts unrenewed (renewed at every heartbeat; at least 2
    /// heartbeats). A dead host's instances are sampled again by the others within about one
    /// lease period plus one heartbeat.
    pub lease_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            advertise: String::new(),
            heartbeat_seconds: 3,
            dead_after_seconds: 15,
            lease_seconds: 10,
        }
    }
}

impl ClusterConfig {
    /// Checks the section against the storage it would coordinate through.
    pub fn check(&self, storage_url: &str) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        if !(storage_url.starts_with("postgres:") || storage_url.starts_with("postgresql:")) {
            return Err("[cluster] enabled needs a PostgreSQL [storage] url: hosts coordinate through one shared \
                        database, and SQLite is a file of one process"
                .into());
        }
        if self.heartbeat_seconds == 0 || self.dead_after_seconds < 3 * self.heartbeat_seconds {
            return Err("[cluster] heartbeat_seconds must be positive and dead_after_seconds at least 3 heartbeats \
                        (a host is not declared dead over one late beat)"
                .into());
        }
        if self.lease_seconds < 2 * self.heartbeat_seconds {
            return Err(
                "[cluster] lease_seconds must be at least 2 heartbeats (a lease must outlive one late renewal)".into(),
            );
        }
        Ok(())
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_seconds)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }
}

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Beating.
    Alive,
    /// Said it stopped (a clean stop).
    Stopped,
    /// No heartbeat for `dead_after_seconds`: crashed, frozen or cut off.
    Dead,
}

/// The health of `host` at `now`.
pub fn health(host: &HostRow, now: i64, dead_after: Duration) -> Health {
    match host.stopped_at {
        Some(_) => Health::Stopped,
        None if now - host.heartbeat_at > dead_after.as_millis() as i64 => Health::Dead,
        None => Health::Alive,
    }
}

/// This host as a member: its id, and what the API says of the cluster.
#[derive(Debug, Clone)]
pub struct Local {
    pub id: String,
    pub dead_after: Duration,
}

impl Local {
    /// This host's identity when the cluster is enabled: the id kept in the data directory
    /// (made on the first start).
    pub fn of(config: &ClusterConfig, data_dir: &Path) -> std::io::Result<Option<Local>> {
        if !config.enabled {
            return Ok(None);
        }
        let path = data_dir.join(HOST_ID_FILE);
        let id = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
            Ok(_) | Err(_) => {
                let id = uuid::Uuid::new_v4().to_string();
                crate::fsutil::write_private(&path, id.as_bytes())?;
                id
            }
        };
        Ok(Some(Local { id, dead_after: Duration::from_secs(config.dead_after_seconds) }))
    }
}

/// Why a host could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "this host's secret key differs from live member {0}'s: every member opens the others' sealed values \
         (instance passwords, channel secrets), so all must run with the same key (the same VIGIA_SECRET_KEY, \
         or a copy of one member's data_dir/secret.key)"
    )]
    KeyMismatch(String),
}

/// A registered host: beats until the process stops, then says so.
#[derive(Clone)]
pub struct Membership {
    store: Store,
    row: HostRow,
}

impl Membership {
    /// Registers `local` at `address` (a start after a crash or a stop is the same member again),
    /// unless a live member runs with another secret key (`key_check` is this host's); `samples`:
    /// it takes instance leases.
    pub async fn join(
        store: Store,
        local: &Local,
        address: String,
        key_check: String,
        samples: bool,
        now: i64,
    ) -> Result<Membership, JoinError> {
        let other_key = store.list_hosts().await?.into_iter().find(|h| {
            h.id != local.id
                && !h.key_check.is_empty()
                && h.key_check != key_check
                && health(h, now, local.dead_after) == Health::Alive
        });
        if let Some(other) = other_key {
            return Err(JoinError::KeyMismatch(other.id));
        }
        let row = HostRow {
            id: local.id.clone(),
            address,
            version: crate::version::VERSION.to_string(),
            started_at: now,
            heartbeat_at: now,
            stopped_at: None,
            key_check,
            leader_since: None,
            samples,
            plugin_divergence: "[]".into(),
        };
        store.register_host(&row).await?;
        tracing::info!(host = %row.id, address = %row.address, "joined the cluster");
        Ok(Membership { store, row })
    }

    /// This host's id.
    pub fn id(&self) -> &str {
        &self.row.id
    }

    /// One heartbeat. A host whose row was removed registers again.
    pub async fn beat(&self, now: i64) -> StoreResult<()> {
        if !self.store.beat_host(&self.row.id, now).await? {
            tracing::warn!(host = %self.row.id, "this host was not registered any more; registering again");
            self.store.register_host(&HostRow { started_at: now, heartbeat_at: now, ..self.row.clone() }).await?;
        }
        Ok(())
    }

    /// Records a clean stop, so the others need not wait `dead_after_seconds` to know.
    pub async fn leave(&self, now: i64) -> StoreResult<()> {
        self.store.stop_host(&self.row.id, now).await
    }
}

/// Which secret key a host runs with, as members compare it: an HMAC of a fixed label under
/// the key (`SecretBox::derive_key`), shortened; it reveals nothing about the key.
pub fn key_check(derived: &[u8; 32]) -> String {
    derived[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_postgresql_and_sane_timings() {
        let on = ClusterConfig { enabled: true, ..ClusterConfig::default() };
        assert_eq!(on.check("postgres://vigia@db/vigia"), Ok(()));
        let error = on.check("sqlite:///var/lib/vigia/vigia.db").expect_err("sqlite");
        assert!(error.contains("PostgreSQL") && error.contains("SQLite"), "{error}");
        assert_eq!(ClusterConfig::default().check("sqlite://x"), Ok(()), "off: anything goes");
        let hasty = ClusterConfig { dead_after_seconds: 5, ..on };
        assert!(hasty.check("postgres://db").expect_err("hasty").contains("dead_after_seconds"));
    }

    #[test]
    fn health_follows_the_last_beat_and_a_clean_stop() {
        let host = |beat: i64, stopped: Option<i64>| HostRow {
            id: "h".into(),
            address: "a".into(),
            version: "v".into(),
            started_at: 0,
            heartbeat_at: beat,
            stopped_at: stopped,
            key_check: String::new(),
            leader_since: None,
            samples: true,
            plugin_divergence: "[]".into(),
        };
        let after = Duration::from_secs(15);
        assert_eq!(health(&host(100_000, None), 115_000, after), Health::Alive);
        assert_eq!(health(&host(100_000, None), 115_001, after), Health::Dead);
        assert_eq!(health(&host(100_000, Some(101_000)), 101_000, after), Health::Stopped);
    }

    #[test]
    fn the_host_id_is_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let on = ClusterConfig { enabled: true, ..ClusterConfig::default() };
        let first = Local::of(&on, dir.path()).expect("id").expect("enabled");
        let again = Local::of(&on, dir.path()).expect("id").expect("enabled");
        assert_eq!(first.id, again.id);
        assert!(Local::of(&ClusterConfig::default(), dir.path()).expect("off").is_none());
    }
}
