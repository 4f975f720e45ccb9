//! The ingestion task: turns the sampler's `Batch`es into stored rows. ASH ticks are buffered per
//! instance and written as one compact chunk per minute (with their minute rollups); meanwhile
//! the open chunk's new ticks are persisted every few seconds as tail segments (`tail`), so a
//! crash loses at most one tail interval and a clean stop (`Control::Shutdown`) loses nothing.
//! The open chunk lives in its instance's `fresh` slot, where readers see it before the cut.
//! Sampling gaps are inferred (`gaps`) and stored beside the chunks. Everything else is written
//! as it arrives. Strings are interned through a cache, so a steady workload costs no lookups.

use std::collections::HashMap;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::codec::AshRow;
use super::fresh::{FreshAsh, SlotHandle};
use super::gaps::GapTracker;
use super::rollups::minute_rollups;
use super::tail;
use crate::cluster::Owned;
use crate::model::{AshTick, Batch, Cadence, Gap, InstanceKey, Inventory, LockSnapshot, RelationBatch, StatementBatch};
use crate::sampler::ash::command_of;
use crate::store::columns;
use crate::store::{
    AshRollupRow, InventoryRow, RelationRow, StatementRow, StatementText, Store, StoreResult, StoredAshChunk,
};

/// A chunk is written anyway when its instance stopped ticking for this long past its length.
const STALE_GRACE: Duration = Duration::from_secs(10);

pub(super) enum Control {
    /// Store everything received so far, open chunks included, and answer.
    Flush(oneshot::Sender<()>),
    /// Store everything received so far, answer what was written, and stop.
    Shutdown(oneshot::Sender<Drained>),
    /// Stop at once, storing nothing more: what a crash does (tests of crash recovery).
    Halt(oneshot::Sender<()>),
    /// Store everything received so far of these instances, open chunks included, then forget
    /// them (a cluster member hands their leases over), and answer.
    Handover(Vec<i64>, oneshot::Sender<()>),
    /// Forget these instances without storing their open chunks (their leases were lost: the
    /// fence would refuse the writes), and answer.
    Forget(Vec<i64>, oneshot::Sender<()>),
}

/// What the shutdown drain wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Batches still queued when the drain began.
    pub batches: usize,
    /// Open ASH chunks written, and their ticks.
    pub chunks: usize,
    pub ticks: usize,
    /// Open ASH chunks storage refused (dropped, and logged).
    pub failed_chunks: usize,
}

/// How the ingestion task cuts and persists ASH.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub chunk_ms: i64,
    /// How often open chunks' new ticks are persisted; zero: never (a crash loses the open chunk).
    pub tail_every: Duration,
    /// Whether the task starts by recovering every instance's tail (one host). A cluster member
    /// recovers an instance's tail when it takes its lease instead: at its start the other
    /// members' tails are theirs.
    pub recover_at_start: bool,
}

struct Buffer {
    instance_id: i64,
    /// Where the open chunk's ticks are (shared with readers); the counts below mirror it so
    /// the writer decides cuts and tails without taking the slot's lock.
    slot: SlotHandle,
    start_ts: i64,
    end_ts: i64,
    ticks: usize,
    rows: usize,
    since: Instant,
    /// Ticks (and their rows) already in `ash_tail`.
    persisted_ticks: usize,
    persisted_rows: usize,
    tail_due: Instant,
}

pub(super) struct Ingest {
    store: Store,
    settings: Settings,
    strings: HashMap<String, i64>,
    buffers: HashMap<i64, Buffer>,
    gaps: GapTracker,
    fresh: FreshAsh,
    /// A cluster member's leases: a batch of a lease generation not held any more is dropped.
    leases: Option<watch::Receiver<Owned>>,
}

