//! The sessions workload of a report: one pass over the ASH of the range (stored and fresh)
//! gives both the active sessions over time by wait class (the chart) and every dimension's
//! share of the samples, its "% impact": wait event type, wait event, database, user, command
//! and query. Rows are counted by their interned ids and named once at the end, so a day of a
//! busy instance (~10⁶ samples) costs a few hash-map increments per sample.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{ash_source, Ctx, Names, WorkloadResult};
use crate::activity::codec::AshChunk;

/// Session samples one report may count (a day of ~230 active sessions at 1 s).
pub const MAX_REPORT_SAMPLES: i64 = 20_000_000;

/// What a share is taken by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    WaitEventType,
    WaitEvent,
    Database,
    User,
    Command,
    Query,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::WaitEventType,
        Dimension::WaitEvent,
        Dimension::Database,
        Dimension::User,
        Dimension::Command,
        Dimension::Query,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Dimension::WaitEventType => "wait event type",
            Dimension::WaitEvent => "wait event",
            Dimension::Database => "database",
            Dimension::User => "user",
            Dimension::Command => "command type",
            Dimension::Query => "query id",
        }
    }
}

/// The counted workload.
#[derive(Debug, Default)]
pub struct SessionsWorkload {
    /// Session samples counted (after database/user filters).
    pub samples: i64,
    /// Width of the chart's buckets.
    pub bucket_ms: i64,
    /// Average active sessions per bucket (summed over instances), by wait event type.
    pub by_class: BTreeMap<Arc<str>, Vec<(i64, f64)>>,
    /// Per dimension: (value, samples), most samples first. Queries are keyed by queryid.
    pub shares: BTreeMap<Dimension, Vec<(Arc<str>, i64)>>,
    /// (instance id, queryid) of the counted queries, with their samples, most first.
    pub queries: Vec<((i64, i64), i64)>,
}

/// Ids of one sample's dimensions, in `Dimension::ALL` order.
type Key = [i64; 6];

#[derive(Default)]
struct Counts {
    ticks: HashMap<(i64, i64), i64>,
    /// (instance, bucket, wait event type, database, user) → samples.
    series: HashMap<(i64, i64, i64, i64, i64), i64>,
    combos: HashMap<Key, i64>,
    queries: HashMap<(i64, i64, i64, i64), i64>,
}

impl Counts {
    fn add(&mut self, ctx: &Ctx<'_>, bucket_ms: i64, instance_id: i64, chunk: &AshChunk) {
        let inside = |ts: i64| (ctx.q.from..=ctx.q.to).contains(&ts);
        let align = |ts: i64| ts.div_euclid(bucket_ms) * bucket_ms;
        for &t in chunk.ticks.iter().filter(|t| inside(**t)) {
            *self.ticks.entry((instance_id, align(t))).or_default() += 1;
        }
        for r in chunk.rows.iter().filter(|r| inside(r.ts)) {
            *self.series.entry((instance_id, align(r.ts), r.wait_event_type, r.database, r.user)).or_default() += 1;
            let key = [r.wait_event_type, r.wait_event, r.database, r.user, r.command, r.query_id];
            *self.combos.entry(key).or_default() += 1;
            *self.queries.entry((instance_id, r.query_id, r.database, r.user)).or_default() += 1;
        }
    }
}

/// Counts the selection's sessions workload over the query's range.
pub(super) async fn sessions_workload(ctx: &Ctx<'_>, bucket_ms: i64) -> WorkloadResult<SessionsWorkload> {
    let mut counts = Counts::default();
    let hint = "reports count at most that many session samples; narrow \"from\"/\"to\" or the filters";
    ash_source::scan(ctx, MAX_REPORT_SAMPLES, hint, |instance_id, chunk| {
        counts.add(ctx, bucket_ms, instance_id, chunk)
    })
    .await?;
    let mut names = Names::default();
    let ids: Vec<i64> = counts.combos.keys().flat_map(|k| k[..5].to_vec()).collect();
    names.load(ctx.store, ids).await?;
    let wanted = |db: i64, user: i64| ctx.sel.database_ok(&names.get(db)) && ctx.sel.user_ok(&names.get(user));

    let mut shares: BTreeMap<Dimension, HashMap<Arc<str>, i64>> = BTreeMap::new();
    let mut samples = 0;
    for (key, n) in counts.combos.iter().filter(|(k, _)| wanted(k[2], k[3])) {
        samples += n;
        for (i, dim) in Dimension::ALL.into_iter().enumerate() {
            let value: Arc<str> = match dim {
                Dimension::Query => Arc::from(key[i].to_string()),
                _ => names.get(key[i]),
            };
            *shares.entry(dim).or_default().entry(value).or_default() += n;
        }
    }
    let mut queries: HashMap<(i64, i64), i64> = HashMap::new();
    for ((instance, queryid, db, user), n) in &counts.queries {
        if wanted(*db, *user) {
            *queries.entry((*instance, *queryid)).or_default() += n;
        }
    }
    Ok(SessionsWorkload {
        samples,
        bucket_ms,
        by_class: by_class(&counts, &names, wanted),
        shares: shares.into_iter().map(|(d, m)| (d, most_first(m))).collect(),
        queries: most_first(queries),
    })
}

/// Average active sessions per bucket and wait class: each instance's samples over its ticks,
/// summed over instances. Every class has a point in every bucket with ticks (0 when absent),
/// so stacked areas line up.
fn by_class(counts: &Counts, names: &Names, wanted: impl Fn(i64, i64) -> bool) -> BTreeMap<Arc<str>, Vec<(i64, f64)>> {
    let mut sums: BTreeMap<Arc<str>, BTreeMap<i64, f64>> = BTreeMap::new();
    for ((instance, bucket, class, db, user), n) in &counts.series {
        if !wanted(*db, *user) {
            continue;
        }
        let ticks = counts.ticks.get(&(*instance, *bucket)).copied().unwrap_or(1).max(1);
        *sums.entry(names.get(*class)).or_default().entry(*bucket).or_default() += *n as f64 / ticks as f64;
    }
    let mut buckets: Vec<i64> = counts.ticks.keys().map(|(_, b)| *b).collect();
    buckets.sort_unstable();
    buckets.dedup();
    sums.into_iter()
        .map(|(class, values)| {
            let points = buckets.iter().map(|b| (*b, values.get(b).copied().unwrap_or(0.0))).collect();
            (class, points)
        })
        .collect()
}

/// Entries by count, largest first (ties by key, so output is stable).
fn most_first<K: Ord>(counts: HashMap<K, i64>) -> Vec<(K, i64)> {
    let mut v: Vec<(K, i64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}
