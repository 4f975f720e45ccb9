-- Native sampler storage (same tables as the PostgreSQL twin). Strings that repeat (databases, users,
-- wait events, applications, schemas, tables…) are interned once in activity_strings and stored
-- as ids; counters are DOUBLE PRECISION so one generic code path sums every column.

CREATE TABLE activity_strings (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    value  TEXT NOT NULL UNIQUE
);

-- Active Session History: one row per instance and chunk (about a minute of ticks). `data` is a
-- deflated columnar batch (host/src/activity/codec.rs): ≈ 3 bytes per session sample.
CREATE TABLE ash_chunks (
    instance_id  BIGINT  NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    start_ts     BIGINT  NOT NULL,  -- first tick, epoch ms
    end_ts       BIGINT  NOT NULL,  -- last tick, epoch ms
    ticks        BIGINT  NOT NULL,
    sessions     BIGINT  NOT NULL,  -- session samples in the chunk
    data         BLOB  NOT NULL,
    PRIMARY KEY (instance_id, start_ts)
);

-- Active sessions by wait event per bucket (resolution 60 s and 3600 s): `sessions` session
-- samples seen over `ticks` ticks, so sessions / ticks is the average active sessions.
CREATE TABLE ash_rollups (
    instance_id      BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    resolution       BIGINT NOT NULL,  -- seconds
    bucket_ts        BIGINT NOT NULL,  -- bucket start, epoch ms
    wait_event_type  BIGINT NOT NULL,  -- activity_strings id
    wait_event       BIGINT NOT NULL,  -- activity_strings id
    sessions         BIGINT NOT NULL,
    ticks            BIGINT NOT NULL,
    PRIMARY KEY (instance_id, resolution, bucket_ts, wait_event_type, wait_event)
);

-- pg_stat_statements deltas, one row per statement key and cycle with activity
-- (resolution 0 = raw cycle, 3600 = hourly rollup).
CREATE TABLE statement_deltas (
    instance_id  BIGINT  NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    resolution   BIGINT  NOT NULL,
    ts           BIGINT  NOT NULL,  -- end of the interval (raw) or bucket start (rollup), epoch ms
    database_id  BIGINT  NOT NULL,
    user_id      BIGINT  NOT NULL,
    queryid      BIGINT  NOT NULL,
    toplevel     BOOLEAN NOT NULL,
    calls                    DOUBLE PRECISION NOT NULL,
    total_time               DOUBLE PRECISION NOT NULL,
    rows                     DOUBLE PRECISION NOT NULL,
    shared_blks_hit          DOUBLE PRECISION NOT NULL,
    shared_blks_read         DOUBLE PRECISION NOT NULL,
    shared_blks_dirtied      DOUBLE PRECISION NOT NULL,
    shared_blks_written      DOUBLE PRECISION NOT NULL,
    local_blks_hit           DOUBLE PRECISION NOT NULL,
    local_blks_read          DOUBLE PRECISION NOT NULL,
    local_blks_dirtied       DOUBLE PRECISION NOT NULL,
    local_blks_written       DOUBLE PRECISION NOT NULL,
    temp_blks_read           DOUBLE PRECISION NOT NULL,
    temp_blks_written        DOUBLE PRECISION NOT NULL,
    blk_read_time            DOUBLE PRECISION NOT NULL,
    blk_write_time           DOUBLE PRECISION NOT NULL,
    wal_bytes                DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (instance_id, resolution, ts, database_id, user_id, queryid, toplevel)
);

CREATE TABLE statement_texts (
    instance_id  BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    queryid      BIGINT NOT NULL,
    md5          TEXT   NOT NULL,  -- query_md5_id: md5 of the normalized text
    command      TEXT   NOT NULL,
    text         TEXT   NOT NULL,
    seen_at      BIGINT NOT NULL,
    PRIMARY KEY (instance_id, queryid)
);

-- Table and index activity per cycle: counters are deltas, size/relpages/reltuples gauges.
CREATE TABLE table_activity (
    instance_id       BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    ts                BIGINT NOT NULL,
    database_id       BIGINT NOT NULL,
    schema_id         BIGINT NOT NULL,
    table_id          BIGINT NOT NULL,
    relid             BIGINT NOT NULL,
    relkind_id        BIGINT NOT NULL,
    last_autovacuum   BIGINT,
    last_autoanalyze  BIGINT,
    size                     DOUBLE PRECISION NOT NULL,
    relpages                 DOUBLE PRECISION NOT NULL,
    reltuples                DOUBLE PRECISION NOT NULL,
    seq_scan                 DOUBLE PRECISION NOT NULL,
    seq_tup_read             DOUBLE PRECISION NOT NULL,
    idx_scan                 DOUBLE PRECISION NOT NULL,
    idx_tup_fetch            DOUBLE PRECISION NOT NULL,
    n_tup_ins                DOUBLE PRECISION NOT NULL,
    n_tup_upd                DOUBLE PRECISION NOT NULL,
    n_tup_del                DOUBLE PRECISION NOT NULL,
    n_tup_hot_upd            DOUBLE PRECISION NOT NULL,
    heap_blks_read           DOUBLE PRECISION NOT NULL,
    heap_blks_hit            DOUBLE PRECISION NOT NULL,
    idx_blks_read            DOUBLE PRECISION NOT NULL,
    idx_blks_hit             DOUBLE PRECISION NOT NULL,
    toast_blks_read          DOUBLE PRECISION NOT NULL,
    toast_blks_hit           DOUBLE PRECISION NOT NULL,
    tidx_blks_read           DOUBLE PRECISION NOT NULL,
    tidx_blks_hit            DOUBLE PRECISION NOT NULL,
    vacuum_count             DOUBLE PRECISION NOT NULL,
    autovacuum_count         DOUBLE PRECISION NOT NULL,
    analyze_count            DOUBLE PRECISION NOT NULL,
    autoanalyze_count        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (instance_id, ts, database_id, schema_id, table_id)
);

CREATE TABLE index_activity (
    instance_id  BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    ts           BIGINT NOT NULL,
    database_id  BIGINT NOT NULL,
    schema_id    BIGINT NOT NULL,
    table_id     BIGINT NOT NULL,
    index_id     BIGINT NOT NULL,
    idx_scan                 DOUBLE PRECISION NOT NULL,
    idx_tup_read             DOUBLE PRECISION NOT NULL,
    idx_tup_fetch            DOUBLE PRECISION NOT NULL,
    idx_blks_read            DOUBLE PRECISION NOT NULL,
    idx_blks_hit             DOUBLE PRECISION NOT NULL,
    relpages                 DOUBLE PRECISION NOT NULL,
    size                     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (instance_id, ts, database_id, schema_id, table_id, index_id)
);

-- Latest inventory of each instance (version, start time, role, settings and sizes as JSON).
CREATE TABLE instance_inventory (
    instance_id           BIGINT  NOT NULL PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    ts                    BIGINT  NOT NULL,
    version               TEXT    NOT NULL,
    version_full          TEXT    NOT NULL,
    server_version_num    BIGINT  NOT NULL,
    start_time            BIGINT  NOT NULL,
    is_replica            BOOLEAN NOT NULL,
    max_connections       BIGINT  NOT NULL,
    databases             TEXT    NOT NULL,
    settings              TEXT    NOT NULL,
    statements_available  BOOLEAN NOT NULL,
    statements_error      TEXT
);

-- Blocking trees seen by lock monitoring (JSON array of roots).
CREATE TABLE lock_snapshots (
    instance_id  BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    ts           BIGINT NOT NULL,
    roots        TEXT   NOT NULL,
    PRIMARY KEY (instance_id, ts)
);
