//! Instance-level endpoints: `pg-instance-infos` (inventory), `pg-instance` (database activity
//! per minute or summed), `pg-background` (background writer), `server` (host activity, when a
//! host collector supplies `host.*` metrics), `data-size` and `top-consumers` (grouped by a tag).
//! Activity comes from the metric store, where the sampler writes `pg.*` series per instance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{scope::Target, Answer, Cell, Ctx, Table, WorkloadError, WorkloadResult};
use crate::rbac::builtin_tags;
use crate::store::{InventoryRow, NamedPoint, StatementGrouping};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Database activity counters (`pg.db.<name>`); `num_backends` is a gauge.
const DB_FIELDS: [&str; 15] = [
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "temp_files",
    "temp_bytes",
    "deadlocks",
    "blk_read_time",
    "blk_write_time",
    "num_backends",
];

const BGWRITER_FIELDS: [&str; 9] = [
    "checkpoints_timed",
    "checkpoints_req",
    "checkpoint_write_time",
    "checkpoint_sync_time",
    "buffers_checkpoint",
    "buffers_clean",
    "buffers_backend",
    "buffers_backend_fsync",
    "buffers_alloc",
];

impl Ctx<'_> {
    fn resources(&self) -> Vec<String> {
        self.sel.targets.iter().map(|t| t.instance.name.clone()).collect()
    }

    fn target_named(&self, name: &str) -> Option<&Target> {
        self.sel.target_named(name)
    }

    async fn points(&self, metrics: &[String]) -> WorkloadResult<Vec<NamedPoint>> {
        let metrics: Vec<&str> = metrics.iter().map(String::as_str).collect();
        Ok(self.store.named_points(self.tenant_id, &self.resources(), &metrics, self.q.from, self.q.to).await?)
    }
}

fn label(point: &NamedPoint, key: &str) -> Option<String> {
    let labels: BTreeMap<String, String> = serde_json::from_str(&point.labels).ok()?;
    labels.get(key).cloned()
}

/// Rows keyed by (instance name, bucket or 0 for a summary, database) with fields summed.
type Sums = BTreeMap<(String, i64, String), BTreeMap<String, f64>>;

/// Sums points into buckets of `bucket_ms` (0: one bucket for the whole range).
fn bucketed(
    points: &[NamedPoint],
    prefix: &str,
    bucket_ms: i64,
    database: impl Fn(&NamedPoint) -> Option<String>,
) -> Sums {
    let mut sums = Sums::new();
    for p in points {
        let Some(db) = database(p) else { continue };
        let bucket = if bucket_ms == 0 { 0 } else { p.ts.div_euclid(bucket_ms) * bucket_ms };
        let field = p.metric.trim_start_matches(prefix).to_string();
        *sums.entry((p.resource.clone(), bucket, db)).or_default().entry(field).or_default() += p.value;
    }
    sums
}

fn render(
    ctx: &Ctx<'_>,
    sums: Sums,
    fields: &[&str],
    with_time: bool,
    with_database: bool,
    averages: &HashMap<String, f64>,
) -> Table {
    let mut columns = vec!["pg_instance"];
    if with_time {
        columns.push("time");
    }
    if with_database {
        columns.push("database");
    }
    columns.extend(fields);
    let mut table = Table::new(columns);
    for ((resource, bucket, database), values) in sums {
        let Some(target) = ctx.target_named(&resource) else { continue };
        let mut row = table.blank();
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        if with_time {
            table.set(&mut row, "time", ctx.time(bucket));
        }
        if with_database {
            table.set(&mut row, "database", database);
        }
        for f in fields {
            let v = values.get(*f).copied().unwrap_or_default() / averages.get(*f).copied().unwrap_or(1.0).max(1.0);
            table.set(&mut row, f, Cell::number((v * 1000.0).round() / 1000.0));
        }
        table.rows.push(row);
    }
    table
}

pub(super) async fn activity(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let summary = ctx.summary()?;
    let points = db_points(ctx).await?;
    // Without a database filter, databases add up to "all" unless `group: database` asks for
    // one row per database (reports do).
    let per_database = !ctx.sel.databases.is_empty() || ctx.q.group.as_deref() == Some("database");
    Ok(activity_table(ctx, &points, summary, per_database).into())
}

/// `pg-instance` summed over the range as it answers without `group` and with `group: database`,
/// from one read of the points (a report shows both, and reading a day of `pg.db.*` is the
/// costly part).
pub(super) async fn activity_summaries(ctx: &Ctx<'_>) -> WorkloadResult<(Table, Table)> {
    let points = db_points(ctx).await?;
    let global = activity_table(ctx, &points, true, !ctx.sel.databases.is_empty());
    Ok((global, activity_table(ctx, &points, true, true)))
}

