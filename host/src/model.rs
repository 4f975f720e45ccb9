//! What the native sampler hands to storage: plain data, no SQL and no connections. The sampler
//! (`sampler::*`) produces `Batch`es from monitored servers; `activity::ActivityWriter` stores them.

use std::collections::BTreeMap;

/// One backend seen by one ASH tick (a row of `pg_stat_activity` worth keeping).
#[derive(Debug, Clone, PartialEq)]
pub struct AshSession {
    pub pid: i32,
    /// With `pid`, the identity of a session across ticks (pids are reused).
    pub backend_start_ms: i64,
    /// `active`, `idle in transaction`, `idle in transaction (aborted)`, `fastpath function call`.
    pub state: String,
    /// `CPU` when an active backend waits on nothing (NULL in `pg_stat_activity`).
    pub wait_event_type: String,
    pub wait_event: String,
    /// `pg_blocking_pids()`, only read for `Lock` waits; empty otherwise.
    pub blocking_pids: Vec<i32>,
    /// `pg_stat_activity.query_id` (PostgreSQL 14+); 0 when unknown.
    pub query_id: i64,
    pub database: String,
    pub user: String,
    pub application: String,
    /// Client address, or `local` for a Unix socket.
    pub client: String,
    pub backend_type: String,
    /// First keyword of the statement (`SELECT`, `UPDATE`, …), `N/A` when unknown.
    pub command: String,
    pub query_start_ms: Option<i64>,
    pub xact_start_ms: Option<i64>,
}

/// Everything one ASH tick saw. A tick with no session still counts (it says "nothing active").
#[derive(Debug, Clone, PartialEq)]
pub struct AshTick {
    pub ts_ms: i64,
    pub sessions: Vec<AshSession>,
}

/// Counters of one `pg_stat_statements` entry over one interval (deltas, never negative).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementCounters {
    pub calls: i64,
    /// Milliseconds (`total_exec_time`, or `total_time` before PostgreSQL 13).
    pub total_time: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub shared_blks_dirtied: i64,
    pub shared_blks_written: i64,
    pub local_blks_hit: i64,
    pub local_blks_read: i64,
    pub local_blks_dirtied: i64,
    pub local_blks_written: i64,
    pub temp_blks_read: i64,
    pub temp_blks_written: i64,
    pub blk_read_time: f64,
    pub blk_write_time: f64,
    /// `wal_bytes` (PostgreSQL 13+), 0 before.
    pub wal_bytes: i64,
}

/// Delta of one statement, keyed as `pg_stat_statements` keys it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementDelta {
    pub dbid: i64,
    pub userid: i64,
    pub queryid: i64,
    pub toplevel: bool,
    pub database: String,
    pub user: String,
    pub counters: StatementCounters,
}

/// One statements cycle: deltas since the previous cycle and texts newly learned (by queryid).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementBatch {
    pub ts_ms: i64,
    /// Length of the interval the deltas cover.
    pub interval_ms: i64,
    pub deltas: Vec<StatementDelta>,
    /// Texts fetched this cycle (truncated), for queryids not seen before.
    pub texts: Vec<(i64, String)>,
}

/// Activity of one table over one interval: counters are deltas, sizes and tuples are gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableActivity {
    pub database: String,
    pub schema: String,
    pub table: String,
    pub relid: i64,
    /// `table`, `partitioned table`, `materialized view`, `toast`.
    pub relkind: String,
    pub size_bytes: i64,
    pub relpages: i64,
    pub reltuples: f64,
    pub seq_scan: i64,
    pub seq_tup_read: i64,
    pub idx_scan: i64,
    pub idx_tup_fetch: i64,
    pub n_tup_ins: i64,
    pub n_tup_upd: i64,
    pub n_tup_del: i64,
    pub n_tup_hot_upd: i64,
    pub heap_blks_read: i64,
    pub heap_blks_hit: i64,
    pub idx_blks_read: i64,
    pub idx_blks_hit: i64,
    pub toast_blks_read: i64,
    pub toast_blks_hit: i64,
    pub tidx_blks_read: i64,
    pub tidx_blks_hit: i64,
    pub vacuum_count: i64,
    pub autovacuum_count: i64,
    pub analyze_count: i64,
    pub autoanalyze_count: i64,
    pub last_autovacuum_ms: Option<i64>,
    pub last_autoanalyze_ms: Option<i64>,
}

