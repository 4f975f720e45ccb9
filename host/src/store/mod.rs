//! Storage layer: the only module that writes SQL. One `Store` over SQLite (embedded default) or
//! PostgreSQL (for scale), chosen by the URL scheme, with the same migrations semantics on both.

mod activity;
mod alert_types;
mod alerts;
mod ash;
mod ash_tail;
mod audit;
mod changes;
pub mod columns;
mod groups;
mod hosts;
mod incidents;
mod instances;
mod leases;
mod maintenance;
mod metrics;
mod outbox;
mod partitions;
mod plugins;
mod public_status;
mod report_schedules;
mod roles;
mod sealed;
mod service_status;
mod services;
mod session_lock;
mod status_types;
mod tenants;
mod tokens;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use activity::{
    InventoryRow, NamedPoint, RelationRow, RelationSum, StatementGrouping, StatementRow, StatementSum, StatementText,
};
pub use alert_types::{AlertState, ChannelEvent, ChannelEvents, DeliveryState, EventKind, Severity, UnknownValue};
pub use alerts::{idempotency_key, AlertEvent, AlertFilter, AlertRow, EventWrite, RuleRow};
pub use ash::{AshRollupRow, StoredAshChunk};
pub use audit::{AuditFilter, AuditRow, AuditWrite};
pub use changes::{Change, ChangeFeed};
pub use groups::DueGroup;
pub use hosts::HostRow;
pub use incidents::{IncidentFilter, IncidentRow, IncidentUpdateRow, UpdateWrite};
pub use instances::{Instance, InstanceUpdate, NewInstance, SslMode};
pub use leases::{LeaseRow, LeaseView};
pub use maintenance::{MaintenanceFilter, MaintenanceRow};
pub use metrics::{BucketPoint, MetricStoreStats, NewSeries, Point, SeriesKey, SeriesRow};
pub use outbox::{notice_key, ChannelRow, ChannelWrite, Grouping, Notice, NoticeWrite, OutboxRow, OutboxStats};
pub use partitions::{Bound, Ensured};
pub use plugins::{BundleDigest, PluginSettingsRow};
pub use public_status::PublicIncidents;
pub use report_schedules::{RunDocument, RunRow, ScheduleRow, ScheduleWrite, SlotWrite};
pub use roles::{Role, RoleDeletion};
pub use sealed::{SealedColumn, SealedRow};
pub use services::{ComponentRow, Link, ServiceFilter, ServiceRef, ServiceRow, ServiceWrite};
pub use session_lock::SessionLock;
pub use status_types::{ComponentKind, IncidentSeverity, IncidentStatus, MaintenanceStatus, ServiceStatus, Visibility};
pub use tenants::Tenant;
pub use tokens::{NewToken, TokenKind, TokenRecord, TokenWithOwner};
pub use users::{NewUser, User, UserUpdate};

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$store` uses.
/// The SQL inside must therefore be valid on both SQLite and PostgreSQL (`$1` placeholders,
/// `RETURNING`, `ON CONFLICT`), which is the dialect this module sticks to.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Why a storage call failed; callers branch on `NotFound` and `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid storage url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A stored value this version cannot read (an enum name it does not know, such as an alert
    /// state or a severity outside `alert_types`): never guessed, never read as a default.
    #[error("unreadable stored value {value:?} in {column}")]
    Unreadable { column: String, value: String },
}

impl From<sqlx::Error> for StoreError {
    /// A column decoded into a vocabulary type (`alert_types`) that held an unknown value is
    /// `Unreadable`, naming the column and the value; anything else is `Database`.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::ColumnDecode { index, source } => match source.downcast::<UnknownValue>() {
                Ok(unknown) => {
                    StoreError::Unreadable { column: index.trim_matches('"').to_string(), value: unknown.value }
                }
                Err(source) => StoreError::Database(sqlx::Error::ColumnDecode { index, source }),
            },
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict(what)`, anything else into `Database`.
    pub(crate) fn conflict_on_unique(err: sqlx::Error, what: impl Into<String>) -> Self {
        match err.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
            _ => err.into(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The claim of an outbox-like table (`state`, `next_attempt_at`, `updated_at`, `claimed_by`): up
/// to `$2` due `pending` rows (`next_attempt_at <= $1`), oldest first, moved to `sending` for the
/// claimer `$3` in one statement so two workers (or hosts) never claim the same row; returns them
/// with `columns`. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`: members claiming
/// at the same moment take different rows instead of queueing on the same ones (and the loser
/// finding them gone), so a burst spreads over the cluster. SQLite has one writer at a time.
fn claim_due_sql(backend: Backend, table: &str, columns: &str) -> String {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    format!(
        "UPDATE {table} SET state = 'sending', updated_at = $1, claimed_by = $3 WHERE state = 'pending' AND id IN \
         (SELECT id FROM {table} WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2{lock}) \
         RETURNING {columns}"
    )
}

