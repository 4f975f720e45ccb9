//! `pg_stat_statements` every minute: counters read without text, turned into per-interval deltas
//! keyed as the extension keys entries, `(dbid, userid, queryid, toplevel)`. Texts are read only
//! for queryids never seen before, filtered by queryid. A missing extension is reported (the
//! inventory says why), never fatal, and checked again on the next cycle.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::model::{StatementBatch, StatementCounters, StatementDelta};

/// `(dbid, userid, queryid, toplevel)`.
pub type StatementKey = (i64, i64, i64, bool);

/// Queryids whose text was already sent; beyond this the set starts over (texts are sent again,
/// which storage treats as an upsert).
const MAX_KNOWN_TEXTS: usize = 50_000;

/// One entry as read: names with it so a delta needs no second lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub database: String,
    pub user: String,
    pub counters: StatementCounters,
}

/// Everything one read saw, with the extension's last reset (PostgreSQL 14+, else `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub stats_reset_ms: Option<i64>,
    pub entries: HashMap<StatementKey, Entry>,
}

/// Deltas from `previous` to `current`. No previous read: a baseline, no deltas. A key not in the
/// previous read (new, or evicted and back) counts from zero. A reset of the whole extension
/// (`stats_reset` moved) counts everything from zero. An entry whose `calls` went down was
/// evicted or reset in between: its current value is the delta. No counter is ever negative.
/// Entries without new calls are left out.
pub fn deltas(previous: Option<&Snapshot>, current: &Snapshot) -> Vec<StatementDelta> {
    let Some(previous) = previous else { return Vec::new() };
    let reset = previous.stats_reset_ms != current.stats_reset_ms;
    let zero = StatementCounters::default();
    let mut out = Vec::new();
    for (&(dbid, userid, queryid, toplevel), entry) in &current.entries {
        let before = match previous.entries.get(&(dbid, userid, queryid, toplevel)) {
            Some(p) if !reset && p.counters.calls <= entry.counters.calls => &p.counters,
            _ => &zero,
        };
        let counters = subtract(&entry.counters, before);
        if counters.calls > 0 {
            let (database, user) = (entry.database.clone(), entry.user.clone());
            out.push(StatementDelta { dbid, userid, queryid, toplevel, database, user, counters });
        }
    }
    out
}

/// `a - b` per counter, floored at zero (a counter can lag another within one entry).
fn subtract(a: &StatementCounters, b: &StatementCounters) -> StatementCounters {
    let i = |x: i64, y: i64| (x - y).max(0);
    let f = |x: f64, y: f64| (x - y).max(0.0);
    StatementCounters {
        calls: i(a.calls, b.calls),
        total_time: f(a.total_time, b.total_time),
        rows: i(a.rows, b.rows),
        shared_blks_hit: i(a.shared_blks_hit, b.shared_blks_hit),
        shared_blks_read: i(a.shared_blks_read, b.shared_blks_read),
        shared_blks_dirtied: i(a.shared_blks_dirtied, b.shared_blks_dirtied),
        shared_blks_written: i(a.shared_blks_written, b.shared_blks_written),
        local_blks_hit: i(a.local_blks_hit, b.local_blks_hit),
        local_blks_read: i(a.local_blks_read, b.local_blks_read),
        local_blks_dirtied: i(a.local_blks_dirtied, b.local_blks_dirtied),
        local_blks_written: i(a.local_blks_written, b.local_blks_written),
        temp_blks_read: i(a.temp_blks_read, b.temp_blks_read),
        temp_blks_written: i(a.temp_blks_written, b.temp_blks_written),
        blk_read_time: f(a.blk_read_time, b.blk_read_time),
        blk_write_time: f(a.blk_write_time, b.blk_write_time),
        wal_bytes: i(a.wal_bytes, b.wal_bytes),
    }
}

/// The instance's `query-monitoring-min-calls` / `-min-time`: a delta is kept when it was called
/// at least `min_calls` times OR took at least `min_time_seconds` in total over the interval, so
/// only statements both rare and cheap are dropped (a single slow call is always worth keeping).
pub fn keep(delta: &StatementDelta, min_calls: i64, min_time_seconds: i64) -> bool {
    delta.counters.calls >= min_calls || delta.counters.total_time >= min_time_seconds as f64 * 1000.0
}

/// What a statements cycle produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The extension cannot be read (not installed, not preloaded, no privilege), and why.
    Unavailable(String),
    /// First read (or first after the extension became available): nothing to diff against.
    Baseline,
    Batch(StatementBatch),
}

