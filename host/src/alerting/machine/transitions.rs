//! The state machine applied to stored alerts: every change of an alert is one of these pure
//! functions, which return the alert after the change and the event it records. `observe` is
//! one evaluation of a rule's series (what the evaluator runs); `resolve` ends an alert whose
//! rule no longer covers it or whose time is up; `manual` acknowledges, unacknowledges or
//! clears (refused outside the states each needs); `raise` opens or updates a custom alert;
//! `resumed` re-notifies at the end of a maintenance pause. `notify::record` stores the result.

use super::{step, AlertState, EventKind, Open, Severity, Step, Thresholds};
use crate::store::AlertRow;

/// One change of an alert: the alert after it, and the event it records (`None`: a silent
/// change, such as a pending alert counting one more occurrence or a refreshed value).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub alert: AlertRow,
    pub event: Option<EventKind>,
}

/// `a` resolved at `now`.
fn ended(a: AlertRow, now: i64) -> AlertRow {
    AlertRow { state: AlertState::Resolved, resolved_at: Some(now), updated_at: now, ..a }
}

/// One evaluation at `now` of a series at value `v`, whose open alert is `existing` (`new` makes
/// the alert to open when there is none). `None`: no alert, and none needed. The summary is
/// left to the caller, who knows the rule.
pub fn observe(
    t: &Thresholds,
    existing: Option<&AlertRow>,
    new: impl FnOnce() -> AlertRow,
    v: f64,
    now: i64,
) -> Option<Transition> {
    let open = existing.map(|a| Open {
        state: a.state,
        severity: a.severity,
        occurrences: u32::try_from(a.occurrences.max(0)).unwrap_or(u32::MAX),
    });
    let step = step(t, open.as_ref(), v);
    let mut alert = existing.cloned().unwrap_or_else(new);
    alert.value = Some(v);
    alert.updated_at = now;
    let counted = |alert: &mut AlertRow, severity: Severity, occurrences: u32| {
        alert.severity = severity;
        alert.occurrences = occurrences.into();
    };
    let event = match step {
        Step::Nothing => return None,
        Step::Open { severity, occurrences, fire } => {
            counted(&mut alert, severity, occurrences);
            let (state, event) =
                if fire { (AlertState::Firing, EventKind::Firing) } else { (AlertState::Pending, EventKind::Pending) };
            alert.state = state;
            Some(event)
        }
        Step::Count { severity, occurrences } => {
            counted(&mut alert, severity, occurrences);
            None
        }
        Step::Fire { severity, occurrences } => {
            counted(&mut alert, severity, occurrences);
            alert.state = AlertState::Firing;
            Some(EventKind::Firing)
        }
        Step::Severity { severity } => {
            alert.severity = severity;
            Some(EventKind::Severity)
        }
        Step::Same => None,
        Step::Resolve { notify } => {
            alert = ended(alert, now);
            notify.then_some(EventKind::Resolved)
        }
    };
    Some(Transition { alert, event })
}

/// `a` ends at `now` without a new value (its rule is gone or no longer covers it, a custom
/// alert's time is up): a pending alert silently (it was never notified), any other `resolved`.
pub fn resolve(a: &AlertRow, now: i64) -> Transition {
    let event = (a.state != AlertState::Pending).then_some(EventKind::Resolved);
    Transition { alert: ended(a.clone(), now), event }
}

/// What a person does to an alert (`POST /api/v1/alerts/{id}/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A firing alert is acknowledged: it stays open, nobody is notified.
    Acknowledge,
    /// An acknowledgement is taken back: the alert is firing again.
    Unacknowledge,
    /// An open alert is resolved by hand (a rule alert opens again if its condition persists).
    Clear,
}

impl Action {
    /// The states the action applies to.
    pub fn allowed(self) -> &'static [AlertState] {
        match self {
            Action::Acknowledge => &[AlertState::Firing],
            Action::Unacknowledge => &[AlertState::Acknowledged],
            Action::Clear => &[AlertState::Pending, AlertState::Firing, AlertState::Acknowledged],
        }
    }
}

/// A manual action the alert's state does not allow (the API answers 409 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert {id} is {state}; this needs it {}", .allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "))]
pub struct Refused {
    pub id: i64,
    pub state: AlertState,
    pub allowed: &'static [AlertState],
}

