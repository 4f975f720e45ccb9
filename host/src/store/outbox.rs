//! Notification channels and the durable outbox (migration 0007). Rows go `pending → sending →
//! delivered`, or back to `pending` with a later `next_attempt_at`, or to `dead` (the DLQ).
//! `claim_due` moves due rows to `sending` atomically; `reset_sending` returns rows a crash left
//! in flight to `pending` at start. Alert events write their rows with the alert (`save_alert`);
//! status events (an incident's or a maintenance window's move) with the move, through
//! `queue_notices!` (rows without an `event_id`, keyed `<stem>-channel-<id>`).

use sqlx::QueryBuilder;

use super::{claim_due_sql, now_ms, on_pool, ChannelEvents, DeliveryState, Store, StoreError, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub plugin: String,
    /// The channel's plugin configuration as JSON, sealed whole by `SecretBox` for this row.
    pub config_sealed: String,
    /// Comma-separated severities routed here; empty: all.
    pub severities: String,
    /// `key=value,…` the alert's instance must carry; empty: any.
    pub tags: String,
    pub instance: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Grouping windows (migration 0008); all 0: grouping off.
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    /// What the channel carries (migration 0016); only channels with `alerts` route alerts.
    pub events: ChannelEvents,
}

impl ChannelRow {
    pub fn grouping(&self) -> Grouping {
        Grouping {
            wait_ms: self.group_wait_ms,
            interval_ms: self.group_interval_ms,
            repeat_ms: self.repeat_interval_ms,
        }
    }
}

/// A channel's grouping windows in milliseconds (see `alerting::grouping`); all 0: off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grouping {
    pub wait_ms: i64,
    pub interval_ms: i64,
    pub repeat_ms: i64,
}

impl Grouping {
    pub fn is_on(&self) -> bool {
        self.wait_ms > 0 || self.interval_ms > 0 || self.repeat_ms > 0
    }
}

/// A channel's fields as written (its sealed configuration goes beside: it is sealed for the row).
pub struct ChannelWrite<'a> {
    pub name: &'a str,
    pub plugin: &'a str,
    pub severities: &'a str,
    pub tags: &'a str,
    pub instance: Option<&'a str>,
    pub enabled: bool,
    pub grouping: Grouping,
    pub events: &'a ChannelEvents,
}

/// A status event's notification as queued: the payload (`plugins::Alert` JSON) and the stem of
/// its idempotency keys (`notice_key`), unique per event.
pub struct Notice {
    pub key_stem: String,
    pub payload: String,
}

/// The notifications to write with a status move: one outbox row per channel, in the move's
/// transaction. `notice` builds the notification from the saved row (its id is known only after
/// an insert) and the id of the timeline update written with it, if any.
pub struct NoticeWrite<'a, T> {
    pub channels: &'a [i64],
    pub notice: &'a (dyn Fn(&T, Option<i64>) -> Notice + Sync),
}

/// The idempotency key of a status event's delivery to `channel_id`: stable across retries.
pub fn notice_key(stem: &str, channel_id: i64) -> String {
    format!("{stem}-channel-{channel_id}")
}

