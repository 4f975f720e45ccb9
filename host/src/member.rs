//! `vigia serve` as a cluster member (`[cluster] enabled`): the wiring of `cluster` into the
//! process. Before the loops start (`prepare`): this host's id, the channel its instance leases
//! are published on, its leadership, and the activity writer on a fenced pool of its own. Once
//! the listener is bound (`join`): registration, then every heartbeat a beat, a lease pass and a
//! leadership refresh; and (`Member::materialise_plugins`) the plugin bundles stored in the
//! database written into this host's plugins directory, its divergences recorded in its row. At a
//! clean stop (`Member::leave`), after the loops: leases handed over, leadership released, the
//! stop recorded.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{watch, Mutex};

use crate::activity::{ActivityWriter, FreshAsh};
use crate::cluster::{self, Leadership, LeaseKeeper, Local, Membership, Owned};
use crate::config::Config;
use crate::lifecycle::Background;
use crate::plugins::{Divergence, Materialiser, PluginHost};
use crate::secrets::SecretBox;
use crate::store::{now_ms, Store};

/// The label of the subkey members compare to know they share one secret key.
const KEY_CHECK_LABEL: &str = "vigia/cluster-key-check/v1";

/// Connections of a member's fenced pool (the activity writer's only).
const FENCED_CONNECTIONS: u32 = 4;

/// A member before it joined: what the loops need from the start.
pub struct Prepared {
    local: Local,
    owned: watch::Sender<Owned>,
    /// The instance leases this member holds (the sampler samples exactly these).
    pub leases: watch::Receiver<Owned>,
    /// Gates the once-per-cluster loops (`cluster::leads`).
    pub leader: Arc<Leadership>,
}

impl Prepared {
    /// This host's id.
    pub fn id(&self) -> &str {
        &self.local.id
    }
}

/// With `[cluster] enabled`, this host as a member-to-be; `None` on a single host.
pub fn prepare(config: &Config, store: &Store) -> anyhow::Result<Option<Prepared>> {
    let local = Local::of(&config.cluster, &config.data_dir)
        .with_context(|| format!("keeping this host's cluster id in {}", config.data_dir.display()))?;
    let Some(local) = local else { return Ok(None) };
    let (owned, leases) = watch::channel(Owned::default());
    let leader = Arc::new(Leadership::new(store.clone(), local.id.clone()));
    Ok(Some(Prepared { local, owned, leases, leader }))
}

/// The activity writer: a single host's on the shared pool, recovering every tail at start; a
/// member's on its fenced pool, dropping batches of leases it no longer holds.
pub async fn activity_writer(
    config: &Config,
    store: &Store,
    member: Option<&Prepared>,
    fresh: &FreshAsh,
) -> anyhow::Result<ActivityWriter> {
    let Some(member) = member else { return Ok(ActivityWriter::start_feeding(store.clone(), &config.sampler, fresh)) };
    let fenced = Store::connect_fenced(&config.storage_url(), FENCED_CONNECTIONS, member.id())
        .await
        .context("opening the sampler's fenced storage connections")?;
    Ok(ActivityWriter::start_member(fenced, &config.sampler, fresh, member.leases.clone()))
}

/// This host as a cluster member: its registration, its instance leases, its leadership.
pub struct Member {
    membership: Membership,
    keeper: Arc<Mutex<LeaseKeeper<ActivityWriter>>>,
    leader: Arc<Leadership>,
    materialiser: Option<Arc<Materialiser>>,
}

