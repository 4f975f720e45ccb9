-- Metric store shared by collectors and the native sampler: one row per series (interned
-- resource/metric/labels), points keyed by (series, timestamp). Same tables on PostgreSQL.
CREATE TABLE metric_series (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    resource    TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    labels      TEXT    NOT NULL,  -- canonical JSON object (sorted keys), '{}' when none
    unit        TEXT,
    source      TEXT    NOT NULL,  -- plugin id, or 'sampler'
    created_at  BIGINT  NOT NULL,
    UNIQUE (tenant_id, resource, metric, labels)
);

CREATE TABLE metric_points (
    series_id  BIGINT            NOT NULL REFERENCES metric_series(id) ON DELETE CASCADE,
    ts         BIGINT            NOT NULL,  -- epoch milliseconds
    value      DOUBLE PRECISION  NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
