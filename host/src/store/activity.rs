//! The sampler's other data: statement deltas (raw and hourly) and texts, table and index
//! activity, the latest inventory, lock snapshots, retention, and the metric-store reads the
//! workload API needs. Counter columns come from `store::columns`, so every counter is
//! inserted and summed by the same generic statements.

use sqlx::{QueryBuilder, Row};

use super::ash::push_ids;
use super::{on_pool, partitions, Store, StoreResult};
use crate::store::columns::{self, is_gauge};

/// One statement key's counters, in `columns::STATEMENT` order.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRow {
    pub database_id: i64,
    pub user_id: i64,
    pub queryid: i64,
    pub toplevel: bool,
    pub values: [f64; 16],
}

/// Summed counters of a group of statement rows (`user_id`/`queryid` are 0 when not grouped by them).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementSum {
    pub instance_id: i64,
    pub database_id: i64,
    pub user_id: i64,
    pub queryid: i64,
    pub values: Vec<f64>,
}

/// How statement sums are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementGrouping {
    /// Per instance, database, user and queryid (top queries, one query).
    Query,
    /// Per instance and database (queries summary).
    Database,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatementText {
    pub instance_id: i64,
    pub queryid: i64,
    pub md5: String,
    pub command: String,
    pub text: String,
}

/// A table or index row with its strings interned; `values` in `columns::TABLE`/`INDEX` order.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationRow {
    pub database_id: i64,
    pub schema_id: i64,
    pub table_id: i64,
    /// Index name id (indexes only).
    pub index_id: i64,
    pub relid: i64,
    pub relkind_id: i64,
    pub last_autovacuum: Option<i64>,
    pub last_autoanalyze: Option<i64>,
    pub values: Vec<f64>,
}

/// Relation activity over a range: counters summed, gauges at their maximum.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationSum {
    pub instance_id: i64,
    pub row: RelationRow,
}

/// The latest inventory of an instance as stored (JSON maps kept as text).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InventoryRow {
    pub instance_id: i64,
    pub ts: i64,
    pub version: String,
    pub version_full: String,
    pub server_version_num: i64,
    pub start_time: i64,
    pub is_replica: bool,
    pub max_connections: i64,
    /// JSON object database → bytes.
    pub databases: String,
    /// JSON object setting → [value, unit].
    pub settings: String,
    pub statements_available: bool,
    pub statements_error: Option<String>,
}

/// A point of the metric store with its series identity.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NamedPoint {
    pub resource: String,
    pub metric: String,
    pub labels: String,
    pub ts: i64,
    pub value: f64,
}

/// Rows per multi-row INSERT: at most 31 parameters each keeps far below SQLite's limit.
const CHUNK: usize = 500;