/// Registers `member` at its advertised (or listening) address — refused when a live member
/// runs with another secret key — and starts its heartbeat loop under `background`.
pub async fn join(
    member: Prepared,
    config: &Config,
    store: &Store,
    listener: &TcpListener,
    secrets: &SecretBox,
    writer: &ActivityWriter,
    background: &Background,
) -> anyhow::Result<Member> {
    let address = match config.cluster.advertise.trim() {
        "" => listener.local_addr()?.to_string(),
        advertised => advertised.to_string(),
    };
    let key_check = cluster::key_check(&secrets.derive_key(KEY_CHECK_LABEL));
    let samples = config.sampler.enabled;
    let membership = Membership::join(store.clone(), &member.local, address, key_check, samples, now_ms())
        .await
        .context("joining the cluster")?;
    let keeper = LeaseKeeper::new(store.clone(), member.local.id, config.cluster.lease(), writer.clone(), member.owned);
    let joined = Member { membership, keeper: Arc::new(Mutex::new(keeper)), leader: member.leader, materialiser: None };
    let (membership, keeper, leader) = (joined.membership.clone(), joined.keeper.clone(), joined.leader.clone());
    background.every("cluster heartbeat", config.cluster.heartbeat(), move || {
        let (membership, keeper, leader) = (membership.clone(), keeper.clone(), leader.clone());
        async move { heartbeat(&membership, samples.then_some(&*keeper), &leader).await }
    });
    Ok(joined)
}

/// One heartbeat: beat, move the instance leases (a member that samples), keep or take the
/// leadership.
async fn heartbeat(membership: &Membership, keeper: Option<&Mutex<LeaseKeeper<ActivityWriter>>>, leader: &Leadership) {
    if let Err(e) = membership.beat(now_ms()).await {
        tracing::warn!(error = %e, "cluster heartbeat failed; beating again at the next one");
    }
    if let Some(keeper) = keeper {
        let mut keeper = keeper.lock().await;
        if let Err(e) = keeper.pass().await {
            tracing::warn!(error = %e, "moving instance leases failed; retried at the next heartbeat");
            keeper.expire_if_stale().await;
        }
    }
    if let Err(e) = leader.refresh().await {
        tracing::warn!(error = %e, "recording the cluster leadership failed");
    }
}

impl Member {
    /// Materialises the plugin bundles stored in the database into this host's plugins
    /// directory: a pass at once, then at every heartbeat and whenever poked
    /// (`Member::materialiser`); this host's divergences are recorded in its `hosts` row (shown
    /// by `GET /api/v1/cluster`) whenever they change.
    pub fn materialise_plugins(&mut self, plugins: &PluginHost, store: &Store, period: Duration, bg: &Background) {
        let materialiser = plugins.materialiser();
        self.materialiser = Some(materialiser.clone());
        let (store, id, token) = (store.clone(), self.membership.id().to_string(), bg.token());
        bg.spawn("plugin bundles", async move {
            let mut recorded: Option<Vec<Divergence>> = None;
            loop {
                match materialiser.pass().await {
                    Ok(found) if recorded.as_ref() != Some(&found) => {
                        if record_divergence(&store, &id, &found).await {
                            recorded = Some(found);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "materialising the stored plugin bundles failed; retried"),
                }
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = materialiser.next(period) => {}
                }
            }
        });
    }

    /// The materialiser of the stored plugin bundles, once started: `poke` it to run a pass now.
    pub fn materialiser(&self) -> Option<&Arc<Materialiser>> {
        self.materialiser.as_ref()
    }

    /// A clean stop, once sampling and the heartbeat have stopped: what was buffered is stored,
    /// every lease lapses and the leadership goes, for the others to take at once, and the host
    /// says it stopped.
    pub async fn leave(&self, problems: &mut Vec<String>) {
        match self.keeper.lock().await.hand_over_all().await {
            Ok(n) => tracing::info!(instances = n, "instance leases handed over"),
            Err(e) => problems.push(format!("handing this host's instance leases over: {e}")),
        }
        self.leader.step_down().await;
        if let Err(e) = self.membership.leave(now_ms()).await {
            problems.push(format!("recording this host's stop in the cluster: {e}"));
        }
    }
}

/// Records this host's plugin divergences in its row; `false` when that failed (tried again
/// after the next pass).
async fn record_divergence(store: &Store, id: &str, found: &[Divergence]) -> bool {
    for d in found {
        tracing::warn!(plugin = %d.plugin, state = ?d.state, detail = %d.detail, "plugin directory diverges from the database");
    }
    let json = serde_json::to_string(found).expect("divergences serialise");
    match store.set_host_plugin_divergence(id, &json).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "recording this host's plugin divergences failed");
            false
        }
    }
}
