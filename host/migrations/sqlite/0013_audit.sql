-- Signed audit log (issue 11): one row per security event, append-only. `id` is given by the
-- appender (the head's `last_id` + 1), not by a sequence, so the chain has no holes; `hmac` is
-- HMAC-SHA256 under a key derived from the host secret over the previous row's hmac and this
-- row's canonical form. `details` is JSON and never holds a secret (changed keys, not values).
-- No foreign keys: rows outlive the users, tokens and tenants they name.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            BIGINT  NOT NULL,
    tenant_id     BIGINT  NOT NULL,
    actor         TEXT    NOT NULL,        -- login (the attempted one for sign-ins), or '-'
    token_prefix  TEXT,                    -- 'vg_abcdefgh' / 'vgu_abcdefgh' of the token used
    source_ip     TEXT,
    request_id    TEXT    NOT NULL,
    action        TEXT    NOT NULL,        -- 'token.create', 'auth.sign-in', …
    target        TEXT    NOT NULL,
    success       BOOLEAN NOT NULL,
    status        BIGINT  NOT NULL,        -- HTTP status answered
    details       TEXT    NOT NULL,
    hmac          TEXT    NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);

-- The chain's head, one row: appenders lock it first (an UPDATE), which serializes them on both
-- backends and across processes sharing one PostgreSQL, and it lets verification notice rows
-- cut off the end of the chain.
CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_id    BIGINT  NOT NULL,
    last_hmac  TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hmac) VALUES (1, 0, '');
