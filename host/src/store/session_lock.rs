//! A PostgreSQL session-level advisory lock, held on a connection of its own for as long as this
//! process keeps it: the cluster's leader election. PostgreSQL releases it when the session ends,
//! so a killed holder (its socket closed by the kernel) loses it at once, and a frozen one keeps
//! it (nobody else can act for it while it might wake up). SQLite is one process: always held.

use sqlx::postgres::PgConnection;
use sqlx::Connection;

use super::{Db, Store};

/// One advisory lock this process tries to hold.
pub struct SessionLock {
    store: Store,
    key: i64,
    /// The session holding the lock, while held.
    held: Option<PgConnection>,
}

impl SessionLock {
    pub fn new(store: Store, key: i64) -> SessionLock {
        SessionLock { store, key, held: None }
    }

    /// Whether this process holds the lock now: a held lock is kept while its session answers;
    /// otherwise one attempt is made to take it. Never waits for another holder.
    pub async fn hold(&mut self) -> bool {
        let pool = match &self.store.db {
            Db::Sqlite(_) => return true,
            Db::Postgres(pool) => pool.clone(),
        };
        if let Some(conn) = self.held.as_mut() {
            if conn.ping().await.is_ok() {
                return true;
            }
            tracing::warn!("the session holding the cluster leadership was lost");
            self.held = None;
        }
        let Ok(conn) = pool.acquire().await else { return false };
        // A session of its own, never returned to the pool: the lock lives as long as it does.
        let mut conn = conn.detach();
        match sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)").bind(self.key).fetch_one(&mut conn).await
        {
            Ok(true) => {
                self.held = Some(conn);
                true
            }
            Ok(false) | Err(_) => false,
        }
    }

    /// Lets the lock go (a clean stop), for another process to take at once.
    pub async fn release(&mut self) {
        if let Some(conn) = self.held.take() {
            let _ = conn.close().await;
        }
    }
}
