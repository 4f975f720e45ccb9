//! Instance activity each minute as metric samples (names in `mod.rs` docs): per-database and
//! background-writer counters as deltas over the interval, connection, cache, replication, WAL
//! and transaction gauges, and session averages accumulated from the ASH ticks in between.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::model::AshTick;
use crate::timeseries::Sample;

/// `pg_stat_database` counters, in the order of `DB_SQL`'s columns after `datname`.
const DB_COUNTERS: [(&str, Option<&str>); 14] = [
    ("pg.db.xact_commit", None),
    ("pg.db.xact_rollback", None),
    ("pg.db.blks_read", None),
    ("pg.db.blks_hit", None),
    ("pg.db.tup_returned", None),
    ("pg.db.tup_fetched", None),
    ("pg.db.tup_inserted", None),
    ("pg.db.tup_updated", None),
    ("pg.db.tup_deleted", None),
    ("pg.db.temp_files", None),
    ("pg.db.temp_bytes", Some("bytes")),
    ("pg.db.deadlocks", None),
    ("pg.db.blk_read_time", Some("ms")),
    ("pg.db.blk_write_time", Some("ms")),
];
const BLKS_READ: usize = 2;
const BLKS_HIT: usize = 3;

const DB_SQL: &str = "SELECT datname, xact_commit::float8, xact_rollback::float8, blks_read::float8, \
  blks_hit::float8, tup_returned::float8, tup_fetched::float8, tup_inserted::float8, tup_updated::float8, \
  tup_deleted::float8, temp_files::float8, temp_bytes::float8, deadlocks::float8, blk_read_time::float8, \
  blk_write_time::float8, numbackends::float8 FROM pg_stat_database WHERE datname IS NOT NULL";

const BGWRITER_COUNTERS: [(&str, Option<&str>); 9] = [
    ("pg.bgwriter.checkpoints_timed", None),
    ("pg.bgwriter.checkpoints_req", None),
    ("pg.bgwriter.checkpoint_write_time", Some("ms")),
    ("pg.bgwriter.checkpoint_sync_time", Some("ms")),
    ("pg.bgwriter.buffers_checkpoint", None),
    ("pg.bgwriter.buffers_clean", None),
    ("pg.bgwriter.buffers_backend", None),
    ("pg.bgwriter.buffers_backend_fsync", None),
    ("pg.bgwriter.buffers_alloc", None),
];

/// Before 17 one view has it all.
const BGWRITER_SQL: &str = "SELECT checkpoints_timed::float8, checkpoints_req::float8, \
  checkpoint_write_time::float8, checkpoint_sync_time::float8, buffers_checkpoint::float8, buffers_clean::float8, \
  buffers_backend::float8, buffers_backend_fsync::float8, buffers_alloc::float8 FROM pg_stat_bgwriter";
/// 17 moved checkpoints to `pg_stat_checkpointer` and dropped the backend counters (now in pg_stat_io).
const CHECKPOINTER_SQL: &str = "SELECT c.num_timed::float8, c.num_requested::float8, c.write_time::float8, \
  c.sync_time::float8, c.buffers_written::float8, b.buffers_clean::float8, NULL::float8, NULL::float8, \
  b.buffers_alloc::float8 FROM pg_stat_checkpointer c, pg_stat_bgwriter b";

/// Gauges of the instance; lag: a replica's distance to its last replay, a primary's worst standby.
const INSTANCE_SQL: &str = "SELECT \
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::float8, \
  current_setting('max_connections')::float8, \
  CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) \
       ELSE (SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication) END::float8, \
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE (pg_current_wal_lsn() - '0/0'::pg_lsn) END::float8, \
  coalesce((SELECT max(extract(epoch FROM clock_timestamp() - xact_start)) FROM pg_stat_activity \
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()), 0)::float8";

/// Metric samples of one instance at one time.
pub struct SampleSet<'a> {
    pub tenant_id: i64,
    pub resource: &'a str,
    pub ts: i64,
    pub samples: Vec<Sample>,
}

impl SampleSet<'_> {
    pub fn push(&mut self, metric: &str, label: Option<(&str, &str)>, unit: Option<&str>, value: f64) {
        let labels: BTreeMap<String, String> = label.map(|(k, v)| (k.to_string(), v.to_string())).into_iter().collect();
        self.samples.push(Sample {
            tenant_id: self.tenant_id,
            resource: self.resource.to_string(),
            metric: metric.to_string(),
            labels,
            unit: unit.map(str::to_string),
            ts: self.ts,
            value,
        });
    }
}

/// Session counts accumulated from ASH ticks between two activity cycles.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SessionStats {
    pub ticks: u64,
    pub active: u64,
    pub cpu: u64,
    pub blocked_max: u64,
}

impl SessionStats {
    pub fn record(&mut self, tick: &AshTick) {
        let active = tick.sessions.iter().filter(|s| s.state == "active");
        let (mut n, mut cpu) = (0, 0);
        for s in active {
            n += 1;
            cpu += u64::from(s.wait_event_type == "CPU");
        }
        let blocked = tick.sessions.iter().filter(|s| s.wait_event_type == "Lock").count() as u64;
        self.ticks += 1;
        self.active += n;
        self.cpu += cpu;
        self.blocked_max = self.blocked_max.max(blocked);
    }

    fn emit(&self, out: &mut SampleSet<'_>) {
        if self.ticks > 0 {
            out.push("pg.sessions.active", None, None, self.active as f64 / self.ticks as f64);
            out.push("pg.sessions.cpu", None, None, self.cpu as f64 / self.ticks as f64);
            out.push("pg.sessions.blocked", None, None, self.blocked_max as f64);
        }
    }
}

