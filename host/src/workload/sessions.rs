//! `session-history` (and its older name `sessions-workload`): the ASH samples of the selected
//! instances, one row per session per tick; or, with `compute: "wait-events"`, the average number
//! of active sessions by wait event per time bucket (from the rollups when the bucket allows).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::ash_source::{self, chunks};
use super::request::format_time;
use super::{Answer, Cell, Ctx, Names, Table, WorkloadError, WorkloadResult};

const SAMPLE_COLUMNS: [&str; 17] = [
    "time",
    "queryid",
    "application_name",
    "client_host_name",
    "command_type",
    "database",
    "pg_instance",
    "pg_version",
    "process_id",
    "query_md5_id",
    "server",
    "user_name",
    "wait_event",
    "wait_event_type",
    "state",
    "backend_type",
    "blocking_pids",
];

const BUCKET_COLUMNS: [&str; 7] =
    ["time", "pg_instance", "server", "wait_event_type", "wait_event", "active_sessions", "samples"];

const GAP_COLUMNS: [&str; 6] = ["from", "to", "pg_instance", "server", "reason", "seconds"];

/// Raw session samples one answer may hold (~1.1 KB each while decoded, tabled and rendered as
/// JSON: ~55 MiB). Longer exports are asked for a range at a time.
pub const MAX_SAMPLES: i64 = 50_000;
/// Raw samples `compute: wait-events` may scan when the rollups cannot serve it (buckets not in
/// whole minutes, or database/user filters): ~170 bytes each while decoded.
pub const MAX_SCANNED_SAMPLES: i64 = 300_000;

pub(super) async fn history(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let mut answer = match ctx.q.compute.as_deref() {
        None | Some("details") | Some("samples") => samples(ctx).await?,
        Some("wait-events") | Some("wait_events") => wait_events(ctx).await?,
        Some(other) => {
            return Err(WorkloadError::Invalid(format!(
                "invalid \"compute\" {other:?} for session-history: expected samples or wait-events"
            )))
        }
    };
    if ctx.q.gaps {
        answer.gaps = Some(gaps(ctx).await?);
    }
    Ok(answer)
}

/// The recorded sampling gaps of the selection overlapping the range, oldest first.
async fn gaps(ctx: &Ctx<'_>) -> WorkloadResult<Table> {
    let mut table = Table::new(GAP_COLUMNS);
    for (instance_id, gap) in ctx.store.ash_gaps(&ctx.sel.instance_ids(), ctx.q.from, ctx.q.to).await? {
        let Some(target) = ctx.sel.target(instance_id) else { continue };
        let mut row = table.blank();
        table.set(&mut row, "from", ctx.time(gap.start_ts));
        table.set(&mut row, "to", ctx.time(gap.end_ts));
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "server", target.server.clone());
        table.set(&mut row, "reason", gap.reason.as_str());
        table.set(&mut row, "seconds", Cell::number((gap.end_ts - gap.start_ts) as f64 / 1000.0));
        table.rows.push(row);
    }
    Ok(table)
}

