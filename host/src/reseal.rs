//! The one-time upgrade of sealed values at start: every `v1:` value (sealed before values were
//! bound to their owner) is re-sealed as `v2:` for the row, or plugin and JSON path, that holds
//! it, one transaction per table. `vigia serve` (and `vigia migrate`, given the key) runs it
//! before anything opens a sealed value. It needs the host key, so it cannot be a SQL migration.
//!
//! It runs once per database: done, it is recorded (`one_time_upgrades`, `sealed-v2`) and never
//! runs again. Re-running it at every start would re-seal a `v1:` value planted later (or
//! restored from an old backup) for whatever row it was planted in, which is exactly the move
//! v2 prevents; so after the first pass `SecretBox::open` refuses v1 everywhere, for good. An
//! interrupted pass runs again (it only touches what is still v1), and so does a pass racing
//! another host's (each row is swapped only if unchanged).

use serde_json::Value;

use crate::secrets::{SealedFor, SecretBox, SecretError, LEGACY_PREFIX};
use crate::store::{SealedColumn, Store, StoreResult};

/// The name `one_time_upgrades` records this upgrade under.
const UPGRADE: &str = "sealed-v2";

/// What one pass re-sealed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResealReport {
    /// The upgrade had already run on this database: nothing was looked at.
    pub already_done: bool,
    /// `instances` rows whose password was re-sealed.
    pub instance_passwords: u64,
    /// `notification_channels` rows whose configuration was re-sealed.
    pub channel_configs: u64,
    /// `plugin_settings` rows with at least one secret re-sealed.
    pub plugin_configs: u64,
    /// v1 values that did not open (another host key, damaged), each naming its owner: left as
    /// they are, so they are refused when used until the value is set again.
    pub unreadable: Vec<String>,
}

impl ResealReport {
    pub fn resealed(&self) -> u64 {
        self.instance_passwords + self.channel_configs + self.plugin_configs
    }
}

/// Re-seals every `v1:` value of the store for its owner, unless this database was upgraded
/// before, then records the upgrade as done; logs what it did.
pub async fn reseal_legacy(store: &Store, secrets: &SecretBox) -> StoreResult<ResealReport> {
    if store.upgrade_done(UPGRADE).await? {
        return Ok(ResealReport { already_done: true, ..ResealReport::default() });
    }
    let mut unreadable = Vec::new();
    let instance_passwords = store
        .reseal_column(SealedColumn::InstancePassword, LEGACY_PREFIX, |row| {
            let owner = SealedFor::InstancePassword { tenant_id: row.tenant_id, instance_id: row.id };
            reseal_value(secrets, &row.sealed, &owner, &mut unreadable)
        })
        .await?;
    let channel_configs = store
        .reseal_column(SealedColumn::ChannelConfig, LEGACY_PREFIX, |row| {
            let owner = SealedFor::ChannelConfig { tenant_id: row.tenant_id, channel_id: row.id };
            reseal_value(secrets, &row.sealed, &owner, &mut unreadable)
        })
        .await?;
    let plugin_configs = store
        .reseal_plugin_configs(LEGACY_PREFIX, |plugin_id, text| {
            // Not JSON: nothing this pass can place; the plugin runtime reports it when loading.
            let mut config: Value = serde_json::from_str(text).ok()?;
            let mut changed = false;
            reseal_tree(&mut config, &mut Vec::new(), &mut |path, sealed| {
                let owner = SealedFor::PluginSecret { plugin_id, path };
                match secrets.open_legacy(sealed) {
                    Ok(plain) => {
                        changed = true;
                        Some(secrets.seal(&plain, &owner))
                    }
                    // Plugin configurations also hold plain values; one that merely starts
                    // like a sealed one is not a secret to move.
                    Err(SecretError::Malformed) => None,
                    Err(e) => {
                        unreadable.push(format!("{owner}: {e}"));
                        None
                    }
                }
            });
            changed.then(|| config.to_string())
        })
        .await?;
    // Done even with values left unreadable: they stay refused until set again, rather than
    // keeping the upgrade (and so the re-sealing of planted values) open.
    store.mark_upgrade_done(UPGRADE).await?;
    let report = ResealReport { already_done: false, instance_passwords, channel_configs, plugin_configs, unreadable };
    if report.resealed() > 0 {
        tracing::info!(
            instance_passwords,
            channel_configs,
            plugin_configs,
            "re-sealed v1 secrets for the rows holding them (v2, bound to their owner)"
        );
    } else {
        tracing::info!("no v1 sealed secret to re-seal; values are bound to their rows (v2) from now on");
    }
    for owner in &report.unreadable {
        tracing::warn!(
            value = %owner,
            "a v1 sealed secret did not open with this host key; left as is, it is refused when used: set it again"
        );
    }
    Ok(report)
}

/// `sealed` opened as v1 and sealed again for `owner`; `None` (recorded) when it does not open.
fn reseal_value(
    secrets: &SecretBox,
    sealed: &str,
    owner: &SealedFor<'_>,
    unreadable: &mut Vec<String>,
) -> Option<String> {
    match secrets.open_legacy(sealed) {
        Ok(plain) => Some(secrets.seal(&plain, owner)),
        Err(e) => {
            unreadable.push(format!("{owner}: {e}"));
            None
        }
    }
}

/// Calls `reseal(path, value)` for every v1 string under the objects of `node` (secrets live at
/// object paths, as `plugins::config` addresses them) and replaces it with what it returns.
fn reseal_tree(node: &mut Value, path: &mut Vec<String>, reseal: &mut impl FnMut(&[String], &str) -> Option<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                path.push(key.clone());
                reseal_tree(value, path, reseal);
                path.pop();
            }
        }
        Value::String(s) if SecretBox::is_legacy(s) => {
            if let Some(new) = reseal(path, s) {
                *s = new;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_string_under_objects_is_visited_with_its_path() {
        let mut config = serde_json::json!({
            "a": "v1:x", "plain": "v2:y", "n": {"b": "v1:z", "list": ["v1:skipped"]}, "num": 1
        });
        let mut seen = Vec::new();
        reseal_tree(&mut config, &mut Vec::new(), &mut |path, value| {
            seen.push((path.join("."), value.to_string()));
            Some(format!("new {}", path.join(".")))
        });
        seen.sort();
        assert_eq!(seen, [("a".to_string(), "v1:x".to_string()), ("n.b".to_string(), "v1:z".to_string())]);
        assert_eq!(config["a"], "new a");
        assert_eq!(config["n"]["b"], "new n.b");
        assert_eq!(config["n"]["list"][0], "v1:skipped", "secrets live at object paths only");
        assert_eq!(config["plain"], "v2:y");
    }
}
