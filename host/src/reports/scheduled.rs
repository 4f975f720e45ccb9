//! A report schedule's definition (`Definition`): what the API takes and echoes, and what the
//! store keeps as JSON. `check` turns it into a `Checked` schedule (typed kind, chapters, time
//! zone, recipients, the selection as a workload body) or a 400 naming the field; the runner
//! reads stored definitions back through the same `check`, so a run uses nothing unchecked.

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::mail::Delivery;
use super::schedule::{parse_time_zone, Period, When};
use super::{chapters_of_sections, Chapter, ReportClock, ReportError, ReportKind};
use crate::workload::{Query, WorkloadBody};

/// Longest schedule name, in characters.
pub const MAX_NAME: usize = 100;

/// Selection fields a schedule may not set: its period gives the window, in its time zone, and a
/// report is a document, not a workload answer.
const NOT_IN_SELECTION: [&str; 6] = ["from", "to", "end", "utc_time", "output", "compute"];

/// A report schedule as written: what to report on, when, and to whom.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Unique in the organization; one line.
    pub name: String,
    /// A disabled schedule keeps its definition and history but does not run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `full`, `workload`, `session-history`, `top-queries`, `table`, `instance`, `server`,
    /// `query` or `data-size`.
    #[serde(deserialize_with = "kind_by_name")]
    pub kind: ReportKind,
    /// `pdf` (default), `html`, `csv`, `json`, or any format a loaded reporter lists.
    #[serde(default = "pdf")]
    pub format: String,
    /// The reporter plugin to render with (default: the one named like the format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renderer: Option<String>,
    /// Datasentinel's chapters (`pg_instance`, `top_queries`, …); default: all the kind has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<String>>,
    /// The workload body's selection: `filters`, `database`, `limit`, `by`, `queryid`, … but not
    /// `from`, `to` or `utc_time` (the period gives the window).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub selection: Map<String, Value>,
    /// The window each run reports on, relative to the run.
    pub period: Period,
    /// When it runs, in `time_zone`.
    pub when: When,
    /// An IANA time zone (default `UTC`): when it runs, the calendar periods, the report's times.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// The mail's subject.
    pub subject: String,
    /// 1 to 50 addresses the report is mailed to.
    pub recipients: Vec<String>,
}

fn yes() -> bool {
    true
}

fn pdf() -> String {
    "pdf".into()
}

fn utc() -> String {
    "UTC".into()
}

fn kind_by_name<'de, D: Deserializer<'de>>(d: D) -> Result<ReportKind, D::Error> {
    let name = String::deserialize(d)?;
    ReportKind::parse(&name).ok_or_else(|| {
        serde::de::Error::custom(format!("unknown report kind {name:?}: expected {}", ReportKind::NAMES.join(", ")))
    })
}

/// A checked definition, typed.
#[derive(Debug, Clone)]
pub struct Checked {
    pub definition: Definition,
    pub chapters: Vec<Chapter>,
    pub format: String,
    pub tz: Tz,
    pub delivery: Delivery,
}

impl Definition {
    /// Checks every field; the error names the bad one.
    pub fn check(mut self) -> Result<Checked, ReportError> {
        let invalid = |m: String| ReportError::Invalid(m);
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > MAX_NAME || self.name.contains(['\r', '\n']) {
            return Err(invalid(format!("\"name\" must be one line of 1 to {MAX_NAME} characters")));
        }
        self.format = self.format.trim().to_ascii_lowercase();
        if self.format.is_empty() || !self.format.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(format!(
                "invalid \"format\" {:?}: expected a name such as pdf, html or csv",
                self.format
            )));
        }
        let chapters = match &self.sections {
            Some(sections) => chapters_of_sections(sections)?,
            None => Vec::new(),
        };
        if let Some(field) = NOT_IN_SELECTION.iter().find(|f| self.selection.contains_key(**f)) {
            return Err(invalid(format!(
                "\"selection.{field}\" cannot be set: the schedule's \"period\" gives the window, in its \"time_zone\""
            )));
        }
        // The selection must make a valid workload request (its errors name the field).
        self.query(0, (0, 0))?;
        let tz = parse_time_zone(&self.time_zone).map_err(|m| invalid(format!("invalid \"time_zone\": {m}")))?;
        self.time_zone = tz.name().to_string();
        let delivery = Delivery::new(&self.recipients, &self.subject)?;
        Ok(Checked { chapters, format: self.format.clone(), tz, delivery, definition: self })
    }

    /// The workload query of a run covering `window` (both ends inclusive, UTC).
    fn query(&self, now: i64, window: (i64, i64)) -> Result<Query, ReportError> {
        let body: WorkloadBody = serde_json::from_value(Value::Object(self.selection.clone()))
            .map_err(|e| ReportError::Invalid(format!("invalid \"selection\": {e}")))?;
        let mut query =
            body.into_query(now).map_err(|m| ReportError::Invalid(format!("invalid \"selection\": {m}")))?;
        (query.from, query.to, query.utc) = (window.0, window.1, true);
        Ok(query)
    }
}

