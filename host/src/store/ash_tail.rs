//! Durability of Active Session History between chunk cuts: the open chunk's ticks persisted as
//! small segments (`ash_tail`, merged into a closed chunk after a crash) and the sampling gaps
//! (`ash_gaps`) that tell "no data" from "no activity".

use sqlx::QueryBuilder;

use super::ash::{push_ids, ChunkRow};
use super::{on_pool, Store, StoreError, StoreResult, StoredAshChunk};
use crate::model::{Gap, GapReason};

/// Rows per multi-row INSERT (6 parameters each stays below SQLite's parameter limit).
const CHUNK: usize = 1000;

impl Store {
    /// Appends segments of open chunks (each segment holds ticks no other segment holds).
    pub async fn write_ash_tail(&self, segments: &[StoredAshChunk]) -> StoreResult<()> {
        if segments.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in segments.chunks(CHUNK) {
                let mut q = QueryBuilder::new("INSERT INTO ash_tail (instance_id, start_ts, end_ts, ticks, sessions, data) ");
                q.push_values(chunk, |mut row, s| {
                    row.push_bind(s.instance_id).push_bind(s.start_ts).push_bind(s.end_ts)
                        .push_bind(s.ticks).push_bind(s.sessions).push_bind(&s.data);
                });
                q.push(" ON CONFLICT (instance_id, start_ts) DO NOTHING");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Every persisted tail segment, by instance then time (what a crash left behind).
    pub async fn ash_tail_segments(&self) -> StoreResult<Vec<StoredAshChunk>> {
        let sql =
            "SELECT instance_id, start_ts, end_ts, ticks, sessions, data FROM ash_tail ORDER BY instance_id, start_ts";
        let rows: Vec<ChunkRow> = on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(StoredAshChunk::from).collect())
    }

    /// The tail segments of `instance_ids` (a cluster member taking their leases over), by
    /// instance and time.
    pub async fn ash_tail_segments_of(&self, instance_ids: &[i64]) -> StoreResult<Vec<StoredAshChunk>> {
        let sql = "SELECT instance_id, start_ts, end_ts, ticks, sessions, data FROM ash_tail \
                   WHERE instance_id = $1 ORDER BY start_ts";
        let mut segments = Vec::new();
        for &id in instance_ids {
            let rows: Vec<ChunkRow> = on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_all(pool).await)?;
            segments.extend(rows.into_iter().map(StoredAshChunk::from));
        }
        Ok(segments)
    }

    /// Deletes one tail segment (an unreadable one; readable ones go with their chunk's cut).
    pub async fn delete_ash_tail_segment(&self, instance_id: i64, start_ts: i64) -> StoreResult<()> {
        let sql = "DELETE FROM ash_tail WHERE instance_id = $1 AND start_ts = $2";
        on_pool!(self, pool => sqlx::query(sql).bind(instance_id).bind(start_ts).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Records sampling gaps of one instance (a gap already recorded at the same start is kept).
    pub async fn insert_ash_gaps(&self, instance_id: i64, gaps: &[Gap]) -> StoreResult<()> {
        if gaps.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut q = QueryBuilder::new("INSERT INTO ash_gaps (instance_id, start_ts, end_ts, reason) ");
            q.push_values(gaps, |mut row, g| {
                row.push_bind(instance_id).push_bind(g.start_ts).push_bind(g.end_ts).push_bind(g.reason.as_str());
            });
            q.push(" ON CONFLICT (instance_id, start_ts) DO NOTHING");
            q.build().execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Gaps of these instances overlapping `[from, to]`, oldest first.
    pub async fn ash_gaps(&self, instance_ids: &[i64], from: i64, to: i64) -> StoreResult<Vec<(i64, Gap)>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, i64, i64, String)> = on_pool!(self, pool => {
            let mut q = QueryBuilder::new("SELECT instance_id, start_ts, end_ts, reason FROM ash_gaps WHERE end_ts >= ");
            q.push_bind(from).push(" AND start_ts <= ").push_bind(to).push(" AND instance_id IN (");
            push_ids(&mut q, instance_ids);
            q.push(") ORDER BY start_ts, instance_id");
            q.build_query_as().fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(instance_id, start_ts, end_ts, reason)| {
                let reason = GapReason::parse(&reason)
                    .ok_or(StoreError::Unreadable { column: "ash_gaps.reason".into(), value: reason })?;
                Ok((instance_id, Gap { start_ts, end_ts, reason }))
            })
            .collect()
    }

    /// The latest time the stored ASH of an instance accounts for (its last tick or the end of
    /// its last recorded gap); `None` for an instance never sampled.
    pub async fn ash_coverage_end(&self, instance_id: i64) -> StoreResult<Option<i64>> {
        let sql = "SELECT MAX(t) FROM (\
                   SELECT MAX(end_ts) AS t FROM ash_chunks WHERE instance_id = $1 \
                   UNION ALL SELECT MAX(end_ts) AS t FROM ash_tail WHERE instance_id = $1 \
                   UNION ALL SELECT MAX(end_ts) AS t FROM ash_gaps WHERE instance_id = $1) AS covered";
        let end: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(sql).bind(instance_id).fetch_one(pool).await)?;
        Ok(end)
    }
}
