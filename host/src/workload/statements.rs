//! Statement endpoints from the `pg_stat_statements` deltas: `top-queries` (the most expensive
//! statements by any counter), `queries-summary` (per database, with percentiles of the mean
//! time per call) and `query` (one statement, by `query_md5_id` or `queryid`).
//!
//! Per-query sums of a range up to three days read the hourly rollups for its whole, settled
//! hours and raw rows only for the rest (a busy day is ~300k raw rows but ~5k hourly ones); the
//! summary's percentiles need every raw row's mean time per call, read in one pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Answer, Cell, Ctx, Names, Table, WorkloadError, WorkloadResult};
use crate::store::columns::STATEMENT;
use crate::store::{now_ms, StatementGrouping, StatementSum, StatementText};

const HOUR_MS: i64 = 3_600_000;
/// How long after its end an hour's rollup is trusted: `activity::maintain` (every 10 min)
/// recomputes the hours from three before the current one, so an hour that ended an hour ago
/// has been recomputed after its last raw row arrived.
const SETTLED_MS: i64 = HOUR_MS;

pub(super) async fn top_queries(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let by = ctx.sort_column(&STATEMENT, "total_time")?;
    Ok(top_lists(ctx, &[by]).await?.pop().unwrap_or_default().into())
}

/// `top-queries` for each of `by` (a report's three lists): the statements are summed once, and
/// each list is what the endpoint answers with that `by`.
pub(super) async fn top_lists(ctx: &Ctx<'_>, by: &[&str]) -> WorkloadResult<Vec<Table>> {
    if let Some(bad) = by.iter().find(|b| !STATEMENT.contains(b)) {
        return Err(WorkloadError::Invalid(format!(
            "invalid \"by\" {bad:?}: expected one of {}",
            STATEMENT.join(", ")
        )));
    }
    let all = per_query(ctx, None).await?;
    Ok(by
        .iter()
        .map(|b| {
            let mut table = all.clone();
            table.top(b, ctx.q.limit);
            table
        })
        .collect())
}

pub(super) async fn one_query(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let texts = ctx.store.statement_texts(&ctx.sel.instance_ids()).await?;
    let wanted: Vec<i64> = match (&ctx.q.query_md5_id, ctx.q.queryid) {
        (_, Some(id)) => vec![id],
        (Some(md5), None) => texts.iter().filter(|t| &t.md5 == md5).map(|t| t.queryid).collect(),
        (None, None) => {
            return Err(WorkloadError::Invalid("the query endpoint needs \"query_md5_id\" or \"queryid\"".into()));
        }
    };
    let mut table = Table::new(query_columns());
    for queryid in wanted {
        let part = per_query(ctx, Some(queryid)).await?;
        table.rows.extend(part.rows);
    }
    table.top("total_time", usize::MAX);
    Ok(table.into())
}

fn query_columns() -> Vec<&'static str> {
    let mut c = vec!["pg_instance", "database", "user", "query_md5_id", "queryid", "text"];
    c.extend(STATEMENT);
    c
}

/// One row per (instance, database, user, queryid) with summed counters and the text, in key order.
async fn per_query(ctx: &Ctx<'_>, queryid: Option<i64>) -> WorkloadResult<Table> {
    let ids = ctx.sel.instance_ids();
    let sums = query_sums(ctx, &ids, StatementGrouping::Query, queryid).await?;
    let texts: HashMap<(i64, i64), StatementText> =
        ctx.store.statement_texts(&ids).await?.into_iter().map(|t| ((t.instance_id, t.queryid), t)).collect();
    let mut names = Names::default();
    names.load(ctx.store, sums.iter().flat_map(|s| [s.database_id, s.user_id]).collect()).await?;
    let mut table = Table::new(query_columns());
    for s in rows_in_scope(ctx, &names, sums) {
        let Some(target) = ctx.sel.target(s.instance_id) else { continue };
        let mut row = table.blank();
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "database", names.get(s.database_id));
        table.set(&mut row, "user", names.get(s.user_id));
        table.set(&mut row, "queryid", s.queryid.to_string());
        if let Some(t) = texts.get(&(s.instance_id, s.queryid)) {
            table.set(&mut row, "query_md5_id", t.md5.as_str());
            table.set(&mut row, "text", t.text.as_str());
        }
        set_counters(&table, &mut row, &s.values);
        table.rows.push(row);
    }
    Ok(table)
}