async fn db_points(ctx: &Ctx<'_>) -> WorkloadResult<Vec<NamedPoint>> {
    let metrics: Vec<String> = DB_FIELDS.iter().map(|f| format!("pg.db.{f}")).collect();
    ctx.points(&metrics).await
}

fn activity_table(ctx: &Ctx<'_>, points: &[NamedPoint], summary: bool, per_database: bool) -> Table {
    let sums = bucketed(points, "pg.db.", if summary { 0 } else { MINUTE_MS }, |p| {
        let db = label(p, "database")?;
        if !ctx.sel.database_ok(&db) {
            None
        } else if per_database {
            Some(db)
        } else {
            Some("all".into())
        }
    });
    // num_backends is a level: a summary shows its average over the cycles seen.
    let mut averages = HashMap::new();
    if summary {
        let cycles = points
            .iter()
            .filter(|p| p.metric == "pg.db.num_backends")
            .map(|p| p.ts)
            .collect::<std::collections::BTreeSet<_>>();
        averages.insert("num_backends".to_string(), cycles.len() as f64);
    }
    render(ctx, sums, &DB_FIELDS, !summary, true, &averages)
}

pub(super) async fn background(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let summary = ctx.summary()?;
    let metrics: Vec<String> = BGWRITER_FIELDS.iter().map(|f| format!("pg.bgwriter.{f}")).collect();
    let points = ctx.points(&metrics).await?;
    let sums = bucketed(&points, "pg.bgwriter.", if summary { 0 } else { MINUTE_MS }, |_| Some(String::new()));
    Ok(render(ctx, sums, &BGWRITER_FIELDS, !summary, false, &HashMap::new()).into())
}

/// Per host metric of one bucket: (sum, count), shown as their average.
type HostFields = BTreeMap<String, (f64, f64)>;

pub(super) async fn server(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let summary = ctx.summary()?;
    let mut servers: Vec<Arc<str>> = ctx.sel.targets.iter().map(|t| t.server.clone()).collect();
    servers.sort();
    servers.dedup();
    let mut table_rows: BTreeMap<(Arc<str>, i64), HostFields> = BTreeMap::new();
    let mut fields = std::collections::BTreeSet::new();
    for server in &servers {
        let metrics = ctx.store.metric_names_with_prefix(ctx.tenant_id, server, "host.").await?;
        let names: Vec<&str> = metrics.iter().map(String::as_str).collect();
        let points = ctx.store.named_points(ctx.tenant_id, &[server.to_string()], &names, ctx.q.from, ctx.q.to).await?;
        for p in points {
            let bucket = if summary { 0 } else { p.ts.div_euclid(MINUTE_MS) * MINUTE_MS };
            let field = p.metric.trim_start_matches("host.").to_string();
            fields.insert(field.clone());
            let slot = table_rows.entry((server.clone(), bucket)).or_default().entry(field).or_default();
            // Host metrics are levels and rates: buckets show their average.
            slot.0 += p.value;
            slot.1 += 1.0;
        }
    }
    let mut table = Table::new(["server", "time"].into_iter().map(String::from).chain(fields.iter().cloned()));
    for ((server, bucket), values) in table_rows {
        let mut row = table.blank();
        table.set(&mut row, "server", server);
        if !summary {
            table.set(&mut row, "time", ctx.time(bucket));
        }
        for (field, (sum, n)) in values {
            table.set(&mut row, &field, Cell::number((sum / n * 1000.0).round() / 1000.0));
        }
        table.rows.push(row);
    }
    let notice = (table.rows.is_empty() && !servers.is_empty()).then(|| {
        format!(
            "no host activity for {}: no host collector or agent supplies host.* metrics for these servers",
            servers.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(", ")
        )
    });
    Ok(Answer { table, notice, gaps: None })
}

