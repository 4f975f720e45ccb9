//! `tables` and `indexes`: per-relation activity over the range (counters summed, sizes at their
//! largest), sorted by any of their columns.

use super::{Answer, Cell, Ctx, Names, Table, WorkloadResult};
use crate::store::columns::{INDEX, TABLE};

pub(super) async fn tables(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let mut sortable: Vec<&str> = TABLE.to_vec();
    sortable.extend(["relid", "relkind"]);
    let by = ctx.sort_column(&sortable, "heap_blks_hit")?;
    relations(ctx, false, by).await
}

pub(super) async fn indexes(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let by = ctx.sort_column(&INDEX, "idx_blks_hit")?;
    relations(ctx, true, by).await
}

async fn relations(ctx: &Ctx<'_>, indexes: bool, by: &str) -> WorkloadResult<Answer> {
    let sums = ctx.store.relation_sums(&ctx.sel.instance_ids(), ctx.q.from, ctx.q.to, indexes).await?;
    let mut names = Names::default();
    names
        .load(
            ctx.store,
            sums.iter()
                .flat_map(|s| [s.row.database_id, s.row.schema_id, s.row.table_id, s.row.index_id, s.row.relkind_id])
                .collect(),
        )
        .await?;
    let (values, extra): (&[&str], &[&str]) = if indexes {
        (&INDEX, &["index_rel_name"])
    } else {
        (&TABLE, &["relid", "relkind", "last_autovacuum", "last_autoanalyze"])
    };
    let mut table =
        Table::new(["pg_instance", "database", "schema_name", "rel_name"].iter().chain(extra).chain(values).copied());
    for s in sums {
        let Some(target) = ctx.sel.target(s.instance_id) else { continue };
        let database = names.get(s.row.database_id);
        if !ctx.sel.database_ok(&database) {
            continue;
        }
        let mut row = table.blank();
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "database", database);
        table.set(&mut row, "schema_name", names.get(s.row.schema_id));
        table.set(&mut row, "rel_name", names.get(s.row.table_id));
        if indexes {
            table.set(&mut row, "index_rel_name", names.get(s.row.index_id));
        } else {
            table.set(&mut row, "relid", s.row.relid);
            table.set(&mut row, "relkind", names.get(s.row.relkind_id));
            for (name, ts) in [("last_autovacuum", s.row.last_autovacuum), ("last_autoanalyze", s.row.last_autoanalyze)]
            {
                if let Some(ts) = ts {
                    table.set(&mut row, name, ctx.time(ts));
                }
            }
        }
        for (name, v) in values.iter().zip(&s.row.values) {
            table.set(&mut row, name, Cell::number(*v));
        }
        table.rows.push(row);
    }
    table.top(by, ctx.q.limit);
    Ok(table.into())
}