pub(super) async fn run(
    store: Store,
    settings: Settings,
    fresh: FreshAsh,
    leases: Option<watch::Receiver<Owned>>,
    mut batches: mpsc::Receiver<Batch>,
    mut control: mpsc::Receiver<Control>,
) {
    let chunk_ms = settings.chunk_ms;
    let stale = Duration::from_millis(chunk_ms as u64) + STALE_GRACE;
    let mut ingest = Ingest {
        store,
        settings,
        strings: HashMap::new(),
        buffers: HashMap::new(),
        gaps: GapTracker::default(),
        fresh,
        leases,
    };
    // Before anything new: what a crash left in the tail becomes closed chunks.
    if ingest.settings.recover_at_start {
        recover(&ingest.store, chunk_ms).await;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = batches.recv() => match batch {
                Some(b) => ingest.handle(b).await,
                None => break,
            },
            Some(request) = control.recv() => match request {
                Control::Halt(done) => {
                    // A crash loses memory: readers no longer see what was not stored.
                    ingest.fresh.clear();
                    let _ = done.send(());
                    return;
                }
                Control::Flush(done) => {
                    // Everything queued before the request is part of it.
                    ingest.drain(&mut batches).await;
                    ingest.write_chunks(|_| true).await;
                    let _ = done.send(());
                }
                Control::Handover(ids, done) => {
                    ingest.drain(&mut batches).await;
                    ingest.write_chunks(|b| ids.contains(&b.instance_id)).await;
                    ingest.forget(&ids);
                    let _ = done.send(());
                }
                Control::Forget(ids, done) => {
                    ingest.drain(&mut batches).await;
                    ingest.forget(&ids);
                    let _ = done.send(());
                }
                Control::Shutdown(done) => {
                    let queued = ingest.drain(&mut batches).await;
                    let (chunks, ticks, failed_chunks) = ingest.write_chunks(|_| true).await;
                    let _ = done.send(Drained { batches: queued, chunks, ticks, failed_chunks });
                    return;
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                ingest.write_chunks(|b| now.duration_since(b.since) >= stale).await;
                ingest.persist_tails(now).await;
            }
        }
    }
    ingest.write_chunks(|_| true).await;
}

/// Turns what a crash left in the tail into closed chunks, logging what it found.
async fn recover(store: &Store, chunk_ms: i64) {
    match tail::recover(store, chunk_ms).await {
        Ok(r) if r.ticks > 0 || r.unreadable > 0 => tracing::warn!(
            instances = r.instances,
            chunks = r.chunks,
            ticks = r.ticks,
            unreadable = r.unreadable,
            "recovered ASH ticks persisted before an unclean stop"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "recovering the ASH tail failed; retried at the next start"),
    }
}

fn report(what: &str, key: &InstanceKey, result: StoreResult<()>) {
    if let Err(e) = result {
        // An instance deleted while its batches were in flight lands here (foreign key): harmless.
        tracing::warn!(instance_id = key.instance_id, error = %e, "storing {what} failed; batch dropped");
    }
}

impl Ingest {
    /// Handles every batch already queued; returns how many there were.
    async fn drain(&mut self, batches: &mut mpsc::Receiver<Batch>) -> usize {
        let mut n = 0;
        while let Ok(b) = batches.try_recv() {
            self.handle(b).await;
            n += 1;
        }
        n
    }

    /// Whether `key`'s lease generation is still held (always, on a single host). A task of a
    /// lost or handed-over lease may still have sent a batch or two: they stop here.
    fn admits(&self, key: &InstanceKey) -> bool {
        match (&self.leases, key.lease) {
            (Some(leases), Some(generation)) => leases.borrow().get(&key.instance_id) == Some(&generation),
            _ => true,
        }
    }

    async fn handle(&mut self, batch: Batch) {
        if !self.admits(batch.key()) {
            metrics::counter!("vigia_fenced_batches_total").increment(1);
            return;
        }
        match batch {
            Batch::Ash(key, tick) => {
                let result = self.ash(&key, tick).await;
                report("ASH", &key, result)
            }
            Batch::Cadence(key, cadence) => {
                let result = self.cadence(&key, cadence).await;
                report("sampling cadence", &key, result)
            }
            Batch::Gap(key, gap) => {
                let result = self.outage(&key, gap).await;
                report("sampling gap", &key, result)
            }
            Batch::Statements(key, b) => {
                let result = self.statements(&key, b).await;
                report("statements", &key, result)
            }
            Batch::Relations(key, b) => {
                let result = self.relations(&key, b).await;
                report("table activity", &key, result)
            }
            Batch::Inventory(key, inv) => {
                let result = self.inventory(&key, inv).await;
                report("inventory", &key, result)
            }
            Batch::Locks(key, snapshot) => {
                let result = self.locks(&key, snapshot).await;
                report("locks", &key, result)
            }
        }
    }

