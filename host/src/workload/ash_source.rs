//! Where session-history's Active Session History comes from: the stored chunks (or rollups) of
//! the selected instances, merged with the activity writer's fresh ticks, the ones it holds and
//! has not stored yet, so "now" is a second old rather than up to a chunk length.
//!
//! The invariant: every tick is counted exactly once, also when its chunk is cut while a read
//! runs. Fresh ticks are copied *before* storage is read (a cut chunk stays fresh until its
//! transaction has committed, so no tick falls between the two), and a fresh chunk is dropped
//! when storage already holds a chunk of its instance with its start (chunks are keyed so).
//! Fresh ticks are asked for with the selection's instance ids only, so roles and filters apply
//! to them exactly as to stored chunks.

use std::collections::HashSet;

use super::{Ctx, WorkloadError, WorkloadResult};
use crate::activity::codec::AshChunk;
use crate::activity::FreshChunk;
use crate::store::{AshRollupRow, StoredAshChunk};

/// Reads of the rollups that a concurrent cut makes ambiguous are retried this many times.
const ROLLUP_ATTEMPTS: usize = 4;

/// Decoded ASH of the selection in `[from, to]`, stored and fresh, ordered by chunk start: one
/// entry per chunk (a corrupt stored chunk is logged and skipped). Refused before anything is
/// decoded when it holds more than `max` session samples (counted from the chunks' headers,
/// edges included: a bound, never an underestimate).
pub(super) async fn chunks(ctx: &Ctx<'_>, max: i64, hint: &str) -> WorkloadResult<Vec<(i64, AshChunk)>> {
    let (stored, fresh) = sources(ctx, max, hint).await?;
    let mut all: Vec<(i64, i64, AshChunk)> =
        stored.into_iter().filter_map(|s| decode(&s).map(|c| (s.start_ts, s.instance_id, c))).collect();
    all.extend(fresh.into_iter().map(|f| (f.chunk_start, f.instance_id, f.chunk)));
    // Stored chunks come ordered so; fresh ones are the newest, but of every instance.
    all.sort_by_key(|(start, instance_id, _)| (*start, *instance_id));
    Ok(all.into_iter().map(|(_, instance_id, chunk)| (instance_id, chunk)).collect())
}

/// Every chunk of the selection in `[from, to]`, stored and fresh, handed to `visit` one at a
/// time: stored chunks stay compressed until their turn, so a day of a busy instance is
/// scanned without holding it decoded (reports count whole days this way).
pub(super) async fn scan(
    ctx: &Ctx<'_>,
    max: i64,
    hint: &str,
    mut visit: impl FnMut(i64, &AshChunk),
) -> WorkloadResult<()> {
    let (stored, fresh) = sources(ctx, max, hint).await?;
    for s in &stored {
        if let Some(chunk) = decode(s) {
            visit(s.instance_id, &chunk);
        }
    }
    for f in &fresh {
        visit(f.instance_id, &f.chunk);
    }
    Ok(())
}

/// The stored chunks and the fresh ones storage does not hold, refused when they hold more
/// than `max` session samples (counted from the chunks' headers, edges included).
async fn sources(ctx: &Ctx<'_>, max: i64, hint: &str) -> WorkloadResult<(Vec<StoredAshChunk>, Vec<FreshChunk>)> {
    let ids = ctx.sel.instance_ids();
    // Fresh first, then storage: see the module's invariant.
    let mut fresh = ctx.fresh.ticks(&ids, ctx.q.from, ctx.q.to);
    let stored = ctx.store.ash_chunks(&ids, ctx.q.from, ctx.q.to).await?;
    let keys: HashSet<(i64, i64)> = stored.iter().map(|c| (c.instance_id, c.start_ts)).collect();
    fresh.retain(|f| !keys.contains(&(f.instance_id, f.chunk_start)));
    let samples: i64 =
        stored.iter().map(|c| c.sessions).sum::<i64>() + fresh.iter().map(|f| f.chunk.rows.len() as i64).sum::<i64>();
    if samples > max {
        return Err(WorkloadError::Invalid(format!(
            "session-history reads at most {max} session samples per request and this one covers about \
             {samples}: {hint}"
        )));
    }
    Ok((stored, fresh))
}

/// A stored chunk decoded; a corrupt one is logged and skipped.
fn decode(s: &StoredAshChunk) -> Option<AshChunk> {
    AshChunk::decode(s.start_ts, &s.data)
        .inspect_err(|e| {
            tracing::warn!(instance_id = s.instance_id, start_ts = s.start_ts, error = %e, "unreadable ASH chunk skipped")
        })
        .ok()
}

/// Rollup rows of `resolution_s` with buckets starting in `[from, to]`, and the fresh ticks they
/// do not count, in `[from, fresh_to]` (the end of the last bucket, so both cover the same time).
///
/// Rollups carry no chunk key, so which fresh chunks they already count is learnt from the
/// chunk keys read before and after them (a chunk and its rollups commit together): stored
/// before means counted, not stored after means not counted, and a chunk stored in between is
/// ambiguous, so the read starts over (a cut happens once per chunk, so a retry settles it).
pub(super) async fn rollups(
    ctx: &Ctx<'_>,
    resolution_s: i64,
    from: i64,
    to: i64,
    fresh_to: i64,
) -> WorkloadResult<(Vec<AshRollupRow>, Vec<FreshChunk>)> {
    let ids = ctx.sel.instance_ids();
    let mut attempt = 1;
    loop {
        let mut fresh = ctx.fresh.ticks(&ids, from, fresh_to);
        if fresh.is_empty() {
            return Ok((ctx.store.ash_rollups(&ids, resolution_s, from, to).await?, fresh));
        }
        let mut owners: Vec<i64> = fresh.iter().map(|f| f.instance_id).collect();
        owners.sort_unstable();
        owners.dedup();
        let first = fresh.iter().map(|f| f.chunk_start).min().unwrap_or(from);
        let last = fresh.iter().map(|f| f.chunk_start).max().unwrap_or(fresh_to);
        let before = stored_keys(ctx, &owners, first, last).await?;
        let rows = ctx.store.ash_rollups(&ids, resolution_s, from, to).await?;
        let after = stored_keys(ctx, &owners, first, last).await?;
        let key = |f: &FreshChunk| (f.instance_id, f.chunk_start);
        let settled = fresh.iter().all(|f| before.contains(&key(f)) == after.contains(&key(f)));
        if settled || attempt == ROLLUP_ATTEMPTS {
            fresh.retain(|f| !after.contains(&key(f)));
            return Ok((rows, fresh));
        }
        attempt += 1;
    }
}

/// Keys of the stored chunks of `instance_ids` starting in `[first, last]`.
async fn stored_keys(
    ctx: &Ctx<'_>,
    instance_ids: &[i64],
    first: i64,
    last: i64,
) -> WorkloadResult<HashSet<(i64, i64)>> {
    Ok(ctx.store.ash_chunk_starts(instance_ids, first, last).await?.into_iter().collect())
}
