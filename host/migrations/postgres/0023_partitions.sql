-- Time-range partitions for the sampler's biggest tables (issue 13): retention drops whole
-- partitions instead of DELETEing rows, so a year of a thousand instances does not bloat.
--
-- Each table becomes a partitioned parent with the same columns, key and foreign key; the old
-- table is attached as its DEFAULT partition. With no other partition yet, attaching is catalog
-- work only (the old primary key index and foreign key are reused, nothing is copied or
-- validated): an existing database migrates in about the same time whatever it holds. The
-- store (host/src/store/partitions.rs) then creates one partition per range ahead of time,
-- moves any rows the default holds for a range when it creates it, drops partitions past
-- retention and DELETEs what is past retention from the defaults, which drain as old data ages.
--
-- ash_rollups and statement_deltas are partitioned on (resolution, time): a multi-column range
-- gives each resolution its own partitions, so each keeps its own retention without a second
-- level of partitioning.
--
-- The fence (vigia_fence, migration 0019) moves to the parents: a statement trigger with a
-- transition table on a partitioned table sees every row inserted through it, whatever
-- partition the row lands in. The sampler only ever inserts through the parents.

ALTER TABLE ash_chunks RENAME TO ash_chunks_legacy;
ALTER INDEX ash_chunks_pkey RENAME TO ash_chunks_legacy_pkey;
ALTER TABLE ash_chunks_legacy RENAME CONSTRAINT ash_chunks_instance_id_fkey TO ash_chunks_legacy_instance_id_fkey;
DROP TRIGGER ash_chunks_fence ON ash_chunks_legacy;

CREATE TABLE ash_chunks (
    instance_id  BIGINT  NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    start_ts     BIGINT  NOT NULL,  -- first tick, epoch ms
    end_ts       BIGINT  NOT NULL,  -- last tick, epoch ms
    ticks        BIGINT  NOT NULL,
    sessions     BIGINT  NOT NULL,  -- session samples in the chunk
    data         BYTEA  NOT NULL,
    PRIMARY KEY (instance_id, start_ts)
) PARTITION BY RANGE (start_ts);
ALTER TABLE ash_chunks ATTACH PARTITION ash_chunks_legacy DEFAULT;
CREATE TRIGGER ash_chunks_fence AFTER INSERT ON ash_chunks
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();

-- Rollups were never fenced (see UNFENCED in host/tests/it/cluster_leases.rs).
ALTER TABLE ash_rollups RENAME TO ash_rollups_legacy;
ALTER INDEX ash_rollups_pkey RENAME TO ash_rollups_legacy_pkey;
ALTER TABLE ash_rollups_legacy RENAME CONSTRAINT ash_rollups_instance_id_fkey TO ash_rollups_legacy_instance_id_fkey;

CREATE TABLE ash_rollups (
    instance_id      BIGINT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    resolution       BIGINT NOT NULL,  -- seconds
    bucket_ts        BIGINT NOT NULL,  -- bucket start, epoch ms
    wait_event_type  BIGINT NOT NULL,  -- activity_strings id
    wait_event       BIGINT NOT NULL,  -- activity_strings id
    sessions         BIGINT NOT NULL,
    ticks            BIGINT NOT NULL,
    PRIMARY KEY (instance_id, resolution, bucket_ts, wait_event_type, wait_event)
) PARTITION BY RANGE (resolution, bucket_ts);
ALTER TABLE ash_rollups ATTACH PARTITION ash_rollups_legacy DEFAULT;

ALTER TABLE statement_deltas RENAME TO statement_deltas_legacy;
ALTER INDEX statement_deltas_pkey RENAME TO statement_deltas_legacy_pkey;
ALTER TABLE statement_deltas_legacy
    RENAME CONSTRAINT statement_deltas_instance_id_fkey TO statement_deltas_legacy_instance_id_fkey;
DROP TRIGGER statement_deltas_fence ON statement_deltas_legacy;

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
) PARTITION BY RANGE (resolution, ts);
ALTER TABLE statement_deltas ATTACH PARTITION statement_deltas_legacy DEFAULT;
CREATE TRIGGER statement_deltas_fence AFTER INSERT ON statement_deltas
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