    /// Drops the open chunks and the cadence of `ids` (after a handover stored them, or a lost
    /// lease made them unstorable).
    fn forget(&mut self, ids: &[i64]) {
        for id in ids {
            if let Some(buffer) = self.buffers.remove(id) {
                buffer.slot.discard();
            }
            self.gaps.forget(*id);
        }
    }

    /// Ids of `names`, asking storage only for the ones not cached yet.
    async fn intern(&mut self, names: &[&str]) -> StoreResult<()> {
        let mut missing: Vec<&str> = names.iter().copied().filter(|n| !self.strings.contains_key(*n)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        for (value, id) in self.store.intern_strings(&missing).await? {
            self.strings.insert(value, id);
        }
        Ok(())
    }

    fn id(&self, name: &str) -> i64 {
        self.strings.get(name).copied().unwrap_or_default()
    }

    /// The rows of `tick` with its strings' ids from `id`; `None` as soon as `id` knows one not.
    fn ash_rows(tick: &AshTick, id: impl Fn(&str) -> Option<i64>) -> Option<Vec<AshRow>> {
        tick.sessions
            .iter()
            .map(|s| {
                Some(AshRow {
                    ts: tick.ts_ms,
                    pid: s.pid,
                    backend_start: s.backend_start_ms,
                    state: id(&s.state)?,
                    wait_event_type: id(&s.wait_event_type)?,
                    wait_event: id(&s.wait_event)?,
                    blocking_pids: s.blocking_pids.clone(),
                    query_id: s.query_id,
                    database: id(&s.database)?,
                    user: id(&s.user)?,
                    application: id(&s.application)?,
                    client: id(&s.client)?,
                    backend_type: id(&s.backend_type)?,
                    command: id(&s.command)?,
                    query_start: s.query_start_ms,
                    xact_start: s.xact_start_ms,
                })
            })
            .collect()
    }

    async fn ash(&mut self, key: &InstanceKey, tick: AshTick) -> StoreResult<()> {
        // A steady workload's strings are all cached: one lookup each, no list of names.
        let cached = Self::ash_rows(&tick, |name| self.strings.get(name).copied());
        let rows = match cached {
            Some(rows) => rows,
            None => {
                let names: Vec<&str> = tick
                    .sessions
                    .iter()
                    .flat_map(|s| {
                        [
                            s.state.as_str(),
                            &s.wait_event_type,
                            &s.wait_event,
                            &s.database,
                            &s.user,
                            &s.application,
                            &s.client,
                            &s.backend_type,
                            &s.command,
                        ]
                    })
                    .collect();
                self.intern(&names).await?;
                Self::ash_rows(&tick, |name| Some(self.id(name))).unwrap_or_default()
            }
        };
        if let Some(gap) = self.gaps.tick(key.instance_id, tick.ts_ms) {
            self.store.insert_ash_gaps(key.instance_id, &[gap]).await?;
        }
        // A tick of another minute (or one going back in time) closes the buffered chunk.
        let cut = self.buffers.get(&key.instance_id).is_some_and(|b| {
            tick.ts_ms / self.settings.chunk_ms != b.start_ts / self.settings.chunk_ms || tick.ts_ms <= b.end_ts
        });
        if cut {
            let id = key.instance_id;
            self.write_chunks(|b| b.instance_id == id).await;
        }
        let tail_every = self.settings.tail_every;
        let fresh = &self.fresh;
        let buffer = self.buffers.entry(key.instance_id).or_insert_with(|| Buffer {
            instance_id: key.instance_id,
            slot: fresh.slot(key.instance_id),
            start_ts: tick.ts_ms,
            end_ts: tick.ts_ms,
            ticks: 0,
            rows: 0,
            since: Instant::now(),
            persisted_ticks: 0,
            persisted_rows: 0,
            tail_due: Instant::now() + tail_every,
        });
        (buffer.end_ts, buffer.ticks, buffer.rows) = (tick.ts_ms, buffer.ticks + 1, buffer.rows + rows.len());
        buffer.slot.push(tick.ts_ms, rows);
        Ok(())
    }

    /// A sampling task (re)started: the first time this process sees the instance, storage
    /// says up to when its ASH is accounted for (a longer silence before its next tick is a gap).
    async fn cadence(&mut self, key: &InstanceKey, cadence: Cadence) -> StoreResult<()> {
        let covered = match self.gaps.knows(key.instance_id) {
            true => None,
            false => self.store.ash_coverage_end(key.instance_id).await?,
        };
        self.gaps.cadence(key.instance_id, cadence.interval_ms, covered);
        Ok(())
    }

    async fn outage(&mut self, key: &InstanceKey, gap: Gap) -> StoreResult<()> {
        let gaps = self.gaps.outage(key.instance_id, gap);
        self.store.insert_ash_gaps(key.instance_id, &gaps).await
    }

    /// Encodes and stores the buffered chunks `due` selects, with their minute rollups; returns
    /// the chunks and ticks stored, and the chunks storage refused. Readers keep seeing a cut
    /// chunk in its fresh slot until its write is over (`release`), so it is never in neither.
    async fn write_chunks(&mut self, due: impl Fn(&Buffer) -> bool) -> (usize, usize, usize) {
        let ids: Vec<i64> = self.buffers.values().filter(|b| due(b)).map(|b| b.instance_id).collect();
        let mut chunks = Vec::with_capacity(ids.len());
        let mut rollups = Vec::new();
        let mut cut = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(buffer) = self.buffers.remove(&id) else { continue };
            let chunk = buffer.slot.cut();
            rollups.extend(minute_rollups(id, &chunk));
            chunks.push(tail::stored(id, &chunk));
            cut.push((buffer.slot, chunk));
        }
        let written = self.store_chunks(chunks, &rollups).await;
        for (slot, chunk) in &cut {
            slot.release(chunk);
        }
        written
    }