/// `action` applied to `a` at `now`, or refused in `a`'s state.
pub fn manual(a: &AlertRow, action: Action, now: i64) -> Result<Transition, Refused> {
    let allowed = action.allowed();
    if !allowed.contains(&a.state) {
        return Err(Refused { id: a.id, state: a.state, allowed });
    }
    let a = a.clone();
    let (alert, event) = match action {
        Action::Acknowledge => (
            AlertRow { state: AlertState::Acknowledged, acknowledged_at: Some(now), updated_at: now, ..a },
            EventKind::Acknowledged,
        ),
        Action::Unacknowledge => (
            AlertRow { state: AlertState::Firing, acknowledged_at: None, updated_at: now, ..a },
            EventKind::Unacknowledged,
        ),
        Action::Clear => {
            // A pending alert was never notified, so its end is not either.
            let event = if a.state == AlertState::Pending { EventKind::Dropped } else { EventKind::Cleared };
            (ended(a, now), event)
        }
    };
    Ok(Transition { alert, event: Some(event) })
}

/// An alert raised by an external check (`POST /api/v1/alerts`), already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomRaise {
    pub tenant_id: i64,
    /// The client's key: while an alert with it is open, raising it again updates that alert.
    pub dedup_key: String,
    pub severity: Severity,
    pub summary: String,
    pub resource: String,
    pub auto_resolve_at: Option<i64>,
}

impl CustomRaise {
    /// The stored dedup key, apart from rules' keys (`rule:…`).
    pub fn key(&self) -> String {
        format!("custom:{}", self.dedup_key)
    }
}

/// Raising `c` at `now`, `existing` being the open alert of its key: a new alert fires at once;
/// an open one takes the new severity (a `severity` event when it changed; no event otherwise),
/// summary and auto-resolution time, and keeps its state.
pub fn raise(existing: Option<&AlertRow>, c: CustomRaise, now: i64) -> Transition {
    match existing {
        Some(a) => {
            let event = (a.severity != c.severity).then_some(EventKind::Severity);
            let alert = AlertRow {
                severity: c.severity,
                summary: c.summary,
                updated_at: now,
                auto_resolve_at: c.auto_resolve_at,
                ..a.clone()
            };
            Transition { alert, event }
        }
        None => {
            let alert = AlertRow {
                id: 0,
                tenant_id: c.tenant_id,
                dedup_key: c.key(),
                rule_id: None,
                rule_name: "custom".into(),
                resource: c.resource,
                metric: None,
                labels: "{}".into(),
                state: AlertState::Firing,
                severity: c.severity,
                summary: c.summary,
                value: None,
                occurrences: 1,
                started_at: now,
                updated_at: now,
                acknowledged_at: None,
                resolved_at: None,
                auto_resolve_at: c.auto_resolve_at,
            };
            Transition { alert, event: Some(EventKind::Firing) }
        }
    }
}

/// The end of a maintenance pause: a firing or acknowledged alert is notified once more,
/// unchanged (`resumed`); a pending or resolved one is not.
pub fn resumed(a: &AlertRow) -> Option<Transition> {
    matches!(a.state, AlertState::Firing | AlertState::Acknowledged)
        .then(|| Transition { alert: a.clone(), event: Some(EventKind::Resumed) })
}

#[cfg(test)]
mod tests {
    use super::super::{Direction, Level};
    use super::*;
    use AlertState::{Acknowledged as A, Firing as F, Pending as P, Resolved as R};

    /// A manual action in a state: the state after it and its event, or `None` when refused.
    type ManualCase = (AlertState, Action, Option<(AlertState, EventKind)>);
    /// What one evaluation stores: nothing (`None`), or a change with its event, if any.
    type Stored = Option<Option<EventKind>>;

    fn at(state: AlertState) -> AlertRow {
        AlertRow { state, ..AlertRow::example() }
    }

    #[test]
    fn manual_actions_follow_their_table() {
        use Action::*;
        // (state, action, state after and event, or refused)
        let table: &[ManualCase] = &[
            (F, Acknowledge, Some((A, EventKind::Acknowledged))),
            (P, Acknowledge, None),
            (A, Acknowledge, None),
            (R, Acknowledge, None),
            (A, Unacknowledge, Some((F, EventKind::Unacknowledged))),
            (P, Unacknowledge, None),
            (F, Unacknowledge, None),
            (R, Unacknowledge, None),
            (P, Clear, Some((R, EventKind::Dropped))),
            (F, Clear, Some((R, EventKind::Cleared))),
            (A, Clear, Some((R, EventKind::Cleared))),
            (R, Clear, None),
        ];
        for &(from, action, want) in table {
            let got = manual(&at(from), action, 99).map(|t| {
                assert_eq!(t.alert.updated_at, 99, "{from:?} {action:?}");
                assert_eq!(t.alert.acknowledged_at, (t.alert.state == A).then_some(99), "{from:?} {action:?}");
                assert_eq!(t.alert.resolved_at, (t.alert.state == R).then_some(99), "{from:?} {action:?}");
                (t.alert.state, t.event.expect("manual actions record an event"))
            });
            match want {
                Some(w) => assert_eq!(got, Ok(w), "{from:?} {action:?}"),
                None => assert_eq!(got, Err(Refused { id: 7, state: from, allowed: action.allowed() })),
            }
        }
        // The API answers this text with its 409.
        let refused = manual(&at(R), Clear, 1).unwrap_err().to_string();
        assert_eq!(refused, "alert 7 is resolved; this needs it pending or firing or acknowledged");
    }

