//! The workload API's logic, free of HTTP: Datasentinel's activity endpoints (`session-history`,
//! `top-queries`, `tables`, …) computed from the sampler's stored data for the instances a
//! request covers. `api::activity` parses the request and renders the `Answer`.

mod ash_source;
mod impact;
mod instance;
mod locks;
mod relations;
pub mod request;
pub mod scope;
mod sessions;
mod statements;
pub mod table;

use std::collections::HashMap;
use std::sync::Arc;

pub use impact::{Dimension, SessionsWorkload, MAX_REPORT_SAMPLES};
pub use request::{Output, Query, WorkloadBody};
pub use scope::Selection;
pub use sessions::{MAX_SAMPLES, MAX_SCANNED_SAMPLES};
pub use table::{Cell, Table};

use crate::activity::FreshAsh;
use crate::store::{Store, StoreError};

/// Why a workload request failed: the caller's mistake (400) or storage (500).
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type WorkloadResult<T> = Result<T, WorkloadError>;

/// A computed answer, and a note for the caller when the answer is empty for a known reason.
#[derive(Debug, Default)]
pub struct Answer {
    pub table: Table,
    pub notice: Option<String>,
    /// Sampling gaps over the range (session-history with `gaps: true`): rendered beside the
    /// rows as `{"rows": …, "gaps": …}`.
    pub gaps: Option<Table>,
}

impl From<Table> for Answer {
    fn from(table: Table) -> Answer {
        Answer { table, notice: None, gaps: None }
    }
}

impl Answer {
    /// The JSON body: the rows, or `{"rows": …, "gaps": …}` when gaps were asked for.
    pub fn to_json(&self) -> Vec<u8> {
        let Some(gaps) = &self.gaps else { return self.table.to_json() };
        let mut out = b"{\"rows\":".to_vec();
        out.extend(self.table.to_json());
        out.extend(b",\"gaps\":");
        out.extend(gaps.to_json());
        out.push(b'}');
        out
    }
}

/// The activity endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    SessionHistory,
    TopQueries,
    QueriesSummary,
    Query,
    PgInstanceInfos,
    PgInstance,
    PgBackground,
    Server,
    DataSize,
    Tables,
    Indexes,
    TopConsumers,
    Locks,
}

impl Endpoint {
    pub const NAMES: [&'static str; 14] = [
        "session-history",
        "sessions-workload",
        "top-queries",
        "queries-summary",
        "query",
        "pg-instance-infos",
        "pg-instance",
        "pg-background",
        "server",
        "data-size",
        "tables",
        "indexes",
        "top-consumers",
        "locks",
    ];

    /// The endpoint of a path segment (`sessions-workload` is the older name of `session-history`;
    /// `top_queries` is how one documented example spells it).
    pub fn parse(name: &str) -> Option<Endpoint> {
        Some(match name.replace('_', "-").as_str() {
            "session-history" | "sessions-workload" => Endpoint::SessionHistory,
            "top-queries" => Endpoint::TopQueries,
            "queries-summary" => Endpoint::QueriesSummary,
            "query" => Endpoint::Query,
            "pg-instance-infos" => Endpoint::PgInstanceInfos,
            "pg-instance" => Endpoint::PgInstance,
            "pg-background" => Endpoint::PgBackground,
            "server" => Endpoint::Server,
            "data-size" => Endpoint::DataSize,
            "tables" => Endpoint::Tables,
            "indexes" => Endpoint::Indexes,
            "top-consumers" => Endpoint::TopConsumers,
            "locks" => Endpoint::Locks,
            _ => return None,
        })
    }

    /// The developer profile is limited to sessions workload and queries (Datasentinel's rule);
    /// the other endpoints also need `settings:read`.
    pub fn for_developers(self) -> bool {
        matches!(
            self,
            Endpoint::SessionHistory
                | Endpoint::TopQueries
                | Endpoint::QueriesSummary
                | Endpoint::Query
                | Endpoint::Locks
        )
    }
}

/// Runs one endpoint for the selected instances; ASH answers include the ticks `fresh` holds
/// and storage does not yet (each exactly once).
pub async fn run(
    store: &Store,
    fresh: &FreshAsh,
    tenant_id: i64,
    endpoint: Endpoint,
    sel: &Selection,
    q: &Query,
) -> WorkloadResult<Answer> {
    let ctx = Ctx { store, fresh, tenant_id, sel, q };
    if q.gaps && endpoint != Endpoint::SessionHistory {
        return Err(WorkloadError::Invalid("\"gaps\" is only answered by session-history".into()));
    }
    match endpoint {
        Endpoint::SessionHistory => sessions::history(&ctx).await,
        Endpoint::TopQueries => statements::top_queries(&ctx).await,
        Endpoint::QueriesSummary => statements::summary(&ctx).await,
        Endpoint::Query => statements::one_query(&ctx).await,
        Endpoint::PgInstanceInfos => instance::infos(&ctx).await,
        Endpoint::PgInstance => instance::activity(&ctx).await,
        Endpoint::PgBackground => instance::background(&ctx).await,
        Endpoint::Server => instance::server(&ctx).await,
        Endpoint::DataSize => instance::data_size(&ctx).await,
        Endpoint::Tables => relations::tables(&ctx).await,
        Endpoint::Indexes => relations::indexes(&ctx).await,
        Endpoint::TopConsumers => instance::top_consumers(&ctx).await,
        Endpoint::Locks => locks::locks(&ctx).await,
    }
}

