//! Time-range partitions of the sampler's biggest tables on PostgreSQL (migration 0023):
//! `ash_chunks`, `ash_rollups` and `statement_deltas`. Partitions are created ahead of the data
//! (`ensure_partitions`) and dropped whole once past retention (`drop_expired`), so a year of a
//! thousand instances leaves no dead rows behind; the DEFAULT partition (the pre-0023 table after
//! an upgrade) catches whatever has no partition and is purged with `DELETE`. SQLite has none
//! of this: there retention stays `DELETE` (`Store::purge_activity`).
//!
//! Retention by partition keeps data at least its retention and at most one partition width
//! longer: a partition goes only when its whole range is past the cutoff.

use sqlx::{Executor, PgPool, Postgres, Transaction};

use super::{Db, Store, StoreError, StoreResult};

const DAY_MS: i64 = 86_400_000;
/// A chunk lies within one window of `[sampler] ash_chunk_seconds` (at most 60 s), so its
/// `end_ts` is less than this after its `start_ts`, which is what `ash_chunks` is partitioned
/// on. An hour leaves room to spare; reads and retention of chunks rely on it.
pub(crate) const ASH_CHUNK_SPAN_MAX_MS: i64 = 3_600_000;
/// Key of the transaction-scoped advisory lock under which partitions are created and dropped,
/// so two hosts never race on the catalog ("VIGIA" + 'P').
const PARTITIONS_LOCK: i64 = 0x56_49_47_49_41_50;
/// How long creating or dropping a partition waits for a table lock before giving up until the
/// next pass: never long enough to stall the sampler's writes behind it.
const LOCK_WAIT: &str = "1s";

/// Which rows a retention cutoff applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kept {
    Raw,
    MinuteRollups,
    HourRollups,
}

/// One partitioned series: a table and, for tables partitioned on (resolution, time), the
/// resolution whose rows it holds.
struct Series {
    table: &'static str,
    time: &'static str,
    resolution: Option<i64>,
    width_ms: i64,
    kept: Kept,
}

/// Raw data in day partitions, minute rollups in weeks, hourly rows in 30 days: a few hundred
/// partitions in all at the default retention (14, 90 and 730 days).
const SERIES: [Series; 5] = [
    Series { table: "ash_chunks", time: "start_ts", resolution: None, width_ms: DAY_MS, kept: Kept::Raw },
    Series { table: "statement_deltas", time: "ts", resolution: Some(0), width_ms: DAY_MS, kept: Kept::Raw },
    Series {
        table: "ash_rollups",
        time: "bucket_ts",
        resolution: Some(60),
        width_ms: 7 * DAY_MS,
        kept: Kept::MinuteRollups,
    },
    Series {
        table: "ash_rollups",
        time: "bucket_ts",
        resolution: Some(3600),
        width_ms: 30 * DAY_MS,
        kept: Kept::HourRollups,
    },
    Series {
        table: "statement_deltas",
        time: "ts",
        resolution: Some(3600),
        width_ms: 30 * DAY_MS,
        kept: Kept::HourRollups,
    },
];

impl Series {
    /// Start of the epoch-aligned range holding `ts`.
    fn range_start(&self, ts: i64) -> i64 {
        ts.div_euclid(self.width_ms) * self.width_ms
    }

    /// `ash_chunks_p20261130`, `ash_rollups_r60_p20261127`: table, resolution, range start (UTC).
    fn name(&self, start: i64) -> String {
        let day = chrono::DateTime::from_timestamp_millis(start).unwrap_or_default().format("%Y%m%d");
        match self.resolution {
            None => format!("{}_p{day}", self.table),
            Some(r) => format!("{}_r{r}_p{day}", self.table),
        }
    }

    /// The partition key value of time `ts` in this series.
    fn key(&self, ts: i64) -> Vec<i64> {
        self.resolution.into_iter().chain([ts]).collect()
    }

    /// SQL of a partition bound (`(60, 1764201600000)`), from numbers only.
    fn bound_sql(&self, ts: i64) -> String {
        let values: Vec<String> = self.key(ts).iter().map(i64::to_string).collect();
        format!("({})", values.join(", "))
    }

