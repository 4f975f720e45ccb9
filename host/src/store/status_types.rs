//! The status vocabulary (issue 9): a service's `ServiceStatus`, `Visibility`, an incident's
//! `IncidentSeverity` and `IncidentStatus`, a maintenance window's `MaintenanceStatus` and what a
//! service component points at (`ComponentKind`). Declared with `alert_types`'s `vocabulary!`, so
//! rows carry them typed from the storage boundary inward and an unknown stored name is
//! `StoreError::Unreadable`, never a default.

use serde::{Deserialize, Serialize};

use super::alert_types::vocabulary;

vocabulary! {
    /// A service's derived status, from best to worst outage (`under_maintenance` overrides).
    ServiceStatus, "service status" {
        Operational = "operational",
        DegradedPerformance = "degraded_performance",
        PartialOutage = "partial_outage",
        MajorOutage = "major_outage",
        UnderMaintenance = "under_maintenance",
    }
}

vocabulary! {
    /// Who may see a service, an incident or a window: `public` ones appear on the status page.
    Visibility, "visibility" {
        Public = "public",
        Internal = "internal",
    }
}

vocabulary! {
    /// How bad an incident is, ordered.
    IncidentSeverity, "severity" {
        Informational = "informational",
        Degraded = "degraded",
        PartialOutage = "partial_outage",
        MajorOutage = "major_outage",
        Critical = "critical",
    }
}

vocabulary! {
    /// Where an incident is: `investigating → identified → monitoring → resolved`, and
    /// `resolved → investigating` to re-open (`status::incident`).
    IncidentStatus, "status" {
        Investigating = "investigating",
        Identified = "identified",
        Monitoring = "monitoring",
        Resolved = "resolved",
    }
}

vocabulary! {
    /// Where a maintenance window is: `scheduled → active → completed`, or `cancelled` from either
    /// of the first two (`status::maintenance`).
    MaintenanceStatus, "status" {
        Scheduled = "scheduled",
        Active = "active",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// What a service component points at.
    ComponentKind, "component kind" {
        /// A monitored instance, by connection name.
        Instance = "instance",
        /// Every instance carrying these tags (`key=value,…`).
        Selector = "selector",
        /// A plugin resource: the `resource` its alerts carry (an http-check target, …).
        Resource = "resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_underscores_round_trip_in_json_and_text() {
        for s in ServiceStatus::ALL {
            assert_eq!(ServiceStatus::parse(s.as_str()), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in IncidentSeverity::ALL {
            assert_eq!(serde_json::from_value::<IncidentSeverity>(s.as_str().into()).unwrap(), *s);
        }
        for s in IncidentStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in MaintenanceStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for v in Visibility::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
        for k in ComponentKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        // The OpenAPI document names what serde accepts, not the Rust variants.
        let schema = serde_json::to_value(<ServiceStatus as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"][1], "degraded_performance", "{schema}");
        assert_eq!(serde_json::to_value(ServiceStatus::DegradedPerformance).unwrap(), "degraded_performance");
        assert_eq!(
            MaintenanceStatus::parse("done").unwrap_err(),
            "unknown status \"done\": use scheduled, active, completed or cancelled"
        );
        assert!(IncidentSeverity::Informational < IncidentSeverity::Critical);
    }
}
