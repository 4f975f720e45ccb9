//! Table and index activity (when the instance's `table_monitoring` is on), hourly by default:
//! one connection per database in turn, the tables counted first so a database with more than
//! `[sampler] max_tables` is skipped (and reported) instead of producing a huge read.

use std::collections::HashMap;

use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Connection, Row};

use super::conn::{self, Target};
use crate::model::{IndexActivity, RelationBatch, TableActivity};

const TABLES_SQL: &str = "SELECT s.schemaname, s.relname, s.relid::int8, \
  CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'm' THEN 'materialized view' \
    WHEN 't' THEN 'toast' ELSE 'table' END, \
  pg_table_size(s.relid), c.relpages::int8, c.reltuples::float8, \
  (extract(epoch FROM s.last_autovacuum) * 1000)::int8, (extract(epoch FROM s.last_autoanalyze) * 1000)::int8, \
  coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0), coalesce(s.idx_tup_fetch, 0), \
  s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, coalesce(io.heap_blks_read, 0), \
  coalesce(io.heap_blks_hit, 0), coalesce(io.idx_blks_read, 0), coalesce(io.idx_blks_hit, 0), \
  coalesce(io.toast_blks_read, 0), coalesce(io.toast_blks_hit, 0), coalesce(io.tidx_blks_read, 0), \
  coalesce(io.tidx_blks_hit, 0), s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count \
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
  LEFT JOIN pg_statio_user_tables io ON io.relid = s.relid";
/// Index of the first counter column of `TABLES_SQL`; there are `TABLE_COUNTERS` of them.
const TABLE_FIRST_COUNTER: usize = 9;
const TABLE_COUNTERS: usize = 20;

const INDEXES_SQL: &str = "SELECT s.schemaname, s.relname, s.indexrelname, s.indexrelid::int8, \
  c.relpages::int8, pg_relation_size(s.indexrelid), s.idx_scan, s.idx_tup_read, s.idx_tup_fetch, \
  coalesce(io.idx_blks_read, 0), coalesce(io.idx_blks_hit, 0) \
  FROM pg_stat_user_indexes s JOIN pg_class c ON c.oid = s.indexrelid \
  LEFT JOIN pg_statio_user_indexes io ON io.indexrelid = s.indexrelid";
const INDEX_FIRST_COUNTER: usize = 6;
const INDEX_COUNTERS: usize = 5;

/// Previous counters per `(database, oid)`, kept across cycles.
#[derive(Default)]
pub struct RelationSampler {
    tables: HashMap<(String, i64), [i64; TABLE_COUNTERS]>,
    indexes: HashMap<(String, i64), [i64; INDEX_COUNTERS]>,
    previous_ms: Option<i64>,
}

/// Per-row deltas: a row whose counters went down was reset, so its current values are the delta.
fn deltas<const N: usize>(before: Option<&[i64; N]>, now: &[i64; N]) -> [i64; N] {
    match before {
        Some(before) if before.iter().zip(now).all(|(b, n)| b <= n) => {
            let mut out = [0; N];
            for (o, (b, n)) in out.iter_mut().zip(before.iter().zip(now)) {
                *o = n - b;
            }
            out
        }
        _ => *now,
    }
}

fn counters<const N: usize>(row: &PgRow, first: usize) -> Result<[i64; N], sqlx::Error> {
    let mut out = [0; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = row.try_get::<Option<i64>, _>(first + i)?.unwrap_or(0);
    }
    Ok(out)
}

