//! When scheduled reports run (`When`, evaluated in the schedule's time zone) and which period each
//! run covers (`Period`): pure timing logic, with no I/O, storage or HTTP.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// Serde and OpenAPI use the text form: it is what users write and what the API echoes back.
macro_rules! as_text {
    ($ty:ty, $description:expr, [$($example:expr),+]) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .examples([$($example),+])
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

mod period;

pub use period::{Period, SpanUnit};

/// The shortest allowed time between two runs, in minutes: a report queries hours of data.
pub const MIN_GAP_MINUTES: i64 = 5;
/// How many runs of a cron expression the frequency check looks at.
const CHECKED_RUNS: usize = 32;
/// A bound on the slots `next_after` steps over: only those of a repeated hour lie behind it.
const MAX_STEPS: usize = 1000;

const WHEN_FORMS: &str = "expected a 5-field cron expression (e.g. \"0 7 * * 1-5\"), \
     \"daily at HH:MM\" or \"weekly on <weekday> at HH:MM\"";
const DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// When a schedule runs, in its time zone. Text forms: a 5-field cron expression (minute hour
/// day-of-month month day-of-week, with ranges, steps, lists and names: `0 7 * * 1-5`),
/// `daily at HH:MM`, or `weekly on <weekday> at HH:MM`. Runs at least 5 minutes apart. Each local
/// wall-clock slot runs once: a slot skipped by a spring-forward gap runs at the first instant
/// after the gap, and a slot in a repeated (fall-back) hour runs on its first pass only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// `daily at HH:MM`.
    Daily { at: NaiveTime },
    /// `weekly on <weekday> at HH:MM`.
    Weekly { on: Weekday, at: NaiveTime },
    /// A cron expression.
    Cron(CronExpr),
}

/// A checked 5-field cron expression: it parses, fires, and never more often than every 5 minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    // Boxed: a parsed pattern is ~300 bytes, and `When`'s other variants are a few.
    cron: Box<Cron>,
}

impl CronExpr {
    fn parse(text: &str) -> Result<Self, String> {
        let cron = parse_cron(text).map_err(|e| {
            // croner's messages end with a period; ours go on.
            format!("invalid schedule {text:?}: {}; {WHEN_FORMS}", e.to_string().trim_end_matches('.'))
        })?;
        check_gaps(&cron).map_err(|why| format!("invalid schedule {text:?}: {why}"))?;
        Ok(Self { text: text.to_owned(), cron: Box::new(cron) })
    }
}

fn parse_cron(text: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build().parse(text)
}

/// Refuses an expression that never fires or fires twice within `MIN_GAP_MINUTES` over its first
/// runs from 2026 on, compared on the wall clock so that DST changes do not count.
fn check_gaps(cron: &Cron) -> Result<(), String> {
    let never = |_| "it never fires".to_owned();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("2026-01-01 is a date").and_time(NaiveTime::MIN);
    let mut prev = cron.find_next_occurrence(&start, true).map_err(never)?;
    for _ in 1..CHECKED_RUNS {
        let next = cron.find_next_occurrence(&prev, false).map_err(never)?;
        if (next - prev).num_minutes() < MIN_GAP_MINUTES {
            let apart = (next - prev).num_minutes();
            return Err(format!(
                "two runs only {apart} minute(s) apart ({prev} and {next}); reports run at most every \
                 {MIN_GAP_MINUTES} minutes"
            ));
        }
        prev = next;
    }
    Ok(())
}

impl When {
    /// The first run strictly after `after_ms` (Unix ms), or `None` if there is none.
    pub fn next_after(&self, after_ms: i64, tz: Tz) -> Option<i64> {
        let cron = self.cron();
        let mut slot = wall_clock(after_ms, tz)?;
        // A slot in a repeated hour resolves to its first pass, which can lie before `after_ms`
        // when that is on the second pass: those slots already ran, so step on.
        for _ in 0..MAX_STEPS {
            slot = cron.find_next_occurrence(&slot, false).ok()?;
            let at = instant_of(tz, slot)?;
            if at > after_ms {
                return Some(at);
            }
        }
        None
    }