    /// The rows of `[from, to)`, as a filter on the table (numbers only).
    fn rows_sql(&self, from: i64, to: i64) -> String {
        let time = format!("{t} >= {from} AND {t} < {to}", t = self.time);
        match self.resolution {
            None => time,
            Some(r) => format!("resolution = {r} AND {time}"),
        }
    }

    /// Whether a partition of this table holds only this series' rows, all older than `cutoff`.
    fn expired(&self, bound: &Bound, cutoff: i64) -> bool {
        let (Some(from), Some(to)) = (bound.from.first(), bound.to.first()) else { return false };
        match (self.resolution, bound.to.get(1)) {
            // Chunks are partitioned on their start; their end is checked against the cutoff.
            (None, None) => to.saturating_add(ASH_CHUNK_SPAN_MAX_MS) <= cutoff,
            (Some(r), Some(end)) => *from == r && *to == r && *end <= cutoff,
            _ => false,
        }
    }
}

/// A partition and its range as the catalog states it (`pg_get_expr(relpartbound)`), each bound
/// a key value; `MINVALUE`/`MAXVALUE` read as the extreme `i64`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub name: String,
    pub from: Vec<i64>,
    pub to: Vec<i64>,
}

impl Bound {
    /// Reads `FOR VALUES FROM ('60', '1') TO ('60', '2')`; `None` for the default partition or
    /// anything else this version does not understand (then never dropped).
    pub fn parse(name: &str, expr: &str) -> Option<Bound> {
        let (from, to) = expr.strip_prefix("FOR VALUES FROM (")?.strip_suffix(')')?.split_once(") TO (")?;
        let values = |list: &str| -> Option<Vec<i64>> { list.split(',').map(value).collect() };
        Some(Bound { name: name.to_string(), from: values(from)?, to: values(to)? })
    }

    /// Whether this range and `[from, to)` share a key value.
    fn overlaps(&self, from: &[i64], to: &[i64]) -> bool {
        self.from.as_slice() < to && from < self.to.as_slice()
    }
}

fn value(text: &str) -> Option<i64> {
    match text.trim().trim_matches('\'') {
        "MINVALUE" => Some(i64::MIN),
        "MAXVALUE" => Some(i64::MAX),
        number => number.parse().ok(),
    }
}

/// What `ensure_partitions` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ensured {
    /// Partitions created.
    pub created: u64,
    /// Rows moved out of a default partition into a partition created for them.
    pub moved: u64,
    /// Partitions left for the next pass: a table lock was not granted in time, or another
    /// host was creating partitions.
    pub busy: u64,
}

/// How one creation went.
enum Created {
    Moved(u64),
    Busy,
    Exists,
}

impl Store {
    /// Creates the partition of the range holding `now` and of the next range for every
    /// partitioned series, if missing (nothing on SQLite). Rows the default partition holds
    /// for such a range are moved into it in the same transaction. A partition whose table is
    /// busy is left to the next call. Runs at start and in every maintenance pass.
    pub async fn ensure_partitions(&self, now: i64) -> StoreResult<Ensured> {
        let Db::Postgres(pool) = &self.db else { return Ok(Ensured::default()) };
        let mut ensured = Ensured::default();
        for series in &SERIES {
            let existing = partitions(pool, series.table).await?;
            let start = series.range_start(now);
            for start in [start, start + series.width_ms] {
                let (from, to) = (series.key(start), series.key(start + series.width_ms));
                if existing.iter().any(|b| b.overlaps(&from, &to)) {
                    continue;
                }
                match create(pool, series, start).await? {
                    Created::Moved(rows) => {
                        ensured.created += 1;
                        ensured.moved += rows;
                    }
                    Created::Busy => ensured.busy += 1,
                    Created::Exists => {}
                }
            }
        }
        Ok(ensured)
    }

