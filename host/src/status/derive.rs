//! A service's derived status (issue 9), as a pure function of what is known about it: an active
//! maintenance window makes it `under_maintenance`; otherwise an open incident on it (other than
//! `informational`) sets it from its severity; otherwise its components decide: every one down
//! is a `major_outage`, some a `partial_outage`, any warning `degraded_performance`. A
//! component is down when its instance is not connected or a critical alert is open on it.

use std::collections::BTreeSet;

use crate::instances::Tags;
use crate::store::{
    AlertRow, AlertState, ComponentKind, ComponentRow, IncidentSeverity, Instance, ServiceStatus, Severity,
};

/// What one component says about its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Up,
    /// A warning alert is open on it.
    Warning,
    /// Not connected, or a critical alert is open on it.
    Down,
}

/// Everything a service's status depends on.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// An active maintenance window covering the service.
    pub maintenance: Option<i64>,
    /// The worst open incident on the service: (id, severity).
    pub incident: Option<(i64, IncidentSeverity)>,
    /// One entry per component (selectors count each instance they match).
    pub components: Vec<Health>,
}

/// The status and why (stored with the transition).
pub fn derive(s: &Signals) -> (ServiceStatus, String) {
    if let Some(window) = s.maintenance {
        return (ServiceStatus::UnderMaintenance, format!("maintenance window {window}"));
    }
    if let Some((id, severity)) = s.incident {
        let status = match severity {
            IncidentSeverity::Informational => None,
            IncidentSeverity::Degraded => Some(ServiceStatus::DegradedPerformance),
            IncidentSeverity::PartialOutage => Some(ServiceStatus::PartialOutage),
            IncidentSeverity::MajorOutage | IncidentSeverity::Critical => Some(ServiceStatus::MajorOutage),
        };
        if let Some(status) = status {
            return (status, format!("incident {id} ({severity})"));
        }
    }
    let total = s.components.len();
    let down = s.components.iter().filter(|h| **h == Health::Down).count();
    let warning = s.components.iter().filter(|h| **h == Health::Warning).count();
    match (down, warning) {
        (d, _) if d > 0 && d == total => (ServiceStatus::MajorOutage, format!("all {total} components down")),
        (d, _) if d > 0 => (ServiceStatus::PartialOutage, format!("{d} of {total} components down")),
        (_, w) if w > 0 => (ServiceStatus::DegradedPerformance, format!("{w} of {total} components warning")),
        _ => (ServiceStatus::Operational, "every component healthy".into()),
    }
}

/// The health of each component of a service, from the tenant's instances and open alerts:
/// instance and selector components count each enabled instance they name once (disabled ones
/// are not watched, so they say nothing), a resource component is itself one.
pub fn component_health(components: &[ComponentRow], instances: &[Instance], alerts: &[AlertRow]) -> Vec<Health> {
    let mut watched: BTreeSet<&str> = BTreeSet::new();
    let mut resources: BTreeSet<&str> = BTreeSet::new();
    for c in components {
        match c.kind {
            ComponentKind::Instance => {
                watched.extend(instances.iter().filter(|i| i.enabled && i.name == c.target).map(|i| i.name.as_str()));
            }
            ComponentKind::Selector => {
                let Ok(wanted) = Tags::parse(&c.target) else { continue };
                let matching = instances
                    .iter()
                    .filter(|i| i.enabled && Tags::parse(&i.tags).is_ok_and(|tags| tags.contains_all(&wanted)));
                watched.extend(matching.map(|i| i.name.as_str()));
            }
            ComponentKind::Resource => {
                resources.insert(c.target.as_str());
            }
        }
    }
    let alerted = |resource: &str| {
        alerts
            .iter()
            .filter(|a| a.resource == resource && matches!(a.state, AlertState::Firing | AlertState::Acknowledged))
            .map(|a| match a.severity {
                Severity::Critical => Health::Down,
                Severity::Warning => Health::Warning,
                Severity::Info => Health::Up,
            })
            .max()
            .unwrap_or(Health::Up)
    };
    let connected = |name: &str| instances.iter().any(|i| i.name == name && i.connected);
    let mut health: Vec<Health> =
        watched.iter().map(|name| if connected(name) { alerted(name) } else { Health::Down }).collect();
    health.extend(resources.iter().map(|r| alerted(r)));
    health
}

