//! Alert transitions as stored: `record` writes an alert change, its event and the outbox rows
//! of the channels that should hear about it (routing filters, maintenance pauses) in one
//! transaction; channels with grouping on get the alert in their group instead (`grouping`). Used by the evaluator and by the API (acknowledge, clear, custom alerts, resume).

use super::machine::Severity;
use crate::instances::Tags;
use crate::plugins::Alert;
use crate::rbac::instance_tags;
use crate::store::{AlertRow, ChannelRow, EventWrite, Store, StoreResult};

/// Event kinds that notify channels.
pub const NOTIFYING: &[&str] = &["firing", "severity", "resolved", "cleared", "resumed"];

/// Whether `resource` is paused at `now` among `pauses` (tenant, resource, until).
pub fn is_paused(pauses: &[(i64, String, Option<i64>)], tenant_id: i64, resource: &str, now: i64) -> bool {
    pauses.iter().any(|(t, r, until)| *t == tenant_id && r == resource && until.is_none_or(|u| u > now))
}

/// Whether `channel` routes `alert` (whose instance, if any, carries `tags`).
pub fn routes(channel: &ChannelRow, alert: &AlertRow, tags: &[(String, String)]) -> bool {
    let severity_ok = channel.severities.is_empty() || channel.severities.split(',').any(|s| s == alert.severity);
    let instance_ok = channel.instance.as_deref().is_none_or(|i| i == alert.resource);
    let wanted = Tags::parse(&channel.tags).unwrap_or_default();
    channel.enabled && severity_ok && instance_ok && Tags(tags.to_vec()).contains_all(&wanted)
}

/// The payload of an outbox row: the alert as a notifier sees it (`plugins::Alert` JSON).
pub fn payload(a: &AlertRow, kind: &str) -> String {
    let severity = Severity::parse(&a.severity).unwrap_or(Severity::Info);
    let mut labels: Vec<(String, String)> =
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&a.labels)
            .map(|m| m.into_iter().collect())
            .unwrap_or_default();
    labels.push(("event".into(), kind.into()));
    if let Some(m) = &a.metric {
        labels.push(("metric".into(), m.clone()));
    }
    let alert = Alert {
        id: a.id.to_string(),
        rule: a.rule_name.clone(),
        resource: a.resource.clone(),
        severity,
        state: a.state.clone(),
        summary: a.summary.clone(),
        description: format!("{kind}: {}", a.summary),
        labels,
        value: a.value,
        started_at_ms: a.started_at,
        resolved_at_ms: a.resolved_at,
    };
    serde_json::to_string(&alert).expect("alerts serialize")
}

/// Saves `alert` (inserted when `before` is `None`, else updated if still `before`) with event
/// `kind` (none when empty); notifying kinds queue one delivery per routed channel unless the
/// alert's instance is paused.
pub async fn record(
    store: &Store,
    before: Option<&AlertRow>,
    alert: &AlertRow,
    kind: &str,
    now: i64,
) -> StoreResult<AlertRow> {
    if kind.is_empty() {
        return store.save_alert(before, alert, None, now).await;
    }
    let mut channels = Vec::new();
    let mut grouped = Vec::new();
    if NOTIFYING.contains(&kind) {
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
    Ok(saved)
}

/// Ends a pause of `resource` and notifies each of its open firing or acknowledged alerts once.
/// Returns whether there was a pause.
pub async fn resume(store: &Store, tenant_id: i64, resource: &str, now: i64) -> StoreResult<bool> {
    if !store.delete_pause(tenant_id, resource).await? {
        return Ok(false);
    }
    for alert in store.open_alerts(Some(tenant_id)).await? {
        if alert.resource == resource && (alert.state == "firing" || alert.state == "acknowledged") {
            record(store, Some(&alert), &alert, "resumed", now).await?;
        }
    }
    Ok(true)
}