    async fn store_chunks(&self, chunks: Vec<StoredAshChunk>, rollups: &[AshRollupRow]) -> (usize, usize, usize) {
        if chunks.is_empty() {
            return (0, 0, 0);
        }
        if self.store.write_ash(&chunks, rollups).await.is_ok() {
            return (chunks.len(), chunks.iter().map(|c| c.ticks as usize).sum(), 0);
        }
        // One bad chunk (its instance was deleted) must not take the others down with it.
        let mut written = (0, 0, 0);
        for chunk in chunks {
            let mine: Vec<AshRollupRow> =
                rollups.iter().filter(|r| r.instance_id == chunk.instance_id).copied().collect();
            match self.store.write_ash(std::slice::from_ref(&chunk), &mine).await {
                Ok(()) => (written.0, written.1) = (written.0 + 1, written.1 + chunk.ticks as usize),
                Err(e) => {
                    written.2 += 1;
                    tracing::warn!(instance_id = chunk.instance_id, error = %e, "storing an ASH chunk failed; dropped")
                }
            }
        }
        written
    }

    /// Appends the new ticks of every open chunk whose tail is due to `ash_tail`.
    async fn persist_tails(&mut self, now: Instant) {
        if self.settings.tail_every.is_zero() {
            return;
        }
        let due: Vec<StoredAshChunk> = self
            .buffers
            .values()
            .filter(|b| now >= b.tail_due)
            .filter_map(|b| {
                // Copied under the slot's lock, encoded without it.
                let part = b.slot.open_since(b.persisted_ticks, b.persisted_rows)?;
                Some(tail::stored(b.instance_id, &part))
            })
            .collect();
        let written: Vec<i64> = match self.store.write_ash_tail(&due).await {
            Ok(()) => due.iter().map(|s| s.instance_id).collect(),
            Err(_) => {
                // One bad segment (its instance was deleted) must not hold the others back.
                let mut ok = Vec::new();
                for segment in &due {
                    match self.store.write_ash_tail(std::slice::from_ref(segment)).await {
                        Ok(()) => ok.push(segment.instance_id),
                        Err(e) => {
                            tracing::warn!(instance_id = segment.instance_id, error = %e, "persisting an ASH tail failed")
                        }
                    }
                }
                ok
            }
        };
        for id in written {
            if let Some(b) = self.buffers.get_mut(&id) {
                (b.persisted_ticks, b.persisted_rows) = (b.ticks, b.rows);
                b.tail_due = now + self.settings.tail_every;
            }
        }
    }