    /// The partitions of `table` with a range (the default left out), for tests and tools.
    pub async fn partitions(&self, table: &str) -> StoreResult<Vec<Bound>> {
        let Db::Postgres(pool) = &self.db else { return Ok(Vec::new()) };
        partitions(pool, table).await
    }

    /// The default partition of `table` on PostgreSQL (`None` on SQLite or when it has none).
    pub(crate) async fn default_partition(&self, table: &str) -> StoreResult<Option<String>> {
        let Db::Postgres(pool) = &self.db else { return Ok(None) };
        Ok(default_of(pool, table).await?)
    }
}

async fn default_of<'c>(e: impl Executor<'c, Database = Postgres>, table: &str) -> Result<Option<String>, sqlx::Error> {
    let sql = "SELECT d.relname::text FROM pg_partitioned_table p JOIN pg_class d ON d.oid = p.partdefid \
               WHERE p.partrelid = to_regclass($1)";
    sqlx::query_scalar(sql).bind(table).fetch_optional(e).await
}

async fn partitions(pool: &PgPool, table: &str) -> StoreResult<Vec<Bound>> {
    let sql = "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
               JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1";
    let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(pool).await?;
    Ok(rows.iter().filter_map(|(name, expr)| Bound::parse(name, expr)).collect())
}

/// Begins a transaction holding the partitions lock and waiting at most `LOCK_WAIT` for any
/// table lock; `None` when another host holds the partitions lock.
async fn locked(pool: &PgPool) -> StoreResult<Option<Transaction<'static, Postgres>>> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{LOCK_WAIT}'")).execute(&mut *tx).await?;
    let got: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(PARTITIONS_LOCK).fetch_one(&mut *tx).await?;
    Ok(got.then_some(tx))
}

/// A table lock not granted within `lock_timeout` means "busy, next pass", not a failure.
fn busy<T>(result: Result<T, sqlx::Error>, on_busy: T) -> StoreResult<T> {
    match result {
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("55P03") => Ok(on_busy),
        other => other.map_err(StoreError::from),
    }
}

/// Creates one partition standalone, moves into it what the default holds of its range, and
/// attaches it (attaching takes a lighter lock on the parent than `CREATE TABLE … PARTITION OF`:
/// the sampler's writes to other partitions go on meanwhile).
async fn create(pool: &PgPool, series: &Series, start: i64) -> StoreResult<Created> {
    let Some(mut tx) = locked(pool).await? else { return Ok(Created::Busy) };
    let name = series.name(start);
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&mut *tx).await?;
    if exists {
        return Ok(Created::Exists);
    }
    let default = default_of(&mut *tx, series.table).await?;
    let moved = busy(build(&mut tx, series, start, &name, default.as_deref()).await, None)?;
    let Some(moved) = moved else { return Ok(Created::Busy) };
    tx.commit().await?;
    Ok(Created::Moved(moved))
}

