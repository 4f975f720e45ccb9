//! Statement endpoints from the `pg_stat_statements` deltas: `top-queries` (the most expensive
//! statements by any counter), `queries-summary` (per database, with percentiles of the mean
//! time per call) and `query` (one statement, by `query_md5_id` or `queryid`).

use std::collections::HashMap;

use super::{Answer, Cell, Ctx, Names, Table, WorkloadError, WorkloadResult};
use crate::store::columns::STATEMENT;
use crate::store::{StatementGrouping, StatementSum, StatementText};

pub(super) async fn top_queries(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let by = ctx.sort_column(&STATEMENT, "total_time")?;
    let mut table = per_query(ctx, None).await?;
    table.top(by, ctx.q.limit);
    Ok(table.into())
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

/// One row per (instance, database, user, queryid) with summed counters and the text.
async fn per_query(ctx: &Ctx<'_>, queryid: Option<i64>) -> WorkloadResult<Table> {
    let ids = ctx.sel.instance_ids();
    let sums = ctx
        .store
        .statement_sums(&ids, ctx.statement_resolution(), ctx.q.from, ctx.q.to, StatementGrouping::Query, queryid)
        .await?;
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
    let sums =
        ctx.store.statement_sums(&ids, resolution, ctx.q.from, ctx.q.to, StatementGrouping::Database, None).await?;
    let timings = ctx.store.statement_timings(&ids, resolution, ctx.q.from, ctx.q.to).await?;
    let mut names = Names::default();
    names.load(ctx.store, sums.iter().map(|s| s.database_id).collect()).await?;
    // Mean time per call of each statement row, weighted by its calls.
    let mut distributions: HashMap<(i64, i64), Vec<(f64, f64)>> = HashMap::new();
    for (instance_id, database_id, calls, total_time) in timings {
        distributions.entry((instance_id, database_id)).or_default().push((total_time / calls, calls));
    }
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
            table.set(&mut row, name, Cell::number((weighted_percentile(&mut dist, p) * 1000.0).round() / 1000.0));
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
    use super::weighted_percentile;

    #[test]
    fn percentiles_weigh_by_calls() {
        let mut v = vec![(100.0, 1.0), (1.0, 98.0), (10.0, 1.0)];
        assert_eq!(weighted_percentile(&mut v, 0.90), 1.0);
        assert_eq!(weighted_percentile(&mut v, 0.99), 10.0);
        assert_eq!(weighted_percentile(&mut v, 1.0), 100.0);
        assert_eq!(weighted_percentile(&mut [], 0.9), 0.0);
    }
}
