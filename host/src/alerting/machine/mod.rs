//! The pure state machine of alerts, the bottom layer of `alerting` (it imports nothing from
//! its siblings): which level a value is at (with trigger/clear hysteresis) and what one
//! evaluation does to the open alert of a series (occurrence counting, `pending → firing`,
//! severity changes, resolution) here; `transitions` applies those steps, and the manual ones
//! (acknowledge, unacknowledge, clear, custom raise, resume), to stored alerts. No I/O, so
//! every rule is unit-tested here.

mod transitions;

use serde::{Deserialize, Serialize};

pub use crate::store::{AlertState, EventKind, Severity};
pub use transitions::{manual, observe, raise, resolve, resumed, Action, CustomRaise, Refused, Transition};

/// Which side of the thresholds is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Alert when the value rises above the trigger.
    #[default]
    Above,
    /// Alert when the value falls below the trigger.
    Below,
}

/// One level: entered when the value crosses `trigger`, left only when it crosses `clear` back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub trigger: f64,
    pub clear: f64,
}

/// The effective thresholds of one rule for one resource (overrides applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub direction: Direction,
    pub warning: Option<Level>,
    pub critical: Option<Level>,
    /// Consecutive evaluations beyond a trigger before the alert fires (≥ 1).
    pub occurrences: u32,
}

/// The open (not resolved) alert of a series, as far as the machine cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Open {
    pub state: AlertState,
    pub severity: Severity,
    pub occurrences: u32,
}

/// What one evaluation does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// No alert, none needed.
    Nothing,
    /// Open a new alert: `pending` unless `fire` (occurrences reached at once).
    Open { severity: Severity, occurrences: u32, fire: bool },
    /// A pending alert counts one more occurrence (its severity may move); no event.
    Count { severity: Severity, occurrences: u32 },
    /// A pending alert reached its occurrences: it fires.
    Fire { severity: Severity, occurrences: u32 },
    /// A firing (or acknowledged) alert changed severity.
    Severity { severity: Severity },
    /// Still at the same level: only the value is refreshed.
    Same,
    /// Back below the clear value: a pending alert is dropped (`notify` false), a firing one
    /// resolves (`notify` true).
    Resolve { notify: bool },
}

/// Whether `v` is past `threshold` in the rule's direction (strictly).
fn beyond(direction: Direction, v: f64, threshold: f64) -> bool {
    match direction {
        Direction::Above => v > threshold,
        Direction::Below => v < threshold,
    }
}

/// The level `v` is at, given the level the series is already at: entering a level needs the
/// value beyond its trigger, staying needs it beyond its clear value only (hysteresis).
pub fn level(t: &Thresholds, current: Option<Severity>, v: f64) -> Option<Severity> {
    let at = |wanted: Severity, l: Option<Level>| {
        l.is_some_and(|l| {
            let threshold = if current >= Some(wanted) { l.clear } else { l.trigger };
            beyond(t.direction, v, threshold)
        })
    };
    if at(Severity::Critical, t.critical) {
        Some(Severity::Critical)
    } else if at(Severity::Warning, t.warning) {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// One evaluation of a series with value `v`, given its open alert.
pub fn step(t: &Thresholds, open: Option<&Open>, v: f64) -> Step {
    let needed = t.occurrences.max(1);
    let target = level(t, open.map(|o| o.severity), v);
    match (open, target) {
        (None, None) => Step::Nothing,
        (None, Some(severity)) => Step::Open { severity, occurrences: 1, fire: needed <= 1 },
        (Some(o), None) => Step::Resolve { notify: o.state != AlertState::Pending },
        (Some(o), Some(severity)) if o.state == AlertState::Pending => {
            let occurrences = o.occurrences.saturating_add(1);
            if occurrences >= needed {
                Step::Fire { severity, occurrences }
            } else {
                Step::Count { severity, occurrences }
            }
        }
        (Some(o), Some(severity)) if severity != o.severity => Step::Severity { severity },
        (Some(_), Some(_)) => Step::Same,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn above(occurrences: u32) -> Thresholds {
        Thresholds {
            direction: Direction::Above,
            warning: Some(Level { trigger: 80.0, clear: 70.0 }),
            critical: Some(Level { trigger: 90.0, clear: 85.0 }),
            occurrences,
        }
    }

    /// Runs values through the production transition (`observe`), returning the state and
    /// severity of the open alert after each.
    fn run(t: &Thresholds, values: &[f64]) -> Vec<Option<(AlertState, Severity)>> {
        let mut open: Option<crate::store::AlertRow> = None;
        let mut out = Vec::new();
        for (now, &v) in values.iter().enumerate() {
            if let Some(change) = observe(t, open.as_ref(), crate::store::AlertRow::example, v, now as i64) {
                open = (change.alert.state != AlertState::Resolved).then_some(change.alert);
            }
            out.push(open.as_ref().map(|o| (o.state, o.severity)));
        }
        out
    }

    #[test]
    fn hysteresis_keeps_a_level_until_the_clear_value() {
        use AlertState::Firing as F;
        use Severity::*;
        let got = run(&above(1), &[50.0, 81.0, 75.0, 79.0, 71.0, 70.0, 75.0, 79.9, 80.5]);
        assert_eq!(
            got,
            [
                None,
                Some((F, Warning)),
                Some((F, Warning)),
                Some((F, Warning)),
                Some((F, Warning)),
                None,
                None,
                None,
                Some((F, Warning))
            ]
        );
        // Critical holds down to its clear value, then falls back to warning, not to nothing.
        let got = run(&above(1), &[95.0, 86.0, 85.0, 72.0, 69.0]);
        assert_eq!(got, [Some((F, Critical)), Some((F, Critical)), Some((F, Warning)), Some((F, Warning)), None]);
    }

    #[test]
    fn occurrences_keep_the_alert_pending_until_reached() {
        use AlertState::{Firing as F, Pending as P};
        let t = above(3);
        let got = run(&t, &[81.0, 82.0, 83.0, 84.0]);
        assert_eq!(
            got,
            [
                Some((P, Severity::Warning)),
                Some((P, Severity::Warning)),
                Some((F, Severity::Warning)),
                Some((F, Severity::Warning))
            ]
        );
        // An interruption before the count is reached drops the pending alert without notice.
        let open = Open { state: P, severity: Severity::Warning, occurrences: 2 };
        assert_eq!(step(&t, Some(&open), 10.0), Step::Resolve { notify: false });
        let firing = Open { state: F, severity: Severity::Warning, occurrences: 3 };
        assert_eq!(step(&t, Some(&firing), 10.0), Step::Resolve { notify: true });
    }

    #[test]
    fn severity_changes_and_below_direction() {
        let firing = Open { state: AlertState::Acknowledged, severity: Severity::Warning, occurrences: 1 };
        assert_eq!(step(&above(1), Some(&firing), 91.0), Step::Severity { severity: Severity::Critical });
        assert_eq!(step(&above(1), Some(&firing), 75.0), Step::Same);
        let down = Thresholds {
            direction: Direction::Below,
            warning: None,
            critical: Some(Level { trigger: 1.0, clear: 1.0 }),
            occurrences: 1,
        };
        assert_eq!(level(&down, None, 1.0), None);
        assert_eq!(level(&down, None, 0.0), Some(Severity::Critical));
        assert_eq!(level(&down, Some(Severity::Critical), 0.5), Some(Severity::Critical));
        assert_eq!(level(&down, Some(Severity::Critical), 1.0), None);
    }
}