async fn samples(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let decoded =
        chunks(ctx, MAX_SAMPLES, "narrow \"from\"/\"to\" (a range at a time) or use \"compute\": \"wait-events\"")
            .await?;
    let mut names = Names::default();
    names
        .load(
            ctx.store,
            decoded
                .iter()
                .flat_map(|(_, c)| {
                    c.rows.iter().flat_map(|r| {
                        [
                            r.state,
                            r.wait_event_type,
                            r.wait_event,
                            r.database,
                            r.user,
                            r.application,
                            r.client,
                            r.backend_type,
                            r.command,
                        ]
                    })
                })
                .collect(),
        )
        .await?;
    let versions = ctx.versions().await?;
    let md5s: HashMap<(i64, i64), Arc<str>> = ctx
        .store
        .statement_texts(&ctx.sel.instance_ids())
        .await?
        .into_iter()
        .map(|t| ((t.instance_id, t.queryid), Arc::from(t.md5)))
        .collect();
    let tag_keys = ctx.sel.tag_keys();
    let mut table = Table::new(SAMPLE_COLUMNS.iter().map(|c| c.to_string()).chain(tag_keys.iter().cloned()));
    let col: HashMap<&str, usize> = SAMPLE_COLUMNS.iter().map(|c| (*c, table.col(c))).collect();
    // Per instance: a row template holding what every row of that instance repeats.
    let templates: HashMap<i64, Vec<Cell>> = ctx
        .sel
        .targets
        .iter()
        .map(|t| {
            let mut row = table.blank();
            row[col["pg_instance"]] = Cell::Shared(t.pg_instance.clone());
            row[col["server"]] = Cell::Shared(t.server.clone());
            if let Some(v) = versions.get(&t.instance.id) {
                row[col["pg_version"]] = Cell::Shared(v.clone());
            }
            for (k, v) in &t.tags {
                row[table.col(k)] = Cell::Shared(v.clone());
            }
            (t.instance.id, row)
        })
        .collect();
    let filter_rows = !ctx.sel.databases.is_empty() || !ctx.sel.users.is_empty();
    // Ten sessions share a tick's time, and a session keeps its pid and query for many ticks:
    // format each once (this loop runs 864,000 times for one instance-day at 1 s).
    let mut times: HashMap<i64, Arc<str>> = HashMap::new();
    let mut process_ids: HashMap<(i64, i32), Arc<str>> = HashMap::new();
    let mut query_ids: HashMap<i64, Arc<str>> = HashMap::new();
    for (instance_id, chunk) in &decoded {
        let instance_id = *instance_id;
        let Some(template) = templates.get(&instance_id) else { continue };
        let name = &ctx.sel.target(instance_id).expect("template implies target").instance.name;
        for r in chunk.rows.iter().filter(|r| r.ts >= ctx.q.from && r.ts <= ctx.q.to) {
            let database = names.get(r.database);
            let user = names.get(r.user);
            if filter_rows && !(ctx.sel.database_ok(&database) && ctx.sel.user_ok(&user)) {
                continue;
            }
            let mut row = template.clone();
            let application = names.get(r.application);
            let time = times.entry(r.ts).or_insert_with(|| Arc::from(format_time(r.ts, ctx.q.utc)));
            row[col["time"]] = Cell::Shared(time.clone());
            let query_id = query_ids.entry(r.query_id).or_insert_with(|| Arc::from(r.query_id.to_string()));
            row[col["queryid"]] = Cell::Shared(query_id.clone());
            row[col["application_name"]] =
                if application.is_empty() { Cell::Text("N/A".into()) } else { Cell::Shared(application) };
            row[col["client_host_name"]] = Cell::Shared(names.get(r.client));
            row[col["command_type"]] = Cell::Shared(names.get(r.command));
            row[col["database"]] = Cell::Shared(database);
            let process_id =
                process_ids.entry((instance_id, r.pid)).or_insert_with(|| Arc::from(format!("{} - {name}", r.pid)));
            row[col["process_id"]] = Cell::Shared(process_id.clone());
            if let Some(md5) = md5s.get(&(instance_id, r.query_id)) {
                row[col["query_md5_id"]] = Cell::Shared(md5.clone());
            }
            row[col["user_name"]] = Cell::Shared(user);
            row[col["wait_event"]] = Cell::Shared(names.get(r.wait_event));
            row[col["wait_event_type"]] = Cell::Shared(names.get(r.wait_event_type));
            row[col["state"]] = Cell::Shared(names.get(r.state));
            row[col["backend_type"]] = Cell::Shared(names.get(r.backend_type));
            if !r.blocking_pids.is_empty() {
                let pids: Vec<String> = r.blocking_pids.iter().map(i32::to_string).collect();
                row[col["blocking_pids"]] = Cell::Text(pids.join(","));
            }
            table.rows.push(row);
        }
    }
    Ok(table.into())
}

/// Bucket width: the request's, or one that gives at most ~300 buckets over the range.
fn bucket_ms(ctx: &Ctx<'_>) -> i64 {
    if let Some(s) = ctx.q.bucket_seconds {
        return s * 1000;
    }
    let range_s = ((ctx.q.to - ctx.q.from) / 1000).max(1);
    [1, 10, 60, 300, 600, 1800, 3600, 21_600, 86_400].into_iter().find(|b| range_s / b <= 300).unwrap_or(86_400) * 1000
}

/// Sessions and ticks per (instance, bucket) and per (instance, bucket, wait event type, event).
#[derive(Default)]
struct Buckets {
    ticks: HashMap<(i64, i64), i64>,
    sessions: BTreeMap<(i64, i64, i64, i64), i64>,
}

