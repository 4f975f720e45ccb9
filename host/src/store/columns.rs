//! Column names of the counter tables and the values of the model structs in that order, so the
//! store can insert and aggregate every counter with one generic code path (and the workload API
//! can name its fields after them).

use crate::model::{IndexActivity, StatementCounters, TableActivity};

/// `statement_deltas` counters, in column order.
pub const STATEMENT: [&str; 16] = [
    "calls",
    "total_time",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "local_blks_dirtied",
    "local_blks_written",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time",
    "blk_write_time",
    "wal_bytes",
];

/// `table_activity` values, in column order.
pub const TABLE: [&str; 23] = [
    "size",
    "relpages",
    "reltuples",
    "seq_scan",
    "seq_tup_read",
    "idx_scan",
    "idx_tup_fetch",
    "n_tup_ins",
    "n_tup_upd",
    "n_tup_del",
    "n_tup_hot_upd",
    "heap_blks_read",
    "heap_blks_hit",
    "idx_blks_read",
    "idx_blks_hit",
    "toast_blks_read",
    "toast_blks_hit",
    "tidx_blks_read",
    "tidx_blks_hit",
    "vacuum_count",
    "autovacuum_count",
    "analyze_count",
    "autoanalyze_count",
];

/// `index_activity` values, in column order.
pub const INDEX: [&str; 7] =
    ["idx_scan", "idx_tup_read", "idx_tup_fetch", "idx_blks_read", "idx_blks_hit", "relpages", "size"];

/// Columns that are gauges (a level, not a count over the interval): aggregated with MAX, not SUM.
pub const GAUGES: [&str; 3] = ["size", "relpages", "reltuples"];

pub fn is_gauge(column: &str) -> bool {
    GAUGES.contains(&column)
}

pub fn statement_values(c: &StatementCounters) -> [f64; 16] {
    [
        c.calls as f64,
        c.total_time,
        c.rows as f64,
        c.shared_blks_hit as f64,
        c.shared_blks_read as f64,
        c.shared_blks_dirtied as f64,
        c.shared_blks_written as f64,
        c.local_blks_hit as f64,
        c.local_blks_read as f64,
        c.local_blks_dirtied as f64,
        c.local_blks_written as f64,
        c.temp_blks_read as f64,
        c.temp_blks_written as f64,
        c.blk_read_time,
        c.blk_write_time,
        c.wal_bytes as f64,
    ]
}

pub fn table_values(t: &TableActivity) -> [f64; 23] {
    [
        t.size_bytes as f64,
        t.relpages as f64,
        t.reltuples,
        t.seq_scan as f64,
        t.seq_tup_read as f64,
        t.idx_scan as f64,
        t.idx_tup_fetch as f64,
        t.n_tup_ins as f64,
        t.n_tup_upd as f64,
        t.n_tup_del as f64,
        t.n_tup_hot_upd as f64,
        t.heap_blks_read as f64,
        t.heap_blks_hit as f64,
        t.idx_blks_read as f64,
        t.idx_blks_hit as f64,
        t.toast_blks_read as f64,
        t.toast_blks_hit as f64,
        t.tidx_blks_read as f64,
        t.tidx_blks_hit as f64,
        t.vacuum_count as f64,
        t.autovacuum_count as f64,
        t.analyze_count as f64,
        t.autoanalyze_count as f64,
    ]
}

pub fn index_values(i: &IndexActivity) -> [f64; 7] {
    [
        i.idx_scan as f64,
        i.idx_tup_read as f64,
        i.idx_tup_fetch as f64,
        i.idx_blks_read as f64,
        i.idx_blks_hit as f64,
        i.relpages as f64,
        i.size_bytes as f64,
    ]
}