    #[test]
    fn custom_raises_open_firing_and_update_in_place() {
        let raised = |severity| CustomRaise {
            tenant_id: 3,
            dedup_key: "backup".into(),
            severity,
            summary: "backup failed".into(),
            resource: "db9".into(),
            auto_resolve_at: Some(500),
        };
        let new = raise(None, raised(Severity::Info), 40);
        assert_eq!((new.alert.state, new.alert.severity, new.event), (F, Severity::Info, Some(EventKind::Firing)));
        assert_eq!((new.alert.dedup_key.as_str(), new.alert.resource.as_str()), ("custom:backup", "db9"));
        assert_eq!((new.alert.tenant_id, new.alert.started_at, new.alert.auto_resolve_at), (3, 40, Some(500)));
        // (state and severity of the open alert, severity raised) → event; the state is kept.
        let table: &[(AlertState, Severity, Severity, Option<EventKind>)] = &[
            (F, Severity::Warning, Severity::Warning, None),
            (F, Severity::Warning, Severity::Critical, Some(EventKind::Severity)),
            (A, Severity::Critical, Severity::Info, Some(EventKind::Severity)),
            (A, Severity::Info, Severity::Info, None),
        ];
        for &(state, before, severity, event) in table {
            let open = AlertRow { state, severity: before, ..AlertRow::example() };
            let t = raise(Some(&open), raised(severity), 60);
            assert_eq!((t.alert.state, t.alert.severity, t.event), (state, severity, event), "{state:?} {before:?}");
            assert_eq!((t.alert.id, t.alert.updated_at, t.alert.summary.as_str()), (7, 60, "backup failed"));
        }
    }

    #[test]
    fn resolving_and_resuming_depend_on_the_state() {
        let table: &[(AlertState, Option<EventKind>, Option<EventKind>)] = &[
            (P, None, None),
            (F, Some(EventKind::Resolved), Some(EventKind::Resumed)),
            (A, Some(EventKind::Resolved), Some(EventKind::Resumed)),
        ];
        for &(state, on_resolve, on_resume) in table {
            let t = resolve(&at(state), 5);
            assert_eq!((t.alert.state, t.alert.resolved_at, t.event), (R, Some(5), on_resolve), "{state:?}");
            assert_eq!(resumed(&at(state)).and_then(|t| t.event), on_resume, "{state:?}");
        }
        assert_eq!(resumed(&at(R)), None);
    }

    #[test]
    fn observing_values_records_the_events_of_the_lifecycle() {
        let t = |occurrences| Thresholds {
            direction: Direction::Above,
            warning: Some(Level { trigger: 80.0, clear: 70.0 }),
            critical: Some(Level { trigger: 90.0, clear: 85.0 }),
            occurrences,
        };
        use EventKind::{Firing as Fi, Pending as Pe, Resolved as Re, Severity as Se};
        // (occurrences, values) → the event of each evaluation ("-": nothing stored at all).
        let table: &[(u32, &[f64], &[Stored])] = &[
            (1, &[50.0, 81.0, 82.0, 95.0, 60.0], &[None, Some(Some(Fi)), Some(None), Some(Some(Se)), Some(Some(Re))]),
            (2, &[81.0, 82.0, 83.0, 10.0], &[Some(Some(Pe)), Some(Some(Fi)), Some(None), Some(Some(Re))]),
            // A pending alert that ends is dropped without an event.
            (3, &[81.0, 82.0, 10.0], &[Some(Some(Pe)), Some(None), Some(None)]),
        ];
        for &(occurrences, values, want) in table {
            let mut open: Option<AlertRow> = None;
            let mut got = Vec::new();
            for (now, &v) in values.iter().enumerate() {
                let change = observe(&t(occurrences), open.as_ref(), AlertRow::example, v, now as i64);
                if let Some(c) = &change {
                    assert_eq!((c.alert.value, c.alert.updated_at), (Some(v), now as i64));
                    open = (c.alert.state != R).then(|| c.alert.clone());
                }
                got.push(change.map(|c| c.event));
            }
            assert_eq!(got, want, "occurrences {occurrences}, values {values:?}");
        }
    }
}
