-- Tenants, users and tokens. Timestamps are Unix epoch milliseconds (BIGINT) on both backends so
-- the same Rust code reads them; the PostgreSQL twin of this file has the same tables and columns.
CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    login          TEXT    NOT NULL,
    email          TEXT,
    password_hash  TEXT    NOT NULL,
    privilege      TEXT    NOT NULL,
    profile        TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (tenant_id, login)
);
CREATE INDEX users_login ON users(login);

CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id       BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,        -- 'user' (login session) or 'api'
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,        -- short clear part shown in listings
    secret_hash   TEXT    NOT NULL UNIQUE, -- hex SHA-256 of the whole token
    scopes        TEXT    NOT NULL,        -- space-separated scope names
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX tokens_tenant ON tokens(tenant_id, kind);
