-- Alerting and notifications. Same tables as the PostgreSQL twin (only the id columns differ).
-- Rules keep their definition as JSON (`spec`, validated by `alerting::rules`); name and metric
-- are columns so they can be unique and looked up.
CREATE TABLE alert_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (tenant_id, name)
);

-- One row per alert; at most one open (not resolved) alert per dedup key. Rule alerts are keyed
-- `rule:<rule id>:<resource>:<labels>`, custom alerts `custom:<key>`.
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dedup_key        TEXT    NOT NULL,
    rule_id          BIGINT,
    rule_name        TEXT    NOT NULL,
    resource         TEXT    NOT NULL,
    metric           TEXT,
    labels           TEXT    NOT NULL DEFAULT '{}',
    -- pending, firing, acknowledged, resolved.
    state            TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    value            DOUBLE PRECISION,
    -- Consecutive evaluations beyond the trigger (rule alerts).
    occurrences      BIGINT  NOT NULL DEFAULT 0,
    started_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    acknowledged_at  BIGINT,
    resolved_at      BIGINT,
    auto_resolve_at  BIGINT
);
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (tenant_id, dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_tenant_started ON alerts (tenant_id, started_at);

-- Every transition of an alert (pending, firing, severity, acknowledged, unacknowledged,
-- resolved, cleared, resumed).
CREATE TABLE alert_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alert_id    BIGINT  NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    ts          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    value       DOUBLE PRECISION
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Instances whose notifications are paused for maintenance (until NULL: until resumed).
CREATE TABLE alert_pauses (
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource    TEXT    NOT NULL,
    until       BIGINT,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, resource)
);

-- Notification channels: a notifier plugin, its per-channel configuration (sealed JSON) and
-- routing filters (severities comma-separated, tags `key=value,…`, instance name; empty = any).
CREATE TABLE notification_channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    plugin          TEXT    NOT NULL,
    config_sealed   TEXT    NOT NULL,
    severities      TEXT    NOT NULL DEFAULT '',
    tags            TEXT    NOT NULL DEFAULT '',
    instance        TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (tenant_id, name)
);

-- The durable outbox: one row per (alert event, channel), written in the event's transaction.
-- state: pending, sending, delivered, dead (the dead-letter queue).
CREATE TABLE notification_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id       BIGINT  NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    event_id         BIGINT,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX notification_outbox_due ON notification_outbox (state, next_attempt_at);
CREATE INDEX notification_outbox_tenant ON notification_outbox (tenant_id, id);
