//! Fresh ASH: the ticks the writer holds in memory and has not stored as a chunk yet, readable
//! by the workload API and by "active sessions now" so that a sample is visible about a second
//! after it was taken instead of when its chunk is cut (up to `ash_chunk_seconds` later).
//!
//! Each instance has one slot behind its own small mutex: the open chunk, and the chunks that
//! were cut and are being written. The writer appends a tick under the slot's lock; readers copy
//! only the ticks of their range under it. No lock is ever held across an `.await` or while
//! storage is written or read. A cut chunk stays in `cutting` until its transaction has
//! committed (or failed), so a reader that copies fresh ticks *before* it reads storage sees
//! every tick at least once; it drops a fresh chunk whose `(instance, start)` storage already
//! holds (chunks are keyed so), which makes it exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use super::codec::{AshChunk, AshRow};

/// Active sessions of an instance at its latest tick (every session ASH samples counts, as in
/// the workload API's `active_sessions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveNow {
    /// When the tick was taken (epoch milliseconds): callers judge staleness from it.
    pub ts_ms: i64,
    pub sessions: usize,
}

/// Ticks of one not-yet-stored chunk within a requested range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshChunk {
    pub instance_id: i64,
    /// The start of the whole chunk (its first tick), which is its key once stored: a reader
    /// drops this copy when storage holds a chunk of this instance with this start.
    pub chunk_start: i64,
    /// Only the ticks (and their rows) in the range.
    pub chunk: AshChunk,
}

/// What one instance has in memory.
#[derive(Debug, Default)]
pub(super) struct Slot {
    open: AshChunk,
    /// Cut, being written; removed once the write has committed or failed.
    cutting: Vec<Arc<AshChunk>>,
    latest: Option<ActiveNow>,
}

/// A writer's handle on one instance's slot.
#[derive(Debug, Clone, Default)]
pub(super) struct SlotHandle(Arc<Mutex<Slot>>);

impl SlotHandle {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // A panic while holding the lock leaves plain data behind (no invariant spans a panic).
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one tick (rows all of `ts`): the writer's hot path, one uncontended lock.
    pub(super) fn push(&self, ts: i64, rows: Vec<AshRow>) {
        let mut slot = self.lock();
        slot.latest = Some(ActiveNow { ts_ms: ts, sessions: rows.len() });
        slot.open.ticks.push(ts);
        slot.open.rows.extend(rows);
    }

    /// The open chunk's ticks from `from_tick` on and rows from `from_row` on, copied (the tail
    /// encodes them without the lock); `None` when there is nothing new.
    pub(super) fn open_since(&self, from_tick: usize, from_row: usize) -> Option<AshChunk> {
        let slot = self.lock();
        let ticks = slot.open.ticks.get(from_tick..).filter(|t| !t.is_empty())?;
        Some(AshChunk { ticks: ticks.to_vec(), rows: slot.open.rows.get(from_row..).unwrap_or_default().to_vec() })
    }

    /// Drops the open chunk unstored (a lease lost: storage would refuse it anyway).
    pub(super) fn discard(&self) {
        let mut slot = self.lock();
        slot.open = AshChunk::default();
        slot.latest = None;
    }

    /// Cuts the open chunk: it moves to `cutting`, where readers still see it, and the writer
    /// encodes and stores it from the returned handle without the lock.
    pub(super) fn cut(&self) -> Arc<AshChunk> {
        let mut slot = self.lock();
        let chunk = Arc::new(std::mem::take(&mut slot.open));
        slot.cutting.push(chunk.clone());
        chunk
    }

    /// The cut `chunk` is stored (or was dropped): readers now find it in storage only.
    pub(super) fn release(&self, chunk: &Arc<AshChunk>) {
        self.lock().cutting.retain(|c| !Arc::ptr_eq(c, chunk));
    }

    /// Copies the ticks in `[from, to]` of every chunk of the slot.
    fn copy(&self, instance_id: i64, from: i64, to: i64, out: &mut Vec<FreshChunk>) {
        let slot = self.lock();
        for chunk in slot.cutting.iter().map(|c| &**c).chain([&slot.open]) {
            if let Some(part) = in_range(chunk, from, to) {
                out.push(FreshChunk { instance_id, chunk_start: chunk.start_ts(), chunk: part });
            }
        }
    }
}

/// The ticks (and rows) of `chunk` in `[from, to]`; ticks and rows are in time order (the writer
/// cuts a chunk when time goes back), so both ends are binary searches.
fn in_range(chunk: &AshChunk, from: i64, to: i64) -> Option<AshChunk> {
    let (lo, hi) = (chunk.ticks.partition_point(|&t| t < from), chunk.ticks.partition_point(|&t| t <= to));
    if lo >= hi {
        return None;
    }
    let (rlo, rhi) = (chunk.rows.partition_point(|r| r.ts < from), chunk.rows.partition_point(|r| r.ts <= to));
    Some(AshChunk { ticks: chunk.ticks[lo..hi].to_vec(), rows: chunk.rows[rlo..rhi].to_vec() })
}

