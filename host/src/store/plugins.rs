//! Plugin settings (enabled flag, configuration with sealed secrets), plugin-scoped key/value
//! state, and the bundles installed through the API (migration 0024). The plugin runtime reaches
//! these through its capability traits, never through SQL.

use super::{now_ms, on_pool, Store, StoreResult};

/// One row of `plugin_settings`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PluginSettingsRow {
    pub plugin_id: String,
    pub enabled: bool,
    /// The operator's configuration as JSON, secret values sealed.
    pub config_json: String,
    pub updated_at: i64,
}

/// A stored bundle without its bytes: what a member compares with its plugins directory.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BundleDigest {
    pub id: String,
    /// SHA-256 (hex) of the bundle's contents (`plugins::bundle::digest`).
    pub digest: String,
}

impl Store {
    /// Stores (or replaces) the bundle of plugin `id` as installed.
    pub async fn put_plugin_bundle(&self, id: &str, digest: &str, bundle: &[u8]) -> StoreResult<()> {
        let sql = "INSERT INTO plugin_bundles (id, digest, bundle, installed_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, bundle = excluded.bundle, \
                   installed_at = excluded.installed_at";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(digest).bind(bundle).bind(now_ms()).execute(pool).await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the bundle of plugin `id`; `false` when none was stored.
    pub async fn delete_plugin_bundle(&self, id: &str) -> StoreResult<bool> {
        let sql = "DELETE FROM plugin_bundles WHERE id = $1";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Every stored bundle's id and digest, by id (one small query: no bundle bytes).
    pub async fn plugin_bundle_digests(&self) -> StoreResult<Vec<BundleDigest>> {
        let sql = "SELECT id, digest FROM plugin_bundles ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, BundleDigest>(sql).fetch_all(pool).await)?)
    }

    /// The stored bundle of plugin `id` (the tar.gz as installed).
    pub async fn plugin_bundle(&self, id: &str) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT bundle FROM plugin_bundles WHERE id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, Vec<u8>>(sql).bind(id).fetch_optional(pool).await)?)
    }

    pub async fn plugin_settings(&self, plugin_id: &str) -> StoreResult<Option<PluginSettingsRow>> {
        let sql = "SELECT plugin_id, enabled, config_json, updated_at FROM plugin_settings WHERE plugin_id = $1";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, PluginSettingsRow>(sql).bind(plugin_id).fetch_optional(pool).await)?,
        )
    }

    pub async fn set_plugin_enabled(&self, plugin_id: &str, enabled: bool) -> StoreResult<()> {
        let sql =
            "INSERT INTO plugin_settings (plugin_id, enabled, config_json, updated_at) VALUES ($1, $2, '{}', $3) \
                   ON CONFLICT (plugin_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql).bind(plugin_id).bind(enabled).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Stores the (already sealed) configuration; a new row starts enabled.
    pub async fn set_plugin_config(&self, plugin_id: &str, config_json: &str) -> StoreResult<()> {
        let sql = "INSERT INTO plugin_settings (plugin_id, enabled, config_json, updated_at) VALUES ($1, TRUE, $2, $3) \
                   ON CONFLICT (plugin_id) DO UPDATE SET config_json = excluded.config_json, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql).bind(plugin_id).bind(config_json).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets a plugin's settings and state (used when it is removed).
    pub async fn delete_plugin_data(&self, plugin_id: &str) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM plugin_settings WHERE plugin_id = $1").bind(plugin_id).execute(pool).await.map(|r| r.rows_affected()))?;
        on_pool!(self, pool => sqlx::query("DELETE FROM plugin_state WHERE plugin_id = $1").bind(plugin_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn plugin_state_get(&self, plugin_id: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let sql = "SELECT value FROM plugin_state WHERE plugin_id = $1 AND key = $2";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, Vec<u8>>(sql).bind(plugin_id).bind(key).fetch_optional(pool).await)?,
        )
    }

    pub async fn plugin_state_set(&self, plugin_id: &str, key: &str, value: &[u8]) -> StoreResult<()> {
        let sql = "INSERT INTO plugin_state (plugin_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (plugin_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql).bind(plugin_id).bind(key).bind(value).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn plugin_state_delete(&self, plugin_id: &str, key: &str) -> StoreResult<()> {
        let sql = "DELETE FROM plugin_state WHERE plugin_id = $1 AND key = $2";
        on_pool!(self, pool => sqlx::query(sql).bind(plugin_id).bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Number of keys a plugin holds (the runtime caps it).
    pub async fn plugin_state_count(&self, plugin_id: &str) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM plugin_state WHERE plugin_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(plugin_id).fetch_one(pool).await)?)
    }
}
