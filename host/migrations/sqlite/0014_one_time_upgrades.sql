-- One-time upgrades done in Rust at start, because they need what SQL does not have (the host
-- key): a row per upgrade once it has run, so it never runs again. `sealed-v2` (issue 11):
-- every `v1:` sealed value was re-sealed as `v2:`, bound to its row; after it, a `v1:` value
-- (one planted, or restored from an old backup) is refused, never re-sealed for the row it is in.
CREATE TABLE one_time_upgrades (
    name     TEXT   PRIMARY KEY,
    done_at  BIGINT NOT NULL
);