/// The not-yet-stored ASH of every instance one writer fills; cheap to clone. Empty (and always
/// empty) when no writer is attached, e.g. in an API context without a sampler.
#[derive(Debug, Clone, Default)]
pub struct FreshAsh {
    slots: Arc<RwLock<HashMap<i64, SlotHandle>>>,
}

impl FreshAsh {
    /// The slot of `instance_id`, created on first use. The writer keeps the handle for a whole
    /// chunk, so this map lock is taken once per chunk, not per tick. Slots are kept for the
    /// writer's life (a deleted instance leaves an empty one, a few dozen bytes, until restart):
    /// removing them would race with a reader holding the handle.
    pub(super) fn slot(&self, instance_id: i64) -> SlotHandle {
        if let Some(slot) = self.slots.read().unwrap_or_else(PoisonError::into_inner).get(&instance_id) {
            return slot.clone();
        }
        self.slots.write().unwrap_or_else(PoisonError::into_inner).entry(instance_id).or_default().clone()
    }

    /// Forgets everything (the writer stopped without storing: what a crash loses from memory).
    pub(super) fn clear(&self) {
        self.slots.write().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn handles(&self, instance_ids: &[i64]) -> Vec<(i64, SlotHandle)> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        instance_ids.iter().filter_map(|id| slots.get(id).map(|s| (*id, s.clone()))).collect()
    }

    /// Copies the unflushed ticks of `instance_ids` in `[from, to]` (epoch ms), one entry per
    /// chunk with at least one tick in range, oldest chunk first per instance. Call it *before*
    /// reading stored chunks, and drop the entries whose `(instance_id, chunk_start)` storage
    /// holds: then each tick is counted exactly once even when a chunk is cut meanwhile.
    pub fn ticks(&self, instance_ids: &[i64], from: i64, to: i64) -> Vec<FreshChunk> {
        let mut out = Vec::new();
        for (id, slot) in self.handles(instance_ids) {
            slot.copy(id, from, to, &mut out);
        }
        out
    }

    /// Active sessions at the latest tick the writer received for each of `instance_ids` (the
    /// ones never ticked since this process started are absent). Reads memory only; the caller
    /// applies its own access rules to `instance_ids` and decides from `ts_ms` whether a tick is
    /// too old to call "now" (e.g. older than two sampling intervals).
    pub fn active_sessions_now(&self, instance_ids: &[i64]) -> HashMap<i64, ActiveNow> {
        self.handles(instance_ids).into_iter().filter_map(|(id, slot)| slot.lock().latest.map(|a| (id, a))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ts: i64, n: usize) -> Vec<AshRow> {
        (0..n).map(|i| AshRow { ts, pid: i as i32, ..Default::default() }).collect()
    }

    #[test]
    fn readers_copy_only_the_range_of_open_and_cutting_chunks() {
        let fresh = FreshAsh::default();
        let slot = fresh.slot(7);
        for ts in [1000, 2000, 3000] {
            slot.push(ts, rows(ts, 2));
        }
        let cut = slot.cut();
        slot.push(60_000, rows(60_000, 1));
        let got = fresh.ticks(&[7, 8], 2000, 60_000);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].chunk_start, got[0].chunk.ticks.clone(), got[0].chunk.rows.len()),
            (1000, vec![2000, 3000], 4)
        );
        assert_eq!(
            (got[1].chunk_start, got[1].chunk.ticks.clone(), got[1].chunk.rows.len()),
            (60_000, vec![60_000], 1)
        );
        assert!(fresh.ticks(&[7], 4000, 59_999).is_empty(), "nothing in range");
        assert!(fresh.ticks(&[8], 0, i64::MAX).is_empty(), "only the instances asked for");
        slot.release(&cut);
        assert_eq!(fresh.ticks(&[7], 0, i64::MAX).len(), 1, "a stored chunk is no longer fresh");
    }

    #[test]
    fn active_sessions_now_is_the_latest_tick_of_each_instance() {
        let fresh = FreshAsh::default();
        let (a, b) = (fresh.slot(1), fresh.slot(2));
        a.push(1000, rows(1000, 5));
        a.push(2000, rows(2000, 3));
        b.push(1500, Vec::new());
        a.cut();
        let now = fresh.active_sessions_now(&[1, 2, 3]);
        assert_eq!(now.len(), 2, "an instance never ticked is absent: {now:?}");
        assert_eq!(now[&1], ActiveNow { ts_ms: 2000, sessions: 3 }, "still known after the cut");
        assert_eq!(now[&2], ActiveNow { ts_ms: 1500, sessions: 0 }, "a tick without sessions says zero");
        assert!(!fresh.active_sessions_now(&[2]).contains_key(&1), "only the instances asked for");
        fresh.clear();
        assert!(fresh.active_sessions_now(&[1, 2]).is_empty());
    }

    #[test]
    fn open_since_copies_only_new_ticks() {
        let slot = FreshAsh::default().slot(1);
        slot.push(1000, rows(1000, 1));
        slot.push(2000, rows(2000, 2));
        assert!(slot.open_since(2, 3).is_none());
        let part = slot.open_since(1, 1).expect("one new tick");
        assert_eq!((part.ticks, part.rows.len()), (vec![2000], 2));
    }
}