/// A counter's increase; a counter that went down was reset, so what it counts now is the increase.
pub fn counter_delta(previous: f64, current: f64) -> f64 {
    if current >= previous {
        current - previous
    } else {
        current
    }
}

/// Previous counters of one instance, kept across cycles (and reconnects) to compute deltas.
pub struct ActivitySampler {
    bgwriter_sql: &'static str,
    databases: HashMap<String, [f64; 14]>,
    bgwriter: Option<[Option<f64>; 9]>,
    wal: Option<f64>,
}

impl ActivitySampler {
    pub fn new(server_version_num: i64) -> ActivitySampler {
        let bgwriter_sql = if server_version_num >= 170_000 { CHECKPOINTER_SQL } else { BGWRITER_SQL };
        ActivitySampler { bgwriter_sql, databases: HashMap::new(), bgwriter: None, wal: None }
    }

    /// One cycle: reads the counters and appends samples to `out` (deltas from the second cycle on).
    pub async fn sample(
        &mut self,
        conn: &mut PgConnection,
        sessions: &SessionStats,
        out: &mut SampleSet<'_>,
    ) -> Result<(), sqlx::Error> {
        let rows = sqlx::query(DB_SQL).fetch_all(&mut *conn).await?;
        let (mut hit, mut read) = (0.0, 0.0);
        let mut seen = HashMap::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get(0)?;
            let mut now = [0.0; 14];
            for (i, v) in now.iter_mut().enumerate() {
                *v = row.try_get::<Option<f64>, _>(i + 1)?.unwrap_or(0.0);
            }
            let backends: f64 = row.try_get::<Option<f64>, _>(15)?.unwrap_or(0.0);
            out.push("pg.db.num_backends", Some(("database", &name)), None, backends);
            if let Some(before) = self.databases.get(&name) {
                for (i, (metric, unit)) in DB_COUNTERS.iter().enumerate() {
                    out.push(metric, Some(("database", &name)), *unit, counter_delta(before[i], now[i]));
                }
                hit += counter_delta(before[BLKS_HIT], now[BLKS_HIT]);
                read += counter_delta(before[BLKS_READ], now[BLKS_READ]);
            }
            seen.insert(name, now);
        }
        // Dropped databases are forgotten with the swap.
        self.databases = seen;
        if hit + read > 0.0 {
            out.push("pg.cache_hit_pct", None, Some("%"), 100.0 * hit / (hit + read));
        }

        let row = sqlx::query(self.bgwriter_sql).fetch_one(&mut *conn).await?;
        let mut now = [None; 9];
        for (i, v) in now.iter_mut().enumerate() {
            *v = row.try_get::<Option<f64>, _>(i)?;
        }
        if let Some(before) = self.bgwriter {
            for (i, (metric, unit)) in BGWRITER_COUNTERS.iter().enumerate() {
                if let (Some(b), Some(n)) = (before[i], now[i]) {
                    out.push(metric, None, *unit, counter_delta(b, n));
                }
            }
        }
        self.bgwriter = Some(now);

        let (connections, max_connections, lag, wal, longest): (f64, f64, Option<f64>, Option<f64>, f64) =
            sqlx::query_as(INSTANCE_SQL).fetch_one(&mut *conn).await?;
        out.push("pg.up", None, None, 1.0);
        out.push("pg.connections", None, None, connections);
        out.push("pg.max_connections", None, None, max_connections);
        if max_connections > 0.0 {
            out.push("pg.connections_pct", None, Some("%"), 100.0 * connections / max_connections);
        }
        if let Some(lag) = lag {
            out.push("pg.replication_lag_seconds", None, Some("s"), lag.max(0.0));
        }
        if let (Some(before), Some(now)) = (self.wal, wal) {
            out.push("pg.wal_bytes", None, Some("bytes"), counter_delta(before, now));
        }
        self.wal = wal;
        out.push("pg.longest_xact_seconds", None, Some("s"), longest);
        sessions.emit(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AshSession;

    #[test]
    fn counters_that_went_down_were_reset() {
        assert_eq!(counter_delta(10.0, 15.0), 5.0);
        assert_eq!(counter_delta(10.0, 3.0), 3.0);
    }

    #[test]
    fn session_stats_average_active_and_cpu_and_keep_the_worst_blocking() {
        let s = |state: &str, wait: &str| AshSession {
            pid: 1,
            backend_start_ms: 0,
            state: state.into(),
            wait_event_type: wait.into(),
            wait_event: String::new(),
            blocking_pids: vec![],
            query_id: 0,
            database: String::new(),
            user: String::new(),
            application: String::new(),
            client: String::new(),
            backend_type: String::new(),
            command: String::new(),
            query_start_ms: None,
            xact_start_ms: None,
        };
        let mut stats = SessionStats::default();
        stats.record(&AshTick {
            ts_ms: 0,
            sessions: vec![s("active", "CPU"), s("active", "Lock"), s("idle in transaction", "")],
        });
        stats.record(&AshTick { ts_ms: 1, sessions: vec![] });
        let mut out = SampleSet { tenant_id: 1, resource: "r", ts: 5, samples: vec![] };
        stats.emit(&mut out);
        let got: Vec<(&str, f64)> = out.samples.iter().map(|s| (s.metric.as_str(), s.value)).collect();
        assert_eq!(got, [("pg.sessions.active", 1.0), ("pg.sessions.cpu", 0.5), ("pg.sessions.blocked", 1.0)]);
    }
}