/// Reads and diffs the statements of one instance; the previous snapshot survives reconnects.
pub struct StatementSampler {
    counters_sql: String,
    has_info: bool,
    max_text: i32,
    previous: Option<(i64, Snapshot)>,
    known_texts: HashSet<i64>,
    pub min_calls: i64,
    pub min_time_seconds: i64,
}

impl StatementSampler {
    pub fn new(server_version_num: i64, max_text: usize, min_calls: i64, min_time_seconds: i64) -> StatementSampler {
        let v = server_version_num;
        let time = if v >= 130_000 { "total_exec_time" } else { "total_time" };
        let toplevel = if v >= 140_000 { "toplevel" } else { "true" };
        let (read_time, write_time) = if v >= 170_000 {
            ("shared_blk_read_time + local_blk_read_time", "shared_blk_write_time + local_blk_write_time")
        } else {
            ("blk_read_time", "blk_write_time")
        };
        let wal = if v >= 130_000 { "wal_bytes::int8" } else { "0::int8" };
        let counters_sql = format!(
            "SELECT s.dbid::int8, s.userid::int8, s.queryid, {toplevel}, coalesce(d.datname, ''), \
             coalesce(r.rolname, ''), s.calls, s.{time}, s.rows, s.shared_blks_hit, s.shared_blks_read, \
             s.shared_blks_dirtied, s.shared_blks_written, s.local_blks_hit, s.local_blks_read, \
             s.local_blks_dirtied, s.local_blks_written, s.temp_blks_read, s.temp_blks_written, \
             {read_time}, {write_time}, {wal} \
             FROM pg_stat_statements(false) s LEFT JOIN pg_database d ON d.oid = s.dbid \
             LEFT JOIN pg_roles r ON r.oid = s.userid WHERE s.queryid IS NOT NULL"
        );
        let max_text = i32::try_from(max_text.max(16)).unwrap_or(i32::MAX);
        StatementSampler {
            counters_sql,
            has_info: v >= 140_000,
            max_text,
            previous: None,
            known_texts: HashSet::new(),
            min_calls,
            min_time_seconds,
        }
    }

