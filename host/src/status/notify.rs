//! Status events to subscribers: an incident created, updated or resolved, a maintenance window
//! started, completed or cancelled is queued in the durable outbox for every enabled channel of
//! the tenant carrying `incidents` or `maintenance` (the channel's `events`), in the transaction
//! of the move itself, so the notifiers deliver it with the durability, retries and dead-letter
//! queue of alerts. The event travels as a notification whose one alert *is* the event (the WIT
//! records stay as they are; the convention is in `wit/README.md`, "Status events"): `rule`
//! `incident` or `maintenance`, `id` `incident-<id>`, `resource` the services' slugs joined by
//! `,` (`*` when it names none), labels `kind`, `event`, `status`, `visibility`, `services`,
//! `dedup_key`. Every store write of an incident or a window move goes through here (API and
//! scheduler alike).

use std::collections::BTreeMap;

use crate::events::{Audience, EventType};
use crate::plugins::Alert;
use crate::store::rfc3339;
use crate::store::{
    AlertState, ChannelEvent, IncidentRow, IncidentSeverity, IncidentStatus, Link, MaintenanceRow, MaintenanceStatus,
    Notice, NoticeWrite, Severity, Store, StoreError, StoreResult, UpdateWrite,
};

/// The `resource` of an event that names no service: the whole tenant.
pub const ALL_SERVICES: &str = "*";

/// What happened, as the `event` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEvent {
    IncidentCreated,
    IncidentUpdated,
    IncidentResolved,
    MaintenanceStarted,
    MaintenanceCompleted,
    MaintenanceCancelled,
}

impl StatusEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusEvent::IncidentCreated => "incident.created",
            StatusEvent::IncidentUpdated => "incident.updated",
            StatusEvent::IncidentResolved => "incident.resolved",
            StatusEvent::MaintenanceStarted => "maintenance.started",
            StatusEvent::MaintenanceCompleted => "maintenance.completed",
            StatusEvent::MaintenanceCancelled => "maintenance.cancelled",
        }
    }

    /// The event of an incident moving from `before` (`None`: created) to `after`; `None` when
    /// the change tells subscribers nothing (a new title, a new description).
    pub fn of_incident(before: Option<&IncidentRow>, after: &IncidentRow, with_update: bool) -> Option<StatusEvent> {
        let Some(before) = before else { return Some(StatusEvent::IncidentCreated) };
        if after.status == IncidentStatus::Resolved && before.status != IncidentStatus::Resolved {
            return Some(StatusEvent::IncidentResolved);
        }
        (with_update || after.status != before.status || after.severity != before.severity)
            .then_some(StatusEvent::IncidentUpdated)
    }

    /// The event of a window reaching `status`; `None` for `scheduled` (no move reaches it).
    pub fn of_maintenance(status: MaintenanceStatus) -> Option<StatusEvent> {
        match status {
            MaintenanceStatus::Active => Some(StatusEvent::MaintenanceStarted),
            MaintenanceStatus::Completed => Some(StatusEvent::MaintenanceCompleted),
            MaintenanceStatus::Cancelled => Some(StatusEvent::MaintenanceCancelled),
            MaintenanceStatus::Scheduled => None,
        }
    }
}

/// The alert severity an incident's notification carries.
pub fn severity(s: IncidentSeverity) -> Severity {
    match s {
        IncidentSeverity::Critical | IncidentSeverity::MajorOutage => Severity::Critical,
        IncidentSeverity::PartialOutage | IncidentSeverity::Degraded => Severity::Warning,
        IncidentSeverity::Informational => Severity::Info,
    }
}

fn resource(slugs: &[String]) -> String {
    match slugs.is_empty() {
        true => ALL_SERVICES.to_string(),
        false => slugs.join(","),
    }
}

