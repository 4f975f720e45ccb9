//! The maintenance window state machine: `scheduled → active → completed`, and `cancelled` from
//! `scheduled` or `active`. Each move is an `Action` (the API's `start`, `complete`, `cancel`,
//! also taken by the scheduler at the window's times); an action outside the statuses it needs is
//! refused with the seed's message ("complete only works on active windows": the API's 409).

use crate::store::{MaintenanceRow, MaintenanceStatus};
use MaintenanceStatus::{Active, Cancelled, Completed, Scheduled};

/// What moves a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Complete,
    Cancel,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Complete => "complete",
            Action::Cancel => "cancel",
        }
    }

    /// The statuses the action applies to.
    pub fn allowed(self) -> &'static [MaintenanceStatus] {
        match self {
            Action::Start => &[Scheduled],
            Action::Complete => &[Active],
            Action::Cancel => &[Scheduled, Active],
        }
    }
}

/// An action the window's status does not allow (the API answers 409 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} only works on {} windows", .action.name(),
    .action.allowed().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or "))]
pub struct Refused {
    pub action: Action,
    pub status: MaintenanceStatus,
}

/// `w` after `action` at `now`: starting records the actual start, completing the actual end,
/// cancelling an active window its actual end (a scheduled one never ran).
pub fn apply(w: &MaintenanceRow, action: Action, now: i64) -> Result<MaintenanceRow, Refused> {
    if !action.allowed().contains(&w.status) {
        return Err(Refused { action, status: w.status });
    }
    let mut next = MaintenanceRow { updated_at: now, ..w.clone() };
    match action {
        Action::Start => {
            next.status = Active;
            next.actual_start = Some(now);
        }
        Action::Complete => {
            next.status = Completed;
            next.actual_end = Some(now);
        }
        Action::Cancel => {
            next.status = Cancelled;
            next.actual_end = (w.status == Active).then_some(now);
        }
    }
    Ok(next)
}

/// What the scheduler does to `w` at `now`, in order: a scheduled window whose start has come
/// starts, and completes too if its end has passed as well (the host was down through it); an
/// active one whose end has passed completes.
pub fn due(w: &MaintenanceRow, now: i64) -> &'static [Action] {
    let ended = w.scheduled_end <= now;
    match w.status {
        Scheduled if ended => &[Action::Start, Action::Complete],
        Scheduled if w.scheduled_start <= now => &[Action::Start],
        Active if ended => &[Action::Complete],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: MaintenanceStatus) -> MaintenanceRow {
        MaintenanceRow { status, ..MaintenanceRow::example() }
    }

    #[test]
    fn every_action_in_every_status_follows_the_table() {
        use Action::*;
        // (status, action, status after, or refused)
        let table: &[(MaintenanceStatus, Action, Option<MaintenanceStatus>)] = &[
            (Scheduled, Start, Some(Active)),
            (Active, Start, None),
            (Completed, Start, None),
            (Cancelled, Start, None),
            (Scheduled, Complete, None),
            (Active, Complete, Some(Completed)),
            (Completed, Complete, None),
            (Cancelled, Complete, None),
            (Scheduled, Cancel, Some(Cancelled)),
            (Active, Cancel, Some(Cancelled)),
            (Completed, Cancel, None),
            (Cancelled, Cancel, None),
        ];
        for &(from, action, want) in table {
            let got = apply(&at(from), action, 1_500);
            match want {
                Some(to) => {
                    let w = got.unwrap_or_else(|e| panic!("{from} {action:?}: {e}"));
                    assert_eq!((w.status, w.updated_at), (to, 1_500), "{from} {action:?}");
                    assert_eq!(w.actual_start, (action == Start).then_some(1_500), "{from} {action:?}");
                    let ends = action == Complete || (action == Cancel && from == Active);
                    assert_eq!(w.actual_end, ends.then_some(1_500), "{from} {action:?}");
                }
                None => assert_eq!(got, Err(Refused { action, status: from }), "{from} {action:?}"),
            }
        }
        // The seed's messages, answered with the 409s.
        assert_eq!(
            apply(&at(Scheduled), Complete, 1).unwrap_err().to_string(),
            "complete only works on active windows"
        );
        assert_eq!(apply(&at(Active), Start, 1).unwrap_err().to_string(), "start only works on scheduled windows");
        assert_eq!(
            apply(&at(Completed), Cancel, 1).unwrap_err().to_string(),
            "cancel only works on scheduled or active windows"
        );
    }

    #[test]
    fn the_scheduler_moves_windows_at_their_times() {
        use Action::*;
        // The example runs from 1,000 to 2,000.
        let table: &[(MaintenanceStatus, i64, &[Action])] = &[
            (Scheduled, 999, &[]),
            (Scheduled, 1_000, &[Start]),
            (Scheduled, 1_999, &[Start]),
            (Scheduled, 2_000, &[Start, Complete]),
            (Active, 1_500, &[]),
            (Active, 2_000, &[Complete]),
            (Completed, 5_000, &[]),
            (Cancelled, 5_000, &[]),
        ];
        for &(status, now, want) in table {
            assert_eq!(due(&at(status), now), want, "{status} at {now}");
        }
    }
}
