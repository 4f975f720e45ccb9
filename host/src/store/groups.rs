//! Notification groups (migration 0008): one per grouping channel, with its member alerts.
//! `save_alert` adds or updates a member and schedules the group's next flush in the alert's
//! transaction (`UPSERT_GROUP`, `UPSERT_MEMBER`); `flush_group` turns a due group into ONE outbox
//! row carrying every member (a JSON array of alerts) in one transaction, so a group is never
//! sent without being marked sent, nor the other way round. Scheduling rules: `alerting::grouping`.

use super::{on_pool, Store, StoreError, StoreResult};

/// Joins or updates a group ($1 channel, $2 tenant, $3 now + group_wait, $4 group_interval).
/// A group never sent (or whose alerts all resolved) is due `group_wait` after its first alert; one
/// already sent is due `group_interval` after that flush (or earlier, if a repeat is due sooner).
pub(super) const UPSERT_GROUP: &str = "INSERT INTO notification_groups (channel_id, tenant_id, next_flush_at, \
    last_flush_at, flushes) VALUES ($1, $2, $3, NULL, 0) ON CONFLICT (channel_id) DO UPDATE SET next_flush_at = CASE \
    WHEN notification_groups.last_flush_at IS NULL THEN COALESCE(notification_groups.next_flush_at, excluded.next_flush_at) \
    WHEN notification_groups.next_flush_at IS NOT NULL \
         AND notification_groups.next_flush_at < notification_groups.last_flush_at + $4 THEN notification_groups.next_flush_at \
    ELSE notification_groups.last_flush_at + $4 END";

/// Adds or updates a member ($1 channel, $2 alert, $3 payload, $4 firing, $5 now).
pub(super) const UPSERT_MEMBER: &str = "INSERT INTO notification_group_alerts (channel_id, alert_id, payload, firing, \
    updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, alert_id) DO UPDATE SET \
    payload = excluded.payload, firing = excluded.firing, updated_at = excluded.updated_at";

/// A group due for a flush.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DueGroup {
    pub channel_id: i64,
    pub tenant_id: i64,
    /// Flushes so far (the claim: a flush only proceeds if no one flushed meanwhile).
    pub flushes: i64,
    /// The channel's repeat interval (0: no repeat).
    pub repeat_interval_ms: i64,
}

/// The idempotency key of flush `n` of the group of `channel_id`: stable across retries.
pub fn group_idempotency_key(channel_id: i64, n: i64) -> String {
    format!("vigia-group-channel-{channel_id}-flush-{n}")
}

impl Store {
    /// Groups whose next flush is due at `now`, most overdue first.
    pub async fn due_groups(&self, now: i64, limit: i64) -> StoreResult<Vec<DueGroup>> {
        let sql = "SELECT g.channel_id, g.tenant_id, g.flushes, c.repeat_interval_ms FROM notification_groups g \
                   JOIN notification_channels c ON c.id = g.channel_id \
                   WHERE g.next_flush_at <= $1 ORDER BY g.next_flush_at LIMIT $2";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, DueGroup>(sql).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    /// Flushes group `g` at `now`: one pending outbox row with every member's payload (a JSON
    /// array), resolved members dropped, the next flush scheduled a repeat interval later (none
    /// without a repeat interval or when every alert resolved). Returns the outbox row's id, or
    /// `None` when another worker flushed it first or the group had no alerts.
    pub async fn flush_group(&self, g: &DueGroup, now: i64) -> StoreResult<Option<i64>> {
        let claim = "UPDATE notification_groups SET flushes = flushes + 1 \
                     WHERE channel_id = $1 AND flushes = $2 AND next_flush_at <= $3";
        let members = "SELECT payload, firing FROM notification_group_alerts WHERE channel_id = $1 ORDER BY alert_id";
        let insert =
            "INSERT INTO notification_outbox (tenant_id, channel_id, event_id, idempotency_key, payload, state, \
                      attempts, next_attempt_at, created_at, updated_at) \
                      VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $5, $5) RETURNING id";
        let drop_resolved = "DELETE FROM notification_group_alerts WHERE channel_id = $1 AND firing = $2";
        let schedule = "UPDATE notification_groups SET last_flush_at = $2, next_flush_at = $3 WHERE channel_id = $1";
        let n = g.flushes + 1;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(claim).bind(g.channel_id).bind(g.flushes).bind(now)
                .execute(&mut *tx).await?.rows_affected();
            if claimed == 0 {
                return Ok(None);
            }
            let rows: Vec<(String, bool)> = sqlx::query_as(members).bind(g.channel_id).fetch_all(&mut *tx).await?;
            let firing = rows.iter().any(|(_, f)| *f);
            let id = if rows.is_empty() {
                None
            } else {
                let payload = format!("[{}]", rows.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(","));
                let id: i64 = sqlx::query_scalar(insert)
                    .bind(g.tenant_id).bind(g.channel_id).bind(group_idempotency_key(g.channel_id, n)).bind(payload)
                    .bind(now).fetch_one(&mut *tx).await?;
                sqlx::query(drop_resolved).bind(g.channel_id).bind(false).execute(&mut *tx).await?;
                Some(id)
            };
            let (last, next) = match firing {
                true => (Some(now), (g.repeat_interval_ms > 0).then_some(now + g.repeat_interval_ms)),
                false => (None, None),
            };
            sqlx::query(schedule).bind(g.channel_id).bind(last).bind(next).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(id)
        })
    }
}