pub(super) async fn data_size(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let summary = ctx.summary()?;
    let points = ctx.points(&["pg.db.size_bytes".to_string()]).await?;
    let versions = ctx.versions().await?;
    // The last value per (instance, database, hour), or per (instance, database) for a summary.
    let mut latest: BTreeMap<(String, String, i64), (i64, f64)> = BTreeMap::new();
    for p in &points {
        let Some(db) = label(p, "database").filter(|d| ctx.sel.database_ok(d)) else { continue };
        let bucket = if summary { 0 } else { p.ts.div_euclid(HOUR_MS) * HOUR_MS };
        let slot = latest.entry((p.resource.clone(), db, bucket)).or_insert((p.ts, p.value));
        if p.ts >= slot.0 {
            *slot = (p.ts, p.value);
        }
    }
    let tag_keys = ctx.sel.tag_keys();
    let mut table = Table::new(
        ["time", "pg_instance", "database", "data_size", "pg_version", "server"]
            .into_iter()
            .map(String::from)
            .chain(tag_keys.iter().cloned()),
    );
    for ((resource, database, _), (ts, value)) in latest {
        let Some(target) = ctx.target_named(&resource) else { continue };
        let mut row = table.blank();
        table.set(&mut row, "time", ctx.time(ts));
        table.set(&mut row, "pg_instance", target.pg_instance.clone());
        table.set(&mut row, "database", database);
        table.set(&mut row, "data_size", Cell::number(value));
        table.set(&mut row, "server", target.server.clone());
        if let Some(v) = versions.get(&target.instance.id) {
            table.set(&mut row, "pg_version", v.clone());
        }
        for (k, v) in &target.tags {
            table.set(&mut row, k, v.clone());
        }
        table.rows.push(row);
    }
    Ok(table.into())
}

/// `3 days 07:31:07`, as Datasentinel shows uptimes.
fn uptime(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{} days {:02}:{:02}:{:02}", s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60)
}

