//! The incident state machine: `investigating → identified → monitoring → resolved`, and
//! `resolved → investigating` to re-open; any other move is refused (the API's 409) naming the
//! moves allowed from where the incident is. Staying where it is is not a move: an update that
//! repeats the status only adds to the timeline.

use crate::store::{IncidentRow, IncidentStatus};
use IncidentStatus::{Identified, Investigating, Monitoring, Resolved};

/// The statuses an incident in `from` may move to.
pub fn allowed(from: IncidentStatus) -> &'static [IncidentStatus] {
    match from {
        Investigating => &[Identified],
        Identified => &[Monitoring],
        Monitoring => &[Resolved],
        Resolved => &[Investigating],
    }
}

/// A move the machine does not allow (the API answers 409 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("incident {id} is {from} and cannot move to {to}; from {from} it can only move to {}",
    .allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "))]
pub struct Refused {
    pub id: i64,
    pub from: IncidentStatus,
    pub to: IncidentStatus,
    pub allowed: &'static [IncidentStatus],
}

/// `i` moved to `to` at `now`; staying in its status is no move (`i` unchanged but `updated_at`).
/// Reaching `resolved` sets `resolved_at`; re-opening clears it.
pub fn step(i: &IncidentRow, to: IncidentStatus, now: i64) -> Result<IncidentRow, Refused> {
    let mut next = IncidentRow { updated_at: now, ..i.clone() };
    if to == i.status {
        return Ok(next);
    }
    if !allowed(i.status).contains(&to) {
        return Err(Refused { id: i.id, from: i.status, to, allowed: allowed(i.status) });
    }
    next.status = to;
    next.resolved_at = (to == Resolved).then_some(now);
    Ok(next)
}

/// `i` resolved at `now` with its root cause and postmortem (absent ones keep what is stored):
/// a move to `resolved`, so refused unless the incident is monitoring.
pub fn resolve(
    i: &IncidentRow,
    root_cause: Option<String>,
    postmortem: Option<String>,
    now: i64,
) -> Result<IncidentRow, Refused> {
    if i.status == Resolved {
        return Err(Refused { id: i.id, from: Resolved, to: Resolved, allowed: allowed(Resolved) });
    }
    let mut next = step(i, Resolved, now)?;
    next.root_cause = root_cause.or(next.root_cause);
    next.postmortem = postmortem.or(next.postmortem);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: IncidentStatus) -> IncidentRow {
        let resolved_at = (status == Resolved).then_some(50);
        IncidentRow { status, resolved_at, ..IncidentRow::example() }
    }

    #[test]
    fn every_move_follows_the_table() {
        // (from, to, allowed): every pair of statuses.
        let table: &[(IncidentStatus, IncidentStatus, bool)] = &[
            (Investigating, Investigating, true),
            (Investigating, Identified, true),
            (Investigating, Monitoring, false),
            (Investigating, Resolved, false),
            (Identified, Investigating, false),
            (Identified, Identified, true),
            (Identified, Monitoring, true),
            (Identified, Resolved, false),
            (Monitoring, Investigating, false),
            (Monitoring, Identified, false),
            (Monitoring, Monitoring, true),
            (Monitoring, Resolved, true),
            (Resolved, Investigating, true),
            (Resolved, Identified, false),
            (Resolved, Monitoring, false),
            (Resolved, Resolved, true),
        ];
        assert_eq!(table.len(), IncidentStatus::ALL.len() * IncidentStatus::ALL.len());
        for &(from, to, ok) in table {
            match step(&at(from), to, 99) {
                Ok(next) => {
                    assert!(ok, "{from} → {to} should be refused");
                    assert_eq!((next.status, next.updated_at), (to, 99), "{from} → {to}");
                    let resolved_at = match (from == to, to) {
                        (true, _) => at(from).resolved_at,
                        (false, Resolved) => Some(99),
                        (false, _) => None,
                    };
                    assert_eq!(next.resolved_at, resolved_at, "{from} → {to}");
                }
                Err(refused) => {
                    assert!(!ok, "{from} → {to} should be allowed");
                    assert_eq!(refused, Refused { id: 5, from, to, allowed: allowed(from) });
                }
            }
        }
        // The API answers this text with its 409.
        assert_eq!(
            step(&at(Monitoring), Investigating, 1).unwrap_err().to_string(),
            "incident 5 is monitoring and cannot move to investigating; from monitoring it can only move to resolved"
        );
    }

    #[test]
    fn resolving_needs_a_monitoring_incident_and_keeps_what_is_not_given() {
        let monitoring = IncidentRow { root_cause: Some("dns".into()), ..at(Monitoring) };
        let done = resolve(&monitoring, None, Some("https://notes/1".into()), 7).unwrap();
        assert_eq!((done.status, done.resolved_at, done.updated_at), (Resolved, Some(7), 7));
        assert_eq!((done.root_cause.as_deref(), done.postmortem.as_deref()), (Some("dns"), Some("https://notes/1")));
        for from in [Investigating, Identified, Resolved] {
            let refused = resolve(&at(from), None, None, 7).unwrap_err();
            assert_eq!((refused.from, refused.to), (from, Resolved));
        }
        let reopened = step(&done, Investigating, 8).unwrap();
        assert_eq!((reopened.status, reopened.resolved_at), (Investigating, None));
    }
}