    async fn statements(&mut self, key: &InstanceKey, batch: StatementBatch) -> StoreResult<()> {
        let names: Vec<&str> = batch.deltas.iter().flat_map(|d| [d.database.as_str(), &d.user]).collect();
        self.intern(&names).await?;
        let rows: Vec<StatementRow> = batch
            .deltas
            .iter()
            .map(|d| StatementRow {
                database_id: self.id(&d.database),
                user_id: self.id(&d.user),
                queryid: d.queryid,
                toplevel: d.toplevel,
                values: columns::statement_values(&d.counters),
            })
            .collect();
        self.store.insert_statements(key.instance_id, batch.ts_ms, &rows).await?;
        if !batch.texts.is_empty() {
            let texts: Vec<StatementText> = batch
                .texts
                .iter()
                .map(|(queryid, text)| StatementText {
                    instance_id: key.instance_id,
                    queryid: *queryid,
                    md5: text_md5(text),
                    command: command_of(text).to_string(),
                    text: text.clone(),
                })
                .collect();
            self.store.upsert_statement_texts(key.instance_id, batch.ts_ms, &texts).await?;
        }
        Ok(())
    }

    async fn relations(&mut self, key: &InstanceKey, batch: RelationBatch) -> StoreResult<()> {
        let names: Vec<&str> = batch
            .tables
            .iter()
            .flat_map(|t| [t.database.as_str(), &t.schema, &t.table, &t.relkind])
            .chain(batch.indexes.iter().flat_map(|i| [i.database.as_str(), &i.schema, &i.table, &i.index]))
            .collect();
        self.intern(&names).await?;
        let tables: Vec<RelationRow> = batch
            .tables
            .iter()
            .map(|t| RelationRow {
                database_id: self.id(&t.database),
                schema_id: self.id(&t.schema),
                table_id: self.id(&t.table),
                index_id: 0,
                relid: t.relid,
                relkind_id: self.id(&t.relkind),
                last_autovacuum: t.last_autovacuum_ms,
                last_autoanalyze: t.last_autoanalyze_ms,
                values: columns::table_values(t).to_vec(),
            })
            .collect();
        let indexes: Vec<RelationRow> = batch
            .indexes
            .iter()
            .map(|i| RelationRow {
                database_id: self.id(&i.database),
                schema_id: self.id(&i.schema),
                table_id: self.id(&i.table),
                index_id: self.id(&i.index),
                relid: 0,
                relkind_id: 0,
                last_autovacuum: None,
                last_autoanalyze: None,
                values: columns::index_values(i).to_vec(),
            })
            .collect();
        self.store.insert_relations(key.instance_id, batch.ts_ms, &tables, &indexes).await
    }

    async fn inventory(&mut self, key: &InstanceKey, inv: Inventory) -> StoreResult<()> {
        let row = InventoryRow {
            instance_id: key.instance_id,
            ts: inv.ts_ms,
            version: inv.version,
            version_full: inv.version_full,
            server_version_num: inv.server_version_num,
            start_time: inv.start_time_ms,
            is_replica: inv.is_replica,
            max_connections: inv.max_connections,
            databases: serde_json::to_string(&inv.databases).expect("maps serialize"),
            settings: serde_json::to_string(&inv.settings).expect("maps serialize"),
            statements_available: inv.statements_available,
            statements_error: inv.statements_error,
        };
        self.store.upsert_inventory(&row).await
    }

    async fn locks(&mut self, key: &InstanceKey, snapshot: LockSnapshot) -> StoreResult<()> {
        let json = serde_json::to_string(&super::locks_json(&snapshot.roots)).expect("JSON values serialize");
        self.store.insert_lock_snapshot(key.instance_id, snapshot.ts_ms, &json).await
    }
}

/// `query_md5_id`: hex MD5 of the statement's normalized text.
pub fn text_md5(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_texts() {
        assert_eq!(text_md5("SELECT $1"), hex::encode(Md5::digest(b"SELECT $1")));
        assert_eq!(text_md5("a").len(), 32);
    }
}