fn labels(pairs: BTreeMap<&str, String>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Incident `i` after `event` as a notifier sees it; `message` is the update written with it.
pub fn incident_alert(i: &IncidentRow, event: StatusEvent, message: &str, slugs: &[String]) -> Alert {
    let description = [message, &i.description, &i.title].into_iter().find(|t| !t.trim().is_empty()).unwrap_or("");
    Alert {
        id: format!("incident-{}", i.id),
        rule: "incident".into(),
        resource: resource(slugs),
        severity: severity(i.severity),
        state: if i.status == IncidentStatus::Resolved { AlertState::Resolved } else { AlertState::Firing },
        summary: i.title.clone(),
        description: description.to_string(),
        labels: labels(BTreeMap::from([
            ("kind", "incident".to_string()),
            ("event", event.as_str().to_string()),
            ("status", i.status.as_str().to_string()),
            ("incident_severity", i.severity.as_str().to_string()),
            ("visibility", i.visibility.as_str().to_string()),
            ("services", slugs.join(",")),
            ("dedup_key", format!("incident:{}", i.id)),
        ])),
        value: None,
        started_at_ms: i.created_at,
        resolved_at_ms: i.resolved_at,
    }
}

/// Window `w` after `event` as a notifier sees it.
pub fn maintenance_alert(w: &MaintenanceRow, event: StatusEvent, slugs: &[String]) -> Alert {
    let description = match w.description.trim().is_empty() {
        true => format!("Maintenance {}: {}.", w.status, w.title),
        false => w.description.clone(),
    };
    let ended = matches!(w.status, MaintenanceStatus::Completed | MaintenanceStatus::Cancelled);
    Alert {
        id: format!("maintenance-{}", w.id),
        rule: "maintenance".into(),
        resource: resource(slugs),
        severity: Severity::Info,
        state: if ended { AlertState::Resolved } else { AlertState::Firing },
        summary: w.title.clone(),
        description,
        labels: labels(BTreeMap::from([
            ("kind", "maintenance".to_string()),
            ("event", event.as_str().to_string()),
            ("status", w.status.as_str().to_string()),
            ("visibility", w.visibility.as_str().to_string()),
            ("services", slugs.join(",")),
            ("scheduled_start", rfc3339(w.scheduled_start)),
            ("scheduled_end", rfc3339(w.scheduled_end)),
            ("dedup_key", format!("maintenance:{}", w.id)),
        ])),
        value: None,
        started_at_ms: w.actual_start.unwrap_or(w.scheduled_start),
        resolved_at_ms: ended.then(|| w.actual_end.unwrap_or(w.updated_at)),
    }
}

fn json(alert: &Alert) -> String {
    serde_json::to_string(alert).expect("alerts serialize")
}

/// Slugs of the tenant's services `ids`, sorted (a service deleted meanwhile is left out).
async fn slugs_of(store: &Store, tenant_id: i64, ids: &[i64]) -> StoreResult<Vec<String>> {
    let mut slugs = Vec::with_capacity(ids.len());
    for id in ids {
        match store.service(tenant_id, *id).await {
            Ok(s) => slugs.push(s.slug),
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    slugs.sort();
    slugs.dedup();
    Ok(slugs)
}

/// Slugs of the services linked to incident or window `owner`, sorted.
async fn linked_slugs(store: &Store, link: Link, owner: i64) -> StoreResult<Vec<String>> {
    let mut slugs: Vec<String> = store.linked_services(link, &[owner]).await?.into_iter().map(|s| s.slug).collect();
    slugs.sort();
    slugs.dedup();
    Ok(slugs)
}

/// Stores a new incident with its first update and services, and queues `incident.created` for
/// the channels carrying incidents.
pub async fn create_incident(
    store: &Store,
    new: &IncidentRow,
    first: &UpdateWrite<'_>,
    service_ids: &[i64],
) -> StoreResult<IncidentRow> {
    let channels = store.channels_carrying(new.tenant_id, ChannelEvent::Incidents).await?;
    let slugs = slugs_of(store, new.tenant_id, service_ids).await?;
    let notice = |i: &IncidentRow, update: Option<i64>| Notice {
        key_stem: format!("vigia-incident-{}-update-{}", i.id, update.unwrap_or_default()),
        payload: json(&incident_alert(i, StatusEvent::IncidentCreated, first.message, &slugs)),
    };
    let saved =
        store.create_incident(new, first, service_ids, &NoticeWrite { channels: &channels, notice: &notice }).await?;
    wake(&channels);
    publish_incident(store, &saved, StatusEvent::IncidentCreated, &slugs);
    Ok(saved)
}

/// Writes `next` over `current` (see `Store::save_incident`) and queues its event, if it is one
/// (`StatusEvent::of_incident`), for the channels carrying incidents. `message` describes a
/// change that appends no update (a new severity).
pub async fn save_incident(
    store: &Store,
    current: &IncidentRow,
    next: &IncidentRow,
    update: Option<&UpdateWrite<'_>>,
    service_ids: Option<&[i64]>,
) -> StoreResult<IncidentRow> {
    let was = (current.status, current.updated_at);
    let Some(event) = StatusEvent::of_incident(Some(current), next, update.is_some()) else {
        return store.save_incident(next, was, update, service_ids, None).await;
    };
    let channels = store.channels_carrying(next.tenant_id, ChannelEvent::Incidents).await?;
    let slugs = match service_ids {
        Some(ids) => slugs_of(store, next.tenant_id, ids).await?,
        None => linked_slugs(store, Link::Incident, next.id).await?,
    };
    let changed = format!("Severity changed to {}.", next.severity);
    let message = update.map_or(changed.as_str(), |u| u.message);
    let notice = |i: &IncidentRow, update: Option<i64>| Notice {
        // One event per update written; a change without one is told apart by its time (the
        // API makes it later than the version it replaces).
        key_stem: match update {
            Some(u) => format!("vigia-incident-{}-update-{u}", i.id),
            None => format!("vigia-incident-{}-at-{}", i.id, i.updated_at),
        },
        payload: json(&incident_alert(i, event, message, &slugs)),
    };
    let notices = NoticeWrite { channels: &channels, notice: &notice };
    let saved = store.save_incident(next, was, update, service_ids, Some(&notices)).await?;
    wake(&channels);
    publish_incident(store, &saved, event, &slugs);
    Ok(saved)
}

/// Writes the moved window `next` if its stored status is still `was`, queuing its event for the
/// channels carrying maintenance (see `Store::save_maintenance_move`).
pub async fn move_maintenance(
    store: &Store,
    next: &MaintenanceRow,
    was: MaintenanceStatus,
) -> StoreResult<Option<MaintenanceRow>> {
    let event = StatusEvent::of_maintenance(next.status);
    let channels = match event {
        Some(_) => store.channels_carrying(next.tenant_id, ChannelEvent::Maintenance).await?,
        None => Vec::new(),
    };
    let slugs = linked_slugs(store, Link::Maintenance, next.id).await?;
    let notice = |w: &MaintenanceRow, _: Option<i64>| Notice {
        // A window reaches each status at most once.
        key_stem: format!("vigia-maintenance-{}-{}", w.id, w.status),
        payload: match event {
            Some(event) => json(&maintenance_alert(w, event, &slugs)),
            None => String::new(),
        },
    };
    let saved = store.save_maintenance_move(next, was, &NoticeWrite { channels: &channels, notice: &notice }).await?;
    if let (Some(w), Some(event)) = (&saved, event) {
        wake(&channels);
        let data = serde_json::json!({
            "id": w.id, "title": w.title, "status": w.status, "visibility": w.visibility, "services": slugs,
        });
        store.events().publish(live_type(event), Some(w.tenant_id), None, Audience::Status, data);
    }
    Ok(saved)
}

/// The live event (`crate::events`) of a status event.
fn live_type(event: StatusEvent) -> EventType {
    match event {
        StatusEvent::IncidentCreated => EventType::IncidentCreated,
        StatusEvent::IncidentUpdated => EventType::IncidentUpdated,
        StatusEvent::IncidentResolved => EventType::IncidentResolved,
        StatusEvent::MaintenanceStarted => EventType::MaintenanceStarted,
        StatusEvent::MaintenanceCompleted => EventType::MaintenanceCompleted,
        StatusEvent::MaintenanceCancelled => EventType::MaintenanceCancelled,
    }
}

/// Tells live subscribers about a stored incident change.
fn publish_incident(store: &Store, i: &IncidentRow, event: StatusEvent, slugs: &[String]) {
    let data = serde_json::json!({
        "id": i.id, "title": i.title, "status": i.status, "severity": i.severity, "visibility": i.visibility,
        "services": slugs,
    });
    store.events().publish(live_type(event), Some(i.tenant_id), None, Audience::Status, data);
}

fn wake(channels: &[i64]) {
    if !channels.is_empty() {
        crate::alerting::delivery::wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label<'a>(a: &'a Alert, key: &str) -> &'a str {
        a.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    #[test]
    fn incident_events_follow_the_move() {
        let open = IncidentRow::example();
        let created = StatusEvent::of_incident(None, &open, true);
        assert_eq!(created, Some(StatusEvent::IncidentCreated));
        let retitled = IncidentRow { title: "New title".into(), ..open.clone() };
        assert_eq!(StatusEvent::of_incident(Some(&open), &retitled, false), None, "nothing to tell");
        let worse = IncidentRow { severity: IncidentSeverity::Critical, ..open.clone() };
        assert_eq!(StatusEvent::of_incident(Some(&open), &worse, false), Some(StatusEvent::IncidentUpdated));
        assert_eq!(StatusEvent::of_incident(Some(&open), &open, true), Some(StatusEvent::IncidentUpdated));
        let resolved = IncidentRow { status: IncidentStatus::Resolved, resolved_at: Some(9), ..open.clone() };
        assert_eq!(StatusEvent::of_incident(Some(&open), &resolved, true), Some(StatusEvent::IncidentResolved));
        assert_eq!(StatusEvent::of_incident(Some(&resolved), &resolved, true), Some(StatusEvent::IncidentUpdated));
        assert_eq!(StatusEvent::of_incident(Some(&resolved), &open, true), Some(StatusEvent::IncidentUpdated));
    }

    #[test]
    fn an_incident_reads_as_an_alert() {
        let i = IncidentRow { severity: IncidentSeverity::MajorOutage, ..IncidentRow::example() };
        let a = incident_alert(&i, StatusEvent::IncidentCreated, "", &["api".into(), "db".into()]);
        assert_eq!((a.id.as_str(), a.rule.as_str(), a.resource.as_str()), ("incident-5", "incident", "api,db"));
        assert_eq!((a.severity, a.state), (Severity::Critical, AlertState::Firing));
        assert_eq!((a.summary.as_str(), a.description.as_str()), ("Deploy failed", "Deploy failed"));
        for (k, v) in [
            ("kind", "incident"),
            ("event", "incident.created"),
            ("status", "investigating"),
            ("visibility", "public"),
            ("services", "api,db"),
            ("dedup_key", "incident:5"),
        ] {
            assert_eq!(label(&a, k), v, "{k}");
        }
        let severities = [
            (IncidentSeverity::Critical, Severity::Critical),
            (IncidentSeverity::PartialOutage, Severity::Warning),
            (IncidentSeverity::Degraded, Severity::Warning),
            (IncidentSeverity::Informational, Severity::Info),
        ];
        for (s, expected) in severities {
            assert_eq!(severity(s), expected);
        }
    }

    #[test]
    fn a_window_reads_as_an_alert() {
        let w = MaintenanceRow {
            status: MaintenanceStatus::Active,
            actual_start: Some(1_500),
            ..MaintenanceRow::example()
        };
        let a = maintenance_alert(&w, StatusEvent::MaintenanceStarted, &[]);
        assert_eq!(
            (a.id.as_str(), a.resource.as_str(), a.severity, a.state),
            ("maintenance-3", "*", Severity::Info, AlertState::Firing)
        );
        assert_eq!((label(&a, "event"), label(&a, "services")), ("maintenance.started", ""));
        assert_eq!(label(&a, "scheduled_start"), "1970-01-01T00:00:01.000Z");
        let done =
            MaintenanceRow { status: MaintenanceStatus::Cancelled, updated_at: 1_200, ..MaintenanceRow::example() };
        let a = maintenance_alert(&done, StatusEvent::MaintenanceCancelled, &["api".into()]);
        assert_eq!((a.state, a.resolved_at_ms, a.started_at_ms), (AlertState::Resolved, Some(1_200), 1_000));
        assert_eq!(StatusEvent::of_maintenance(MaintenanceStatus::Scheduled), None);
    }
}
