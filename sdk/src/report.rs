//! The report document a `DocumentReporter` lays out (WIT `vigia:plugin/report`), and helpers
//! every renderer needs the same way: number, size, duration and time formatting, and chart axes
//! (round value gridlines, time ticks on the document's local clock).

pub use crate::bindings::document_reporter::vigia::plugin::report::{
    Bar, Block, Cell, Chart, ChartData, Column, ColumnKind, Document, Format, Section, Table, TimeSeries,
};

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A byte count in the largest binary unit that keeps it ≥ 1 (`1.5 MiB`).
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{} B", bytes as i64),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// Milliseconds in the unit a reader takes in at a glance (`850 ms`, `12.3 s`, `4.5 min`, `2.1 h`).
pub fn format_duration_ms(ms: f64) -> String {
    let abs = ms.abs();
    if abs < 1.0 {
        format!("{ms:.3} ms")
    } else if abs < 1_000.0 {
        format!("{ms:.1} ms")
    } else if abs < 60_000.0 {
        format!("{:.1} s", ms / 1_000.0)
    } else if abs < 3_600_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

/// A measure with at most three decimals and no trailing zeros (`0.25`, `12`, `1,234.5`).
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let rounded = (value * 1000.0).round() / 1000.0;
    let whole = rounded.trunc();
    let mut out = group_thousands(whole as i64);
    if rounded < 0.0 && whole == 0.0 {
        out.insert(0, '-');
    }
    let fraction = format!("{:.3}", (rounded - whole).abs());
    let fraction = fraction.trim_start_matches('0').trim_end_matches('0').trim_end_matches('.');
    out.push_str(fraction);
    out
}

/// `YYYY-MM-DD HH:MM:SS` of `ms` shifted by `offset_minutes` (the document's zone).
pub fn format_local(ms: i64, offset_minutes: i32) -> String {
    let shifted = ms + i64::from(offset_minutes) * 60_000;
    let rfc = crate::time::format_ms(shifted);
    // `format_ms` gives RFC 3339 UTC (`2026-11-30T10:00:00.000Z` or without millis).
    rfc.get(..19).unwrap_or(&rfc).replace('T', " ")
}

/// A cell as text, formatted for its column.
pub fn format_cell(cell: &Cell, kind: ColumnKind, offset_minutes: i32) -> String {
    let number = match cell {
        Cell::None => return String::new(),
        Cell::Text(t) => return t.clone(),
        Cell::Integer(i) => *i as f64,
        Cell::Number(n) => *n,
    };
    match kind {
        ColumnKind::Integer => group_thousands(number.round() as i64),
        ColumnKind::Percent => format!("{number:.1} %"),
        ColumnKind::Bytes => format_bytes(number),
        ColumnKind::DurationMs => format_duration_ms(number),
        ColumnKind::Timestamp => format_local(number as i64, offset_minutes),
        ColumnKind::Text | ColumnKind::Code | ColumnKind::Number => format_number(number),
    }
}

/// Right-aligned kinds (numbers) versus left-aligned ones (words, code).
pub fn is_numeric(kind: ColumnKind) -> bool {
    !matches!(kind, ColumnKind::Text | ColumnKind::Code)
}

/// A window's length the way people say it: `24 h`, `7 d`, `1 h 30 min`, `45 s`, `250 ms`. Days
/// only from two on (a daily report is "24 h", not "1 d"); no unit is dropped, so the text is
/// exact; zero and negative lengths read `0 s`.
pub fn format_span_ms(ms: i64) -> String {
    if ms <= 0 {
        return "0 s".to_owned();
    }
    let secs = ms / 1000;
    let days = if secs >= 2 * 86_400 { secs / 86_400 } else { 0 };
    let hours = secs / 3600 - days * 24;
    let parts = [(days, "d"), (hours, "h"), (secs / 60 % 60, "min"), (secs % 60, "s")];
    let words: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n} {unit}")).collect();
    if words.is_empty() {
        format!("{ms} ms")
    } else {
        words.join(" ")
    }
}

/// A value axis from 0: the spacing of its gridlines and its top (a whole number of steps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueAxis {
    /// Distance between gridlines (1, 2, 2.5 or 5 × 10ⁿ).
    pub step: f64,
    /// The axis maximum, a whole number of steps at or above the data's maximum.
    pub top: f64,
}

impl ValueAxis {
    /// The gridline values, `0, step, …, top`.
    pub fn ticks(&self) -> impl Iterator<Item = f64> {
        let step = self.step;
        // `top` is a whole number of steps; rounding absorbs the float error of the division.
        let count = (self.top / step).round() as usize;
        (0..=count).map(move |i| i as f64 * step)
    }
}