/// Statement sums over the request's range: beyond three days from the hourly rollups alone (as
/// ever); up to three days, the sums the raw rows give (to the last bits of a float sum), read
/// from the hourly rollups for each whole hour an instance has settled rollups of and from raw
/// rows elsewhere.
async fn query_sums(
    ctx: &Ctx<'_>,
    ids: &[i64],
    grouping: StatementGrouping,
    queryid: Option<i64>,
) -> WorkloadResult<Vec<StatementSum>> {
    let (from, to) = (ctx.q.from, ctx.q.to);
    let resolution = ctx.statement_resolution();
    if resolution != 0 {
        let mut sums = ctx.store.statement_sums(ids, resolution, from, to, grouping, queryid).await?;
        sort_by_key(&mut sums);
        return Ok(sums);
    }
    // Whole hours of [from, to] that ended at least SETTLED_MS ago.
    let first = from.div_euclid(HOUR_MS) * HOUR_MS + if from.rem_euclid(HOUR_MS) == 0 { 0 } else { HOUR_MS };
    let end =
        (to.saturating_add(1).div_euclid(HOUR_MS) * HOUR_MS).min((now_ms() - SETTLED_MS).div_euclid(HOUR_MS) * HOUR_MS);
    let mut rolled: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    // The hour after the last is asked for too: see `usable_hours`.
    for (instance_id, hour) in ctx.store.statement_rollup_hours(ids, first, end + HOUR_MS).await? {
        rolled.entry(instance_id).or_default().insert(hour);
    }
    // Instances with the same usable hours are read together (usually all of them).
    let mut groups: BTreeMap<Vec<i64>, Vec<i64>> = BTreeMap::new();
    for id in ids {
        groups.entry(rolled.get(id).map(|h| usable_hours(h, end)).unwrap_or_default()).or_default().push(*id);
    }
    let mut sums = Vec::new();
    for (hours, instances) in groups {
        sums.extend(ctx.store.statement_sums_over(&instances, &spans(from, to, &hours), grouping, queryid).await?);
    }
    sort_by_key(&mut sums);
    Ok(sums)
}

/// Key order, so lists sorted by a counter break ties the same way on both backends (SQLite
/// groups in key order, PostgreSQL in any).
fn sort_by_key(sums: &mut [StatementSum]) {
    sums.sort_by_key(|s| (s.instance_id, s.database_id, s.user_id, s.queryid));
}

/// The rolled-up hours before `end` whose next hour is rolled up too. An hour rolled up while it
/// was still open and never again (the host stopped for longer than `maintain` looks back) is
/// followed by a gap, so it is read raw; an instance's last active hour is read raw as well.
fn usable_hours(rolled: &BTreeSet<i64>, end: i64) -> Vec<i64> {
    rolled.iter().copied().filter(|h| *h < end && rolled.contains(&(h + HOUR_MS))).collect()
}

/// `[from, to]` as `(resolution, from, to excluded)` spans: runs of `hours` (sorted) from the
/// hourly rollups, whose rows are stamped with their hour's start, and raw rows in between.
fn spans(from: i64, to: i64, hours: &[i64]) -> Vec<(i64, i64, i64)> {
    let (mut out, mut cursor, mut i) = (Vec::new(), from, 0);
    while i < hours.len() {
        let start = hours[i];
        let mut stop = start + HOUR_MS;
        while hours.get(i + 1) == Some(&stop) {
            (i, stop) = (i + 1, stop + HOUR_MS);
        }
        i += 1;
        if cursor < start {
            out.push((0, cursor, start));
        }
        out.push((3600, start, stop));
        cursor = stop;
    }
    if cursor <= to {
        out.push((0, cursor, to.saturating_add(1)));
    }
    out
}

fn rows_in_scope(ctx: &Ctx<'_>, names: &Names, sums: Vec<StatementSum>) -> Vec<StatementSum> {
    sums.into_iter()
        .filter(|s| ctx.sel.database_ok(&names.get(s.database_id)))
        .filter(|s| s.user_id == 0 || ctx.sel.user_ok(&names.get(s.user_id)))
        .collect()
}

