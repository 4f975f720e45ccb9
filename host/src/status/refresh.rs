//! The status pass (`serve` runs it with the maintenance pass): every service's status derived
//! again (`derive`) from its components' health, the open incidents and active maintenance on
//! it; each change is stored as a transition with its cause (`Store::record_service_status`).
//! Also the uptime of a service over the usual periods, from those transitions.

use std::collections::HashMap;

use super::derive::{component_health, derive, Signals};
use super::uptime::uptime;
use crate::store::{ServiceRow, Store, StoreResult};

/// Derives every service's status at `now`; returns how many changed.
pub async fn refresh_statuses(store: &Store, now: i64) -> StoreResult<usize> {
    let services = store.all_services().await?;
    let mut incidents: HashMap<i64, (i64, crate::store::IncidentSeverity)> = HashMap::new();
    for (service, id, severity) in store.open_incidents_by_service().await? {
        let worst = incidents.entry(service).or_insert((id, severity));
        if severity > worst.1 {
            *worst = (id, severity);
        }
    }
    let windows: HashMap<i64, i64> = store.active_windows_by_service().await?.into_iter().collect();
    let mut changed = 0;
    let mut by_tenant: HashMap<i64, Vec<ServiceRow>> = HashMap::new();
    for s in services {
        by_tenant.entry(s.tenant_id).or_default().push(s);
    }
    for (tenant_id, services) in by_tenant {
        let instances = store.list_instances(tenant_id).await?;
        let alerts = store.open_alerts(Some(tenant_id)).await?;
        let ids: Vec<i64> = services.iter().map(|s| s.id).collect();
        let components = store.components_of(&ids).await?;
        for s in services {
            let mine: Vec<_> = components.iter().filter(|c| c.service_id == s.id).cloned().collect();
            let signals = Signals {
                maintenance: windows.get(&s.id).copied(),
                incident: incidents.get(&s.id).copied(),
                components: component_health(&mine, &instances, &alerts),
            };
            let (status, cause) = derive(&signals);
            if status != s.current_status {
                store.record_service_status(s.id, now, status, &cause).await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

const DAY: i64 = 86_400_000;

/// Uptime percentages of a service over the last 24 hours, 7 and 30 days at `now` (`None` where
/// no transition covers the period), maintenance excluded from its SLA left out.
pub async fn uptimes(store: &Store, service_id: i64, now: i64) -> StoreResult<[Option<f64>; 3]> {
    let transitions = store.status_transitions(service_id, now - 30 * DAY, now).await?;
    let excluded = store.sla_excluded_spans(service_id, now).await?;
    Ok([1, 7, 30].map(|days| uptime(&transitions, &excluded, now - days * DAY, now)))
}