impl Checked {
    /// The next run strictly after `after_ms`; none when disabled.
    pub fn next_run_after(&self, after_ms: i64) -> Option<i64> {
        match self.definition.enabled {
            true => self.definition.when.next_after(after_ms, self.tz),
            false => None,
        }
    }

    /// The window a run at `slot_ms` reports on.
    pub fn window(&self, slot_ms: i64) -> (i64, i64) {
        self.definition.period.window(slot_ms, self.tz)
    }

    /// The order of a run covering `window`, made at `now`.
    pub fn order(&self, window: (i64, i64), now: i64) -> Result<super::Order, ReportError> {
        Ok(super::Order {
            kind: self.definition.kind,
            chapters: self.chapters.clone(),
            format: self.format.clone(),
            renderer: self.definition.renderer.clone(),
            query: self.definition.query(now, window)?,
            clock: ReportClock::zone(self.tz, window.0),
            generated_at_ms: now,
        })
    }

    /// The mail's text: the schedule and the window, in its time zone.
    pub fn summary(&self, window: (i64, i64)) -> String {
        let clock = ReportClock::zone(self.tz, window.0);
        let time = |ms| super::local_time(ms, clock.offset_minutes);
        let d = &self.definition;
        format!(
            "Scheduled report \"{}\" ({}, {}): {} to {} ({}).",
            d.name,
            d.kind.as_str(),
            d.period,
            time(window.0),
            time(window.1),
            clock.name
        )
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.definition).unwrap_or_default()
    }
}

/// Reads a stored definition back, checked again.
pub fn from_stored(spec: &str) -> Result<Checked, ReportError> {
    serde_json::from_str::<Definition>(spec)
        .map_err(|e| ReportError::Invalid(format!("the stored schedule is unreadable: {e}")))?
        .check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(extra: Value) -> Result<Checked, String> {
        let mut body = json!({
            "name": " Daily sales ", "kind": "full", "period": "previous day", "when": "daily at 07:00",
            "time_zone": "Europe/Paris", "subject": "Sales", "recipients": ["dba@example.com"],
            "selection": {"filters": [{"tag": "name", "value": "sales"}]},
        });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let definition: Definition = serde_json::from_value(body).map_err(|e| e.to_string())?;
        definition.check().map_err(|e| e.to_string())
    }

    #[test]
    fn a_definition_is_checked_field_by_field() {
        let ok = definition(json!({})).expect("valid");
        assert_eq!(
            (ok.definition.name.as_str(), ok.format.as_str(), ok.tz),
            ("Daily sales", "pdf", chrono_tz::Europe::Paris)
        );
        assert_eq!(from_stored(&ok.to_json()).expect("stored").definition.name, "Daily sales");
        let cases = [
            (json!({"name": ""}), "\"name\""),
            (json!({"kind": "weekly"}), "unknown report kind \"weekly\""),
            (json!({"format": "p d f"}), "\"format\""),
            (json!({"sections": ["nope"]}), "invalid section \"nope\""),
            (json!({"selection": {"from": "2026-01-01"}}), "\"selection.from\""),
            (json!({"selection": {"limit": 0}}), "invalid \"selection\""),
            (json!({"selection": {"colour": "red"}}), "colour"),
            (json!({"time_zone": "Mars/Olympus"}), "\"time_zone\""),
            (json!({"recipients": ["not an address"]}), "not an address"),
            (json!({"subject": ""}), "\"subject\""),
            (json!({"when": "* * * * *"}), "at most every 5 minutes"),
            (json!({"period": "yesterday"}), "\"yesterday\""),
            (json!({"owner": 1}), "owner"),
        ];
        for (extra, message) in cases {
            let error = definition(extra.clone()).expect_err(&extra.to_string());
            assert!(error.contains(message), "{extra}: {error}");
        }
    }

    #[test]
    fn a_run_reports_on_its_period_in_its_zone() {
        let checked = definition(json!({})).expect("valid");
        // 2026-11-30 07:00 in Paris is 06:00 UTC; the previous day is 29 Nov 00:00 to 24:00 CET.
        let slot = 1_796_018_400_000;
        let window = checked.window(slot);
        assert_eq!(window, (1_795_906_800_000, 1_795_993_199_999));
        let order = checked.order(window, slot).expect("order");
        assert_eq!((order.query.from, order.query.to, order.clock.name.as_str()), (window.0, window.1, "Europe/Paris"));
        assert_eq!(order.query.filters.len(), 1);
        assert_eq!(checked.next_run_after(slot), Some(slot + 86_400_000));
        assert!(checked.summary(window).contains("2026-11-29 00:00"), "{}", checked.summary(window));
    }
}
