//! Minute rollups of an ASH chunk: active sessions by wait event per minute bucket, the rows
//! `ash_rollups` holds at resolution 60 and the hourly rollups are computed from.

use std::collections::HashMap;

use super::codec::AshChunk;
use crate::store::AshRollupRow;

/// Rollup buckets of ASH are minutes; chunks are cut at multiples of the chunk length (a divisor
/// of a minute in practice), so a bucket's counts add up exactly across chunks.
const MINUTE_MS: i64 = 60_000;

/// Minute rollup rows of a chunk: per bucket a totals row (`0, 0`: all sessions and the ticks)
/// and one row per wait event.
pub(super) fn minute_rollups(instance_id: i64, chunk: &AshChunk) -> Vec<AshRollupRow> {
    let mut buckets: HashMap<(i64, i64, i64), (i64, i64)> = HashMap::new();
    for &t in &chunk.ticks {
        buckets.entry((t / MINUTE_MS * MINUTE_MS, 0, 0)).or_default().1 += 1;
    }
    for r in &chunk.rows {
        let bucket = r.ts / MINUTE_MS * MINUTE_MS;
        buckets.entry((bucket, 0, 0)).or_default().0 += 1;
        buckets.entry((bucket, r.wait_event_type, r.wait_event)).or_default().0 += 1;
    }
    buckets
        .into_iter()
        .map(|((bucket_ts, wait_event_type, wait_event), (sessions, ticks))| AshRollupRow {
            instance_id,
            resolution: 60,
            bucket_ts,
            wait_event_type,
            wait_event,
            sessions,
            ticks,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::codec::AshRow;

    #[test]
    fn rollups_count_ticks_once_per_bucket() {
        let row = |ts, we| AshRow { ts, wait_event_type: 1, wait_event: we, ..Default::default() };
        let chunk = AshChunk {
            ticks: vec![60_000, 61_000, 62_000],
            rows: vec![row(60_000, 5), row(60_000, 6), row(62_000, 5)],
        };
        let mut rows = minute_rollups(9, &chunk);
        rows.sort_by_key(|r| (r.wait_event_type, r.wait_event));
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].sessions, rows[0].ticks), (3, 3), "totals row");
        assert_eq!((rows[1].wait_event, rows[1].sessions), (5, 2));
        assert_eq!((rows[2].wait_event, rows[2].sessions), (6, 1));
    }
}
