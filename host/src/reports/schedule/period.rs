//! `Period`: the time window a scheduled report run covers, relative to the run and in the
//! schedule's time zone.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::{instant_of, wall_clock};

/// The longest `last <N><unit>` period, in minutes (31 days).
const MAX_LAST_MINUTES: i64 = 31 * 24 * 60;

const PERIOD_FORMS: &str = "expected \"last <N><unit>\" (unit m, h, d or w, e.g. \"last 24h\"), \
     \"previous day\", \"previous week\" or \"previous month\"";

/// The unit of a `last <N><unit>` period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanUnit {
    /// `m` or `min`.
    Minutes,
    /// `h`.
    Hours,
    /// `d` (24 hours, not a calendar day).
    Days,
    /// `w` (7 × 24 hours).
    Weeks,
}

impl SpanUnit {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "m" | "min" => Self::Minutes,
            "h" => Self::Hours,
            "d" => Self::Days,
            "w" => Self::Weeks,
            _ => return None,
        })
    }

    fn minutes(self) -> i64 {
        match self {
            Self::Minutes => 1,
            Self::Hours => 60,
            Self::Days => 24 * 60,
            Self::Weeks => 7 * 24 * 60,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Minutes => "m",
            Self::Hours => "h",
            Self::Days => "d",
            Self::Weeks => "w",
        }
    }
}

/// The time window a run reports on, relative to the run. Text forms: `last <N><unit>` (unit `m`,
/// `h`, `d` or `w`, at most 31 days), `previous day`, `previous week` (ISO, Monday to Monday) and
/// `previous month`; calendar periods follow the schedule's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The `count` units just before the run.
    Last { count: u32, unit: SpanUnit },
    /// The calendar day before the run's day (23 or 25 hours on DST changes).
    PreviousDay,
    /// The ISO week (Monday 00:00 to Monday 00:00) before the run's week.
    PreviousWeek,
    /// The calendar month before the run's month.
    PreviousMonth,
}

impl Period {
    /// The window `(from_ms, to_ms)` a run at `run_at_ms` covers, BOTH ends inclusive (`to_ms` is
    /// the last millisecond before the period's end), as the workload API reads `from`/`to`.
    /// A run outside chrono's range (±262,000 years) gets the empty window `(run_at_ms, run_at_ms - 1)`.
    pub fn window(&self, run_at_ms: i64, tz: Tz) -> (i64, i64) {
        let span = match self {
            Self::Last { count, unit } => {
                Some((run_at_ms.saturating_sub(i64::from(*count) * unit.minutes() * 60_000), run_at_ms))
            }
            Self::PreviousDay => calendar(run_at_ms, tz, |day| Some((day.checked_sub_days(Days::new(1))?, day))),
            Self::PreviousWeek => calendar(run_at_ms, tz, |day| {
                let monday = day.checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))?;
                Some((monday.checked_sub_days(Days::new(7))?, monday))
            }),
            Self::PreviousMonth => calendar(run_at_ms, tz, |day| {
                let first = day.with_day(1)?;
                Some((first.checked_sub_months(Months::new(1))?, first))
            }),
        };
        let (from, to) = span.unwrap_or((run_at_ms, run_at_ms));
        (from, to.saturating_sub(1))
    }
}

/// The instants starting the local days that `bounds` picks from the run's local date.
fn calendar(
    run_at_ms: i64,
    tz: Tz,
    bounds: impl Fn(NaiveDate) -> Option<(NaiveDate, NaiveDate)>,
) -> Option<(i64, i64)> {
    let (from, to) = bounds(wall_clock(run_at_ms, tz)?.date())?;
    Some((instant_of(tz, from.and_time(NaiveTime::MIN))?, instant_of(tz, to.and_time(NaiveTime::MIN))?))
}

impl FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let normal = text.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
        let bad = |why: &str| format!("invalid period {text:?}: {why}");
        let period = match normal.as_str() {
            "previous day" => Self::PreviousDay,
            "previous week" => Self::PreviousWeek,
            "previous month" => Self::PreviousMonth,
            _ => {
                let span = normal.strip_prefix("last ").ok_or_else(|| bad(PERIOD_FORMS))?;
                let digits = span.find(|c: char| !c.is_ascii_digit()).unwrap_or(span.len());
                let (count, unit) = span.split_at(digits);
                let unit = SpanUnit::parse(unit.trim_start()).ok_or_else(|| bad(PERIOD_FORMS))?;
                let count: u32 = count.parse().map_err(|_| bad(PERIOD_FORMS))?;
                if count == 0 {
                    return Err(bad("N must be at least 1"));
                }
                if i64::from(count) * unit.minutes() > MAX_LAST_MINUTES {
                    return Err(bad("a \"last\" period covers at most 31 days"));
                }
                Self::Last { count, unit }
            }
        };
        Ok(period)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Last { count, unit } => write!(f, "last {count}{}", unit.suffix()),
            Self::PreviousDay => f.write_str("previous day"),
            Self::PreviousWeek => f.write_str("previous week"),
            Self::PreviousMonth => f.write_str("previous month"),
        }
    }
}