/// The statements of `create`, in its transaction: parent then default locked (in that order,
/// as attaching takes them), so no row lands in the default between the move and the attach.
async fn build(
    tx: &mut Transaction<'static, Postgres>,
    series: &Series,
    start: i64,
    name: &str,
    default: Option<&str>,
) -> Result<Option<u64>, sqlx::Error> {
    let (table, end) = (series.table, start + series.width_ms);
    sqlx::query(&format!("LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE")).execute(&mut **tx).await?;
    sqlx::query(&format!("CREATE TABLE {name} (LIKE {table} INCLUDING ALL)")).execute(&mut **tx).await?;
    let mut moved = 0;
    if let Some(default) = default {
        sqlx::query(&format!("LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")).execute(&mut **tx).await?;
        let rows = series.rows_sql(start, end);
        let sql = format!(
            "WITH moved AS (DELETE FROM {default} WHERE {rows} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        );
        moved = sqlx::query(&sql).execute(&mut **tx).await?.rows_affected();
    }
    let (from, to) = (series.bound_sql(start), series.bound_sql(end));
    sqlx::query(&format!("ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM {from} TO {to}"))
        .execute(&mut **tx)
        .await?;
    Ok(Some(moved))
}

/// Cutoffs of `Store::purge_activity`: rows older than these are past retention.
#[derive(Clone, Copy)]
pub(super) struct Cutoffs {
    pub raw: i64,
    pub minute: i64,
    pub hour: i64,
}

impl Cutoffs {
    fn of(&self, kept: Kept) -> i64 {
        match kept {
            Kept::Raw => self.raw,
            Kept::MinuteRollups => self.minute,
            Kept::HourRollups => self.hour,
        }
    }
}

/// Drops every partition whose whole range is past its cutoff (nothing on SQLite). Answers the
/// rows they held: the planner's count (`pg_class.reltuples`) once the table was analyzed,
/// which autovacuum does long before a partition expires, else counted — a number for logs.
/// A partition whose table is busy is dropped at the next pass.
pub(super) async fn drop_expired(store: &Store, cutoffs: Cutoffs) -> StoreResult<u64> {
    let Db::Postgres(pool) = &store.db else { return Ok(0) };
    let mut rows = 0;
    for series in &SERIES {
        let cutoff = cutoffs.of(series.kept);
        for bound in partitions(pool, series.table).await? {
            if series.expired(&bound, cutoff) {
                rows += drop_partition(pool, &bound.name).await?;
            }
        }
    }
    Ok(rows)
}

async fn drop_partition(pool: &PgPool, name: &str) -> StoreResult<u64> {
    let Some(mut tx) = locked(pool).await? else { return Ok(0) };
    let estimate: Option<f32> = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(estimate) = estimate else { return Ok(0) };
    let rows = match estimate {
        e if e >= 0.0 => e as i64,
        _ => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}")).fetch_one(&mut *tx).await?,
    };
    let dropped = busy(sqlx::query(&format!("DROP TABLE {name}")).execute(&mut *tx).await.map(|_| true), false)?;
    if !dropped {
        return Ok(0);
    }
    tx.commit().await?;
    Ok(rows.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::{Bound, SERIES};

    #[test]
    fn bounds_are_read_from_the_catalog_text() {
        let b = Bound::parse("x", "FOR VALUES FROM ('60', '1764201600000') TO ('60', '1764806400000')").unwrap();
        assert_eq!((b.from, b.to), (vec![60, 1764201600000], vec![60, 1764806400000]));
        let b = Bound::parse("x", "FOR VALUES FROM (MINVALUE) TO ('5')").unwrap();
        assert_eq!((b.from, b.to), (vec![i64::MIN], vec![5]));
        assert_eq!(Bound::parse("x", "DEFAULT"), None);
        assert_eq!(Bound::parse("x", "FOR VALUES IN ('1')"), None);
    }

    #[test]
    fn names_and_ranges_are_epoch_aligned_utc_days() {
        let day = 86_400_000;
        let now = 1_796_040_000_000; // 2026-11-30T12:00:00Z
        let chunks = &SERIES[0];
        assert_eq!(chunks.name(chunks.range_start(now)), "ash_chunks_p20261130");
        assert_eq!(chunks.range_start(now) % day, 0);
        let minutes = &SERIES[2];
        assert!(minutes.name(minutes.range_start(now)).starts_with("ash_rollups_r60_p2026112"));
        assert_eq!(minutes.bound_sql(7 * day), "(60, 604800000)");
    }

    #[test]
    fn a_partition_expires_only_when_its_whole_range_is_past() {
        let day = 86_400_000;
        let chunks = &SERIES[0];
        let b = Bound { name: "p".into(), from: vec![0], to: vec![day] };
        assert!(!chunks.expired(&b, day), "a chunk starting just before the bound may end after it");
        assert!(chunks.expired(&b, day + 3_600_000));
        let hours = &SERIES[4];
        let b = Bound { name: "p".into(), from: vec![3600, 0], to: vec![3600, day] };
        assert!(hours.expired(&b, day) && !hours.expired(&b, day - 1));
        let other = Bound { name: "p".into(), from: vec![0, 0], to: vec![3600, day] };
        assert!(!hours.expired(&other, i64::MAX), "a range over two resolutions is never dropped");
    }
}
