//! The rows still holding a sealed value in a retired format, for the start-up upgrade
//! (`crate::reseal`): this module reads them and stores what the caller re-sealed, one
//! transaction per table, and records one-time upgrades as done (`one_time_upgrades`,
//! migration 0014). It never sees a key or a clear value.

use super::{now_ms, on_pool, Store, StoreResult};

/// A column holding one sealed value per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    /// `instances.password_sealed`.
    InstancePassword,
    /// `notification_channels.config_sealed`.
    ChannelConfig,
}

impl SealedColumn {
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            SealedColumn::InstancePassword => ("instances", "password_sealed"),
            SealedColumn::ChannelConfig => ("notification_channels", "config_sealed"),
        }
    }
}

/// One row's sealed value, with what identifies its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedRow {
    pub id: i64,
    pub tenant_id: i64,
    pub sealed: String,
}

impl Store {
    /// Whether one-time upgrade `name` has run on this database.
    pub async fn upgrade_done(&self, name: &str) -> StoreResult<bool> {
        let sql = "SELECT COUNT(*) FROM one_time_upgrades WHERE name = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(name).fetch_one(pool).await)? > 0)
    }

    /// Records one-time upgrade `name` as done (already recorded: kept as it was).
    pub async fn mark_upgrade_done(&self, name: &str) -> StoreResult<()> {
        let sql = "INSERT INTO one_time_upgrades (name, done_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql).bind(name).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Stores `reseal(row)` (`None` leaves the row) for every row of `column` whose value starts
    /// with `prefix`, in one transaction; returns how many rows changed. A row is changed only if
    /// it still holds the value read, so a concurrent change (another host upgrading at the same
    /// time, a password set meanwhile) is never overwritten with an older secret.
    pub async fn reseal_column(
        &self,
        column: SealedColumn,
        prefix: &str,
        mut reseal: impl FnMut(&SealedRow) -> Option<String>,
    ) -> StoreResult<u64> {
        let (table, col) = column.table_and_column();
        // The length is a number written into the SQL: a bound one is BIGINT, which
        // PostgreSQL's `substr(text, int, int)` does not take.
        let select = format!(
            "SELECT id, tenant_id, {col} AS sealed FROM {table} WHERE substr({col}, 1, {}) = $1 ORDER BY id",
            prefix.len()
        );
        let update = format!("UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3");
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query_as::<_, SealedRow>(&select).bind(prefix).fetch_all(&mut *tx).await?;
            let mut changed = 0;
            for row in &rows {
                if let Some(new) = reseal(row) {
                    changed += sqlx::query(&update)
                        .bind(new).bind(row.id).bind(&row.sealed)
                        .execute(&mut *tx).await?.rows_affected();
                }
            }
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// Stores `reseal(plugin_id, config_json)` (`None` leaves the row) for every plugin's
    /// configuration whose text contains `marker`, in one transaction, each only if unchanged
    /// meanwhile (as `reseal_column`); returns how many rows changed.
    pub async fn reseal_plugin_configs(
        &self,
        marker: &str,
        mut reseal: impl FnMut(&str, &str) -> Option<String>,
    ) -> StoreResult<u64> {
        let select = "SELECT plugin_id, config_json FROM plugin_settings ORDER BY plugin_id";
        let update = "UPDATE plugin_settings SET config_json = $1 WHERE plugin_id = $2 AND config_json = $3";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query_as::<_, (String, String)>(select).fetch_all(&mut *tx).await?;
            let mut changed = 0;
            for (plugin_id, config) in rows.iter().filter(|(_, config)| config.contains(marker)) {
                if let Some(new) = reseal(plugin_id, config) {
                    changed += sqlx::query(update)
                        .bind(new).bind(plugin_id).bind(config)
                        .execute(&mut *tx).await?.rows_affected();
                }
            }
            tx.commit().await?;
            Ok(changed)
        })
    }
}
