-- Instance leases (issue 13): see the PostgreSQL twin. SQLite is never clustered, so the table
-- stays empty and there is no fence; it exists so both schemas answer the same queries.
CREATE TABLE instance_leases (
    instance_id BIGINT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    owner       TEXT   NOT NULL,
    generation  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX instance_leases_owner ON instance_leases (owner);

-- Every member must open the others' sealed values (instance passwords, channel secrets), so
-- they share one secret key; a joining host whose key differs from a live member's is refused.
-- `key_check` is an HMAC of a fixed label under the key: it tells nothing about the key itself.
ALTER TABLE hosts ADD COLUMN key_check TEXT NOT NULL DEFAULT '';
