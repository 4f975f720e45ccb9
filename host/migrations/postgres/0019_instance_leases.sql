-- Instance leases (issue 13): with `[cluster] enabled`, one live host samples each instance, the
-- owner of its lease. A lease is renewed with its owner's heartbeat and lapses at `expires_at`
-- (milliseconds of the database's clock, never a host's); `generation` grows at every change of
-- owner. The SQLite twin has the same table and no fence (SQLite is never clustered).
CREATE TABLE instance_leases (
    instance_id BIGINT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    owner       TEXT   NOT NULL,
    generation  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX instance_leases_owner ON instance_leases (owner);

-- The database's clock in milliseconds: every lease time is read from it.
CREATE FUNCTION vigia_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS
$$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT $$;

-- The fence. A host's sampler writes through connections that carry its id in the setting
-- `vigia.host_id`; a statement writing sampled rows of an instance whose lease that host does
-- not hold (another owner, or lapsed) fails, so a host paused past its lease and resumed cannot
-- write over its successor. The lease rows are read FOR SHARE: a takeover waits for the write
-- to commit, so a write is never after the takeover of the lease it was checked against.
-- Connections without the setting (the API, maintenance, a single host) are not fenced.
CREATE FUNCTION vigia_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    me TEXT := current_setting('vigia.host_id', true);
    stray BIGINT;
BEGIN
    IF me IS NULL OR me = '' THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM instance_leases
     WHERE instance_id IN (SELECT DISTINCT instance_id FROM fenced_rows) FOR SHARE;
    SELECT r.instance_id INTO stray FROM fenced_rows r
     WHERE NOT EXISTS (SELECT 1 FROM instance_leases l WHERE l.instance_id = r.instance_id
                        AND l.owner = me AND l.expires_at > vigia_now_ms())
     LIMIT 1;
    IF stray IS NOT NULL THEN
        RAISE EXCEPTION 'fenced: host % does not hold the lease of instance % (write refused)', me, stray;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ash_chunks_fence AFTER INSERT ON ash_chunks
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER ash_tail_fence AFTER INSERT ON ash_tail
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER ash_gaps_fence AFTER INSERT ON ash_gaps
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER statement_deltas_fence AFTER INSERT ON statement_deltas
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER statement_texts_fence AFTER INSERT ON statement_texts
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER table_activity_fence AFTER INSERT ON table_activity
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER index_activity_fence AFTER INSERT ON index_activity
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER lock_snapshots_fence AFTER INSERT ON lock_snapshots
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER instance_inventory_fence_insert AFTER INSERT ON instance_inventory
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();
CREATE TRIGGER instance_inventory_fence_update AFTER UPDATE ON instance_inventory
    REFERENCING NEW TABLE AS fenced_rows FOR EACH STATEMENT EXECUTE FUNCTION vigia_fence();

-- Every member must open the others' sealed values (instance passwords, channel secrets), so
-- they share one secret key; a joining host whose key differs from a live member's is refused.
-- `key_check` is an HMAC of a fixed label under the key: it tells nothing about the key itself.
ALTER TABLE hosts ADD COLUMN key_check TEXT NOT NULL DEFAULT '';