as_text!(
    Period,
    "The period a run reports on: `last <N><unit>` (unit `m`, `h`, `d` or `w`; at most 31 days), \
     `previous day`, `previous week` (ISO, Monday to Monday) or `previous month`, in the schedule's time zone.",
    ["last 24h", "previous week"]
);

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: Tz = chrono_tz::Europe::Paris;
    const UTC: Tz = chrono_tz::UTC;

    /// Unix ms of a UTC time written `YYYY-MM-DD HH:MM`.
    fn utc(text: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test time").and_utc().timestamp_millis()
    }

    #[test]
    fn parses_periods_and_prints_them_back() {
        let cases = [
            ("last 24h", "last 24h"),
            ("  Last 30 min ", "last 30m"),
            ("last 7d", "last 7d"),
            ("last 2w", "last 2w"),
            ("last 44640m", "last 44640m"),
            ("previous  day", "previous day"),
            ("Previous Week", "previous week"),
            ("previous month", "previous month"),
        ];
        for (text, printed) in cases {
            assert_eq!(text.parse::<Period>().map(|p| p.to_string()), Ok(printed.to_owned()), "{text}");
        }
    }

    #[test]
    fn refuses_bad_periods_with_a_message() {
        let cases = [
            ("yesterday", "expected \"last <N><unit>\""),
            ("last 24", "expected \"last <N><unit>\""),
            ("last h", "expected \"last <N><unit>\""),
            ("last 3y", "previous month"),
            ("last -1h", "expected"),
            ("last 2 4h", "expected"),
            ("last 0h", "N must be at least 1"),
            ("last 32d", "at most 31 days"),
            ("last 5w", "at most 31 days"),
            ("last 99999999999h", "expected"),
        ];
        for (text, message) in cases {
            let error = text.parse::<Period>().expect_err(text);
            assert!(error.contains(&format!("{text:?}")) && error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn windows_cover_the_period_with_an_inclusive_end() {
        let cases = [
            ("last 24h", UTC, "2026-03-10 07:00", "2026-03-09 07:00", "2026-03-10 07:00"),
            ("last 30m", PARIS, "2026-03-29 01:10", "2026-03-29 00:40", "2026-03-29 01:10"),
            ("previous day", UTC, "2026-03-10 07:00", "2026-03-09 00:00", "2026-03-10 00:00"),
            ("previous day", UTC, "2026-03-10 00:00", "2026-03-09 00:00", "2026-03-10 00:00"),
            ("previous week", UTC, "2026-03-11 07:00", "2026-03-02 00:00", "2026-03-09 00:00"),
            ("previous month", UTC, "2026-01-15 07:00", "2025-12-01 00:00", "2026-01-01 00:00"),
            // Paris, spring forward on 2026-03-29: a 23-hour day, a 167-hour week.
            ("previous day", PARIS, "2026-03-30 05:00", "2026-03-28 23:00", "2026-03-29 22:00"),
            ("previous week", PARIS, "2026-03-30 05:00", "2026-03-22 23:00", "2026-03-29 22:00"),
            ("previous month", PARIS, "2026-04-01 05:00", "2026-02-28 23:00", "2026-03-31 22:00"),
            // Paris, fall back on 2026-10-25: a 25-hour day.
            ("previous day", PARIS, "2026-10-26 06:00", "2026-10-24 22:00", "2026-10-25 23:00"),
            ("previous week", PARIS, "2026-10-26 06:00", "2026-10-18 22:00", "2026-10-25 23:00"),
            ("previous month", PARIS, "2026-11-01 06:00", "2026-09-30 22:00", "2026-10-31 23:00"),
            // Just after local midnight, the local date is already the next one.
            ("previous day", PARIS, "2026-06-01 22:30", "2026-05-31 22:00", "2026-06-01 22:00"),
            // Santiago skips midnight on 2026-09-06: that day starts at 01:00 (-03).
            ("previous day", chrono_tz::America::Santiago, "2026-09-07 12:00", "2026-09-06 04:00", "2026-09-07 03:00"),
        ];
        for (period, tz, run_at, from, to) in cases {
            let window = period.parse::<Period>().expect("test period").window(utc(run_at), tz);
            assert_eq!(window, (utc(from), utc(to) - 1), "{period} at {run_at} in {tz}");
        }
    }
}