/// `top-queries` once per `by` (largest first, `q.limit` rows each) from one summing of the
/// statements: each table is what the endpoint answers with that `by` (a report's top lists).
pub async fn top_queries_by(
    store: &Store,
    fresh: &FreshAsh,
    tenant_id: i64,
    sel: &Selection,
    q: &Query,
    by: &[&str],
) -> WorkloadResult<Vec<Table>> {
    statements::top_lists(&Ctx { store, fresh, tenant_id, sel, q }, by).await
}

/// `pg-instance` with `compute: summary`, without `group` and with `group: database`, from one
/// read of the instances' activity points (a report shows both).
pub async fn instance_summaries(
    store: &Store,
    fresh: &FreshAsh,
    tenant_id: i64,
    sel: &Selection,
    q: &Query,
) -> WorkloadResult<(Table, Table)> {
    instance::activity_summaries(&Ctx { store, fresh, tenant_id, sel, q }).await
}

/// The sessions workload of a report (active sessions by wait class in `bucket_ms` buckets, and
/// each dimension's share of the samples), stored and fresh ASH alike.
pub async fn sessions_workload(
    store: &Store,
    fresh: &FreshAsh,
    tenant_id: i64,
    sel: &Selection,
    q: &Query,
    bucket_ms: i64,
) -> WorkloadResult<SessionsWorkload> {
    impact::sessions_workload(&Ctx { store, fresh, tenant_id, sel, q }, bucket_ms.max(1000)).await
}

/// What every endpoint works with.
struct Ctx<'a> {
    store: &'a Store,
    /// The activity writer's not-yet-stored ASH (read only through `ash_source`).
    fresh: &'a FreshAsh,
    tenant_id: i64,
    sel: &'a Selection,
    q: &'a Query,
}

impl Ctx<'_> {
    fn time(&self, ms: i64) -> Cell {
        Cell::Text(request::format_time(ms, self.q.utc))
    }

    /// `by` if it is one of `allowed`, else `default`; an unknown name is a 400 listing the choices.
    fn sort_column<'n>(&self, allowed: &[&'n str], default: &'n str) -> WorkloadResult<&'n str> {
        match self.q.by.as_deref() {
            None => Ok(default),
            Some(by) => allowed.iter().copied().find(|a| *a == by).ok_or_else(|| {
                WorkloadError::Invalid(format!("invalid \"by\" {by:?}: expected one of {}", allowed.join(", ")))
            }),
        }
    }

    /// `compute`: `details` (default) or `summary`.
    fn summary(&self) -> WorkloadResult<bool> {
        match self.q.compute.as_deref() {
            None | Some("details") => Ok(false),
            Some("summary") => Ok(true),
            Some(other) => {
                Err(WorkloadError::Invalid(format!("invalid \"compute\" {other:?}: expected details or summary")))
            }
        }
    }

    /// Statement resolution: raw cycles for ranges up to three days, hourly rollups beyond.
    fn statement_resolution(&self) -> i64 {
        if self.q.to - self.q.from > 3 * 86_400_000 {
            3600
        } else {
            0
        }
    }

    /// The version of each selected instance, from its inventory.
    async fn versions(&self) -> WorkloadResult<HashMap<i64, Arc<str>>> {
        let inventories = self.store.inventories(&self.sel.instance_ids()).await?;
        Ok(inventories.into_iter().map(|i| (i.instance_id, Arc::from(i.version))).collect())
    }
}

/// Resolves interned string ids to shared strings, one storage round trip per batch of ids.
#[derive(Default)]
struct Names {
    known: HashMap<i64, Arc<str>>,
}

impl Names {
    /// Takes a `Vec` (not an iterator) so the future stays `Send` whatever closure made the ids.
    async fn load(&mut self, store: &Store, ids: Vec<i64>) -> WorkloadResult<()> {
        let mut missing: Vec<i64> = ids.into_iter().filter(|id| *id != 0 && !self.known.contains_key(id)).collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            for (id, value) in store.strings_by_id(&missing).await? {
                self.known.insert(id, value.into());
            }
        }
        Ok(())
    }

    fn get(&self, id: i64) -> Arc<str> {
        self.known.get(&id).cloned().unwrap_or_else(|| Arc::from(""))
    }
}