    /// One cycle at `ts_ms`. `Err` only for trouble with the connection or an unexpected error;
    /// an unusable extension is `Ok(Outcome::Unavailable)`.
    pub async fn sample(&mut self, conn: &mut PgConnection, ts_ms: i64) -> Result<Outcome, sqlx::Error> {
        let installed: Option<String> =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")
                .fetch_optional(&mut *conn)
                .await?;
        if installed.is_none() {
            // A later baseline must not diff against counters from before the gap.
            self.previous = None;
            return Ok(Outcome::Unavailable(
                "pg_stat_statements is not installed in database postgres (CREATE EXTENSION pg_stat_statements)".into(),
            ));
        }
        let current = match self.read(conn).await {
            Ok(s) => s,
            Err(sqlx::Error::Database(e)) => {
                self.previous = None;
                return Ok(Outcome::Unavailable(format!("pg_stat_statements cannot be read: {}", e.message())));
            }
            Err(e) => return Err(e),
        };
        let Some((previous_ms, previous)) = self.previous.replace((ts_ms, current)) else {
            return Ok(Outcome::Baseline);
        };
        let current = &self.previous.as_ref().expect("just stored").1;
        let mut deltas = deltas(Some(&previous), current);
        deltas.retain(|d| keep(d, self.min_calls, self.min_time_seconds));
        let new_ids: Vec<i64> = {
            let mut ids: Vec<i64> =
                deltas.iter().map(|d| d.queryid).filter(|q| !self.known_texts.contains(q)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let texts = if new_ids.is_empty() { Vec::new() } else { self.texts(conn, &new_ids).await? };
        Ok(Outcome::Batch(StatementBatch { ts_ms, interval_ms: ts_ms - previous_ms, deltas, texts }))
    }

    async fn read(&self, conn: &mut PgConnection) -> Result<Snapshot, sqlx::Error> {
        let stats_reset_ms = if self.has_info {
            sqlx::query_scalar("SELECT (extract(epoch FROM stats_reset) * 1000)::int8 FROM pg_stat_statements_info")
                .fetch_one(&mut *conn)
                .await?
        } else {
            None
        };
        let rows = sqlx::query(&self.counters_sql).fetch_all(&mut *conn).await?;
        let mut entries = HashMap::with_capacity(rows.len());
        for row in rows {
            let key = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            let counters = StatementCounters {
                calls: row.try_get(6)?,
                total_time: row.try_get(7)?,
                rows: row.try_get(8)?,
                shared_blks_hit: row.try_get(9)?,
                shared_blks_read: row.try_get(10)?,
                shared_blks_dirtied: row.try_get(11)?,
                shared_blks_written: row.try_get(12)?,
                local_blks_hit: row.try_get(13)?,
                local_blks_read: row.try_get(14)?,
                local_blks_dirtied: row.try_get(15)?,
                local_blks_written: row.try_get(16)?,
                temp_blks_read: row.try_get(17)?,
                temp_blks_written: row.try_get(18)?,
                blk_read_time: row.try_get(19)?,
                blk_write_time: row.try_get(20)?,
                wal_bytes: row.try_get::<Option<i64>, _>(21)?.unwrap_or(0),
            };
            entries.insert(key, Entry { database: row.try_get(4)?, user: row.try_get(5)?, counters });
        }
        Ok(Snapshot { stats_reset_ms, entries })
    }

    /// Texts of `ids`, truncated. The text file is read only here, and only for new queryids.
    async fn texts(&mut self, conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT DISTINCT ON (queryid) queryid, left(query, $2) FROM pg_stat_statements(true) \
             WHERE queryid = ANY($1) AND query IS NOT NULL ORDER BY queryid",
        )
        .bind(ids)
        .bind(self.max_text)
        .fetch_all(&mut *conn)
        .await?;
        if self.known_texts.len() + rows.len() > MAX_KNOWN_TEXTS {
            self.known_texts.clear();
        }
        self.known_texts.extend(rows.iter().map(|(q, _)| *q));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(reset: Option<i64>, entries: &[(i64, i64, f64)]) -> Snapshot {
        let entries = entries
            .iter()
            .map(|&(queryid, calls, time)| {
                let counters = StatementCounters { calls, total_time: time, rows: calls * 2, ..Default::default() };
                ((1, 10, queryid, true), Entry { database: "db".into(), user: "u".into(), counters })
            })
            .collect();
        Snapshot { stats_reset_ms: reset, entries }
    }

    fn calls(deltas: &[StatementDelta]) -> Vec<(i64, i64)> {
        let mut v: Vec<(i64, i64)> = deltas.iter().map(|d| (d.queryid, d.counters.calls)).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn first_read_is_a_baseline() {
        assert!(deltas(None, &snapshot(None, &[(1, 5, 1.0)])).is_empty());
    }

    #[test]
    fn deltas_subtract_and_new_keys_count_from_zero() {
        let a = snapshot(None, &[(1, 5, 10.0), (2, 3, 1.0)]);
        let b = snapshot(None, &[(1, 8, 16.0), (2, 3, 1.0), (3, 4, 2.0)]);
        let d = deltas(Some(&a), &b);
        assert_eq!(calls(&d), [(1, 3), (3, 4)], "unchanged entry 2 is left out, new entry 3 counts from zero");
        let one = d.iter().find(|d| d.queryid == 1).unwrap();
        assert_eq!((one.counters.total_time, one.counters.rows), (6.0, 6));
    }

    #[test]
    fn eviction_or_reset_never_goes_negative() {
        // Entry 1 was evicted and came back with fewer calls: its current value is the delta.
        let a = snapshot(None, &[(1, 100, 50.0)]);
        let b = snapshot(None, &[(1, 7, 3.0)]);
        let d = deltas(Some(&a), &b);
        assert_eq!(calls(&d), [(1, 7)]);
        assert_eq!(d[0].counters.total_time, 3.0);
        // A reset seen through stats_reset counts from zero even when calls went up meanwhile.
        let c = snapshot(Some(1), &[(1, 9, 4.0)]);
        let e = snapshot(Some(2), &[(1, 12, 5.0)]);
        assert_eq!(calls(&deltas(Some(&c), &e)), [(1, 12)]);
        // A counter lagging within an entry is floored at zero.
        let mut f = snapshot(None, &[(1, 10, 5.0)]);
        let g = snapshot(None, &[(1, 11, 4.0)]);
        f.entries.values_mut().for_each(|e| e.counters.rows = 100);
        let d = deltas(Some(&f), &g);
        assert_eq!((d[0].counters.rows, d[0].counters.total_time), (0, 0.0));
    }

    #[test]
    fn rare_and_cheap_statements_are_filtered() {
        let delta = |calls, total_time| StatementDelta {
            dbid: 1,
            userid: 1,
            queryid: 1,
            toplevel: true,
            database: String::new(),
            user: String::new(),
            counters: StatementCounters { calls, total_time, ..Default::default() },
        };
        assert!(keep(&delta(2, 0.1), 2, 1), "called often enough");
        assert!(keep(&delta(1, 1500.0), 2, 1), "one call, but 1.5 s in total");
        assert!(!keep(&delta(1, 999.0), 2, 1), "rare and cheap");
        assert!(keep(&delta(1, 0.0), 0, 0), "filters of zero keep everything");
    }
}