/// Queues `$notice` (a `Notice`) for every channel of `$channels` of tenant `$tenant` inside the
/// open transaction `$tx` (a macro because the transaction types differ per backend).
macro_rules! queue_notices {
    ($tx:ident, $tenant:expr, $channels:expr, $notice:expr, $now:expr) => {{
        let notice: &$crate::store::Notice = $notice;
        for channel in $channels {
            sqlx::query(
                "INSERT INTO notification_outbox (tenant_id, channel_id, event_id, idempotency_key, payload, state, \
                 attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $5, $5)",
            )
            .bind($tenant)
            .bind(*channel)
            .bind($crate::store::notice_key(&notice.key_stem, *channel))
            .bind(&notice.payload)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(super) use queue_notices;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub tenant_id: i64,
    pub channel_id: i64,
    pub event_id: Option<i64>,
    pub idempotency_key: String,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

/// Rows by state and the age of the oldest pending one.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct OutboxStats {
    pub pending: i64,
    pub sending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub oldest_pending_at: Option<i64>,
}

const CHANNEL_COLUMNS: &str =
    "id, tenant_id, name, plugin, config_sealed, severities, tags, instance, enabled, created_at, updated_at, \
    group_wait_ms, group_interval_ms, repeat_interval_ms, events";
const OUTBOX_COLUMNS: &str = "id, tenant_id, channel_id, event_id, idempotency_key, payload, state, attempts, \
    next_attempt_at, last_error, created_at, updated_at, delivered_at";

/// `AND id IN (…)` when ids are given.
fn push_ids<'a, DB: sqlx::Database>(q: &mut QueryBuilder<'a, DB>, ids: Option<&'a [i64]>)
where
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some(ids) = ids {
        q.push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
    }
}

impl Store {
    /// Inserts a channel whose configuration is what `seal(id)` returns for its id. As with
    /// instances (`create_instance`), the id comes from the INSERT, so the sealed configuration
    /// is set right after it, in the same transaction.
    pub async fn create_channel(
        &self,
        tenant_id: i64,
        c: &ChannelWrite<'_>,
        seal: impl FnOnce(i64) -> String,
    ) -> StoreResult<ChannelRow> {
        let insert = "INSERT INTO notification_channels (tenant_id, name, plugin, config_sealed, severities, tags, \
             instance, enabled, created_at, updated_at, group_wait_ms, group_interval_ms, repeat_interval_ms, events) \
             VALUES ($1, $2, $3, '', $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) RETURNING id";
        let set_config =
            format!("UPDATE notification_channels SET config_sealed = $1 WHERE id = $2 RETURNING {CHANNEL_COLUMNS}");
        let conflict = |e| StoreError::conflict_on_unique(e, format!("channel {:?} already exists", c.name));
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(insert)
                .bind(tenant_id).bind(c.name).bind(c.plugin).bind(c.severities).bind(c.tags).bind(c.instance)
                .bind(c.enabled).bind(now_ms()).bind(c.grouping.wait_ms).bind(c.grouping.interval_ms)
                .bind(c.grouping.repeat_ms).bind(c.events.to_text()).fetch_one(&mut *tx).await.map_err(conflict)?;
            let created = sqlx::query_as::<_, ChannelRow>(&set_config)
                .bind(seal(id)).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Replaces a channel; `config_sealed` must be sealed for this row (`tenant_id`, `id`).
    pub async fn update_channel(
        &self,
        tenant_id: i64,
        id: i64,
        c: &ChannelWrite<'_>,
        config_sealed: &str,
    ) -> StoreResult<ChannelRow> {
        let sql = format!(
            "UPDATE notification_channels SET name = $3, plugin = $4, config_sealed = $5, severities = $6, tags = $7, \
             instance = $8, enabled = $9, updated_at = $10, group_wait_ms = $11, group_interval_ms = $12, \
             repeat_interval_ms = $13, events = $14 WHERE tenant_id = $1 AND id = $2 RETURNING {CHANNEL_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, ChannelRow>(&sql)
            .bind(tenant_id).bind(id).bind(c.name).bind(c.plugin).bind(config_sealed).bind(c.severities)
            .bind(c.tags).bind(c.instance).bind(c.enabled).bind(now_ms()).bind(c.grouping.wait_ms)
            .bind(c.grouping.interval_ms).bind(c.grouping.repeat_ms).bind(c.events.to_text()).fetch_optional(pool).await)
        .map_err(|e| StoreError::conflict_on_unique(e, format!("channel {:?} already exists", c.name)))?
        .ok_or(StoreError::NotFound)
    }

    /// The enabled channels of a tenant carrying `event`, by id: where a status event goes.
    pub async fn channels_carrying(&self, tenant_id: i64, event: super::ChannelEvent) -> StoreResult<Vec<i64>> {
        let channels = self.list_channels(tenant_id).await?;
        let mut ids: Vec<i64> =
            channels.iter().filter(|c| c.enabled && c.events.contains(event)).map(|c| c.id).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Channels of a tenant by name.
    pub async fn list_channels(&self, tenant_id: i64) -> StoreResult<Vec<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE tenant_id = $1 ORDER BY name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ChannelRow>(&sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    /// A channel by id; `tenant_id` `None` for the delivery worker (which serves every tenant).
    pub async fn channel(&self, tenant_id: Option<i64>, id: i64) -> StoreResult<ChannelRow> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $2 AND ($1 IS NULL OR tenant_id = $1)"
        );
        on_pool!(self, pool => sqlx::query_as::<_, ChannelRow>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    pub async fn delete_channel(&self, tenant_id: i64, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM notification_channels WHERE tenant_id = $1 AND id = $2";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Moves up to `limit` due pending rows to `sending` and returns them, oldest first.
    pub async fn claim_due(&self, now: i64, limit: i64, claimer: Option<&str>) -> StoreResult<Vec<OutboxRow>> {
        let sql = claim_due_sql(self.backend(), "notification_outbox", OUTBOX_COLUMNS);
        let mut rows = on_pool!(self, pool => sqlx::query_as::<_, OutboxRow>(&sql).bind(now).bind(limit).bind(claimer)
            .fetch_all(pool).await)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Records the outcome of an attempt: `delivered`, `pending` again at `next_attempt_at`, or `dead`.
    pub async fn finish_attempt(
        &self,
        id: i64,
        state: DeliveryState,
        attempts: i64,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let now = now_ms();
        let sql = "UPDATE notification_outbox SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, \
                   updated_at = $6, delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE delivered_at END WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(state.as_str()).bind(attempts).bind(next_attempt_at).bind(error)
            .bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Rows a crash left `sending` go back to `pending` (delivery is at-least-once): all of them
    /// on a single host, `claimer`'s own in a cluster. Returns how many.
    pub async fn reset_sending(&self, claimer: Option<&str>) -> StoreResult<u64> {
        self.reset_sending_of("notification_outbox", claimer).await
    }

    /// Outbox rows of a tenant, newest first, optionally in one state.
    pub async fn list_outbox(
        &self,
        tenant_id: i64,
        state: Option<DeliveryState>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM notification_outbox WHERE tenant_id = $1 AND ($2 IS NULL OR state = $2) \
             ORDER BY id DESC LIMIT $3 OFFSET $4"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, OutboxRow>(&sql)
            .bind(tenant_id).bind(state.map(DeliveryState::as_str)).bind(limit).bind(offset).fetch_all(pool).await)?)
    }

    /// Counts by state, of a tenant or (`None`) of the whole host.
    pub async fn outbox_stats(&self, tenant_id: Option<i64>) -> StoreResult<OutboxStats> {
        let sql = "SELECT \
            COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
            COALESCE(SUM(CASE WHEN state = 'sending' THEN 1 ELSE 0 END), 0) AS sending, \
            COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
            COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS dead, \
            MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest_pending_at \
            FROM notification_outbox WHERE ($1 IS NULL OR tenant_id = $1)";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, OutboxStats>(sql).bind(tenant_id).fetch_one(pool).await)?)
    }

    /// Dead rows (all, or those of `ids`) go back to `pending`, due now, attempts reset.
    pub async fn retry_dead(&self, tenant_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
        if ids.is_some_and(|i| i.is_empty()) {
            return Ok(0);
        }
        let now = now_ms();
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("UPDATE notification_outbox SET state = 'pending', attempts = 0, next_attempt_at = ");
            q.push_bind(now).push(", updated_at = ").push_bind(now);
            q.push(" WHERE state = 'dead' AND tenant_id = ").push_bind(tenant_id);
            push_ids(&mut q, ids);
            q.build().execute(pool).await.map(|r| r.rows_affected())
        })?)
    }

    /// Deletes dead rows (all, or those of `ids`).
    pub async fn delete_dead(&self, tenant_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
        if ids.is_some_and(|i| i.is_empty()) {
            return Ok(0);
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new("DELETE FROM notification_outbox WHERE state = 'dead' AND tenant_id = ");
            q.push_bind(tenant_id);
            push_ids(&mut q, ids);
            q.build().execute(pool).await.map(|r| r.rows_affected())
        })?)
    }
}
