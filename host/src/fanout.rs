//! What one cluster member changes, every member applies at once. The change feed
//! (`store::ChangeFeed`, PostgreSQL `LISTEN/NOTIFY` fed by triggers) drives this process's
//! caches: the token cache (a revocation, a user's rights), the settings of a plugin (enabled,
//! configuration) and the plugin bundles. A single host changes its own caches as it writes, so
//! it runs none of this; the slower polls (`sync_revocations` every second, the bundle pass at
//! every heartbeat) stay as the fallback when the feed is cut.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::lifecycle::{sleep_or_stop, Background};
use crate::plugins::{Materialiser, PluginHost};
use crate::store::{Change, ChangeFeed, Store};

/// How long a member waits before subscribing again after the feed failed.
const RETRY: Duration = Duration::from_secs(1);

/// The caches a change applies to.
#[derive(Clone)]
pub struct Caches {
    pub auth: Authenticator,
    pub plugins: Option<Arc<PluginHost>>,
    /// The pass that materialises the plugin bundles stored in the database (woken on a change).
    pub bundles: Option<Arc<Materialiser>>,
}

/// Follows the change feed under `background` until it stops.
pub fn start(background: &Background, store: &Store, caches: Caches) {
    let (store, token) = (store.clone(), background.token());
    background.spawn("cluster change feed", follow(store, caches, token));
}

async fn follow(store: Store, caches: Caches, token: CancellationToken) {
    loop {
        let feed = tokio::select! {
            _ = token.cancelled() => return,
            feed = store.change_feed() => feed,
        };
        match feed {
            Ok(Some(feed)) => {
                // Whatever changed before the subscription (or while it was cut) is read anew.
                apply(&caches, Change::Resync).await;
                listen(feed, &caches, &token).await;
            }
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "subscribing to the cluster change feed failed; retrying"),
        }
        if !sleep_or_stop(&token, RETRY).await {
            return;
        }
    }
}

/// Applies changes until the feed fails (then the caller subscribes again) or the stop.
async fn listen(mut feed: ChangeFeed, caches: &Caches, token: &CancellationToken) {
    loop {
        let next = tokio::select! {
            _ = token.cancelled() => return,
            next = feed.next() => next,
        };
        match next {
            Ok(change) => apply(caches, change).await,
            Err(e) => return tracing::warn!(error = %e, "the cluster change feed failed; subscribing again"),
        }
    }
}

async fn apply(caches: &Caches, change: Change) {
    tracing::debug!(?change, "cluster change");
    metrics::counter!("vigia_cluster_changes_total", "change" => label(&change)).increment(1);
    let resync = change == Change::Resync;
    if resync || change == Change::Auth {
        if let Err(e) = caches.auth.sync_revocations().await {
            tracing::warn!(error = %e, "reading the revocation epoch failed; the poll retries in a second");
        }
    }
    if let Some(plugins) = &caches.plugins {
        match &change {
            Change::PluginSettings(id) => plugins.refresh_settings(id).await,
            Change::Resync => plugins.refresh_all_settings().await,
            _ => {}
        }
    }
    if let Some(bundles) = caches.bundles.as_ref().filter(|_| resync || change == Change::PluginBundles) {
        bundles.poke();
    }
}

fn label(change: &Change) -> &'static str {
    match change {
        Change::Auth => "auth",
        Change::PluginSettings(_) => "plugin_settings",
        Change::PluginBundles => "plugin_bundles",
        Change::Resync => "resync",
    }
}
