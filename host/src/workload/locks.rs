//! `locks`: the blocking trees lock monitoring recorded, flattened to one row per session
//! (`blocked_by` names the parent, `depth` 0 is the root blocker), so JSON and CSV carry the same.

use serde_json::Value;

use super::{Answer, Cell, Ctx, Table, WorkloadResult};

const COLUMNS: [&str; 12] = [
    "time",
    "pg_instance",
    "pid",
    "blocked_by",
    "depth",
    "user_name",
    "database",
    "state",
    "wait_event_type",
    "wait_event",
    "waiting_seconds",
    "queryid",
];

pub(super) async fn locks(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let snapshots = ctx.store.lock_snapshots(&ctx.sel.instance_ids(), ctx.q.from, ctx.q.to).await?;
    let mut table = Table::new(COLUMNS);
    for (instance_id, ts, roots) in snapshots {
        let Some(target) = ctx.sel.target(instance_id) else { continue };
        let Ok(Value::Array(roots)) = serde_json::from_str::<Value>(&roots) else {
            tracing::warn!(instance_id, ts, "unreadable lock snapshot skipped");
            continue;
        };
        let mut stack: Vec<(&Value, Option<i64>, i64)> = roots.iter().rev().map(|r| (r, None, 0)).collect();
        while let Some((node, parent, depth)) = stack.pop() {
            let text = |k: &str| node[k].as_str().unwrap_or_default().to_string();
            if !ctx.sel.database_ok(&text("database")) || !ctx.sel.user_ok(&text("user")) {
                continue;
            }
            let pid = node["pid"].as_i64().unwrap_or_default();
            let mut row = table.blank();
            table.set(&mut row, "time", ctx.time(ts));
            table.set(&mut row, "pg_instance", target.pg_instance.clone());
            table.set(&mut row, "pid", pid);
            if let Some(p) = parent {
                table.set(&mut row, "blocked_by", p);
            }
            table.set(&mut row, "depth", depth);
            table.set(&mut row, "user_name", text("user"));
            table.set(&mut row, "database", text("database"));
            table.set(&mut row, "state", text("state"));
            table.set(&mut row, "wait_event_type", text("wait_event_type"));
            table.set(&mut row, "wait_event", text("wait_event"));
            table.set(&mut row, "waiting_seconds", Cell::number(node["waiting_seconds"].as_f64().unwrap_or_default()));
            table.set(&mut row, "queryid", text("query_id"));
            table.rows.push(row);
            if let Some(children) = node["blocked"].as_array() {
                stack.extend(children.iter().rev().map(|c| (c, Some(pid), depth + 1)));
            }
        }
    }
    Ok(table.into())
}