    /// The latest run at or before `at_ms`.
    fn latest_until(&self, at_ms: i64, tz: Tz) -> Option<i64> {
        let slot = self.cron().find_previous_occurrence(&wall_clock(at_ms, tz)?, true).ok()?;
        let mut latest = instant_of(tz, slot)?;
        // On the second pass of a repeated hour, slots later on the wall clock ran on the first.
        while let Some(next) = self.next_after(latest, tz).filter(|&next| next <= at_ms) {
            latest = next;
        }
        Some(latest)
    }

    fn cron(&self) -> Cow<'_, Cron> {
        let pattern = match self {
            Self::Cron(expr) => return Cow::Borrowed(&*expr.cron),
            Self::Daily { at } => format!("{} {} * * *", at.minute(), at.hour()),
            Self::Weekly { on, at } => format!("{} {} * * {}", at.minute(), at.hour(), on.num_days_from_sunday()),
        };
        Cow::Owned(parse_cron(&pattern).expect("a minute, an hour and a weekday number make a valid pattern"))
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        let bad = |why: String| format!("invalid schedule {text:?}: {why}; {WHEN_FORMS}");
        let time = |hh_mm: &str| {
            NaiveTime::parse_from_str(hh_mm, "%H:%M").map_err(|_| bad(format!("{hh_mm:?} is not a time (HH:MM)")))
        };
        match lower.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["daily", "at", at] => Ok(Self::Daily { at: time(at)? }),
            ["weekly", "on", day, "at", at] => {
                let on = day.parse().map_err(|_| bad(format!("{day:?} is not a weekday")))?;
                Ok(Self::Weekly { on, at: time(at)? })
            }
            _ => CronExpr::parse(text).map(Self::Cron),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Daily { at } => write!(f, "daily at {}", at.format("%H:%M")),
            Self::Weekly { on, at } => {
                write!(f, "weekly on {} at {}", DAY_NAMES[on.num_days_from_monday() as usize], at.format("%H:%M"))
            }
            Self::Cron(expr) => f.write_str(&expr.text),
        }
    }
}

/// Parses an IANA time zone name (`Europe/Paris`, `UTC`).
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse()
        .map_err(|_| format!("unknown time zone {name:?}: expected an IANA name such as \"Europe/Paris\" or \"UTC\""))
}

/// The run a host that was down missed: the LATEST scheduled instant in
/// `(last_run_ms or created_ms, now_ms]`, if any. After an outage the report is delivered once,
/// for the most recent slot, not once per missed slot: older reports would repeat stale periods.
pub fn missed_run(last_run_ms: Option<i64>, created_ms: i64, when: &When, tz: Tz, now_ms: i64) -> Option<i64> {
    let since = last_run_ms.unwrap_or(created_ms);
    when.latest_until(now_ms, tz).filter(|&latest| latest > since)
}

/// The local wall-clock time of an instant.
fn wall_clock(ms: i64, tz: Tz) -> Option<NaiveDateTime> {
    Some(DateTime::from_timestamp_millis(ms)?.with_timezone(&tz).naive_local())
}

/// The instant of a local time: the first of two in a repeated hour, and the first instant after
/// the gap (the moment clocks jump) for a time that a spring-forward skips.
fn instant_of(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.timestamp_millis()),
        LocalResult::None => {
            // Bisect for the first second whose wall clock is past `local`; a day either side
            // bounds it (UTC offsets stay within ±14 h) and holds no other clock change.
            let guess = local.and_utc().timestamp();
            let (mut before, mut after) = (guess - 86_400, guess + 86_400);
            while after - before > 1 {
                let middle = before + (after - before) / 2;
                if wall_clock(middle * 1000, tz)? > local {
                    after = middle;
                } else {
                    before = middle;
                }
            }
            Some(after * 1000)
        }
    }
}

