//! What an instance is: version, start time, role (primary or replica), database sizes and the
//! settings worth knowing when reading its activity. Read at connect and every few minutes.

use std::collections::BTreeMap;

use sqlx::postgres::PgConnection;

use crate::model::Inventory;

/// Settings shown with an instance: memory, connections, WAL and checkpoints, planner costs,
/// statistics collection. Anything else is a click away on the server itself.
const SETTINGS: &[&str] = &[
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "max_connections",
    "max_worker_processes",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "wal_level",
    "max_wal_size",
    "min_wal_size",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "random_page_cost",
    "effective_io_concurrency",
    "default_statistics_target",
    "autovacuum",
    "autovacuum_max_workers",
    "autovacuum_naptime",
    "track_io_timing",
    "track_activity_query_size",
    "shared_preload_libraries",
    "pg_stat_statements.max",
    "pg_stat_statements.track",
    "compute_query_id",
    "max_replication_slots",
    "max_wal_senders",
    "hot_standby",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "lock_timeout",
    "log_min_duration_statement",
    "jit",
];

/// Reads the inventory; `statements` is the last statements cycle's verdict (`None`: usable).
pub async fn read(conn: &mut PgConnection, ts_ms: i64, statements: Option<&str>) -> Result<Inventory, sqlx::Error> {
    let (version, version_full, server_version_num, start_time_ms, is_replica, max_connections): (
        String,
        String,
        i64,
        i64,
        bool,
        i64,
    ) = sqlx::query_as(
        "SELECT current_setting('server_version'), version(), current_setting('server_version_num')::int8, \
         (extract(epoch FROM pg_postmaster_start_time()) * 1000)::int8, pg_is_in_recovery(), \
         current_setting('max_connections')::int8",
    )
    .fetch_one(&mut *conn)
    .await?;
    // Sizing a database needs CONNECT on it; others are left out rather than failing the read.
    let databases: Vec<(String, i64)> = sqlx::query_as(
        "SELECT datname, pg_database_size(oid) FROM pg_database \
         WHERE datallowconn AND NOT datistemplate AND has_database_privilege(oid, 'CONNECT') ORDER BY datname",
    )
    .fetch_all(&mut *conn)
    .await?;
    let settings: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)")
            .bind(SETTINGS)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Inventory {
        ts_ms,
        version,
        version_full,
        server_version_num,
        start_time_ms,
        is_replica,
        max_connections,
        databases: databases.into_iter().collect(),
        settings: settings.into_iter().map(|(n, v, u)| (n, (v, u))).collect::<BTreeMap<_, _>>(),
        statements_available: statements.is_none(),
        statements_error: statements.map(str::to_string),
    })
}

/// `server_version_num`, which decides the columns of every other query.
pub async fn server_version_num(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT current_setting('server_version_num')::int8").fetch_one(conn).await
}