impl Store {
    /// Rows of an outbox-like `table` left `sending` go back to `pending` (at-least-once): every
    /// one on a single host (`claimer` none), a cluster member's own (its previous run's)
    /// otherwise. Returns how many.
    async fn reset_sending_of(&self, table: &str, claimer: Option<&str>) -> StoreResult<u64> {
        let sql = match claimer {
            None => format!("UPDATE {table} SET state = 'pending', updated_at = $1 WHERE state = 'sending'"),
            Some(_) => format!(
                "UPDATE {table} SET state = 'pending', updated_at = $1 WHERE state = 'sending' AND claimed_by = $2"
            ),
        };
        Ok(on_pool!(self, pool => sqlx::query(&sql).bind(now_ms()).bind(claimer).execute(pool).await
            .map(|r| r.rows_affected()))?)
    }

    /// Rows of an outbox-like `table` being sent by a claimer not in `live` (a member that died,
    /// or a single host's before the cluster) go back to `pending`. Returns how many.
    async fn requeue_orphans_of(&self, table: &str, live: &[String]) -> StoreResult<u64> {
        let select = format!("SELECT id, COALESCE(claimed_by, '') FROM {table} WHERE state = 'sending'");
        let update = format!(
            "UPDATE {table} SET state = 'pending', updated_at = $1 \
             WHERE id = $2 AND state = 'sending' AND COALESCE(claimed_by, '') = $3"
        );
        let sending: Vec<(i64, String)> = on_pool!(self, pool => sqlx::query_as(&select).fetch_all(pool).await)?;
        let mut requeued = 0;
        for (id, claimer) in sending.into_iter().filter(|(_, c)| !live.contains(c)) {
            requeued += on_pool!(self, pool => sqlx::query(&update).bind(now_ms()).bind(id).bind(&claimer)
                .execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(requeued)
    }

    /// Notifications and report runs being sent by members not in `live` go back to `pending`
    /// (the leader's sweep); answers how many of each.
    pub async fn requeue_orphans(&self, live: &[String]) -> StoreResult<(u64, u64)> {
        Ok((
            self.requeue_orphans_of("notification_outbox", live).await?,
            self.requeue_orphans_of("report_runs", live).await?,
        ))
    }
}

/// Which database engine a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle to the storage backend; cheap to clone (pools are reference counted).
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// The process's event bus. Carried here only because every publisher already holds a
    /// `Store`; the store itself never publishes (its callers do, once a write succeeded).
    events: crate::events::Events,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Opens a pool for `url` (`sqlite://path` or `postgres://…`). Does not migrate.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Store> {
        Self::connect_as(url, max_connections, None).await
    }

    /// `connect` for the sampler's writes of a cluster member: on PostgreSQL every connection
    /// carries `host_id` in the setting `vigia.host_id`, which the lease fence (migration 0019)
    /// checks on every write of sampled rows. Elsewhere the same as `connect`.
    pub async fn connect_fenced(url: &str, max_connections: u32, host_id: &str) -> StoreResult<Store> {
        Self::connect_as(url, max_connections, Some(host_id)).await
    }

    async fn connect_as(url: &str, max_connections: u32, host_id: Option<&str>) -> StoreResult<Store> {
        let bad = |reason: String| StoreError::BadUrl { url: redact(url), reason };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| bad(e.to_string()))?
                .create_if_missing(true)
                // WAL lets readers proceed while one writer commits; NORMAL sync is durable
                // across process crashes (only an OS crash can lose the last transactions).
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Store { db: Db::Sqlite(pool), events: Default::default() })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let mut options = PgConnectOptions::from_str(url).map_err(|e| bad(e.to_string()))?;
            if let Some(host_id) = host_id {
                options = options.options([("vigia.host_id", host_id)]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Store { db: Db::Postgres(pool), events: Default::default() })
        } else {
            Err(bad("expected a sqlite:// or postgres:// URL".into()))
        }
    }

    /// Applies pending migrations of this backend's migration set.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The event bus shared by every clone of this store (`crate::events`).
    pub fn events(&self) -> &crate::events::Events {
        &self.events
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Cheapest possible round trip, used by the readiness probe.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Moves SQLite's write-ahead log into the database file (so file sizes tell what is
    /// stored); nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) {
        if let Db::Sqlite(pool) = &self.db {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    }

    /// (open connections, idle connections) for the host's own metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes every connection; later calls fail. Used at shutdown (and by tests to simulate an outage).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Milliseconds since the Unix epoch: the one timestamp representation in storage.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A stored timestamp (epoch milliseconds) as RFC 3339 in UTC, the one form the API shows.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Hides the password of a connection URL before it reaches a log or an error message.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_password_only() {
        assert_eq!(redact("postgres://u:secret@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/v.db"), "sqlite://data/v.db");
    }
}