fn sums(names: &[&str]) -> String {
    names
        .iter()
        .map(|c| if is_gauge(c) { format!("MAX({c})") } else { format!("SUM({c})") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `StatementSum` from a row of keys then `columns::STATEMENT` sums, from column `at`.
fn statement_sum<R: Row>(row: &R, at: usize) -> Result<StatementSum, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<f64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StatementSum {
        instance_id: row.try_get::<i64, _>(at)?,
        database_id: row.try_get::<i64, _>(at + 1)?,
        user_id: row.try_get::<i64, _>(at + 2)?,
        queryid: row.try_get::<i64, _>(at + 3)?,
        values: (at + 4..at + 4 + columns::STATEMENT.len())
            .map(|i| row.try_get::<Option<f64>, _>(i).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()?,
    })
}

impl Store {
    /// Stores one statements cycle of an instance (rows with the same key and time are kept once).
    pub async fn insert_statements(&self, instance_id: i64, ts: i64, rows: &[StatementRow]) -> StoreResult<()> {
        let head = format!(
            "INSERT INTO statement_deltas (instance_id, resolution, ts, database_id, user_id, queryid, toplevel, {}) ",
            columns::STATEMENT.join(", ")
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(CHUNK) {
                let mut q = QueryBuilder::new(&head);
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(instance_id).push_bind(0_i64).push_bind(ts).push_bind(r.database_id)
                        .push_bind(r.user_id).push_bind(r.queryid).push_bind(r.toplevel);
                    for v in r.values {
                        b.push_bind(v);
                    }
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Records texts of statements (the first text seen for a queryid is kept).
    pub async fn upsert_statement_texts(&self, instance_id: i64, now: i64, texts: &[StatementText]) -> StoreResult<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for t in texts {
                sqlx::query(
                    "INSERT INTO statement_texts (instance_id, queryid, md5, command, text, seen_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (instance_id, queryid) DO NOTHING",
                )
                .bind(instance_id).bind(t.queryid).bind(&t.md5).bind(&t.command).bind(&t.text).bind(now)
                .execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Statement counters summed per group over `[from, to]` at `resolution` (0 raw, 3600 hourly),
    /// optionally for one queryid.
    pub async fn statement_sums(
        &self,
        instance_ids: &[i64],
        resolution: i64,
        from: i64,
        to: i64,
        grouping: StatementGrouping,
        queryid: Option<i64>,
    ) -> StoreResult<Vec<StatementSum>> {
        self.statement_sums_over(instance_ids, &[(resolution, from, to.saturating_add(1))], grouping, queryid).await
    }

    /// Statement counters summed per group over `spans`, each `(resolution, from, to)` with `to`
    /// excluded: whole hours from the hourly rollups and the rest raw add up to one range's sums
    /// at a fraction of the rows read.
    pub async fn statement_sums_over(
        &self,
        instance_ids: &[i64],
        spans: &[(i64, i64, i64)],
        grouping: StatementGrouping,
        queryid: Option<i64>,
    ) -> StoreResult<Vec<StatementSum>> {
        if instance_ids.is_empty() || spans.is_empty() {
            return Ok(Vec::new());
        }
        let keys = match grouping {
            StatementGrouping::Query => "instance_id, database_id, user_id, queryid",
            StatementGrouping::Database => "instance_id, database_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT)",
        };
        let group = match grouping {
            StatementGrouping::Query => "instance_id, database_id, user_id, queryid",
            StatementGrouping::Database => "instance_id, database_id",
        };
        let head = format!("SELECT {keys}, {} FROM statement_deltas WHERE (", sums(&columns::STATEMENT));
        on_pool!(self, pool => {
            let mut q = QueryBuilder::new(&head);
            // One index range per span (SQLite and PostgreSQL both plan an OR of ranges so).
            for (i, (resolution, from, to)) in spans.iter().enumerate() {
                q.push(if i == 0 { "(resolution = " } else { " OR (resolution = " });
                q.push_bind(*resolution).push(" AND ts >= ").push_bind(*from).push(" AND ts < ").push_bind(*to).push(")");
            }
            q.push(")");
            if let Some(id) = queryid {
                q.push(" AND queryid = ").push_bind(id);
            }
            q.push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(format!(") GROUP BY {group}"));
            let rows = q.build().fetch_all(pool).await?;
            rows.iter().map(|row| statement_sum(row, 0)).collect::<Result<Vec<_>, sqlx::Error>>()
        })
        .map_err(Into::into)
    }

    /// The hours of `[from, to)` that have hourly statement rollups, as `(instance_id, hour)`.
    pub async fn statement_rollup_hours(
        &self,
        instance_ids: &[i64],
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<(i64, i64)>> {
        if instance_ids.is_empty() || from >= to {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT DISTINCT instance_id, ts FROM statement_deltas WHERE resolution = 3600 AND ts >= ");
            q.push_bind(from).push(" AND ts < ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") ORDER BY instance_id, ts");
            q.build_query_as().fetch_all(pool).await
        })?)
    }

    /// `(instance_id, database_id, half_micros, calls)` of every row with calls over `[from, to]`
    /// at `resolution`, where `half_micros` is ⌊2000 × total_time / calls⌋: the mean time per call
    /// in half microseconds, enough to round it to the microsecond exactly as
    /// `(mean * 1000.0).round()` would (the queries summary's percentiles, shown to the µs).
    /// The rows come back joined into one text of integers per instance, in index order (no
    /// sort): fetching each of a busy day's ~300k rows on its own costs seconds on SQLite, and
    /// writing floats as text costs more than integers.
    pub async fn statement_call_times(
        &self,
        instance_ids: &[i64],
        resolution: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<(i64, i64, i64, f64)>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        // A floor both dialects agree on: SQLite's CAST truncates, PostgreSQL's rounds.
        let x = "(total_time / calls * 2000.0)";
        let half_micros = format!("CAST({x} AS BIGINT) - CASE WHEN CAST({x} AS BIGINT) > {x} THEN 1 ELSE 0 END");
        let head = format!(
            "SELECT instance_id, string_agg(CAST(database_id AS TEXT) || ' ' || CAST({half_micros} AS TEXT) || ' ' || \
             CAST(CAST(calls AS BIGINT) AS TEXT), ' ') FROM statement_deltas WHERE calls > 0 AND resolution = "
        );
        let rows: Vec<(i64, Option<String>)> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(&head);
            q.push_bind(resolution).push(" AND ts >= ").push_bind(from).push(" AND ts <= ").push_bind(to);
            q.push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") GROUP BY instance_id");
            q.build_query_as().fetch_all(pool).await
        })?;
        let mut out = Vec::new();
        for (instance_id, joined) in rows {
            let mut numbers = joined.as_deref().unwrap_or("").split(' ').map(str::parse::<i64>);
            while let (Some(db), Some(key), Some(calls)) = (numbers.next(), numbers.next(), numbers.next()) {
                let (Ok(db), Ok(key), Ok(calls)) = (db, key, calls) else { continue };
                out.push((instance_id, db, key, calls as f64));
            }
        }
        Ok(out)
    }

    /// Known texts of these instances' statements.
    pub async fn statement_texts(&self, instance_ids: &[i64]) -> StoreResult<Vec<StatementText>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64, String, String, String)> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT instance_id, queryid, md5, command, text FROM statement_texts WHERE instance_id IN (",
            );
            push_ids(&mut q, instance_ids);
            q.push(")");
            q.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(instance_id, queryid, md5, command, text)| StatementText {
                instance_id,
                queryid,
                md5,
                command,
                text,
            })
            .collect())
    }

    /// (Re)computes hourly statement rollups of the hours starting in `[from, to)`. Idempotent.
    pub async fn roll_up_statement_hours(&self, from: i64, to: i64) -> StoreResult<u64> {
        let names = columns::STATEMENT.join(", ");
        let sql = format!(
            "INSERT INTO statement_deltas (instance_id, resolution, ts, database_id, user_id, queryid, toplevel, {names}) \
             SELECT instance_id, 3600, (ts / 3600000) * 3600000, database_id, user_id, queryid, toplevel, {} \
             FROM statement_deltas WHERE resolution = 0 AND ts >= $1 AND ts < $2 \
             GROUP BY instance_id, (ts / 3600000) * 3600000, database_id, user_id, queryid, toplevel \
             ON CONFLICT (instance_id, resolution, ts, database_id, user_id, queryid, toplevel) DO UPDATE SET {}",
            sums(&columns::STATEMENT),
            columns::STATEMENT.iter().map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
        );
        Ok(
            on_pool!(self, pool => sqlx::query(&sql).bind(from).bind(to).execute(pool).await.map(|r| r.rows_affected()))?,
        )
    }

    /// Stores one tables/indexes cycle of an instance.
    pub async fn insert_relations(
        &self,
        instance_id: i64,
        ts: i64,
        tables: &[RelationRow],
        indexes: &[RelationRow],
    ) -> StoreResult<()> {
        let table_head = format!(
            "INSERT INTO table_activity (instance_id, ts, database_id, schema_id, table_id, relid, relkind_id, \
             last_autovacuum, last_autoanalyze, {}) ",
            columns::TABLE.join(", ")
        );
        let index_head = format!(
            "INSERT INTO index_activity (instance_id, ts, database_id, schema_id, table_id, index_id, {}) ",
            columns::INDEX.join(", ")
        );
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in tables.chunks(CHUNK) {
                let mut q = QueryBuilder::new(&table_head);
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(instance_id).push_bind(ts).push_bind(r.database_id).push_bind(r.schema_id)
                        .push_bind(r.table_id).push_bind(r.relid).push_bind(r.relkind_id)
                        .push_bind(r.last_autovacuum).push_bind(r.last_autoanalyze);
                    for v in &r.values {
                        b.push_bind(*v);
                    }
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            for chunk in indexes.chunks(CHUNK) {
                let mut q = QueryBuilder::new(&index_head);
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(instance_id).push_bind(ts).push_bind(r.database_id).push_bind(r.schema_id)
                        .push_bind(r.table_id).push_bind(r.index_id);
                    for v in &r.values {
                        b.push_bind(*v);
                    }
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Table (or, with `indexes`, index) activity over `[from, to]` per relation.
    pub async fn relation_sums(
        &self,
        instance_ids: &[i64],
        from: i64,
        to: i64,
        indexes: bool,
    ) -> StoreResult<Vec<RelationSum>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let head = if indexes {
            format!(
                "SELECT instance_id, database_id, schema_id, table_id, index_id, CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
                 CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), {} FROM index_activity WHERE ts >= ",
                sums(&columns::INDEX)
            )
        } else {
            format!(
                "SELECT instance_id, database_id, schema_id, table_id, CAST(0 AS BIGINT), MAX(relid), MAX(relkind_id), \
                 MAX(last_autovacuum), MAX(last_autoanalyze), {} FROM table_activity WHERE ts >= ",
                sums(&columns::TABLE)
            )
        };
        let group = if indexes {
            "instance_id, database_id, schema_id, table_id, index_id"
        } else {
            "instance_id, database_id, schema_id, table_id"
        };
        let width = if indexes { columns::INDEX.len() } else { columns::TABLE.len() };
        on_pool!(self, pool => {
            let mut q = QueryBuilder::new(&head);
            q.push_bind(from).push(" AND ts <= ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(format!(") GROUP BY {group}"));
            let rows = q.build().fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(RelationSum {
                        instance_id: row.try_get::<i64, _>(0)?,
                        row: RelationRow {
                            database_id: row.try_get::<i64, _>(1)?,
                            schema_id: row.try_get::<i64, _>(2)?,
                            table_id: row.try_get::<i64, _>(3)?,
                            index_id: row.try_get::<i64, _>(4)?,
                            relid: row.try_get::<Option<i64>, _>(5)?.unwrap_or_default(),
                            relkind_id: row.try_get::<Option<i64>, _>(6)?.unwrap_or_default(),
                            last_autovacuum: row.try_get::<Option<i64>, _>(7)?,
                            last_autoanalyze: row.try_get::<Option<i64>, _>(8)?,
                            values: (9..9 + width)
                                .map(|i| row.try_get::<Option<f64>, _>(i).map(Option::unwrap_or_default))
                                .collect::<Result<_, _>>()?,
                        },
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })
        .map_err(Into::into)
    }

    pub async fn upsert_inventory(&self, inv: &InventoryRow) -> StoreResult<()> {
        let sql =
            "INSERT INTO instance_inventory (instance_id, ts, version, version_full, server_version_num, start_time, \
                   is_replica, max_connections, databases, settings, statements_available, statements_error) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (instance_id) DO UPDATE SET \
                   ts = excluded.ts, version = excluded.version, version_full = excluded.version_full, \
                   server_version_num = excluded.server_version_num, start_time = excluded.start_time, \
                   is_replica = excluded.is_replica, max_connections = excluded.max_connections, \
                   databases = excluded.databases, settings = excluded.settings, \
                   statements_available = excluded.statements_available, statements_error = excluded.statements_error";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(inv.instance_id).bind(inv.ts).bind(&inv.version).bind(&inv.version_full).bind(inv.server_version_num)
            .bind(inv.start_time).bind(inv.is_replica).bind(inv.max_connections).bind(&inv.databases)
            .bind(&inv.settings).bind(inv.statements_available).bind(&inv.statements_error)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn inventories(&self, instance_ids: &[i64]) -> StoreResult<Vec<InventoryRow>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT instance_id, ts, version, version_full, server_version_num, start_time, is_replica, max_connections, \
                 databases, settings, statements_available, statements_error FROM instance_inventory WHERE instance_id IN (",
            );
            push_ids(&mut q, instance_ids);
            q.push(")");
            q.build_query_as::<InventoryRow>().fetch_all(pool).await
        })?)
    }

    pub async fn insert_lock_snapshot(&self, instance_id: i64, ts: i64, roots_json: &str) -> StoreResult<()> {
        let sql = "INSERT INTO lock_snapshots (instance_id, ts, roots) VALUES ($1, $2, $3) \
                   ON CONFLICT (instance_id, ts) DO UPDATE SET roots = excluded.roots";
        on_pool!(self, pool => sqlx::query(sql).bind(instance_id).bind(ts).bind(roots_json).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// `(instance_id, ts, roots JSON)` of lock snapshots in `[from, to]`, oldest first.
    pub async fn lock_snapshots(
        &self,
        instance_ids: &[i64],
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<(i64, i64, String)>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT instance_id, ts, roots FROM lock_snapshots WHERE ts >= ");
            q.push_bind(from).push(" AND ts <= ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") ORDER BY ts");
            q.build_query_as().fetch_all(pool).await
        })?)
    }

    /// Deletes sampler data past retention: raw data before `raw_before`, minute rollups before
    /// `minute_before`, hourly rollups before `hour_before`. Returns the rows deleted.
    ///
    /// On PostgreSQL the partitioned tables lose whole partitions (`partitions::drop_expired`,
    /// their rows counted as it says) and only their default partitions are purged row by row:
    /// a partition straddling a cutoff keeps its older rows until its whole range is past it.
    pub async fn purge_activity(&self, raw_before: i64, minute_before: i64, hour_before: i64) -> StoreResult<u64> {
        let cutoffs = partitions::Cutoffs { raw: raw_before, minute: minute_before, hour: hour_before };
        let mut deleted = partitions::drop_expired(self, cutoffs).await?;
        let statements = [
            ("ash_chunks", "end_ts < $1", raw_before),
            ("ash_gaps", "end_ts < $1", raw_before),
            ("statement_deltas", "resolution = 0 AND ts < $1", raw_before),
            ("table_activity", "ts < $1", raw_before),
            ("index_activity", "ts < $1", raw_before),
            ("lock_snapshots", "ts < $1", raw_before),
            ("ash_rollups", "resolution = 60 AND bucket_ts < $1", minute_before),
            ("ash_rollups", "resolution = 3600 AND bucket_ts < $1", hour_before),
            ("statement_deltas", "resolution = 3600 AND ts < $1", hour_before),
        ];
        for (table, filter, before) in statements {
            let table = self.default_partition(table).await?.unwrap_or_else(|| table.to_string());
            let sql = format!("DELETE FROM {table} WHERE {filter}");
            deleted +=
                on_pool!(self, pool => sqlx::query(&sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))?;
        }
        Ok(deleted)
    }

    /// Points of the named metrics of these resources in `[from, to]`, oldest first.
    pub async fn named_points(
        &self,
        tenant_id: i64,
        resources: &[String],
        metrics: &[&str],
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<NamedPoint>> {
        if resources.is_empty() || metrics.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT s.resource, s.metric, s.labels, p.ts, p.value FROM metric_points p \
                 JOIN metric_series s ON s.id = p.series_id WHERE s.tenant_id = ",
            );
            q.push_bind(tenant_id).push(" AND p.ts >= ").push_bind(from).push(" AND p.ts <= ").push_bind(to);
            q.push(" AND s.resource IN (");
            let mut list = q.separated(", ");
            for r in resources {
                list.push_bind(r.as_str());
            }
            q.push(") AND s.metric IN (");
            let mut list = q.separated(", ");
            for m in metrics {
                list.push_bind(*m);
            }
            q.push(") ORDER BY p.ts");
            q.build_query_as::<NamedPoint>().fetch_all(pool).await
        })?)
    }

    /// Series names of a resource whose metric starts with `prefix` (host metrics of a server).
    pub async fn metric_names_with_prefix(
        &self,
        tenant_id: i64,
        resource: &str,
        prefix: &str,
    ) -> StoreResult<Vec<String>> {
        let sql = "SELECT DISTINCT metric FROM metric_series WHERE tenant_id = $1 AND resource = $2 AND metric LIKE $3";
        let like = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
        let sql = format!("{sql} ESCAPE '\\'");
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, String>(&sql).bind(tenant_id).bind(resource).bind(&like).fetch_all(pool).await)?,
        )
    }
}
