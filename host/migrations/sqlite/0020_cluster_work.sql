-- Once-per-cluster work (issue 13). `leader_since`: set on the host that last took the
-- leadership (the holder of a PostgreSQL advisory lock), so `GET /api/v1/cluster` can say who
-- leads. `collector_runs`: one row per collector plugin and interval slot, inserted by the host
-- that runs it; a second host's insert conflicts, so every slot runs once across the cluster.
ALTER TABLE hosts ADD COLUMN leader_since BIGINT;
CREATE TABLE collector_runs (
    plugin_id TEXT   NOT NULL,
    slot_ms   BIGINT NOT NULL,
    host      TEXT   NOT NULL,
    PRIMARY KEY (plugin_id, slot_ms)
);
