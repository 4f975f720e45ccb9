-- Plugin bundles installed through the API (issue 13): the database is the source of truth for
-- them, and every cluster member materialises them into its own plugins directory. `digest` is
-- the SHA-256 (hex) of the bundle's contents (manifest text and wasm, `plugins::bundle::digest`),
-- so members compare it with their directories without fetching `bundle` (the tar.gz as
-- installed). Same table as the PostgreSQL twin.
CREATE TABLE plugin_bundles (
    id           TEXT    PRIMARY KEY,
    digest       TEXT    NOT NULL,
    bundle       BLOB    NOT NULL,
    installed_at BIGINT  NOT NULL
);

-- What a member's plugins directory holds that the database does not say (a hand-edited or
-- hand-placed plugin, a bundle it could not write): a JSON array of
-- {"plugin", "state": "local_only" | "differs" | "missing", "detail"}, shown by GET /api/v1/cluster.
ALTER TABLE hosts ADD COLUMN plugin_divergence TEXT NOT NULL DEFAULT '[]';
