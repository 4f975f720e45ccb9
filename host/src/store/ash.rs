//! Interned strings of the sampler's data and Active Session History: compact chunks (encoded by
//! `activity::codec`, stored opaque here) and the per-bucket wait-event rollups.

use sqlx::{QueryBuilder, Row};

use super::partitions::ASH_CHUNK_SPAN_MAX_MS;
use super::{on_pool, Store, StoreResult};

/// One stored ASH chunk (`data` as encoded by `activity::codec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAshChunk {
    pub instance_id: i64,
    pub start_ts: i64,
    pub end_ts: i64,
    pub ticks: i64,
    pub sessions: i64,
    pub data: Vec<u8>,
}

/// `instance_id, start_ts, end_ts, ticks, sessions, data` as selected from `ash_chunks` or `ash_tail`.
pub(super) type ChunkRow = (i64, i64, i64, i64, i64, Vec<u8>);

impl From<ChunkRow> for StoredAshChunk {
    fn from((instance_id, start_ts, end_ts, ticks, sessions, data): ChunkRow) -> StoredAshChunk {
        StoredAshChunk { instance_id, start_ts, end_ts, ticks, sessions, data }
    }
}

/// Session samples of one wait event in one bucket. The row with `wait_event_type == 0` and
/// `wait_event == 0` carries the bucket's totals: all sessions and the number of ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AshRollupRow {
    pub instance_id: i64,
    pub resolution: i64,
    pub bucket_ts: i64,
    pub wait_event_type: i64,
    pub wait_event: i64,
    pub sessions: i64,
    pub ticks: i64,
}

/// Rows per multi-row INSERT (7 parameters each stays below SQLite's parameter limit).
const CHUNK: usize = 1000;

/// Appends `id, id, …` as bound parameters (the caller writes the surrounding `IN (` and `)`).
pub(super) fn push_ids<'a, DB: sqlx::Database>(q: &mut QueryBuilder<'a, DB>, ids: &'a [i64])
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
}

