-- The cluster's change feed (issue 13): what every member caches — the revocation epoch, a
-- plugin's settings, the plugin bundles — is announced on the channel `vigia_changes` by
-- triggers, so no code path can change it and forget to tell; PostgreSQL delivers a
-- notification at commit, to every member listening (`store::changes`). Payloads: `auth`,
-- `plugin:<id>`, `bundles`.
CREATE FUNCTION vigia_announce_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigia_changes', 'auth');
    RETURN NULL;
END $$;

CREATE TRIGGER auth_epoch_announce AFTER UPDATE ON auth_epoch
    FOR EACH STATEMENT EXECUTE FUNCTION vigia_announce_auth();

CREATE FUNCTION vigia_announce_plugin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('vigia_changes', 'plugin:' || OLD.plugin_id);
    ELSE
        PERFORM pg_notify('vigia_changes', 'plugin:' || NEW.plugin_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER plugin_settings_announce AFTER INSERT OR UPDATE OR DELETE ON plugin_settings
    FOR EACH ROW EXECUTE FUNCTION vigia_announce_plugin();

CREATE FUNCTION vigia_announce_bundles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigia_changes', 'bundles');
    RETURN NULL;
END $$;

CREATE TRIGGER plugin_bundles_announce AFTER INSERT OR UPDATE OR DELETE ON plugin_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION vigia_announce_bundles();
