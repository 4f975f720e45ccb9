//! One leader among the members, for the work that must run once per cluster: alert evaluation,
//! the status pass (maintenance windows, service statuses), activity rollups and retention, and
//! the token purge. The leader is whoever holds a PostgreSQL session advisory lock
//! (`store::SessionLock`): taken at a heartbeat when free, kept while its session lives, released
//! at a clean stop, and released by PostgreSQL itself when the holder dies. One leader rather
//! than work partitioned by tenant: the evaluator's pass over every tenant takes milliseconds, so
//! spreading it would buy nothing and cost a second coordination scheme.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use crate::store::{now_ms, SessionLock, Store, StoreResult};

/// The advisory lock key of the leadership ("VIGIA" in ASCII).
const LEADER_LOCK: i64 = 0x56_49_47_49_41;

/// This member's view of the leadership.
pub struct Leadership {
    store: Store,
    me: String,
    lock: Mutex<SessionLock>,
    held: AtomicBool,
}

impl Leadership {
    pub fn new(store: Store, me: String) -> Leadership {
        let lock = Mutex::new(SessionLock::new(store.clone(), LEADER_LOCK));
        Leadership { store, me, lock, held: AtomicBool::new(false) }
    }

    /// At a heartbeat: keeps or tries to take the leadership; answers whether this member leads.
    pub async fn refresh(&self) -> StoreResult<bool> {
        let now = self.lock.lock().await.hold().await;
        let before = self.held.swap(now, Ordering::SeqCst);
        match (before, now) {
            (false, true) => {
                tracing::info!(host = %self.me, "this host leads the cluster");
                self.store.mark_leader(&self.me, now_ms()).await?;
            }
            (true, false) => tracing::warn!(host = %self.me, "this host no longer leads the cluster"),
            _ => {}
        }
        Ok(now)
    }

    /// Whether this member leads now (as of its last heartbeat).
    pub fn holds(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// A clean stop: the leadership goes, for another member to take at its next heartbeat.
    pub async fn step_down(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.lock.lock().await.release().await;
    }
}

/// Whether this process runs once-per-cluster work now: always on a single host, only as the
/// leader in a cluster.
pub fn leads(leader: Option<&Leadership>) -> bool {
    leader.is_none_or(Leadership::holds)
}
