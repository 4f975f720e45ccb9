//! Time-axis labels: where the ticks go is the SDK's `time_ticks` (shared with the HTML
//! reporter); this module only words them the way the PDF prints them (`HH:MM`, `MM-DD`).

use vigia_sdk::report::{format_local, time_ticks, DAY_MS};

/// A tick on the time axis: its instant and its label in local time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTick {
    pub at_ms: i64,
    pub label: String,
}

/// Ticks between `from` and `to` (epoch ms), at most `max_ticks`, on round local times.
pub fn time_axis(from: i64, to: i64, offset_minutes: i32, max_ticks: usize) -> Vec<TimeTick> {
    let span = (to - from).max(1);
    let ticks = time_ticks(from, to, offset_minutes, max_ticks);
    let step = ticks.step_ms;
    ticks.at_ms.into_iter().map(|at_ms| TimeTick { at_ms, label: label(at_ms, offset_minutes, step, span) }).collect()
}

/// `HH:MM` within a day; `MM-DD` at midnight or for day steps when the axis spans days.
fn label(at_ms: i64, offset_minutes: i32, step: i64, span: i64) -> String {
    let text = format_local(at_ms, offset_minutes);
    let (date, time) = (text.get(5..10).unwrap_or_default(), text.get(11..16).unwrap_or_default());
    if step >= DAY_MS || (span > DAY_MS && time == "00:00") {
        date.to_owned()
    } else {
        time.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ticks_fall_on_local_round_hours() {
        // 2026-11-29 00:00 Paris (UTC+1) = 2026-11-28 23:00 UTC, 24 hours.
        let from = 1_795_906_800_000;
        let ticks = time_axis(from, from + DAY_MS, 60, 9);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "00:00"]);
        assert_eq!(ticks[0].at_ms, from);
    }

    #[test]
    fn multi_day_axes_name_the_days() {
        let from = 1_795_906_800_000;
        let ticks = time_axis(from, from + 7 * DAY_MS, 60, 9);
        assert_eq!(ticks[0].label, "11-29");
        assert_eq!(ticks.len(), 8);
    }
}
