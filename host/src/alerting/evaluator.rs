//! The evaluator: every `[alerting] evaluation_interval_seconds` it reads the latest point of
//! each series a rule covers from the metric store and runs it through `machine::step`; it also
//! ends expired maintenance pauses and auto-resolves custom alerts whose time is up.
//! `evaluate_once(now)` is one deterministic pass (what tests call).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::machine::{self, AlertState, Open, Step};
use super::notify::{record, resume};
use super::rules::{applicable, RuleSpec};
use crate::store::{AlertRow, Instance, RuleRow, Store, StoreError, StoreResult};

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalReport {
    /// Series evaluated against a rule.
    pub evaluated: usize,
    /// Alert events written.
    pub events: usize,
}

pub struct Evaluator {
    store: Store,
    /// A series whose latest point is older than this is not evaluated (no data, no change).
    pub stale_after: Duration,
}

struct Rule {
    row: RuleRow,
    spec: RuleSpec,
}

impl Evaluator {
    pub fn new(store: Store, stale_after: Duration) -> Evaluator {
        Evaluator { store, stale_after }
    }

    /// Runs `evaluate_once` every `interval` until the runtime stops.
    pub fn spawn(self, interval: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.evaluate_once(crate::store::now_ms()).await {
                    tracing::warn!(error = %e, "alert evaluation failed");
                }
            }
        });
    }

    /// One pass over pauses, custom alerts and every rule of every tenant, as of `now` (ms).
    pub async fn evaluate_once(&self, now: i64) -> StoreResult<EvalReport> {
        let mut report = EvalReport::default();
        for (tenant, resource, until) in self.store.list_pauses(None).await? {
            if until.is_some_and(|u| u <= now) && resume(&self.store, tenant, &resource, now).await? {
                tracing::info!(tenant, resource, "maintenance pause ended");
            }
        }
        for alert in self.store.open_alerts(None).await? {
            if alert.auto_resolve_at.is_some_and(|t| t <= now) {
                self.apply(Some(&alert), &resolved(&alert, now), "resolved", now, &mut report).await?;
            }
        }
        let mut by_tenant: BTreeMap<i64, Vec<Rule>> = BTreeMap::new();
        for row in self.store.list_rules(None).await? {
            match serde_json::from_str::<RuleSpec>(&row.spec) {
                Ok(spec) => by_tenant.entry(row.tenant_id).or_default().push(Rule { row, spec }),
                Err(e) => tracing::warn!(rule = row.id, error = %e, "unreadable alert rule skipped"),
            }
        }
        let open = self.store.open_alerts(None).await?;
        let tenants: HashSet<i64> = by_tenant.keys().copied().chain(open.iter().map(|a| a.tenant_id)).collect();
        for tenant in tenants {
            let rules = by_tenant.remove(&tenant).unwrap_or_default();
            let open: HashMap<String, AlertRow> =
                open.iter().filter(|a| a.tenant_id == tenant).map(|a| (a.dedup_key.clone(), a.clone())).collect();
            self.evaluate_tenant(tenant, &rules, open, now, &mut report).await?;
        }
        Ok(report)
    }

    async fn evaluate_tenant(
        &self,
        tenant: i64,
        rules: &[Rule],
        mut open: HashMap<String, AlertRow>,
        now: i64,
        report: &mut EvalReport,
    ) -> StoreResult<()> {
        let instances: Vec<Instance> = self.store.list_instances(tenant).await?;
        let metrics: Vec<&str> =
            rules.iter().map(|r| r.spec.metric.as_str()).collect::<HashSet<_>>().into_iter().collect();
        let from = now - self.stale_after.as_millis() as i64;
        let latest = self.store.latest_points(tenant, &metrics, from, now).await?;
        let mut seen: HashSet<String> = HashSet::new();
        for point in latest {
            let (resource, metric, labels, value) = (point.resource, point.metric, point.labels, point.value);
            let instance = instances.iter().find(|i| i.name == resource);
            for rule in applicable(rules, |r| &r.spec, &resource, instance, &metric) {
                let key = format!("rule:{}:{resource}:{labels}", rule.row.id);
                seen.insert(key.clone());
                report.evaluated += 1;
                let existing = open.remove(&key);
                let Some(thresholds) = rule.spec.thresholds_for(&resource) else {
                    // Turned off for this resource by an override: an open alert ends.
                    if let Some(a) = existing {
                        let kind = if a.state == "pending" { "" } else { "resolved" };
                        self.apply(Some(&a), &resolved(&a, now), kind, now, report).await?;
                    }
                    continue;
                };
                let state = existing.as_ref().map(|a| Open {
                    state: AlertState::parse(&a.state).unwrap_or(AlertState::Firing),
                    severity: machine::Severity::parse(&a.severity).unwrap_or(machine::Severity::Warning),
                    occurrences: a.occurrences.max(0) as u32,
                });
                let step = machine::step(&thresholds, state.as_ref(), value);
                let base = || AlertRow {
                    id: 0,
                    tenant_id: tenant,
                    dedup_key: key.clone(),
                    rule_id: Some(rule.row.id),
                    rule_name: rule.spec.name.clone(),
                    resource: resource.clone(),
                    metric: Some(metric.clone()),
                    labels: labels.clone(),
                    state: String::new(),
                    severity: String::new(),
                    summary: String::new(),
                    value: Some(value),
                    occurrences: 0,
                    started_at: now,
                    updated_at: now,
                    acknowledged_at: None,
                    resolved_at: None,
                    auto_resolve_at: None,
                };
                let mut alert = existing.clone().unwrap_or_else(base);
                alert.value = Some(value);
                alert.updated_at = now;
                let kind = match step {
                    Step::Nothing => continue,
                    Step::Open { severity, occurrences, fire } => {
                        alert.severity = severity.as_str().into();
                        alert.occurrences = occurrences.into();
                        alert.state = if fire { "firing" } else { "pending" }.into();
                        if fire {
                            "firing"
                        } else {
                            "pending"
                        }
                    }
                    Step::Count { severity, occurrences } => {
                        alert.severity = severity.as_str().into();
                        alert.occurrences = occurrences.into();
                        ""
                    }
                    Step::Fire { severity, occurrences } => {
                        alert.severity = severity.as_str().into();
                        alert.occurrences = occurrences.into();
                        alert.state = "firing".into();
                        "firing"
                    }
                    Step::Severity { severity } => {
                        alert.severity = severity.as_str().into();
                        "severity"
                    }
                    Step::Same => "",
                    Step::Resolve { notify } => {
                        alert = resolved(&alert, now);
                        if notify {
                            "resolved"
                        } else {
                            ""
                        }
                    }
                };
                alert.summary = summary(&rule.spec, &alert, &resource, &labels, value);
                self.apply(existing.as_ref(), &alert, kind, now, report).await?;
            }
        }
        // Alerts of rules deleted, or that no longer cover their instance, end.
        for (key, a) in open {
            let Some(rule_id) = a.rule_id else { continue };
            let instance = instances.iter().find(|i| i.name == a.resource);
            let covered = rules.iter().find(|r| r.row.id == rule_id).is_some_and(|r| {
                applicable(rules, |r| &r.spec, &a.resource, instance, &r.spec.metric)
                    .iter()
                    .any(|x| x.row.id == rule_id)
            });
            if !covered && !seen.contains(&key) {
                let kind = if a.state == "pending" { "" } else { "resolved" };
                self.apply(Some(&a), &resolved(&a, now), kind, now, report).await?;
            }
        }
        Ok(())
    }
}

