//! `GET /api/v1/cluster`, the operator's: the hosts sharing this database (`[cluster] enabled`),
//! each with its address, version, last heartbeat, health (`cluster::health`), the number of
//! instances whose lease it holds, and how its plugins directory differs from the bundles
//! installed through the API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use super::error::ApiResult;
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::cluster::{health, Health};
use crate::plugins::Divergence;
use crate::store::{now_ms, HostRow};

#[derive(Serialize, utoipa::ToSchema)]
pub struct HostView {
    pub id: String,
    /// Where its API is reached (`[cluster] advertise`, or its listening address).
    pub address: String,
    pub version: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// When it stopped cleanly (none while it runs, or after a crash).
    pub stopped_at: Option<String>,
    pub health: Health,
    /// Instances whose sampling lease it holds now.
    pub instances: usize,
    /// It leads the cluster (runs alert evaluation, the status pass, rollups and retention).
    pub leader: bool,
    /// The host that answered.
    pub this_host: bool,
    /// What its plugins directory holds that the bundles installed through the API do not say
    /// (a plugin edited or placed there by hand, kept; one it could not write), as its last
    /// pass found it. Empty when in agreement.
    pub plugin_divergence: Vec<Divergence>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClusterView {
    /// `[cluster] enabled` on the host that answered; off, it runs alone and lists no host.
    pub enabled: bool,
    /// The id of the host that answered.
    pub this_host: Option<String>,
    /// A host silent for this long is dead.
    pub dead_after_seconds: Option<u64>,
    pub hosts: Vec<HostView>,
}

fn view(row: HostRow, health: Health, instances: usize, this_host: bool) -> HostView {
    let plugin_divergence = serde_json::from_str(&row.plugin_divergence).unwrap_or_else(|e| {
        tracing::warn!(host = %row.id, error = %e, "unreadable plugin divergence of a host; shown as none");
        Vec::new()
    });
    HostView {
        id: row.id,
        address: row.address,
        version: row.version,
        started_at: rfc3339(row.started_at),
        heartbeat_at: rfc3339(row.heartbeat_at),
        stopped_at: row.stopped_at.map(rfc3339),
        leader: row.leader_since.is_some() && health == Health::Alive,
        health,
        instances,
        this_host,
        plugin_divergence,
    }
}

/// The cluster's members and their health.
#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster", security(("bearer" = [])),
    responses((status = 200, body = ClusterView)))]
pub async fn cluster(State(ctx): State<Arc<AppContext>>, _caller: Principal) -> ApiResult<Json<ClusterView>> {
    let Some(local) = &ctx.cluster else {
        return Ok(Json(ClusterView { enabled: false, this_host: None, dead_after_seconds: None, hosts: Vec::new() }));
    };
    let now = now_ms();
    let leases = ctx.store.lease_view().await?;
    let mut held: HashMap<String, usize> = HashMap::new();
    for lease in leases.leases.into_iter().filter(|l| l.expires_at > leases.now) {
        *held.entry(lease.owner).or_default() += 1;
    }
    let hosts = ctx.store.list_hosts().await?.into_iter().map(|row| {
        let (state, this) = (health(&row, now, local.dead_after), row.id == local.id);
        let instances = held.get(&row.id).copied().unwrap_or_default();
        view(row, state, instances, this)
    });
    Ok(Json(ClusterView {
        enabled: true,
        this_host: Some(local.id.clone()),
        dead_after_seconds: Some(local.dead_after.as_secs()),
        hosts: hosts.collect(),
    }))
}