/// A value axis for data from 0 to `max` with about `target` intervals, whose step is 1, 2, 2.5
/// or 5 × 10ⁿ so gridline labels stay round. An empty or invalid `max` scales as if it were 1.
pub fn nice_axis(max: f64, target: usize) -> ValueAxis {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let raw = max / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    // The epsilon keeps a max that is already a multiple of the step (100 with step 20) from
    // gaining an extra empty interval through float error.
    let top = (max / step - 1e-9).ceil() * step;
    ValueAxis { step, top: top.max(step) }
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// A day in milliseconds (renderers label ticks at local midnight by date).
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Tick spacings a reader recognises, shortest first.
const TIME_STEPS: [i64; 16] = [
    MINUTE_MS,
    2 * MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    2 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    28 * DAY_MS,
];

/// Ticks on a time axis: the chosen spacing (renderers label by it) and the instants.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTicks {
    /// Distance between ticks, one of the round spacings (1 min … 28 d) or a multiple of 28 d.
    pub step_ms: i64,
    /// Epoch ms (UTC) of each tick, ascending, all within the window.
    pub at_ms: Vec<i64>,
}

/// At most `max_ticks` ticks between `from_ms` and `to_ms` (epoch ms), on round times of the
/// document's clock (`offset_minutes` from UTC): every 3 h at 00:00, 03:00… local, not UTC, and
/// local midnights for day steps.
pub fn time_ticks(from_ms: i64, to_ms: i64, offset_minutes: i32, max_ticks: usize) -> TimeTicks {
    let span = (to_ms - from_ms).max(1);
    let max = max_ticks.max(2) as i64;
    // Fewer than `max` intervals means at most `max` ticks; past the longest step, whole
    // multiples of it keep that promise for windows of many months.
    let longest = TIME_STEPS[TIME_STEPS.len() - 1];
    let step = TIME_STEPS.into_iter().find(|s| span / s < max).unwrap_or(longest * (span / (longest * max) + 1));
    let offset = i64::from(offset_minutes) * MINUTE_MS;
    let first_local = (from_ms + offset).div_euclid(step) * step;
    let first_local = if first_local < from_ms + offset { first_local + step } else { first_local };
    let at_ms = (0..).map(|i| first_local + i * step - offset).take_while(|at| *at <= to_ms).collect();
    TimeTicks { step_ms: step, at_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_the_same_in_every_renderer() {
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(-1000), "-1,000");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(format_number(1234.5), "1,234.5");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(-0.5), "-0.5");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1536.0 * 1024.0), "1.5 MiB");
        assert_eq!(format_duration_ms(850.0), "850.0 ms");
        assert_eq!(format_duration_ms(12_300.0), "12.3 s");
        assert_eq!(format_duration_ms(7_560_000.0), "2.1 h");
        assert_eq!(format_local(0, 60), "1970-01-01 01:00:00");
    }

    #[test]
    fn spans_read_the_way_people_say_them() {
        assert_eq!(format_span_ms(86_400_000), "24 h");
        assert_eq!(format_span_ms(7 * 86_400_000), "7 d");
        assert_eq!(format_span_ms(7 * 86_400_000 + 3_600_000), "7 d 1 h");
        assert_eq!(format_span_ms(5_400_000), "1 h 30 min");
        assert_eq!(format_span_ms(90_000), "1 min 30 s");
        assert_eq!(format_span_ms(45_000), "45 s");
        assert_eq!(format_span_ms(176_461_000), "2 d 1 h 1 min 1 s");
        assert_eq!(format_span_ms(250), "250 ms");
        assert_eq!(format_span_ms(-5), "0 s");
    }

    #[test]
    fn value_axes_step_roundly() {
        let axis = |max, target| {
            let a = nice_axis(max, target);
            (a.step, a.top)
        };
        assert_eq!(axis(7.3, 5), (2.0, 8.0));
        assert_eq!(axis(7.3, 4), (2.0, 8.0));
        assert_eq!(axis(100.0, 5), (20.0, 100.0));
        assert_eq!(axis(11.0, 5), (2.5, 12.5));
        assert_eq!(axis(1234.0, 4), (500.0, 1500.0));
        assert_eq!(axis(1234.0, 5), (250.0, 1250.0));
        assert_eq!(axis(0.9, 4), (0.25, 1.0));
        assert_eq!(axis(0.0, 5), (0.2, 1.0));
        assert_eq!(axis(f64::NAN, 5), (0.2, 1.0));
        assert_eq!(nice_axis(7.3, 4).ticks().collect::<Vec<_>>(), [0.0, 2.0, 4.0, 6.0, 8.0]);
    }

    #[test]
    fn time_ticks_fall_on_local_round_times() {
        // 2026-11-29 00:00 Paris (UTC+1) = 2026-11-28 23:00 UTC.
        let from = 1_795_906_800_000;
        let day = time_ticks(from, from + DAY_MS, 60, 9);
        assert_eq!(day.step_ms, 3 * HOUR_MS);
        assert_eq!(day.at_ms, (0..9).map(|i| from + i * 3 * HOUR_MS).collect::<Vec<_>>());
        // Starting off the grid, the first tick is the next round local time.
        let late = time_ticks(from + 1, from + DAY_MS, 60, 9);
        assert_eq!(late.at_ms.first(), Some(&(from + 3 * HOUR_MS)));
        let week = time_ticks(from, from + 7 * DAY_MS, 60, 9);
        assert_eq!((week.step_ms, week.at_ms.len()), (DAY_MS, 8));
        // A year still gets at most `max_ticks` ticks.
        assert!(time_ticks(0, 365 * DAY_MS, 0, 9).at_ms.len() <= 9);
    }
}
