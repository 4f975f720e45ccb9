//! A workload request as Datasentinel's toolkit sends it (`utc_time`, `from`/`to`, `filters`,
//! `output`, and per endpoint `compute`, `by`, `limit`, `database`, `group`, `sub_group`,
//! `group_by`, `query_md5_id`), validated into a `Query` with epoch-millisecond bounds.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Without `from`/`to`: the last hour.
const DEFAULT_RANGE_MS: i64 = 3_600_000;
/// Longest range one request may cover (raw data is kept 14 days; rollups much longer).
const MAX_RANGE_MS: i64 = 800 * 86_400_000;

/// The request body (or query string). Unknown fields are refused with their name.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkloadBody {
    /// Times are UTC (default true); false: the server's local time zone.
    #[serde(default, deserialize_with = "lenient_bool")]
    #[schema(value_type = Option<bool>)]
    #[param(value_type = Option<bool>)]
    pub utc_time: Option<bool>,
    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MI`, `YYYY-MM-DD HH:MI:SS` or RFC 3339. Default: one hour
    /// before `to`.
    pub from: Option<String>,
    /// Same formats; a bare date means the end of that day. Default: now.
    #[serde(alias = "end")]
    pub to: Option<String>,
    /// `[{"tag": …, "value": …}]`, ANDed. Built-in tags: `pg_instance` (`<server>@<name>`),
    /// `server`, `name`, `database`, `user_name`; plus every instance tag.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub filters: Option<Vec<TagFilter>>,
    /// `json` (default) or `csv`.
    pub output: Option<String>,
    /// `details` or `summary` (pg-instance, pg-background, server, data-size); `wait-events`
    /// (session-history: active sessions by wait event per time bucket).
    pub compute: Option<String>,
    /// Sorting column of top lists.
    pub by: Option<String>,
    /// Rows returned by top lists (default 20).
    #[serde(default, deserialize_with = "lenient_int")]
    #[schema(value_type = Option<i64>)]
    #[param(value_type = Option<i64>)]
    pub limit: Option<i64>,
    /// Only this database.
    pub database: Option<String>,
    /// Grouping tag (top-consumers; `group_by` is the documented name).
    #[serde(alias = "group_by")]
    pub group: Option<String>,
    /// Second grouping tag (top-consumers).
    pub sub_group: Option<String>,
    /// The query (query endpoint): its `query_md5_id` …
    pub query_md5_id: Option<String>,
    /// … or its queryid.
    #[serde(default, alias = "query_id", deserialize_with = "lenient_string")]
    #[schema(value_type = Option<String>)]
    #[param(value_type = Option<String>)]
    pub queryid: Option<String>,
    /// Bucket width in seconds for `compute: wait-events` (default: fits ~300 buckets).
    #[serde(default, deserialize_with = "lenient_int")]
    #[schema(value_type = Option<i64>)]
    #[param(value_type = Option<i64>)]
    pub bucket: Option<i64>,
    /// Vigia extension for `session-history`, JSON only: answer `{"rows": […], "gaps": […]}`
    /// instead of the bare array of rows, `gaps` listing the stretches of the range with no
    /// sample and why (`host_down`, `unreachable`, `deadline`, `skipped`), so "no data" is
    /// told from "no activity". Off by default: Datasentinel's row shape is unchanged.
    #[serde(default, deserialize_with = "lenient_bool")]
    #[schema(value_type = Option<bool>)]
    #[param(value_type = Option<bool>)]
    pub gaps: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagFilter {
    pub tag: String,
    pub value: String,
}

/// Booleans may arrive as strings from query strings and shell templates.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!("expected true or false, got {other}"))),
    }
}

fn lenient_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| serde::de::Error::custom("expected an integer")),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer")))
        }
        Some(other) => Err(serde::de::Error::custom(format!("expected an integer, got {other}"))),
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("expected a string, got {other}"))),
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Csv,
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Query {
    pub from: i64,
    pub to: i64,
    pub utc: bool,
    pub filters: Vec<TagFilter>,
    pub output: Output,
    pub compute: Option<String>,
    pub by: Option<String>,
    pub limit: usize,
    pub database: Option<String>,
    pub group: Option<String>,
    pub sub_group: Option<String>,
    pub query_md5_id: Option<String>,
    pub queryid: Option<i64>,
    pub bucket_seconds: Option<i64>,
    /// Answer sampling gaps beside the rows (session-history, JSON).
    pub gaps: bool,
}

impl WorkloadBody {
    /// Validates the body; `now` is the default end. Errors name the field.
    pub fn into_query(self, now: i64) -> Result<Query, String> {
        let utc = self.utc_time.unwrap_or(true);
        let to = match self.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(t) => parse_time(t, utc, true).map_err(|e| format!("invalid \"to\": {e}"))?,
            None => now,
        };
        let from = match self.from.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(f) => parse_time(f, utc, false).map_err(|e| format!("invalid \"from\": {e}"))?,
            None => to - DEFAULT_RANGE_MS,
        };
        if from > to {
            return Err(format!(
                "\"from\" ({}) is after \"to\" ({})",
                self.from.unwrap_or_default(),
                self.to.unwrap_or_default()
            ));
        }
        if to - from > MAX_RANGE_MS {
            return Err("the range from \"from\" to \"to\" is longer than 800 days".into());
        }
        let output = match self.output.as_deref().map(|o| o.trim().to_ascii_lowercase()) {
            None => Output::Json,
            Some(o) if o == "json" || o.is_empty() => Output::Json,
            Some(o) if o == "csv" => Output::Csv,
            Some(o) => return Err(format!("invalid \"output\" {o:?}: expected json or csv")),
        };
        let limit = match self.limit {
            None => 20,
            Some(n) if (1..=100_000).contains(&n) => n as usize,
            Some(n) => return Err(format!("invalid \"limit\" {n}: expected 1 to 100000")),
        };
        let queryid = match self.queryid.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(q) => Some(q.parse::<i64>().map_err(|_| format!("invalid \"queryid\" {q:?}: expected an integer"))?),
        };
        let bucket_seconds = match self.bucket {
            None => None,
            Some(b) if (1..=86_400).contains(&b) => Some(b),
            Some(b) => return Err(format!("invalid \"bucket\" {b}: expected 1 to 86400 seconds")),
        };
        let gaps = self.gaps.unwrap_or(false);
        if gaps && output == Output::Csv {
            return Err("\"gaps\" is answered in JSON only (a CSV holds one table); ask without it for CSV".into());
        }
        let filters = self.filters.unwrap_or_default();
        if let Some(f) = filters.iter().find(|f| f.tag.trim().is_empty()) {
            return Err(format!("invalid filter {{\"tag\": {:?}, \"value\": {:?}}}: the tag is empty", f.tag, f.value));
        }
        let trim = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Query {
            from,
            to,
            utc,
            filters,
            output,
            compute: trim(self.compute).map(|c| c.to_ascii_lowercase()),
            by: trim(self.by),
            limit,
            database: trim(self.database),
            group: trim(self.group),
            sub_group: trim(self.sub_group),
            query_md5_id: trim(self.query_md5_id),
            queryid,
            bucket_seconds,
            gaps,
        })
    }
}

/// Parses one of the accepted time formats into epoch milliseconds. A bare date is the start of
/// the day, or its last millisecond when `end_of_day` (so `to: "2020-01-21"` includes that day).
pub fn parse_time(text: &str, utc: bool, end_of_day: bool) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let naive = if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        if end_of_day {
            start + chrono::Duration::milliseconds(86_400_000 - 1)
        } else {
            start
        }
    } else {
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
            .ok_or_else(|| format!("{text:?} is not YYYY-MM-DD, YYYY-MM-DD HH:MI, YYYY-MM-DD HH:MI:SS or RFC 3339"))?
    };
    if utc {
        Ok(Utc.from_utc_datetime(&naive).timestamp_millis())
    } else {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("{text:?} does not exist in the server's time zone"))
    }
}

/// Renders a timestamp as the answers show it: RFC 3339 seconds, `Z` in UTC, else local offset.
pub fn format_time(ms: i64, utc: bool) -> String {
    let t = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    if utc {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.with_timezone(&Local).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> WorkloadBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_documented_formats_parse() {
        let q = body(r#"{"from": "2020-01-29 06:00:00", "to": "2020-01-29 08:00:00 ", "utc_time": true}"#)
            .into_query(0)
            .unwrap();
        assert_eq!(format_time(q.from, true), "2020-01-29T06:00:00Z");
        assert_eq!(format_time(q.to, true), "2020-01-29T08:00:00Z");
        let q = body(r#"{"from": "2020-01-20", "to": "2020-01-21"}"#).into_query(0).unwrap();
        assert_eq!(q.to - q.from, 2 * 86_400_000 - 1);
        let q = body(r#"{"from": "2020-01-20 10:30", "to": "2020-01-20T11:30:00+01:00"}"#).into_query(0).unwrap();
        assert_eq!(q.to - q.from, 0);
        let q = body("{}").into_query(10_000_000).unwrap();
        assert_eq!((q.from, q.to, q.limit, q.output), (10_000_000 - 3_600_000, 10_000_000, 20, Output::Json));
    }

    #[test]
    fn errors_name_the_field() {
        let e = body(r#"{"from": "2020-021-20"}"#).into_query(0).unwrap_err();
        assert!(e.contains("\"from\"") && e.contains("2020-021-20"), "{e}");
        assert!(body(r#"{"from": "2020-01-22", "to": "2020-01-21"}"#).into_query(0).unwrap_err().contains("after"));
        assert!(body(r#"{"output": "xml"}"#).into_query(0).unwrap_err().contains("output"));
        assert!(body(r#"{"limit": 0}"#).into_query(0).unwrap_err().contains("limit"));
        assert!(serde_json::from_str::<WorkloadBody>(r#"{"frm": "x"}"#).unwrap_err().to_string().contains("frm"));
        let q = body(r#"{"limit": "5", "utc_time": "false", "queryid": 42}"#).into_query(0).unwrap();
        assert_eq!((q.limit, q.utc, q.queryid), (5, false, Some(42)));
    }
}