fn set_counters(table: &Table, row: &mut [Cell], values: &[f64]) {
    for (name, v) in STATEMENT.iter().zip(values) {
        // Times are milliseconds, kept to a microsecond; counts are whole.
        table.set(row, name, Cell::number((v * 1000.0).round() / 1000.0));
    }
}

pub(super) async fn summary(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let ids = ctx.sel.instance_ids();
    let resolution = ctx.statement_resolution();
    let sums = query_sums(ctx, &ids, StatementGrouping::Database, None).await?;
    // Mean time per call of each statement row (in half microseconds), weighted by its calls.
    let mut distributions: HashMap<(i64, i64), Vec<(f64, f64)>> = HashMap::new();
    for (instance_id, database_id, half_micros, calls) in
        ctx.store.statement_call_times(&ids, resolution, ctx.q.from, ctx.q.to).await?
    {
        distributions.entry((instance_id, database_id)).or_default().push((half_micros as f64, calls));
    }
    let mut names = Names::default();
    names.load(ctx.store, sums.iter().map(|s| s.database_id).collect()).await?;
    let mut columns = vec!["pg_instance", "database", "perc_90", "perc_95", "perc_99"];
    columns.extend(STATEMENT);
    let mut table = Table::new(columns);
    for s in rows_in_scope(ctx, &names, sums) {
        let Some(target) = ctx.sel.target(s.instance_id) else { continue };
        let mut row = table.blank();
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "database", names.get(s.database_id));
        set_counters(&table, &mut row, &s.values);
        let mut dist = distributions.remove(&(s.instance_id, s.database_id)).unwrap_or_default();
        for (name, p) in [("perc_90", 0.90), ("perc_95", 0.95), ("perc_99", 0.99)] {
            // ⌊(h + 1) / 2⌋ of h = ⌊2000 m⌋ is ⌊1000 m + ½⌋, i.e. `(m * 1000.0).round()` for m ≥ 0.
            let micros = (weighted_percentile(&mut dist, p) as i64 + 1).div_euclid(2);
            table.set(&mut row, name, Cell::number(micros as f64 / 1000.0));
        }
        table.rows.push(row);
    }
    table.top("total_time", usize::MAX);
    Ok(table.into())
}

/// The value below which a fraction `p` of the total weight lies (0 for no data).
fn weighted_percentile(values: &mut [(f64, f64)], p: f64) -> f64 {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let mut seen = 0.0;
    for (value, weight) in values.iter() {
        seen += weight;
        if seen >= p * total {
            return *value;
        }
    }
    values.last().map_or(0.0, |v| v.0)
}

#[cfg(test)]
mod tests {
    use super::{spans, usable_hours, weighted_percentile, HOUR_MS as H};

    #[test]
    fn percentiles_weigh_by_calls() {
        let mut v = vec![(100.0, 1.0), (1.0, 98.0), (10.0, 1.0)];
        assert_eq!(weighted_percentile(&mut v, 0.90), 1.0);
        assert_eq!(weighted_percentile(&mut v, 0.99), 10.0);
        assert_eq!(weighted_percentile(&mut v, 1.0), 100.0);
        assert_eq!(weighted_percentile(&mut [], 0.9), 0.0);
    }

    #[test]
    fn whole_settled_hours_come_from_rollups_the_rest_raw() {
        let (from, to) = (10 * H + 600_000, 14 * H);
        // Hours 11, 12 and 13 are whole; the raw row stamped `to` belongs to hour 14.
        assert_eq!(
            spans(from, to, &[11 * H, 12 * H]),
            [(0, from, 11 * H), (3600, 11 * H, 13 * H), (0, 13 * H, to + 1)]
        );
        assert_eq!(
            spans(from, to, &[11 * H, 13 * H])[2..],
            [(0, 12 * H, 13 * H), (3600, 13 * H, 14 * H), (0, 14 * H, to + 1)]
        );
        assert_eq!(spans(from, to, &[]), [(0, from, to + 1)]);
        let rolled: std::collections::BTreeSet<i64> = [10 * H, 11 * H, 12 * H, 14 * H, 15 * H].into_iter().collect();
        assert_eq!(usable_hours(&rolled, 15 * H), [10 * H, 11 * H, 14 * H], "12 is followed by a gap, 15 too late");
    }
}
