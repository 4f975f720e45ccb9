-- Tag-based access control: roles and the users holding them. Same tables as the PostgreSQL twin.
-- access is the canonical JSON of the role's filter sets ([{"filters":[{"tag","value"}]}]); matching
-- happens in Rust (rbac.rs), which keeps the SQL identical on both backends.
CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    access      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE user_roles (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id  BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
-- "Who holds this role" (deletion is refused while anyone does).
CREATE INDEX user_roles_role ON user_roles(role_id);
