//! The lease keeper: at every heartbeat a member renews the instance leases it holds, hands over
//! those another member now wins, and takes the free or lapsed ones it wins (`placement`). What
//! it holds is published as `Owned` to the sampler (which samples exactly that) and to the
//! activity writer (which drops any batch of a lease generation it no longer holds); the
//! database fence (migration 0019) refuses the writes of a member that lost a lease anyway.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::placement::{self, Inputs};
use crate::store::{now_ms, Store, StoreResult};

/// The leases a member holds: instance id → lease generation.
pub type Owned = Arc<BTreeMap<i64, i64>>;

/// What the keeper asks of the sampling side when leases move (the activity writer).
pub trait Sampling: Send + Sync + 'static {
    /// Store everything received of `instance_ids`, then forget them: their leases go next.
    fn handover(&self, instance_ids: Vec<i64>) -> impl Future<Output = ()> + Send;
    /// Forget `instance_ids` unstored: their leases were lost.
    fn forget(&self, instance_ids: Vec<i64>) -> impl Future<Output = ()> + Send;
    /// Recover what a previous owner left of `instance_ids` (its crash tail), before sampling
    /// them; answers the ticks recovered.
    fn recover(&self, instance_ids: &[i64]) -> impl Future<Output = StoreResult<usize>> + Send;
}

/// One member's leases over the instances.
pub struct LeaseKeeper<S> {
    store: Store,
    me: String,
    ttl: Duration,
    sampling: S,
    owned: watch::Sender<Owned>,
    /// Until when the leases last renewed are surely still ours (by this host's monotonic
    /// clock, started before the renewal was sent, so never later than the database's expiry).
    valid_until: Option<Instant>,
}

impl<S: Sampling> LeaseKeeper<S> {
    /// A keeper holding nothing yet, publishing its holdings on `owned` (whose receivers are
    /// the sampler's and the writer's).
    pub fn new(store: Store, me: String, ttl: Duration, sampling: S, owned: watch::Sender<Owned>) -> LeaseKeeper<S> {
        owned.send_replace(Owned::default());
        LeaseKeeper { store, me, ttl, sampling, owned, valid_until: None }
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }

    fn holding(&self) -> Owned {
        self.owned.borrow().clone()
    }

    fn publish(&self, owned: BTreeMap<i64, i64>) {
        self.owned.send_if_modified(|current| {
            let changed = **current != owned;
            if changed {
                *current = Arc::new(owned);
            }
            changed
        });
    }

    /// One pass: hand over, renew, take. A failed pass keeps what is held until the leases'
    /// time is up (`expire_if_stale`).
    pub async fn pass(&mut self) -> StoreResult<()> {
        let started = Instant::now();
        let ttl_ms = self.ttl_ms();
        let beat_after = now_ms() - ttl_ms;
        let mut live: Vec<String> = self
            .store
            .list_hosts()
            .await?
            .into_iter()
            .filter(|h| h.samples && h.stopped_at.is_none() && h.heartbeat_at > beat_after)
            .map(|h| h.id)
            .collect();
        if !live.contains(&self.me) {
            live.push(self.me.clone());
        }
        let instances = self.store.enabled_instance_ids().await?;
        let view = self.store.lease_view().await?;
        let moves = placement::moves(&Inputs {
            me: &self.me,
            now: view.now,
            live: &live,
            instances: &instances,
            leases: &view.leases,
        });
        if !moves.release.is_empty() {
            self.hand_over(moves.release).await?;
        }
        let held: BTreeMap<i64, i64> = self.store.renew_leases(&self.me, ttl_ms).await?.into_iter().collect();
        self.valid_until = Some(started + self.ttl);
        let before = self.holding();
        let lost: Vec<i64> = before.iter().filter(|(id, g)| held.get(id) != Some(g)).map(|(id, _)| *id).collect();
        if !lost.is_empty() {
            tracing::warn!(instances = lost.len(), "instance leases lost to another member; sampling them stopped");
            self.publish(before.iter().filter(|(id, _)| !lost.contains(id)).map(|(i, g)| (*i, *g)).collect());
            self.sampling.forget(lost).await;
        }
        let taken = self.store.claim_leases(&self.me, &moves.claim, ttl_ms).await?;
        let mut now_held = held;
        now_held.extend(taken);
        // Held but not sampled yet: just taken, or held by this host before a restart. Whatever
        // their previous sampler left in the tail becomes chunks before the first new tick.
        let new: Vec<i64> = now_held.keys().filter(|id| !before.contains_key(id)).copied().collect();
        if !new.is_empty() {
            match self.sampling.recover(&new).await {
                Ok(0) => {}
                Ok(ticks) => tracing::info!(ticks, "recovered the ASH tail left by the previous owners"),
                Err(e) => tracing::warn!(error = %e, "recovering taken instances' ASH tail failed"),
            }
            tracing::info!(instances = new.len(), "instance leases taken");
        }
        self.publish(now_held);
        Ok(())
    }

    /// Stops sampling `instance_ids`, stores what was buffered, then lets their leases lapse
    /// for the winner to take at its next pass.
    async fn hand_over(&mut self, instance_ids: Vec<i64>) -> StoreResult<()> {
        let keep = self.holding().iter().filter(|(id, _)| !instance_ids.contains(id)).map(|(i, g)| (*i, *g)).collect();
        self.publish(keep);
        self.sampling.handover(instance_ids.clone()).await;
        self.store.release_leases(&self.me, &instance_ids).await?;
        tracing::info!(instances = instance_ids.len(), "instance leases handed over");
        Ok(())
    }

    /// After a failed pass: once the leases' time is up by this host's clock, stop sampling
    /// everything (another member may hold them by now).
    pub async fn expire_if_stale(&mut self) {
        if self.valid_until.is_some_and(|until| Instant::now() >= until) {
            let lost: Vec<i64> = self.holding().keys().copied().collect();
            if !lost.is_empty() {
                tracing::warn!(
                    instances = lost.len(),
                    "instance leases could not be renewed in time; sampling stopped"
                );
                self.publish(BTreeMap::new());
                self.sampling.forget(lost).await;
            }
            self.valid_until = None;
        }
    }

    /// A clean stop: whatever was buffered is stored, then every lease lapses at once.
    pub async fn hand_over_all(&mut self) -> StoreResult<u64> {
        let held: Vec<i64> = self.holding().keys().copied().collect();
        self.publish(BTreeMap::new());
        self.sampling.handover(held).await;
        self.store.release_all_leases(&self.me).await
    }
}
