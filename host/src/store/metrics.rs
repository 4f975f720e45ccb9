//! Metric store: interned series and their points, with bucketed downsampling done in SQL.

use std::collections::HashMap;

use sqlx::QueryBuilder;

use super::{now_ms, on_pool, Store, StoreError, StoreResult};

/// Identity of a series. `labels` is a canonical JSON object (sorted keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub tenant_id: i64,
    pub resource: String,
    pub metric: String,
    pub labels: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub id: i64,
    pub resource: String,
    pub metric: String,
    pub labels: String,
    pub unit: Option<String>,
    pub source: String,
}

/// One stored point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub series_id: i64,
    pub ts: i64,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct BucketPoint {
    pub ts: i64,
    pub value: f64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MetricStoreStats {
    pub series: i64,
    pub points: i64,
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

/// Rows per multi-row INSERT: 3 parameters each stays far below SQLite's 32,766 limit.
const INSERT_CHUNK: usize = 2000;
/// Series per statement when creating them: 7 parameters each.
const SERIES_CHUNK: usize = 1000;

/// A series to find or create: its identity, and the unit and source it is created with.
#[derive(Debug, Clone, Copy)]
pub struct NewSeries<'a> {
    pub key: &'a SeriesKey,
    pub unit: Option<&'a str>,
    pub source: &'a str,
}

impl Store {
    /// The id of a series, creating it on first sight.
    pub async fn series_id(&self, key: &SeriesKey, unit: Option<&str>, source: &str) -> StoreResult<i64> {
        let ids = self.series_ids(&[NewSeries { key, unit, source }]).await?;
        ids.first().copied().ok_or(StoreError::NotFound)
    }

    /// The ids of many series, in order, creating those not stored yet: two statements per
    /// thousand series rather than two per series, so the first minute of many instances (whose
    /// series all appear at once) costs a few statements.
    pub async fn series_ids(&self, series: &[NewSeries<'_>]) -> StoreResult<Vec<i64>> {
        let mut found: HashMap<SeriesKey, i64> = HashMap::with_capacity(series.len());
        let created = now_ms();
        for chunk in series.chunks(SERIES_CHUNK) {
            let insert = "INSERT INTO metric_series (tenant_id, resource, metric, labels, unit, source, created_at) ";
            let select = "SELECT id, tenant_id, resource, metric, labels FROM metric_series \
                              WHERE (tenant_id, resource, metric, labels) IN (VALUES ";
            let conflict = " ON CONFLICT (tenant_id, resource, metric, labels) DO NOTHING";
            let rows: Vec<(i64, i64, String, String, String)> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new(insert);
                q.push_values(chunk, |mut row, s| {
                    row.push_bind(s.key.tenant_id)
                        .push_bind(&s.key.resource)
                        .push_bind(&s.key.metric)
                        .push_bind(&s.key.labels)
                        .push_bind(s.unit)
                        .push_bind(s.source)
                        .push_bind(created);
                });
                q.push(conflict);
                q.build().execute(pool).await?;
                let mut q = QueryBuilder::new(select);
                let mut values = q.separated(", ");
                for s in chunk {
                    values.push("(");
                    values.push_bind_unseparated(s.key.tenant_id);
                    values.push_unseparated(", ");
                    values.push_bind_unseparated(&s.key.resource);
                    values.push_unseparated(", ");
                    values.push_bind_unseparated(&s.key.metric);
                    values.push_unseparated(", ");
                    values.push_bind_unseparated(&s.key.labels);
                    values.push_unseparated(")");
                }
                q.push(")");
                q.build_query_as().fetch_all(pool).await
            })?;
            for (id, tenant_id, resource, metric, labels) in rows {
                found.insert(SeriesKey { tenant_id, resource, metric, labels }, id);
            }
        }
        series.iter().map(|s| found.get(s.key).copied().ok_or(StoreError::NotFound)).collect()
    }

    /// Writes points in one transaction; a repeated (series, ts) keeps the newest value.
    pub async fn insert_points(&self, points: &[Point]) -> StoreResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in points.chunks(INSERT_CHUNK) {
                let mut q = QueryBuilder::new("INSERT INTO metric_points (series_id, ts, value) ");
                q.push_values(chunk, |mut row, p| {
                    row.push_bind(p.series_id).push_bind(p.ts).push_bind(p.value);
                });
                q.push(" ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value");
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Series of a resource in a tenant, optionally one metric only.
    pub async fn list_series(
        &self,
        tenant_id: i64,
        resource: &str,
        metric: Option<&str>,
    ) -> StoreResult<Vec<SeriesRow>> {
        let sql = "SELECT id, resource, metric, labels, unit, source FROM metric_series \
                   WHERE tenant_id = $1 AND resource = $2 AND ($3 IS NULL OR metric = $3) ORDER BY metric, labels";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SeriesRow>(sql)
            .bind(tenant_id).bind(resource).bind(metric).fetch_all(pool).await)?)
    }

    /// Points of a series in `[from, to]`, averaged into buckets of `bucket_ms` (1 = raw). Each
    /// bucket is stamped with its start, so series downsampled alike line up.
    pub async fn series_points(
        &self,
        series_id: i64,
        from: i64,
        to: i64,
        bucket_ms: i64,
    ) -> StoreResult<Vec<BucketPoint>> {
        let bucket_ms = bucket_ms.max(1);
        let sql = "SELECT $2 + ((ts - $2) / $4) * $4 AS ts, AVG(value) AS value FROM metric_points \
                   WHERE series_id = $1 AND ts >= $2 AND ts <= $3 GROUP BY (ts - $2) / $4 ORDER BY 1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, BucketPoint>(sql)
            .bind(series_id).bind(from).bind(to).bind(bucket_ms).fetch_all(pool).await)?)
    }

    pub async fn count_points(&self, series_id: i64, from: i64, to: i64) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM metric_points WHERE series_id = $1 AND ts >= $2 AND ts <= $3";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(series_id).bind(from).bind(to).fetch_one(pool).await)?,
        )
    }

    pub async fn metric_store_stats(&self, tenant_id: i64) -> StoreResult<MetricStoreStats> {
        let sql = "SELECT (SELECT COUNT(*) FROM metric_series WHERE tenant_id = $1) AS series, COUNT(p.ts) AS points, \
                   MIN(p.ts) AS oldest, MAX(p.ts) AS newest \
                   FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.tenant_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MetricStoreStats>(sql).bind(tenant_id).fetch_one(pool).await)?)
    }

    /// Deletes points older than `before`; returns how many.
    pub async fn purge_points(&self, before: i64) -> StoreResult<u64> {
        let sql = "DELETE FROM metric_points WHERE ts < $1";
        Ok(on_pool!(self, pool => sqlx::query(sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))?)
    }
}
