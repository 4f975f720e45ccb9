//! The scheduler pass over maintenance windows (`serve` runs it every few seconds): every window
//! whose time has come is started or completed through the state machine, each move written only
//! over the status it was computed from (a window someone moved meanwhile is left alone), with
//! the notifications of the move (`notify::move_maintenance`).

use super::maintenance::{apply, due};
use crate::store::{Store, StoreResult};

/// How often `serve` runs `advance_maintenance`: a window starts and ends at most this late.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Moves every due window of every tenant at `now`; returns how many moves were stored.
pub async fn advance_maintenance(store: &Store, now: i64) -> StoreResult<usize> {
    let mut moved = 0;
    for mut window in store.due_maintenance(now).await? {
        for &action in due(&window, now) {
            // `due` only names actions the status allows.
            let Ok(next) = apply(&window, action, now) else { break };
            match super::notify::move_maintenance(store, &next, window.status).await? {
                Some(saved) => {
                    tracing::info!(window = saved.id, tenant = saved.tenant_id, status = %saved.status, "maintenance window moved");
                    if let Err(e) = super::suppress::after_move(store, &saved, now).await {
                        tracing::warn!(window = saved.id, error = %e, "pausing or resuming the window's alerts failed");
                    }
                    window = saved;
                    moved += 1;
                }
                None => break,
            }
        }
    }
    Ok(moved)
}