/// Bytes of a setting given as `(value, unit)` from `pg_settings` (`16384`, `8kB`).
fn setting_bytes(value: &str, unit: Option<&str>) -> Option<f64> {
    let v: f64 = value.trim().parse().ok()?;
    let unit = unit.unwrap_or("B").trim();
    let split = unit.find(|c: char| !c.is_ascii_digit()).unwrap_or(unit.len());
    let (n, u) = unit.split_at(split);
    let n: f64 = if n.is_empty() { 1.0 } else { n.parse().ok()? };
    let scale = match u {
        "B" | "" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(v * n * scale)
}

fn database_sizes(inv: &InventoryRow) -> f64 {
    serde_json::from_str::<BTreeMap<String, f64>>(&inv.databases).map(|m| m.values().sum()).unwrap_or_default()
}

fn shared_buffers(inv: &InventoryRow) -> f64 {
    serde_json::from_str::<BTreeMap<String, (String, Option<String>)>>(&inv.settings)
        .ok()
        .and_then(|s| s.get("shared_buffers").and_then(|(v, u)| setting_bytes(v, u.as_deref())))
        .unwrap_or_default()
}

/// Sum of every point per (resource, metric): one pass, looked up per instance afterwards.
fn totals(points: &[NamedPoint]) -> HashMap<(&str, &str), f64> {
    let mut sums = HashMap::new();
    for p in points {
        *sums.entry((p.resource.as_str(), p.metric.as_str())).or_default() += p.value;
    }
    sums
}

pub(super) async fn infos(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let inventories: HashMap<i64, InventoryRow> =
        ctx.store.inventories(&ctx.sel.instance_ids()).await?.into_iter().map(|i| (i.instance_id, i)).collect();
    let wal = ctx.points(&["pg.wal_bytes".to_string()]).await?;
    let wal = totals(&wal);
    let now = crate::store::now_ms();
    let mut table = Table::new([
        "pg_instance",
        "server",
        "tags",
        "version",
        "version_full",
        "start_time",
        "uptime",
        "wal_size",
        "type",
        "size",
        "max_connections",
        "connected",
        "settings",
    ]);
    for t in &ctx.sel.targets {
        let mut row = table.blank();
        table.set(&mut row, "pg_instance", t.pg_instance.clone());
        table.set(&mut row, "server", t.server.clone());
        let tags: BTreeMap<&str, &str> = t.tags.iter().map(|(k, v)| (k.as_str(), v.as_ref())).collect();
        table.set(&mut row, "tags", serde_json::to_string(&tags).expect("string maps serialize"));
        table.set(&mut row, "connected", Cell::Text(t.instance.connected.to_string()));
        table.set(
            &mut row,
            "wal_size",
            Cell::number(wal.get(&(t.instance.name.as_str(), "pg.wal_bytes")).copied().unwrap_or_default()),
        );
        if let Some(inv) = inventories.get(&t.instance.id) {
            table.set(&mut row, "version", inv.version.as_str());
            table.set(&mut row, "version_full", inv.version_full.as_str());
            let start = chrono::DateTime::from_timestamp_millis(inv.start_time).unwrap_or_default();
            let start = if ctx.q.utc { start.naive_utc() } else { start.with_timezone(&chrono::Local).naive_local() };
            table.set(&mut row, "start_time", start.format("%Y-%m-%d %H:%M:%S").to_string());
            table.set(&mut row, "uptime", uptime(now - inv.start_time));
            table.set(&mut row, "type", if inv.is_replica { "replica" } else { "primary" });
            table.set(&mut row, "size", Cell::number(database_sizes(inv)));
            table.set(&mut row, "max_connections", inv.max_connections);
            // Settings that matter, as `{"name": [value, unit]}` JSON text (one CSV field).
            table.set(&mut row, "settings", inv.settings.as_str());
        }
        table.rows.push(row);
    }
    Ok(table.into())
}

const CONSUMER_FIELDS: [&str; 6] =
    ["db_time", "memory_size", "data_size", "wal_size", "cache_blocks_hit", "disk_blocks_read"];

pub(super) async fn top_consumers(ctx: &Ctx<'_>) -> WorkloadResult<Answer> {
    let by = match ctx.q.by.as_deref() {
        None => "db_time",
        Some("memory") => "memory_size",
        Some(b) => CONSUMER_FIELDS.iter().copied().find(|f| *f == b).ok_or_else(|| {
            WorkloadError::Invalid(format!(
                "invalid \"by\" {b:?}: expected one of db_time, memory, data_size, wal_size, cache_blocks_hit, disk_blocks_read"
            ))
        })?,
    };
    let group = ctx.q.group.clone().unwrap_or_else(|| "pg_instance".into());
    let ids = ctx.sel.instance_ids();
    let statements = ctx
        .store
        .statement_sums(&ids, ctx.statement_resolution(), ctx.q.from, ctx.q.to, StatementGrouping::Database, None)
        .await?;
    // `total_time` (the second statement column) summed per instance.
    let mut db_time: HashMap<i64, f64> = HashMap::new();
    for s in &statements {
        *db_time.entry(s.instance_id).or_default() += s.values[1];
    }
    let inventories: HashMap<i64, InventoryRow> =
        ctx.store.inventories(&ids).await?.into_iter().map(|i| (i.instance_id, i)).collect();
    let points = ctx.points(&["pg.wal_bytes".into(), "pg.db.blks_hit".into(), "pg.db.blks_read".into()]).await?;
    let points = totals(&points);
    let total = |name: &str, metric: &str| points.get(&(name, metric)).copied().unwrap_or_default();
    let tag_of = |t: &Target, key: &str| -> String {
        t.tags
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .chain(builtin_tags(&t.instance))
            .find(|(k, _)| k == key)
            .map_or_else(|| "N/A".into(), |(_, v)| v)
    };
    let mut groups: BTreeMap<(String, Option<String>), (i64, [f64; 6])> = BTreeMap::new();
    for t in &ctx.sel.targets {
        let key = (tag_of(t, &group), ctx.q.sub_group.as_deref().map(|s| tag_of(t, s)));
        let name = &t.instance.name;
        let inv = inventories.get(&t.instance.id);
        let values = [
            db_time.get(&t.instance.id).copied().unwrap_or_default(),
            inv.map(shared_buffers).unwrap_or_default(),
            inv.map(database_sizes).unwrap_or_default(),
            total(name, "pg.wal_bytes"),
            total(name, "pg.db.blks_hit"),
            total(name, "pg.db.blks_read"),
        ];
        let slot = groups.entry(key).or_insert((0, [0.0; 6]));
        slot.0 += 1;
        slot.1.iter_mut().zip(values).for_each(|(s, v)| *s += v);
    }
    let mut columns = vec!["tag", "instances"];
    if ctx.q.sub_group.is_some() {
        columns.push("sub_tag");
    }
    columns.extend(CONSUMER_FIELDS);
    let mut table = Table::new(columns);
    for ((tag, sub), (instances, values)) in groups {
        let mut row = table.blank();
        table.set(&mut row, "tag", tag);
        if let Some(sub) = sub {
            table.set(&mut row, "sub_tag", sub);
        }
        table.set(&mut row, "instances", instances);
        for (f, v) in CONSUMER_FIELDS.iter().zip(values) {
            table.set(&mut row, f, Cell::number(v.round()));
        }
        table.rows.push(row);
    }
    table.top(by, ctx.q.limit);
    Ok(table.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_and_setting_units() {
        assert_eq!(uptime((3 * 86_400 + 7 * 3600 + 31 * 60 + 7) * 1000), "3 days 07:31:07");
        assert_eq!(setting_bytes("16384", Some("8kB")), Some(134_217_728.0));
        assert_eq!(setting_bytes("4", Some("MB")), Some(4_194_304.0));
        assert_eq!(setting_bytes("x", None), None);
    }
}
