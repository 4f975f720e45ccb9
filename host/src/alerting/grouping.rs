//! Notification grouping windows per channel, after Alertmanager. A channel with grouping on has
//! ONE group (every alert it routes, whatever the rule or instance): its alert changes do not
//! queue a delivery each but join the group, and the group is sent as one notification carrying
//! all its alerts (still firing ones, and those resolved since the last flush):
//!
//! - `group_wait`: a new group (or one whose alerts had all resolved) is first sent this long
//!   after its first alert, so alerts arriving meanwhile go in the same notification;
//! - `group_interval`: after a flush, new or changed alerts wait until this long after it;
//! - `repeat_interval`: a still-firing group with no change is sent again this long after its
//!   last flush (0: never).
//!
//! All three 0 (the default of a channel created without `grouping`): grouping off, one
//! delivery per alert event at once. Groups and members live in the store (`store::groups`),
//! written with the alert change; a flush writes one outbox row with the idempotency key
//! `vigia-group-channel-<id>-flush-<n>` in the same transaction that marks the group sent, so a
//! flush survives a restart and its delivery retries and dead-letters like any other. Flushes
//! run in the delivery worker's passes, so a flush is late by at most `delivery_poll_ms`.

use crate::store::{Store, StoreResult};

/// Most groups flushed per pass.
const BATCH: i64 = 64;

/// Flushes every group due at `now`; returns how many outbox rows were queued.
pub async fn flush_due(store: &Store, now: i64) -> StoreResult<usize> {
    let mut queued = 0;
    for g in store.due_groups(now, BATCH).await? {
        if store.flush_group(&g, now).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}
