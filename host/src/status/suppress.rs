//! `suppress_alerts`: a maintenance window pauses the alert notifications of every instance
//! behind its services for exactly its duration, through the existing pause mechanism (alerts
//! still evaluate; when the window ends, each still-firing alert is notified once, as a resume
//! does). Run after every stored move, by the API and by the scheduler alike.

use std::collections::BTreeSet;

use crate::alerting::notify::resume;
use crate::instances::Tags;
use crate::store::{ComponentKind, Link, MaintenanceRow, MaintenanceStatus, Store, StoreResult};

/// Names of the tenant's instances the window's services are made of (instance components and
/// the instances their selectors match).
async fn instances_behind(store: &Store, w: &MaintenanceRow) -> StoreResult<BTreeSet<String>> {
    let services: Vec<i64> = store.linked_services(Link::Maintenance, &[w.id]).await?.iter().map(|s| s.id).collect();
    let components = store.components_of(&services).await?;
    let instances = store.list_instances(w.tenant_id).await?;
    let mut names = BTreeSet::new();
    for c in components {
        match c.kind {
            ComponentKind::Instance => {
                names.extend(instances.iter().filter(|i| i.name == c.target).map(|i| i.name.clone()))
            }
            ComponentKind::Selector => {
                let Ok(wanted) = Tags::parse(&c.target) else { continue };
                let matching =
                    instances.iter().filter(|i| Tags::parse(&i.tags).is_ok_and(|tags| tags.contains_all(&wanted)));
                names.extend(matching.map(|i| i.name.clone()));
            }
            ComponentKind::Resource => {}
        }
    }
    Ok(names)
}

/// After `w` moved to its current status at `now`: a window that started pauses its instances
/// until its scheduled end (a pause already lasting longer is kept); one that ended lifts the
/// pauses it set (those ending at its scheduled end), each still-firing alert notified once.
pub async fn after_move(store: &Store, w: &MaintenanceRow, now: i64) -> StoreResult<()> {
    if !w.suppress_alerts {
        return Ok(());
    }
    let ended = matches!(w.status, MaintenanceStatus::Completed | MaintenanceStatus::Cancelled);
    if w.status != MaintenanceStatus::Active && !(ended && w.actual_start.is_some()) {
        return Ok(());
    }
    let pauses = store.list_pauses(Some(w.tenant_id)).await?;
    let until = |name: &str| pauses.iter().find(|(_, r, _)| r == name).map(|(_, _, until)| *until);
    for name in instances_behind(store, w).await? {
        match (w.status, until(&name)) {
            // Paused for longer already (or until resumed by hand): that pause stands.
            (MaintenanceStatus::Active, Some(None)) => {}
            (MaintenanceStatus::Active, Some(Some(u))) if u >= w.scheduled_end => {}
            (MaintenanceStatus::Active, _) => store.set_pause(w.tenant_id, &name, Some(w.scheduled_end)).await?,
            (_, Some(Some(u))) if u == w.scheduled_end => {
                resume(store, w.tenant_id, &name, now).await?;
            }
            _ => {}
        }
    }
    Ok(())
}
