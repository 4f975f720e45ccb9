//! Time-axis labels: where the ticks go is the SDK's `time_ticks` (shared with the PDF reporter);
//! this module only words them the way the HTML prints them (`HH:MM`, `30 Nov` at midnight).

use vigia_sdk::report::{format_local, DAY_MS};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Ticks between `from_ms` and `to_ms` (UTC), at most `max_ticks`, on round local times. Each is
/// `(utc ms, label)`; a tick at local midnight is labelled with its date.
pub fn time_ticks(from_ms: i64, to_ms: i64, offset_minutes: i32, max_ticks: usize) -> Vec<(i64, String)> {
    let ticks = vigia_sdk::report::time_ticks(from_ms, to_ms, offset_minutes, max_ticks);
    let step = ticks.step_ms;
    ticks.at_ms.into_iter().map(|at| (at, tick_label(at, offset_minutes, step))).collect()
}

fn tick_label(utc_ms: i64, offset_minutes: i32, step: i64) -> String {
    let local = format_local(utc_ms, offset_minutes);
    let at_midnight = (utc_ms + i64::from(offset_minutes) * 60_000).rem_euclid(DAY_MS) == 0;
    if step >= DAY_MS || at_midnight {
        let month = local.get(5..7).and_then(|m| m.parse::<usize>().ok()).unwrap_or(1);
        let day = local.get(8..10).unwrap_or("").trim_start_matches('0');
        format!("{day} {}", MONTHS[(month + 11) % 12])
    } else {
        local.get(11..16).unwrap_or("").to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_day_is_ticked_every_three_hours_from_midnight() {
        // 2026-11-30 00:00 in UTC+01:00 is 2026-11-29 23:00 UTC.
        let from = 1_795_993_200_000;
        let ticks = time_ticks(from, from + DAY_MS, 60, 9);
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["30 Nov", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "1 Dec"]);
        assert_eq!(ticks[0].0, from);
    }

    #[test]
    fn a_week_is_ticked_by_day() {
        let ticks = time_ticks(0, 7 * DAY_MS, 0, 9);
        assert_eq!(ticks.len(), 8);
        assert_eq!(ticks[1].1, "2 Jan");
    }
}