impl RelationSampler {
    /// One cycle over every database that accepts connections. The first cycle is a baseline
    /// (`None`); a database's relations seen for the first time are baselined, not reported.
    pub async fn sample(
        &mut self,
        admin: &mut PgConnection,
        target: &Target,
        max_tables: u64,
        ts_ms: i64,
    ) -> Result<Option<RelationBatch>, sqlx::Error> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate \
             AND has_database_privilege(datname, 'CONNECT') ORDER BY datname",
        )
        .fetch_all(&mut *admin)
        .await?;
        let mut batch =
            RelationBatch { ts_ms, interval_ms: 0, tables: vec![], indexes: vec![], skipped_databases: vec![] };
        let (mut tables, mut indexes) = (HashMap::new(), HashMap::new());
        for db in names {
            let mut conn = match conn::connect(target, &db).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(database = %db, error = %e, "table monitoring: cannot connect");
                    continue;
                }
            };
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_user_tables").fetch_one(&mut conn).await?;
            if count as u64 > max_tables {
                batch.skipped_databases.push(db);
                let _ = conn.close().await;
                continue;
            }
            for row in sqlx::query(TABLES_SQL).fetch_all(&mut conn).await? {
                let key = (db.clone(), row.try_get::<i64, _>(2)?);
                let now: [i64; TABLE_COUNTERS] = counters(&row, TABLE_FIRST_COUNTER)?;
                if let Some(before) = self.tables.get(&key) {
                    batch.tables.push(table(&db, &row, &deltas(Some(before), &now))?);
                }
                tables.insert(key, now);
            }
            for row in sqlx::query(INDEXES_SQL).fetch_all(&mut conn).await? {
                let key = (db.clone(), row.try_get::<i64, _>(3)?);
                let now: [i64; INDEX_COUNTERS] = counters(&row, INDEX_FIRST_COUNTER)?;
                if let Some(before) = self.indexes.get(&key) {
                    batch.indexes.push(index(&db, &row, &deltas(Some(before), &now))?);
                }
                indexes.insert(key, now);
            }
            let _ = conn.close().await;
        }
        self.tables = tables;
        self.indexes = indexes;
        let Some(previous_ms) = self.previous_ms.replace(ts_ms) else { return Ok(None) };
        batch.interval_ms = ts_ms - previous_ms;
        Ok(Some(batch))
    }
}

fn table(db: &str, row: &PgRow, d: &[i64; TABLE_COUNTERS]) -> Result<TableActivity, sqlx::Error> {
    Ok(TableActivity {
        database: db.to_string(),
        schema: row.try_get(0)?,
        table: row.try_get(1)?,
        relid: row.try_get(2)?,
        relkind: row.try_get(3)?,
        size_bytes: row.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
        relpages: row.try_get(5)?,
        reltuples: row.try_get(6)?,
        last_autovacuum_ms: row.try_get(7)?,
        last_autoanalyze_ms: row.try_get(8)?,
        seq_scan: d[0],
        seq_tup_read: d[1],
        idx_scan: d[2],
        idx_tup_fetch: d[3],
        n_tup_ins: d[4],
        n_tup_upd: d[5],
        n_tup_del: d[6],
        n_tup_hot_upd: d[7],
        heap_blks_read: d[8],
        heap_blks_hit: d[9],
        idx_blks_read: d[10],
        idx_blks_hit: d[11],
        toast_blks_read: d[12],
        toast_blks_hit: d[13],
        tidx_blks_read: d[14],
        tidx_blks_hit: d[15],
        vacuum_count: d[16],
        autovacuum_count: d[17],
        analyze_count: d[18],
        autoanalyze_count: d[19],
    })
}

fn index(db: &str, row: &PgRow, d: &[i64; INDEX_COUNTERS]) -> Result<IndexActivity, sqlx::Error> {
    Ok(IndexActivity {
        database: db.to_string(),
        schema: row.try_get(0)?,
        table: row.try_get(1)?,
        index: row.try_get(2)?,
        relpages: row.try_get(4)?,
        size_bytes: row.try_get::<Option<i64>, _>(5)?.unwrap_or(0),
        idx_scan: d[0],
        idx_tup_read: d[1],
        idx_tup_fetch: d[2],
        idx_blks_read: d[3],
        idx_blks_hit: d[4],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_deltas_restart_from_the_current_value_after_a_reset() {
        assert_eq!(deltas(Some(&[1, 5]), &[4, 9]), [3, 4]);
        assert_eq!(deltas(Some(&[10, 5]), &[2, 9]), [2, 9]);
        assert_eq!(deltas(None, &[2, 9]), [2, 9]);
    }
}
