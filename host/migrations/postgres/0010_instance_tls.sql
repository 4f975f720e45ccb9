-- TLS towards monitored instances (issue 11): libpq's sslmode (disable, prefer, require, verify-ca,
-- verify-full; prefer, the default, is what Vigia did implicitly before) and the CA bundle
-- (absolute path, '' = none: the built-in web PKI roots) that verify-ca/verify-full check against.
ALTER TABLE instances ADD COLUMN sslmode TEXT NOT NULL DEFAULT 'prefer';
ALTER TABLE instances ADD COLUMN sslrootcert TEXT NOT NULL DEFAULT '';