async fn wait_events(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let width = bucket_ms(ctx);
    let align = |ts: i64| ts.div_euclid(width) * width;
    let mut b = Buckets::default();
    // Rollups have no database/user dimension and are whole minutes or hours. Minute rollups
    // are always current; hourly ones are refreshed by maintenance, so they serve long ranges.
    let long_range = ctx.q.to - ctx.q.from > 31 * 86_400_000;
    let rollup = match (width % 60_000 == 0, long_range && width % 3_600_000 == 0) {
        (_, true) => Some(3_600_000),
        (true, false) => Some(60_000),
        (false, false) => None,
    }
    .filter(|_| ctx.sel.databases.is_empty() && ctx.sel.users.is_empty());
    match rollup {
        Some(resolution_ms) => {
            // Fresh ticks over exactly the minutes (or hours) the rollup rows cover.
            let fresh_to = ctx.q.to.div_euclid(resolution_ms) * resolution_ms + resolution_ms - 1;
            let (rows, fresh) =
                ash_source::rollups(ctx, resolution_ms / 1000, align(ctx.q.from), ctx.q.to, fresh_to).await?;
            for r in rows {
                let bucket = align(r.bucket_ts);
                if r.wait_event_type == 0 && r.wait_event == 0 {
                    *b.ticks.entry((r.instance_id, bucket)).or_default() += r.ticks;
                } else {
                    *b.sessions.entry((r.instance_id, bucket, r.wait_event_type, r.wait_event)).or_default() +=
                        r.sessions;
                }
            }
            // What the rollups would count of these ticks once stored (no row filters here).
            for f in &fresh {
                for &t in &f.chunk.ticks {
                    *b.ticks.entry((f.instance_id, align(t))).or_default() += 1;
                }
                for r in &f.chunk.rows {
                    *b.sessions.entry((f.instance_id, align(r.ts), r.wait_event_type, r.wait_event)).or_default() += 1;
                }
            }
        }
        None => {
            let hint = "use whole-minute buckets without database or user filters (served from the rollups), or narrow \"from\"/\"to\"";
            let decoded = chunks(ctx, MAX_SCANNED_SAMPLES, hint).await?;
            let mut names = Names::default();
            names
                .load(
                    ctx.store,
                    decoded.iter().flat_map(|(_, c)| c.rows.iter().flat_map(|r| [r.database, r.user])).collect(),
                )
                .await?;
            for (instance_id, chunk) in &decoded {
                for &t in chunk.ticks.iter().filter(|t| (ctx.q.from..=ctx.q.to).contains(*t)) {
                    *b.ticks.entry((*instance_id, align(t))).or_default() += 1;
                }
                for r in chunk.rows.iter().filter(|r| (ctx.q.from..=ctx.q.to).contains(&r.ts)) {
                    if ctx.sel.database_ok(&names.get(r.database)) && ctx.sel.user_ok(&names.get(r.user)) {
                        *b.sessions.entry((*instance_id, align(r.ts), r.wait_event_type, r.wait_event)).or_default() +=
                            1;
                    }
                }
            }
        }
    }
    let mut names = Names::default();
    names.load(ctx.store, b.sessions.keys().flat_map(|k| [k.2, k.3]).collect()).await?;
    let mut table = Table::new(BUCKET_COLUMNS);
    let mut ordered: Vec<_> = b.sessions.into_iter().collect();
    ordered.sort_by_key(|((instance, bucket, _, _), sessions)| (*bucket, *instance, -sessions));
    for ((instance_id, bucket, wet, we), sessions) in ordered {
        let Some(target) = ctx.sel.target(instance_id) else { continue };
        let ticks = b.ticks.get(&(instance_id, bucket)).copied().unwrap_or_default().max(1);
        let mut row = table.blank();
        table.set(&mut row, "time", ctx.time(bucket));
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "server", target.server.clone());
        table.set(&mut row, "wait_event_type", names.get(wet));
        table.set(&mut row, "wait_event", names.get(we));
        table.set(
            &mut row,
            "active_sessions",
            Cell::number((sessions as f64 / ticks as f64 * 1000.0).round() / 1000.0),
        );
        table.set(&mut row, "samples", sessions);
        table.rows.push(row);
    }
    Ok(table.into())
}