/// Activity of one index over one interval: counters are deltas, sizes are gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexActivity {
    pub database: String,
    pub schema: String,
    pub table: String,
    pub index: String,
    pub idx_scan: i64,
    pub idx_tup_read: i64,
    pub idx_tup_fetch: i64,
    pub idx_blks_read: i64,
    pub idx_blks_hit: i64,
    pub relpages: i64,
    pub size_bytes: i64,
}

/// One tables/indexes cycle over all databases of an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationBatch {
    pub ts_ms: i64,
    pub interval_ms: i64,
    pub tables: Vec<TableActivity>,
    pub indexes: Vec<IndexActivity>,
    /// Databases skipped because they hold more tables than `[sampler] max_tables`.
    pub skipped_databases: Vec<String>,
}

/// What an instance is: read at connect time and then every few minutes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub ts_ms: i64,
    /// `server_version`, e.g. `15.19`.
    pub version: String,
    /// `version()`.
    pub version_full: String,
    pub server_version_num: i64,
    pub start_time_ms: i64,
    pub is_replica: bool,
    pub max_connections: i64,
    /// Size in bytes per database.
    pub databases: BTreeMap<String, i64>,
    /// Settings that matter (`shared_buffers`, `work_mem`, …) as `(value, unit)`.
    pub settings: BTreeMap<String, (String, Option<String>)>,
    /// Whether `pg_stat_statements` is usable, and why not.
    pub statements_available: bool,
    pub statements_error: Option<String>,
}

/// One waiting session in a blocking tree (built in Rust from the ASH tick's blocking pids).
#[derive(Debug, Clone, PartialEq)]
pub struct LockNode {
    pub pid: i32,
    pub user: String,
    pub database: String,
    pub state: String,
    pub wait_event_type: String,
    pub wait_event: String,
    /// Seconds since this session's current statement (or transaction) started waiting/running.
    pub waiting_seconds: f64,
    pub query_id: i64,
    pub blocked: Vec<LockNode>,
}

/// Blocking trees seen at one tick: each root blocks (directly or not) at least one session
/// that has waited longer than the instance's `lock-monitoring-delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct LockSnapshot {
    pub ts_ms: i64,
    pub roots: Vec<LockNode>,
}

/// Which instance a batch belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceKey {
    pub tenant_id: i64,
    pub instance_id: i64,
    /// The generation of the instance's lease its sampling task ran under (a cluster member);
    /// `None` on a single host. A member's writer drops batches of a generation it no longer holds.
    pub lease: Option<i64>,
}

/// Why an instance has no ASH tick over a stretch of time: "no data", as opposed to a tick
/// with no session ("no activity").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GapReason {
    /// Vigia was not sampling the instance: stopped, crashed, or its sampling task was off.
    HostDown,
    /// The instance did not answer (connection refused, lost or timed out).
    Unreachable,
    /// A tick ran past its deadline; the sampler reconnected.
    Deadline,
    /// Ticks went missing while the sampling task ran (an overloaded host).
    Skipped,
}

impl GapReason {
    pub const ALL: [GapReason; 4] =
        [GapReason::HostDown, GapReason::Unreachable, GapReason::Deadline, GapReason::Skipped];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::HostDown => "host_down",
            GapReason::Unreachable => "unreachable",
            GapReason::Deadline => "deadline",
            GapReason::Skipped => "skipped",
        }
    }

    /// The reason of a stored name; `None` for a name this version does not know.
    pub fn parse(name: &str) -> Option<GapReason> {
        GapReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// No tick of an instance strictly between `start_ts` and `end_ts` (epoch ms), and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub start_ts: i64,
    pub end_ts: i64,
    pub reason: GapReason,
}

/// Sent by an instance's sampling task when it starts: the cadence its ticks will follow, so
/// storage can tell a missing tick from a slow one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub interval_ms: i64,
}

/// Unit of work from the sampler to storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    Ash(InstanceKey, AshTick),
    /// A sampling task started (or restarted) for the instance.
    Cadence(InstanceKey, Cadence),
    /// An outage the sampler observed (unreachable instance, tick past its deadline).
    Gap(InstanceKey, Gap),
    Statements(InstanceKey, StatementBatch),
    Relations(InstanceKey, RelationBatch),
    Inventory(InstanceKey, Inventory),
    Locks(InstanceKey, LockSnapshot),
}

impl Batch {
    /// The instance (and lease) the batch belongs to.
    pub fn key(&self) -> &InstanceKey {
        match self {
            Batch::Ash(key, _)
            | Batch::Cadence(key, _)
            | Batch::Gap(key, _)
            | Batch::Statements(key, _)
            | Batch::Relations(key, _)
            | Batch::Inventory(key, _)
            | Batch::Locks(key, _) => key,
        }
    }
}