as_text!(
    When,
    "When the report runs, in the schedule's time zone: a 5-field cron expression (`0 7 * * 1-5`), \
     `daily at HH:MM` or `weekly on <weekday> at HH:MM`; runs are at least 5 minutes apart. A time \
     skipped by a DST change runs when clocks jump; a repeated time runs once.",
    ["weekly on monday at 07:00", "0 7 * * 1-5"]
);

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: Tz = chrono_tz::Europe::Paris;
    const UTC: Tz = chrono_tz::UTC;

    /// Unix ms of a UTC time written `YYYY-MM-DD HH:MM`.
    fn utc(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("test time").and_utc().timestamp_millis()
    }

    fn when(text: &str) -> When {
        text.parse().expect("test schedule")
    }

    #[test]
    fn parses_schedules_and_prints_them_back() {
        let cases = [
            ("daily at 07:00", "daily at 07:00"),
            ("Daily  at 7:05", "daily at 07:05"),
            ("weekly on monday at 07:00", "weekly on monday at 07:00"),
            ("Weekly on Sun at 23:59", "weekly on sunday at 23:59"),
            (" 0 7 * * 1-5 ", "0 7 * * 1-5"),
            ("*/5 * * * *", "*/5 * * * *"),
            ("30 6 1,15 jan-jun mon", "30 6 1,15 jan-jun mon"),
        ];
        for (text, printed) in cases {
            assert_eq!(text.parse::<When>().map(|w| w.to_string()), Ok(printed.to_owned()), "{text}");
        }
    }

    #[test]
    fn refuses_bad_or_too_frequent_schedules() {
        let cases = [
            ("daily at 25:00", "\"25:00\" is not a time"),
            ("weekly on funday at 07:00", "\"funday\" is not a weekday"),
            ("0 7 * *", "expected a 5-field cron expression"),
            ("0 0 7 * * *", "expected a 5-field cron expression"),
            ("61 7 * * *", "expected a 5-field cron expression"),
            ("", "expected a 5-field cron expression"),
            ("* * * * *", "only 1 minute(s) apart"),
            ("*/2 * * * *", "at most every 5 minutes"),
            ("0,3 7 * * *", "only 3 minute(s) apart"),
            ("0 0 30 2 *", "never fires"),
        ];
        for (text, message) in cases {
            let error = text.parse::<When>().expect_err(text);
            assert!(error.contains(&format!("{:?}", text.trim())) && error.contains(message), "{text}: {error}");
        }
    }

    #[test]
    fn next_run_follows_the_time_zone_and_dst() {
        let cases = [
            // Friday 07:00 CET, then Monday 07:00 CEST (the week-end changed the offset).
            ("0 7 * * 1-5", PARIS, "2026-03-27 06:00", "2026-03-30 05:00"),
            ("0 7 * * mon-fri", PARIS, "2026-03-27 05:59", "2026-03-27 06:00"),
            ("0 7,19 1-10/3 * *", UTC, "2026-03-04 07:00", "2026-03-04 19:00"),
            ("daily at 07:00", UTC, "2026-03-04 07:00", "2026-03-05 07:00"),
            ("weekly on monday at 07:00", UTC, "2026-03-04 12:00", "2026-03-09 07:00"),
            ("weekly on monday at 07:00", PARIS, "2026-10-20 12:00", "2026-10-26 06:00"),
            // 02:30 does not exist on 2026-03-29 in Paris: it runs once, when clocks jump to 03:00.
            ("daily at 02:30", PARIS, "2026-03-28 12:00", "2026-03-29 01:00"),
            ("daily at 02:30", PARIS, "2026-03-29 01:00", "2026-03-30 00:30"),
            ("*/30 * * * *", PARIS, "2026-03-29 00:45", "2026-03-29 01:00"),
            ("*/30 * * * *", PARIS, "2026-03-29 01:00", "2026-03-29 01:30"),
            // 02:30 happens twice on 2026-10-25 in Paris: it runs on the first pass only.
            ("daily at 02:30", PARIS, "2026-10-24 12:00", "2026-10-25 00:30"),
            ("daily at 02:30", PARIS, "2026-10-25 00:30", "2026-10-26 01:30"),
            ("*/30 * * * *", PARIS, "2026-10-25 00:45", "2026-10-25 02:00"),
            ("*/30 * * * *", PARIS, "2026-10-25 01:10", "2026-10-25 02:00"),
        ];
        for (text, tz, after, next) in cases {
            assert_eq!(when(text).next_after(utc(after), tz), Some(utc(next)), "{text} after {after} in {tz}");
        }
        // Strictly after, even within the slot's minute.
        assert_eq!(when("daily at 07:00").next_after(utc("2026-03-04 07:00") - 1, UTC), Some(utc("2026-03-04 07:00")));
        assert_eq!(when("daily at 07:00").next_after(utc("2026-03-04 07:00") + 1, UTC), Some(utc("2026-03-05 07:00")));
    }

    #[test]
    fn a_missed_run_is_the_latest_slot_only() {
        let daily = when("daily at 07:00");
        let cases = [
            // Down four days: one run, for the latest slot.
            (Some("2026-03-01 07:00"), "2026-03-01 06:00", "2026-03-05 12:00", Some("2026-03-05 07:00")),
            (None, "2026-03-04 08:00", "2026-03-05 12:00", Some("2026-03-05 07:00")),
            (Some("2026-03-04 07:00"), "2026-03-01 06:00", "2026-03-05 07:00", Some("2026-03-05 07:00")),
            // Nothing missed.
            (Some("2026-03-05 07:00"), "2026-03-01 06:00", "2026-03-05 12:00", None),
            (None, "2026-03-05 08:00", "2026-03-05 12:00", None),
            (Some("2026-03-04 07:00"), "2026-03-01 06:00", "2026-03-05 06:59", None),
        ];
        for (last_run, created, now, missed) in cases {
            let got = missed_run(last_run.map(utc), utc(created), &daily, UTC, utc(now));
            assert_eq!(got, missed.map(utc), "last run {last_run:?}, created {created}, now {now}");
        }
        // Now on the second pass of Paris's repeated hour (02:10 CET): the latest run was 02:30 CEST.
        let half_hourly = when("*/30 * * * *");
        let got = missed_run(Some(utc("2026-10-25 00:00")), 0, &half_hourly, PARIS, utc("2026-10-25 01:10"));
        assert_eq!(got, Some(utc("2026-10-25 00:30")));
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_time_zone("Europe/Paris"), Ok(PARIS));
        assert_eq!(parse_time_zone(" UTC "), Ok(UTC));
        let error = parse_time_zone("Mars/Olympus").expect_err("unknown zone");
        assert!(error.contains("\"Mars/Olympus\"") && error.contains("IANA"), "{error}");
    }

    #[test]
    fn serde_and_schema_use_the_text_form() {
        let json = serde_json::json!({ "period": "last 24h", "when": "weekly on monday at 07:00" });
        let period: Period = serde_json::from_value(json["period"].clone()).expect("period");
        let when: When = serde_json::from_value(json["when"].clone()).expect("when");
        assert_eq!(
            (period, &when),
            (
                Period::Last { count: 24, unit: SpanUnit::Hours },
                &When::Weekly { on: Weekday::Mon, at: NaiveTime::from_hms_opt(7, 0, 0).expect("time") }
            )
        );
        assert_eq!(serde_json::to_value(when).expect("json"), json["when"]);
        let error = serde_json::from_str::<When>("\"* * * * *\"").expect_err("too frequent");
        assert!(error.to_string().contains("at most every 5 minutes"), "{error}");
        let schema = serde_json::to_value(<When as utoipa::PartialSchema>::schema()).expect("schema");
        assert_eq!(schema["type"], "string");
    }
}
