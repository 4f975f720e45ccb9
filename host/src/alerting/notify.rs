//! Alert transitions as stored: `record` writes a `machine::Transition` (the alert change and
//! its event) with the outbox rows of the channels that should hear about it (routing filters,
//! maintenance pauses) in one transaction; channels with grouping on get the alert in their
//! group instead (`grouping`). The evaluator records its transitions through it; `act` (acknowledge,
//! unacknowledge, clear), `raise` (custom alerts) and `resume` are the stored forms of the other
//! transitions, used by the API and the evaluator. Which transition happens is always the state
//! machine's decision (`machine`), never this module's. Only channels carrying `alerts` (their
//! `events` option) route alerts; status events reach channels through `status::notify`.

use super::machine::{self, Action, CustomRaise, EventKind, Refused, Transition};
use crate::events::{Audience, EventType};
use crate::instances::Tags;
use crate::plugins::Alert;
use crate::rbac::instance_tags;
use crate::store::{AlertRow, ChannelEvent, ChannelRow, EventWrite, Store, StoreError, StoreResult};

/// Whether `resource` is paused at `now` among `pauses` (tenant, resource, until).
pub fn is_paused(pauses: &[(i64, String, Option<i64>)], tenant_id: i64, resource: &str, now: i64) -> bool {
    pauses.iter().any(|(t, r, until)| *t == tenant_id && r == resource && until.is_none_or(|u| u > now))
}

/// Whether `channel` routes `alert` (whose instance, if any, carries `tags`): an enabled channel
/// carrying alerts whose filters all match.
pub fn routes(channel: &ChannelRow, alert: &AlertRow, tags: &[(String, String)]) -> bool {
    let severity_ok =
        channel.severities.is_empty() || channel.severities.split(',').any(|s| s == alert.severity.as_str());
    let instance_ok = channel.instance.as_deref().is_none_or(|i| i == alert.resource);
    let wanted = Tags::parse(&channel.tags).unwrap_or_default();
    channel.enabled
        && channel.events.contains(ChannelEvent::Alerts)
        && severity_ok
        && instance_ok
        && Tags(tags.to_vec()).contains_all(&wanted)
}

/// The payload of an outbox row: the alert as a notifier sees it (`plugins::Alert` JSON). Its
/// labels, then what the host adds (which wins over a label of the same name): `event` (the
/// event kind), `dedup_key` (the alert's key as the API shows it, e.g. `custom:backup`, so a
/// receiver can correlate the notifications of one alert) and `metric` (rule alerts).
pub fn payload(a: &AlertRow, kind: EventKind) -> String {
    let mut labels: Vec<(String, String)> =
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&a.labels)
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
    labels.retain(|(k, _)| k != "event" && k != "dedup_key" && !(k == "metric" && a.metric.is_some()));
    labels.push(("event".into(), kind.as_str().into()));
    labels.push(("dedup_key".into(), a.dedup_key.clone()));
    if let Some(m) = &a.metric {
        labels.push(("metric".into(), m.clone()));
    }
    let alert = Alert {
        id: a.id.to_string(),
        rule: a.rule_name.clone(),
        resource: a.resource.clone(),
        severity: a.severity,
        state: a.state,
        summary: a.summary.clone(),
        description: format!("{kind}: {}", a.summary),
        labels,
        value: a.value,
        started_at_ms: a.started_at,
        resolved_at_ms: a.resolved_at,
    };
    serde_json::to_string(&alert).expect("alerts serialize")
}

/// Saves `change` (its alert inserted when `before` is `None`, else updated if still `before`)
/// with its event, if any; notifying events queue one delivery per routed channel unless the
/// alert's instance is paused.
pub async fn record(store: &Store, before: Option<&AlertRow>, change: &Transition, now: i64) -> StoreResult<AlertRow> {
    let alert = &change.alert;
    let Some(kind) = change.event else {
        // A change without an event (an occurrence counted, a value refreshed) is not news.
        return store.save_alert(before, alert, None, now).await;
    };
    let mut channels = Vec::new();
    let mut grouped = Vec::new();
    if kind.notifies() {
        let pauses = store.list_pauses(Some(alert.tenant_id)).await?;
        if !is_paused(&pauses, alert.tenant_id, &alert.resource, now) {
            let tags = match store.instance_by_name(alert.tenant_id, &alert.resource).await? {
                Some(i) => instance_tags(&i),
                None => Vec::new(),
            };
            for c in store.list_channels(alert.tenant_id).await?.iter().filter(|c| routes(c, alert, &tags)) {
                match c.grouping() {
                    g if g.is_on() => grouped.push((c.id, g)),
                    _ => channels.push(c.id),
                }
            }
        }
    }
    let event = EventWrite { kind, channels: &channels, grouped: &grouped, payload: &payload };
    let saved = store.save_alert(before, alert, Some(event), now).await?;
    if !channels.is_empty() {
        super::delivery::wake();
    }
    publish(store, before.is_none(), kind, &saved);
    Ok(saved)
}

/// Tells live subscribers (`crate::events`) about a stored alert change.
fn publish(store: &Store, opened: bool, kind: EventKind, a: &AlertRow) {
    let event = match kind {
        _ if opened => EventType::AlertOpened,
        EventKind::Acknowledged => EventType::AlertAcknowledged,
        EventKind::Unacknowledged => EventType::AlertUnacknowledged,
        EventKind::Resolved | EventKind::Cleared | EventKind::Dropped => EventType::AlertResolved,
        EventKind::Pending | EventKind::Firing | EventKind::Severity | EventKind::Resumed => EventType::AlertChanged,
    };
    let data = serde_json::json!({
        "id": a.id,
        "event": kind,
        "dedup_key": a.dedup_key,
        "rule": a.rule_name,
        "resource": a.resource,
        "state": a.state,
        "severity": a.severity,
        "summary": a.summary,
        "value": a.value,
    });
    // The alert's resource is an instance name or anything else: the stream hides it from
    // callers whose roles exclude an instance of that name, as the alerts API does.
    store.events().publish(event, Some(a.tenant_id), Some(&a.resource), Audience::Monitoring, data);
}

/// Why a manual action was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// The alert's state does not allow it.
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `action` to `alert` at `now` (`machine::manual`) and stores it.
pub async fn act(store: &Store, alert: &AlertRow, action: Action, now: i64) -> Result<AlertRow, ActError> {
    let change = machine::manual(alert, action, now)?;
    Ok(record(store, Some(alert), &change, now).await?)
}

/// Raises a custom alert at `now` (`machine::raise`): the stored alert, and whether it was
/// opened (`true`) rather than updated.
pub async fn raise(store: &Store, custom: CustomRaise, now: i64) -> StoreResult<(AlertRow, bool)> {
    let existing = store.open_alert_by_key(custom.tenant_id, &custom.key()).await?;
    let change = machine::raise(existing.as_ref(), custom, now);
    let saved = record(store, existing.as_ref(), &change, now).await?;
    Ok((saved, existing.is_none()))
}

/// Ends a pause of `resource` and notifies each of its open firing or acknowledged alerts once
/// (`machine::resumed`). Returns whether there was a pause.
pub async fn resume(store: &Store, tenant_id: i64, resource: &str, now: i64) -> StoreResult<bool> {
    if !store.delete_pause(tenant_id, resource).await? {
        return Ok(false);
    }
    for alert in store.open_alerts(Some(tenant_id)).await?.iter().filter(|a| a.resource == resource) {
        if let Some(change) = machine::resumed(alert) {
            record(store, Some(alert), &change, now).await?;
        }
    }
    Ok(true)
}
