-- Cluster membership (issue 13): every `vigia serve` sharing this database with `[cluster]
-- enabled` registers here and beats every few seconds; one whose beat is older than
-- `[cluster] dead_after_seconds`, or that said it stopped, is dead. `id` is the host's own
-- (`<data_dir>/host-id`), so a restarted host is the same member. Same table as the PostgreSQL twin.
CREATE TABLE hosts (
    id           TEXT    PRIMARY KEY,
    address      TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL,
    -- Set by a clean stop; cleared when the host starts again.
    stopped_at   BIGINT
);
