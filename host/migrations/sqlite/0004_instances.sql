-- Monitored PostgreSQL instances (agentless: Vigia connects to them). Same table as the PostgreSQL twin.
-- password_sealed holds the password sealed by SecretBox ("v1:…"), never the clear text.
-- tags is the canonical "key=value,key=value" text (order kept); filtering happens in Rust,
-- which keeps the SQL identical on both backends and is cheap at a tenant's instance count.
CREATE TABLE instances (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                        TEXT    NOT NULL,
    host                        TEXT    NOT NULL,
    port                        BIGINT  NOT NULL,
    username                    TEXT    NOT NULL,
    password_sealed             TEXT    NOT NULL,
    tags                        TEXT    NOT NULL DEFAULT '',
    enabled                     BOOLEAN NOT NULL DEFAULT TRUE,
    -- 'low' (ASH every 10 s) or 'high' (every 1 s).
    collection_rate             TEXT    NOT NULL DEFAULT 'low',
    samples                     BOOLEAN NOT NULL DEFAULT FALSE,
    lock_monitoring             BOOLEAN NOT NULL DEFAULT TRUE,
    lock_monitoring_delay       BIGINT  NOT NULL DEFAULT 30,
    table_monitoring            BOOLEAN NOT NULL DEFAULT TRUE,
    query_monitoring            BOOLEAN NOT NULL DEFAULT TRUE,
    query_monitoring_optimize   BOOLEAN NOT NULL DEFAULT FALSE,
    query_monitoring_min_calls  BIGINT  NOT NULL DEFAULT 2,
    query_monitoring_min_time   BIGINT  NOT NULL DEFAULT 1,
    -- Outcome of the last connection check (API or sampler): whether it worked, why not, when.
    connected                   BOOLEAN NOT NULL DEFAULT FALSE,
    last_error                  TEXT,
    checked_at                  BIGINT,
    created_at                  BIGINT  NOT NULL,
    updated_at                  BIGINT  NOT NULL,
    UNIQUE (tenant_id, name)
);
