-- Notification grouping windows per channel (Alertmanager's group_wait, group_interval,
-- repeat_interval, in milliseconds). All three 0: grouping off, one outbox row per alert event
-- as before. Same tables as the PostgreSQL twin.
ALTER TABLE notification_channels ADD COLUMN group_wait_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notification_channels ADD COLUMN group_interval_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notification_channels ADD COLUMN repeat_interval_ms BIGINT NOT NULL DEFAULT 0;

-- One group per grouping channel. next_flush_at: when the group is next sent (NULL: nothing to
-- send); last_flush_at: when it was last sent (NULL: never, or every alert resolved since);
-- flushes numbers the flushes (the idempotency key of flush n is stable across retries).
CREATE TABLE notification_groups (
    channel_id     BIGINT  PRIMARY KEY REFERENCES notification_channels(id) ON DELETE CASCADE,
    tenant_id      BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    next_flush_at  BIGINT,
    last_flush_at  BIGINT,
    flushes        BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX notification_groups_due ON notification_groups (next_flush_at);

-- The alerts of a group, each as of its last change (payload: `plugins::Alert` JSON); every
-- flush sends all of them, and resolved ones (firing false) leave at the flush that sent them.
CREATE TABLE notification_group_alerts (
    channel_id  BIGINT  NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    alert_id    BIGINT  NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    payload     TEXT    NOT NULL,
    firing      BOOLEAN NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (channel_id, alert_id)
);