#[cfg(test)]
mod tests {
    use super::Health::{Down, Up, Warning};
    use super::*;
    use ServiceStatus::*;

    /// Components of a service, and the health expected of them.
    type HealthCase = (&'static [(ComponentKind, &'static str)], &'static [Health]);
    /// Active window, worst incident's severity, components' health, and the status and cause.
    type StatusCase = (Option<i64>, Option<IncidentSeverity>, &'static [Health], ServiceStatus, &'static str);

    fn component(kind: ComponentKind, target: &str) -> ComponentRow {
        ComponentRow { service_id: 1, kind, target: target.into() }
    }

    fn alert(resource: &str, state: AlertState, severity: Severity) -> AlertRow {
        AlertRow { resource: resource.into(), state, severity, ..AlertRow::example() }
    }

    #[test]
    fn components_are_down_when_disconnected_or_critical() {
        let mut down = Instance::example("down", "h", "env=prod");
        down.connected = false;
        let mut off = Instance::example("off", "h", "env=prod");
        off.enabled = false;
        off.connected = false;
        let instances =
            [Instance::example("a", "h", "env=prod,team=db"), Instance::example("b", "h", "env=prod"), down, off];
        let alerts = [
            alert("a", AlertState::Firing, Severity::Warning),
            alert("b", AlertState::Pending, Severity::Critical),
            alert("https://x", AlertState::Acknowledged, Severity::Critical),
        ];
        use ComponentKind::{Instance as Named, Resource, Selector};
        // (components, health in instance-name order, then resources)
        let table: &[HealthCase] = &[
            (&[], &[]),
            (&[(Named, "a")], &[Warning]),
            (&[(Named, "b")], &[Up]),
            (&[(Named, "missing")], &[]),
            (&[(Named, "off")], &[]),
            (&[(Selector, "env=prod")], &[Warning, Up, Down]),
            (&[(Selector, "env=prod"), (Named, "a")], &[Warning, Up, Down]),
            (&[(Selector, "team=db"), (Resource, "https://x"), (Resource, "quiet")], &[Warning, Down, Up]),
        ];
        for &(components, want) in table {
            let rows: Vec<ComponentRow> = components.iter().map(|&(k, t)| component(k, t)).collect();
            assert_eq!(component_health(&rows, &instances, &alerts), want, "{components:?}");
        }
    }

    #[test]
    fn maintenance_beats_incidents_which_beat_components() {
        let table: &[StatusCase] = &[
            (None, None, &[], Operational, "every component healthy"),
            (None, None, &[Up, Up], Operational, "every component healthy"),
            (None, None, &[Up, Warning], DegradedPerformance, "1 of 2 components warning"),
            (None, None, &[Down, Warning, Up], PartialOutage, "1 of 3 components down"),
            (None, None, &[Down, Down], MajorOutage, "all 2 components down"),
            (None, Some(IncidentSeverity::Informational), &[Down, Up], PartialOutage, "1 of 2 components down"),
            (None, Some(IncidentSeverity::Degraded), &[Down, Down], DegradedPerformance, "incident 9 (degraded)"),
            (None, Some(IncidentSeverity::PartialOutage), &[], PartialOutage, "incident 9 (partial_outage)"),
            (None, Some(IncidentSeverity::MajorOutage), &[Up], MajorOutage, "incident 9 (major_outage)"),
            (None, Some(IncidentSeverity::Critical), &[Up], MajorOutage, "incident 9 (critical)"),
            (Some(4), Some(IncidentSeverity::Critical), &[Down], UnderMaintenance, "maintenance window 4"),
        ];
        for &(maintenance, severity, components, want, cause) in table {
            let signals = Signals { maintenance, incident: severity.map(|s| (9, s)), components: components.to_vec() };
            assert_eq!(derive(&signals), (want, cause.to_string()), "{signals:?}");
        }
    }
}
