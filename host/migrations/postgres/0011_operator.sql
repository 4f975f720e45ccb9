-- The host's operator (issue 11): installs, removes, enables and configures plugins, the host-wide
-- right (`plugins:manage`) that no tenant privilege implies, not even `admin`.
ALTER TABLE users ADD COLUMN operator BOOLEAN NOT NULL DEFAULT FALSE;
-- An existing deployment's operator is the admin created at its first start.
UPDATE users SET operator = TRUE
 WHERE login = 'admin' AND tenant_id = (SELECT id FROM tenants WHERE name = 'default');