impl Store {
    /// Ids of `values` in `activity_strings`, inserting the ones never seen.
    pub async fn intern_strings(&self, values: &[&str]) -> StoreResult<Vec<(String, i64)>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in values.chunks(CHUNK) {
                let mut q = QueryBuilder::new("INSERT INTO activity_strings (value) ");
                q.push_values(chunk, |mut row, v| {
                    row.push_bind(*v);
                });
                q.push(" ON CONFLICT (value) DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            let mut found = Vec::with_capacity(values.len());
            for chunk in values.chunks(CHUNK) {
                let mut q = QueryBuilder::new("SELECT value, id FROM activity_strings WHERE value IN (");
                let mut list = q.separated(", ");
                for v in chunk {
                    list.push_bind(*v);
                }
                q.push(")");
                let rows = q.build().fetch_all(&mut *tx).await?;
                for row in rows {
                    found.push((row.try_get::<String, _>(0)?, row.try_get::<i64, _>(1)?));
                }
            }
            tx.commit().await?;
            Ok(found)
        })
    }

    /// The strings behind `ids` (unknown ids are simply absent).
    pub async fn strings_by_id(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let rows: Vec<(i64, String)> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new("SELECT id, value FROM activity_strings WHERE id IN (");
                push_ids(&mut q, chunk);
                q.push(")");
                q.build_query_as().fetch_all(pool).await
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Stores chunks and adds their rollup rows, in one transaction that also deletes the tail
    /// segments the chunks now hold.
    pub async fn write_ash(&self, chunks: &[StoredAshChunk], rollups: &[AshRollupRow]) -> StoreResult<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for c in chunks {
                sqlx::query(
                    "INSERT INTO ash_chunks (instance_id, start_ts, end_ts, ticks, sessions, data) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (instance_id, start_ts) DO NOTHING",
                )
                .bind(c.instance_id).bind(c.start_ts).bind(c.end_ts).bind(c.ticks).bind(c.sessions).bind(&c.data)
                .execute(&mut *tx).await?;
                // The tail segments of this chunk are in it now (see `ash_tail`).
                sqlx::query("DELETE FROM ash_tail WHERE instance_id = $1 AND start_ts <= $2")
                    .bind(c.instance_id).bind(c.end_ts)
                    .execute(&mut *tx).await?;
            }
            for chunk in rollups.chunks(CHUNK) {
                let mut q = QueryBuilder::new(
                    "INSERT INTO ash_rollups (instance_id, resolution, bucket_ts, wait_event_type, wait_event, sessions, ticks) ",
                );
                q.push_values(chunk, |mut row, r| {
                    row.push_bind(r.instance_id).push_bind(r.resolution).push_bind(r.bucket_ts)
                        .push_bind(r.wait_event_type).push_bind(r.wait_event).push_bind(r.sessions).push_bind(r.ticks);
                });
                // Two chunks may share a bucket (a flush mid-minute): their counts add up.
                q.push(
                    " ON CONFLICT (instance_id, resolution, bucket_ts, wait_event_type, wait_event) DO UPDATE SET \
                     sessions = ash_rollups.sessions + excluded.sessions, ticks = ash_rollups.ticks + excluded.ticks",
                );
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Chunks of these instances overlapping `[from, to]`, oldest first.
    pub async fn ash_chunks(&self, instance_ids: &[i64], from: i64, to: i64) -> StoreResult<Vec<StoredAshChunk>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The bound on start_ts changes no answer (a chunk ends within the span of its start)
        // and lets PostgreSQL read only the partitions of the range.
        let earliest_start = from.saturating_sub(ASH_CHUNK_SPAN_MAX_MS);
        let rows: Vec<ChunkRow> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT instance_id, start_ts, end_ts, ticks, sessions, data FROM ash_chunks WHERE end_ts >= ",
            );
            q.push_bind(from).push(" AND start_ts >= ").push_bind(earliest_start);
            q.push(" AND start_ts <= ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") ORDER BY start_ts, instance_id");
            q.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(StoredAshChunk::from).collect())
    }

    /// `(instance_id, start_ts)` of the stored chunks of these instances starting in `[from, to]`
    /// (the keys only: how a reader of fresh ticks learns which of their chunks are stored).
    pub async fn ash_chunk_starts(&self, instance_ids: &[i64], from: i64, to: i64) -> StoreResult<Vec<(i64, i64)>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64)> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT instance_id, start_ts FROM ash_chunks WHERE start_ts >= ");
            q.push_bind(from).push(" AND start_ts <= ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(")");
            q.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows)
    }

    /// Rollup rows of one resolution with buckets starting in `[from, to]`.
    pub async fn ash_rollups(
        &self,
        instance_ids: &[i64],
        resolution: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<AshRollupRow>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64, i64, i64, i64, i64, i64)> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT instance_id, resolution, bucket_ts, wait_event_type, wait_event, sessions, ticks \
                 FROM ash_rollups WHERE resolution = ",
            );
            q.push_bind(resolution).push(" AND bucket_ts >= ").push_bind(from).push(" AND bucket_ts <= ").push_bind(to);
            q.push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") ORDER BY bucket_ts");
            q.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(instance_id, resolution, bucket_ts, wait_event_type, wait_event, sessions, ticks)| AshRollupRow {
                instance_id,
                resolution,
                bucket_ts,
                wait_event_type,
                wait_event,
                sessions,
                ticks,
            })
            .collect())
    }

    /// (Re)computes the hourly ASH rollups of the hours starting in `[from, to)` from the minute
    /// rollups. Idempotent: an hour computed twice holds the second, complete answer.
    pub async fn roll_up_ash_hours(&self, from: i64, to: i64) -> StoreResult<u64> {
        let sql = "INSERT INTO ash_rollups (instance_id, resolution, bucket_ts, wait_event_type, wait_event, sessions, ticks) \
                   SELECT instance_id, 3600, (bucket_ts / 3600000) * 3600000, wait_event_type, wait_event, SUM(sessions), SUM(ticks) \
                   FROM ash_rollups WHERE resolution = 60 AND bucket_ts >= $1 AND bucket_ts < $2 \
                   GROUP BY instance_id, (bucket_ts / 3600000) * 3600000, wait_event_type, wait_event \
                   ON CONFLICT (instance_id, resolution, bucket_ts, wait_event_type, wait_event) DO UPDATE SET \
                   sessions = excluded.sessions, ticks = excluded.ticks";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(from).bind(to).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// Bytes of stored ASH (chunks) and their session count, for benchmarks and stats.
    pub async fn ash_storage(&self, instance_id: i64) -> StoreResult<(i64, i64)> {
        let sql = "SELECT CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT), CAST(COALESCE(SUM(sessions), 0) AS BIGINT) FROM ash_chunks WHERE instance_id = $1";
        let row: (i64, i64) = on_pool!(self, pool => sqlx::query_as(sql).bind(instance_id).fetch_one(pool).await)?;
        Ok(row)
    }
}
