//! Uptime from a service's status transitions (issue 9): exact, not sampled. Over a period, the
//! time known (from the first transition on) minus the time of maintenance windows excluded from
//! the SLA is the base; the time spent `operational` or `degraded_performance` in it is up. A
//! period no transition covers has no uptime (`None`), not 100 %.

use crate::store::ServiceStatus;

/// Whether a status counts as up: the service answers (`under_maintenance` outside an excluded
/// window counts as down: the service was not there).
pub fn is_up(status: ServiceStatus) -> bool {
    matches!(status, ServiceStatus::Operational | ServiceStatus::DegradedPerformance)
}

/// The percentage of `[from, to)` the service was up. `transitions` are (time, status) sorted by
/// time, starting with the last one before `from` if any; `excluded` are spans not counted.
pub fn uptime(transitions: &[(i64, ServiceStatus)], excluded: &[(i64, i64)], from: i64, to: i64) -> Option<f64> {
    let (mut known, mut up) = (0_i64, 0_i64);
    for (i, &(at, status)) in transitions.iter().enumerate() {
        let end = transitions.get(i + 1).map_or(to, |next| next.0).min(to);
        let start = at.max(from);
        if end <= start {
            continue;
        }
        let counted = (end - start) - overlap(excluded, start, end);
        known += counted;
        if is_up(status) {
            up += counted;
        }
    }
    (known > 0).then(|| up as f64 * 100.0 / known as f64)
}

/// The uptime of each of `days` consecutive days of `day_ms` from `first_day`, the last one cut
/// at `now` (a day still to come has none). Each day reads only its own transitions (found by
/// binary search), so a page of many long-lived services stays cheap.
pub fn daily_uptime(
    transitions: &[(i64, ServiceStatus)],
    excluded: &[(i64, i64)],
    first_day: i64,
    day_ms: i64,
    days: usize,
    now: i64,
) -> Vec<Option<f64>> {
    (0..days as i64)
        .map(|d| {
            let (from, to) = (first_day + d * day_ms, (first_day + (d + 1) * day_ms).min(now));
            if to <= from {
                return None;
            }
            // From the last transition at or before `from` (the status the day starts in).
            let start = transitions.partition_point(|&(at, _)| at <= from).saturating_sub(1);
            let end = transitions.partition_point(|&(at, _)| at < to);
            uptime(transitions.get(start..end).unwrap_or_default(), excluded, from, to)
        })
        .collect()
}

/// How much of `[start, end)` the spans cover (spans may overlap each other).
fn overlap(spans: &[(i64, i64)], start: i64, end: i64) -> i64 {
    let mut clipped: Vec<(i64, i64)> =
        spans.iter().map(|&(s, e)| (s.max(start), e.min(end))).filter(|(s, e)| s < e).collect();
    clipped.sort_unstable();
    let (mut covered, mut reach) = (0, start);
    for (s, e) in clipped {
        let s = s.max(reach);
        if e > s {
            covered += e - s;
            reach = e;
        }
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceStatus::*;

    /// Excluded spans, period, and the uptime expected.
    type Case = (&'static [(i64, i64)], i64, i64, Option<f64>);

    #[test]
    fn uptime_is_the_share_of_known_time_up_without_excluded_spans() {
        let t = [(0, Operational), (600, MajorOutage), (700, DegradedPerformance), (900, UnderMaintenance)];
        let table: &[Case] = &[
            (&[], 0, 1000, Some(80.0)),
            (&[], 500, 1000, Some(60.0)),
            (&[], 600, 700, Some(0.0)),
            (&[(900, 1000)], 0, 1000, Some(800.0 / 9.0)),
            (&[(600, 650), (620, 700), (900, 1000)], 0, 1000, Some(100.0)),
            (&[], -500, 500, Some(100.0)),
            (&[(0, 1000)], 0, 1000, None),
        ];
        for &(excluded, from, to, want) in table {
            let got = uptime(&t, excluded, from, to);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{excluded:?} {from}..{to}: {g} vs {w}"),
                _ => assert_eq!(got, want, "{excluded:?} {from}..{to}"),
            }
        }
        assert_eq!(uptime(&[], &[], 0, 10), None, "no transition: no data");
        assert_eq!(uptime(&[(20, Operational)], &[], 0, 10), None, "after the period");
    }

    #[test]
    fn each_day_has_the_uptime_of_its_own_span() {
        let t = [(50, Operational), (150, MajorOutage), (175, Operational), (420, PartialOutage)];
        let days = daily_uptime(&t, &[(300, 350)], 0, 100, 6, 450);
        let want = [Some(100.0), Some(75.0), Some(100.0), Some(100.0), Some(100.0 * 20.0 / 50.0), None];
        assert_eq!(days.len(), want.len());
        for (d, (got, want)) in days.iter().zip(want).enumerate() {
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "day {d}: {g} vs {w}"),
                _ => assert_eq!(*got, want, "day {d}"),
            }
        }
        assert_eq!(daily_uptime(&[], &[], 0, 100, 2, 450), vec![None, None], "no transition: no data");
        let whole_day_excluded = daily_uptime(&t, &[(200, 300)], 200, 100, 1, 450);
        assert_eq!(whole_day_excluded, vec![None], "a day spent wholly in an excluded window has none");
    }
}
