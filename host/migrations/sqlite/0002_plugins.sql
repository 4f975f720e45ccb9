-- Plugin settings and plugin-scoped state. Same tables and semantics as the PostgreSQL twin.
-- config_json holds the operator's configuration with secret values sealed by SecretBox ("v1:…").
CREATE TABLE plugin_settings (
    plugin_id    TEXT    PRIMARY KEY,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    config_json  TEXT    NOT NULL DEFAULT '{}',
    updated_at   BIGINT  NOT NULL
);

-- Key/value state a plugin keeps across calls and restarts (state-get/set/delete).
CREATE TABLE plugin_state (
    plugin_id   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       BLOB    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (plugin_id, key)
);
