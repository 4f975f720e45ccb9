-- Revocation epoch (issue 11): bumped with every token revocation, password change and change of
-- a user's rights. Each process reads it every second and drops its token cache when it moved,
-- so hosts sharing one PostgreSQL honour a revocation within a second, not the cache's 30 s.
CREATE TABLE auth_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT  NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);
