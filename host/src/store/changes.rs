//! The cluster's change feed: PostgreSQL `LISTEN` on the channel the triggers of migration 0025
//! announce on. What a member caches (the revocation epoch, a plugin's settings, the plugin
//! bundles) is announced at commit by the database itself, so no code path can change it and
//! forget to tell. SQLite is one process: it has no feed.

use sqlx::postgres::PgListener;

use super::{Db, Store, StoreResult};

/// The channel every announcement goes to.
const CHANNEL: &str = "vigia_changes";

/// A change another process (or this one) committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A token was revoked or a user's rights changed (the revocation epoch moved).
    Auth,
    /// A plugin's stored settings (enabled, configuration) changed or were forgotten.
    PluginSettings(String),
    /// A plugin bundle was installed, replaced or removed through the API.
    PluginBundles,
    /// The feed was cut and is back: announcements made meanwhile are lost, so anything may
    /// have changed.
    Resync,
}

impl Change {
    /// The change a payload announces; `None` for one this version does not know (a newer
    /// member's), which is ignored.
    pub fn parse(payload: &str) -> Option<Change> {
        match payload {
            "auth" => Some(Change::Auth),
            "bundles" => Some(Change::PluginBundles),
            _ => payload
                .strip_prefix("plugin:")
                .filter(|id| !id.is_empty())
                .map(|id| Change::PluginSettings(id.to_string())),
        }
    }
}

/// A subscription to the change feed, on a connection of its own.
pub struct ChangeFeed {
    listener: PgListener,
}

impl Store {
    /// Listens to the change feed; `None` on SQLite (one process, nothing to hear).
    pub async fn change_feed(&self) -> StoreResult<Option<ChangeFeed>> {
        let Db::Postgres(pool) = &self.db else { return Ok(None) };
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeFeed { listener }))
    }
}

impl ChangeFeed {
    /// The next change. A lost connection is re-established before this returns `Resync`; when
    /// it cannot be, the error is returned and the next call tries again.
    pub async fn next(&mut self) -> StoreResult<Change> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(Change::Resync),
                Some(notification) => match Change::parse(notification.payload()) {
                    Some(change) => return Ok(change),
                    None => tracing::debug!(payload = notification.payload(), "unknown change announced; ignored"),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn payloads_name_their_change() {
        let cases = [
            ("auth", Some(Change::Auth)),
            ("bundles", Some(Change::PluginBundles)),
            ("plugin:webhook", Some(Change::PluginSettings("webhook".into()))),
            ("plugin:", None),
            ("tenant:3", None),
            ("", None),
        ];
        for (payload, expected) in cases {
            assert_eq!(Change::parse(payload), expected, "payload {payload:?}");
        }
    }
}
