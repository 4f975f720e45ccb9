//! The evaluator: every `[alerting] evaluation_interval_seconds` it reads the latest point of
//! each series a rule covers from the metric store (`Store::latest_points`) and runs it through
//! the state machine (`machine::observe`); it also ends expired maintenance pauses and
//! auto-resolves custom alerts whose time is up. `evaluate_once(now)` is one deterministic pass
//! (what tests call).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::machine::{self, AlertState, Severity, Transition};
use super::notify::{record, resume};
use super::rules::{applicable, RuleSpec};
use crate::store::{AlertRow, Instance, NamedPoint, RuleRow, Store, StoreError, StoreResult};

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
                self.apply(Some(&alert), &machine::resolve(&alert, now), now, &mut report).await?;
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

    /// One tenant: every series of a rule's metric, then the open alerts no rule covers anymore.
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
        let from = now - i64::try_from(self.stale_after.as_millis()).unwrap_or(i64::MAX);
        let mut seen: HashSet<String> = HashSet::new();
        for point in self.store.latest_points(tenant, &metrics, from, now).await? {
            let instance = instances.iter().find(|i| i.name == point.resource);
            for rule in applicable(rules, |r| &r.spec, &point.resource, instance, &point.metric) {
                let key = format!("rule:{}:{}:{}", rule.row.id, point.resource, point.labels);
                report.evaluated += 1;
                let existing = open.remove(&key);
                if let Some(change) = rule_step(tenant, rule, &point, &key, existing.as_ref(), now) {
                    self.apply(existing.as_ref(), &change, now, report).await?;
                }
                seen.insert(key);
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
                self.apply(Some(&a), &machine::resolve(&a, now), now, report).await?;
            }
        }
        Ok(())
    }

    /// Records one change; an alert changed meanwhile (acknowledged, cleared) is left alone until
    /// the next pass, which starts from its new state.
    async fn apply(
        &self,
        before: Option<&AlertRow>,
        change: &Transition,
        now: i64,
        report: &mut EvalReport,
    ) -> StoreResult<()> {
        match record(&self.store, before, change, now).await {
            Ok(_) => {
                report.events += usize::from(change.event.is_some());
                Ok(())
            }
            Err(StoreError::Conflict(why)) => {
                tracing::debug!(alert = change.alert.id, %why, "alert changed during evaluation; next pass");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// What `rule` does to the series of `point` (alert key `key`, open alert `existing`) at `now`:
/// the state machine's transition with the rule's summary; a rule turned off for the resource by
/// an override ends the open alert. `None`: nothing to store.
fn rule_step(
    tenant: i64,
    rule: &Rule,
    point: &NamedPoint,
    key: &str,
    existing: Option<&AlertRow>,
    now: i64,
) -> Option<Transition> {
    let Some(thresholds) = rule.spec.thresholds_for(&point.resource) else {
        return existing.map(|a| machine::resolve(a, now));
    };
    let new = || AlertRow {
        id: 0,
        tenant_id: tenant,
        dedup_key: key.to_string(),
        rule_id: Some(rule.row.id),
        rule_name: rule.spec.name.clone(),
        resource: point.resource.clone(),
        metric: Some(point.metric.clone()),
        labels: point.labels.clone(),
        // `observe` sets the state, severity and occurrences of the alert it opens.
        state: AlertState::Pending,
        severity: Severity::Warning,
        summary: String::new(),
        value: Some(point.value),
        occurrences: 0,
        started_at: now,
        updated_at: now,
        acknowledged_at: None,
        resolved_at: None,
        auto_resolve_at: None,
    };
    let mut change = machine::observe(&thresholds, existing, new, point.value, now)?;
    change.alert.summary = summary(&rule.spec, change.alert.severity, point);
    Some(change)
}

/// `connections: pg.connections_pct = 93 on main, critical trigger 90`.
fn summary(spec: &RuleSpec, severity: Severity, point: &NamedPoint) -> String {
    let (resource, labels, value) = (&point.resource, &point.labels, point.value);
    let on = if labels == "{}" { resource.to_string() } else { format!("{resource} {labels}") };
    let pick = |warning, critical| if severity == Severity::Critical { critical } else { warning };
    let level = pick(spec.warning, spec.critical);
    let bound = spec.thresholds_for(resource).and_then(|t| pick(t.warning, t.critical));
    let threshold = bound.or(level).map(|l| format!(", {severity} trigger {}", l.trigger)).unwrap_or_default();
    format!("{}: {} = {value} on {on}{threshold}", spec.name, spec.metric)
}