impl Evaluator {
    /// Records one change; an alert changed meanwhile (acknowledged, cleared) is left alone until
    /// the next pass, which starts from its new state.
    async fn apply(
        &self,
        before: Option<&AlertRow>,
        after: &AlertRow,
        kind: &str,
        now: i64,
        report: &mut EvalReport,
    ) -> StoreResult<()> {
        match record(&self.store, before, after, kind, now).await {
            Ok(_) => {
                report.events += usize::from(!kind.is_empty());
                Ok(())
            }
            Err(StoreError::Conflict(why)) => {
                tracing::debug!(alert = after.id, %why, "alert changed during evaluation; next pass");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// `a` resolved at `now`.
pub fn resolved(a: &AlertRow, now: i64) -> AlertRow {
    AlertRow { state: "resolved".into(), resolved_at: Some(now), updated_at: now, ..a.clone() }
}

fn summary(spec: &RuleSpec, a: &AlertRow, resource: &str, labels: &str, value: f64) -> String {
    let on = if labels == "{}" { resource.to_string() } else { format!("{resource} {labels}") };
    let level = match a.severity.as_str() {
        "critical" => spec.critical,
        _ => spec.warning,
    };
    let bound =
        spec.thresholds_for(resource).and_then(|t| if a.severity == "critical" { t.critical } else { t.warning });
    let threshold = bound.or(level).map(|l| format!(", {} trigger {}", a.severity, l.trigger)).unwrap_or_default();
    format!("{}: {} = {value} on {on}{threshold}", spec.name, spec.metric)
}
