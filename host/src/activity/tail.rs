//! Crash durability of the open ASH chunks. Every few seconds (`[sampler] ash_tail_seconds`) the
//! writer appends the ticks of each open chunk not persisted yet as one small segment to
//! `ash_tail`, encoded like a chunk; the cut writes the whole chunk and deletes its segments in
//! one transaction. At start, segments left by a crash are merged into closed chunks (one per
//! instance and chunk window) with their rollups. Closed chunks keep their format; a crash loses
//! at most the ticks of one tail interval.

use std::collections::BTreeMap;

use super::codec::AshChunk;
use super::rollups::minute_rollups;
use crate::store::{AshRollupRow, Store, StoreResult, StoredAshChunk};

/// A chunk as storage keeps it.
pub(super) fn stored(instance_id: i64, chunk: &AshChunk) -> StoredAshChunk {
    StoredAshChunk {
        instance_id,
        start_ts: chunk.start_ts(),
        end_ts: chunk.end_ts(),
        ticks: chunk.ticks.len() as i64,
        sessions: chunk.rows.len() as i64,
        data: chunk.encode(),
    }
}

/// What recovery found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub instances: usize,
    pub chunks: usize,
    pub ticks: usize,
    /// Segments that could not be decoded (dropped, and logged).
    pub unreadable: usize,
}

/// Merges decoded segments (ordered by instance and time) into one chunk per instance and
/// chunk window.
fn merge(segments: Vec<(i64, AshChunk)>, chunk_ms: i64) -> Vec<(i64, AshChunk)> {
    let mut merged: BTreeMap<(i64, i64), AshChunk> = BTreeMap::new();
    for (instance_id, segment) in segments {
        let window = segment.start_ts().div_euclid(chunk_ms);
        let chunk = merged.entry((instance_id, window)).or_default();
        chunk.ticks.extend(segment.ticks);
        chunk.rows.extend(segment.rows);
    }
    merged.into_iter().map(|((instance_id, _), chunk)| (instance_id, chunk)).collect()
}

/// Turns what a crash left in `ash_tail` into closed chunks (and rollups), deleting the segments.
pub(super) async fn recover(store: &Store, chunk_ms: i64) -> StoreResult<Recovered> {
    recover_segments(store, store.ash_tail_segments().await?, chunk_ms).await
}

/// `recover` for `instance_ids` only (a cluster member taking their leases over).
pub(super) async fn recover_instances(store: &Store, instance_ids: &[i64], chunk_ms: i64) -> StoreResult<Recovered> {
    recover_segments(store, store.ash_tail_segments_of(instance_ids).await?, chunk_ms).await
}

async fn recover_segments(store: &Store, segments: Vec<StoredAshChunk>, chunk_ms: i64) -> StoreResult<Recovered> {
    let mut report = Recovered::default();
    let mut decoded = Vec::new();
    let mut unreadable = Vec::new();
    for s in segments {
        match AshChunk::decode(s.start_ts, &s.data) {
            Ok(chunk) => decoded.push((s.instance_id, chunk)),
            Err(e) => {
                tracing::warn!(instance_id = s.instance_id, start_ts = s.start_ts, error = %e, "unreadable ASH tail segment dropped");
                unreadable.push((s.instance_id, s.start_ts));
            }
        }
    }
    report.unreadable = unreadable.len();
    for (instance_id, start_ts) in unreadable {
        store.delete_ash_tail_segment(instance_id, start_ts).await?;
    }
    let merged = merge(decoded, chunk_ms.max(1));
    let mut instances: Vec<i64> = merged.iter().map(|(id, _)| *id).collect();
    instances.dedup();
    report.instances = instances.len();
    for (instance_id, chunk) in merged {
        let rollups: Vec<AshRollupRow> = minute_rollups(instance_id, &chunk);
        report.chunks += 1;
        report.ticks += chunk.ticks.len();
        store.write_ash(&[stored(instance_id, &chunk)], &rollups).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::codec::AshRow;

    fn chunk(ticks: &[i64]) -> AshChunk {
        let rows = ticks.iter().map(|&ts| AshRow { ts, pid: ts as i32, ..Default::default() }).collect();
        AshChunk { ticks: ticks.to_vec(), rows }
    }

    #[test]
    fn merge_joins_segments_per_instance_and_window() {
        let segments =
            vec![(1, chunk(&[60_000, 61_000])), (1, chunk(&[62_000])), (1, chunk(&[120_000])), (2, chunk(&[61_000]))];
        let merged = merge(segments, 60_000);
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], (1, chunk(&[60_000, 61_000, 62_000])));
        assert_eq!(merged[1], (1, chunk(&[120_000])));
        assert_eq!(merged[2], (2, chunk(&[61_000])));
    }
}
