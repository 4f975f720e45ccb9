-- Durability of Active Session History (issue 12).
--
-- ash_tail: the ticks of each instance's open (not yet cut) chunk, persisted every few seconds as
-- small append-only segments in the chunk format of ash_chunks. The cut writes the whole chunk to
-- ash_chunks and deletes its segments in the same transaction; at start, segments a crash left
-- behind are merged into a (short) closed chunk. Closed chunks keep their format.
CREATE TABLE ash_tail (
    instance_id  BIGINT  NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    start_ts     BIGINT  NOT NULL,  -- first tick of the segment, epoch ms
    end_ts       BIGINT  NOT NULL,  -- last tick of the segment, epoch ms
    ticks        BIGINT  NOT NULL,
    sessions     BIGINT  NOT NULL,
    data         BYTEA  NOT NULL,
    PRIMARY KEY (instance_id, start_ts)
);

-- Sampling gaps: no tick of the instance strictly between start_ts and end_ts (both epoch ms,
-- the surrounding ticks or the outage bounds), and why: host_down (Vigia was not sampling the
-- instance: stopped, crashed or sampling disabled), unreachable (the instance did not answer),
-- deadline (a tick ran past its deadline), skipped (ticks missing for no recorded reason, e.g. an
-- overloaded host or a restarted sampling task). "No data" is a gap; "no activity" is a tick with
-- no session.
CREATE TABLE ash_gaps (
    instance_id  BIGINT  NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    start_ts     BIGINT  NOT NULL,
    end_ts       BIGINT  NOT NULL,
    reason       TEXT    NOT NULL,
    PRIMARY KEY (instance_id, start_ts)
);
CREATE INDEX ash_gaps_end ON ash_gaps (instance_id, end_ts);
