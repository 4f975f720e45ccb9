//! Reports: the host builds a typed document from the workload API's data (it owns data access
//! and the caller's roles and profile), and a reporter plugin lays it out as PDF, HTML, CSV….
//! `build` assembles the chapters, `columns` turns workload tables into typed report tables,
//! `palette` holds the wait-class colours, `make` takes an order to a rendered file for a reader,
//! `mail` sends a rendered report as an attachment, `schedule` computes when scheduled reports
//! run and which period each covers, `scheduled` checks a schedule's definition, and `runner`
//! queues each due slot and makes and mails its run with the outbox's retry discipline.

mod build;
mod chapters;
mod columns;
pub mod mail;
mod make;
mod outline;
pub mod palette;
mod parts;
mod queries;
pub mod runner;
pub mod schedule;
pub mod scheduled;
mod sessions;

use chrono::{DateTime, Local, Offset};

use crate::activity::FreshAsh;
use crate::plugins::document::Document;
use crate::plugins::{InvokeError, PluginHost, Rendered};
use crate::store::{Store, StoreError};
use crate::workload::{Query, Selection, WorkloadError};

pub use make::{make, summary, Made, Order, Reader, Workshop};
pub use outline::{chapters_of_sections, Chapter};
pub use parts::local_time;

/// Why a report could not be produced, by whose fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The request is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The caller's profile may not read what this kind of report is made of (403).
    #[error("this report needs the settings:read scope (the developer profile reads sessions and queries only)")]
    Forbidden,
    /// No loaded reporter renders the format, or the named one does not (400, naming them).
    #[error("{0}")]
    NoRenderer(String),
    /// The plugin runtime is not running: only the host's own `json` can be made (503).
    #[error("the plugin runtime is not running")]
    Unavailable,
    /// The reporter failed (502: the plugin, not the request).
    #[error("reporter {id} failed: {error}")]
    Render { id: String, error: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WorkloadError> for ReportError {
    fn from(e: WorkloadError) -> ReportError {
        match e {
            WorkloadError::Invalid(m) => ReportError::Invalid(m),
            WorkloadError::Store(s) => ReportError::Store(s),
        }
    }
}

/// The kinds of report, by the name their path carries (`{kind}-report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// Every chapter (Datasentinel's workload report).
    Full,
    /// The same as `full` (Datasentinel's name), narrowed by `sections` when given.
    Workload,
    SessionHistory,
    TopQueries,
    Table,
    Instance,
    Server,
    Query,
    DataSize,
}

impl ReportKind {
    pub const NAMES: [&'static str; 10] = [
        "full",
        "workload",
        "session-history",
        "sessions-workload",
        "top-queries",
        "table",
        "instance",
        "server",
        "query",
        "data-size",
    ];

    /// The kind of a name (`sessions-workload` is the older name of `session-history`).
    pub fn parse(name: &str) -> Option<ReportKind> {
        Some(match name.replace('_', "-").as_str() {
            "full" => ReportKind::Full,
            "workload" => ReportKind::Workload,
            "session-history" | "sessions-workload" => ReportKind::SessionHistory,
            "top-queries" => ReportKind::TopQueries,
            "table" => ReportKind::Table,
            "instance" => ReportKind::Instance,
            "server" => ReportKind::Server,
            "query" => ReportKind::Query,
            "data-size" => ReportKind::DataSize,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Full => "full",
            ReportKind::Workload => "workload",
            ReportKind::SessionHistory => "session-history",
            ReportKind::TopQueries => "top-queries",
            ReportKind::Table => "table",
            ReportKind::Instance => "instance",
            ReportKind::Server => "server",
            ReportKind::Query => "query",
            ReportKind::DataSize => "data-size",
        }
    }

    fn title(self) -> &'static str {
        match self {
            ReportKind::Full | ReportKind::Workload => "Workload report",
            ReportKind::SessionHistory => "Sessions workload report",
            ReportKind::TopQueries => "Top queries report",
            ReportKind::Table => "Tables report",
            ReportKind::Instance => "Instance report",
            ReportKind::Server => "Server report",
            ReportKind::Query => "Query report",
            ReportKind::DataSize => "Data size report",
        }
    }
}

/// The time zone a report writes its times in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportClock {
    /// `UTC`, an IANA name, or the server's offset (`UTC+01:00`).
    pub name: String,
    pub offset_minutes: i32,
}

impl ReportClock {
    pub fn utc() -> ReportClock {
        ReportClock { name: "UTC".into(), offset_minutes: 0 }
    }

    /// The server's zone at `at_ms` (what `utc_time: false` means in the workload API).
    pub fn server_local(at_ms: i64) -> ReportClock {
        let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default().with_timezone(&Local);
        let offset_minutes = at.offset().fix().local_minus_utc() / 60;
        ReportClock { name: format!("UTC{}", at.format("%:z")), offset_minutes }
    }

    /// An IANA zone at `at_ms`.
    pub fn zone(tz: chrono_tz::Tz, at_ms: i64) -> ReportClock {
        let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default().with_timezone(&tz);
        ReportClock { name: tz.name().to_string(), offset_minutes: at.offset().fix().local_minus_utc() / 60 }
    }
}

/// What to report on: a kind, the workload request (range, filters), the chapters asked for.
pub struct ReportSpec<'a> {
    pub kind: ReportKind,
    pub query: &'a Query,
    /// Datasentinel's `sections` (empty: all the kind has).
    pub chapters: Vec<Chapter>,
    pub clock: ReportClock,
    /// Whether the caller may read settings-level data (not the developer profile).
    pub settings_read: bool,
    pub generated_at_ms: i64,
}

/// Where a report reads from.
pub struct Sources<'a> {
    pub store: &'a Store,
    pub fresh: &'a FreshAsh,
    pub tenant_id: i64,
    pub selection: &'a Selection,
}

/// Builds the document of `spec` over the selection.
pub async fn document(src: &Sources<'_>, spec: &ReportSpec<'_>) -> Result<Document, ReportError> {
    build::document(src, spec).await
}

/// The reporter that renders `format`: `renderer` when named (it must list the format), else
/// the plugin whose id is the format, else the first that lists it.
pub fn pick_renderer(plugins: &PluginHost, format: &str, renderer: Option<&str>) -> Result<String, ReportError> {
    let all = plugins.renderers();
    let offering: Vec<&str> =
        all.iter().filter(|r| r.formats.iter().any(|f| f == format)).map(|r| r.id.as_str()).collect();
    let formats = || {
        let mut f: Vec<&str> = all.iter().flat_map(|r| r.formats.iter().map(String::as_str)).collect();
        f.sort_unstable();
        f.dedup();
        if f.is_empty() {
            "none (no document reporter is loaded)".to_string()
        } else {
            f.join(", ")
        }
    };
    match renderer {
        Some(id) if offering.contains(&id) => Ok(id.to_string()),
        Some(id) => Err(ReportError::NoRenderer(match all.iter().find(|r| r.id == id) {
            Some(r) => format!("renderer {id:?} renders {} but not {format:?}", r.formats.join(", ")),
            None => format!("no loaded report renderer {id:?}; renderers: {}", ids(&all)),
        })),
        None if offering.contains(&format) => Ok(format.to_string()),
        None => offering.first().map(|id| id.to_string()).ok_or_else(|| {
            ReportError::NoRenderer(format!("no loaded reporter renders {format:?}; formats available: {}", formats()))
        }),
    }
}

fn ids(renderers: &[crate::plugins::Renderer]) -> String {
    match renderers.is_empty() {
        true => "none".into(),
        false => renderers.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", "),
    }
}

/// The format the host renders itself: the document model as JSON (automation, tests), no
/// plugin involved.
pub const JSON_FORMAT: &str = "json";

/// The document as JSON, named like any rendering.
pub fn render_json(document: &Document) -> Result<Rendered, ReportError> {
    let bytes = serde_json::to_vec(document).map_err(|e| ReportError::Invalid(format!("the document: {e}")))?;
    Ok(Rendered {
        content_type: "application/json".into(),
        filename: format!("{}.{JSON_FORMAT}", document.file_stem),
        bytes,
    })
}

/// Renders `document` as `format` with reporter `id`; the file is named `<file stem>.<format>`
/// whatever the plugin says, so a download and a mailed attachment carry the same name.
pub async fn render(
    plugins: &PluginHost,
    id: &str,
    document: &Document,
    format: &str,
) -> Result<Rendered, ReportError> {
    let mut rendered = plugins
        .render_document(id, document, format)
        .await
        .map_err(|e: InvokeError| ReportError::Render { id: id.to_string(), error: e.to_string() })?;
    rendered.filename = format!("{}.{format}", document.file_stem);
    Ok(rendered)
}

/// A file name stem naming the subject and the period: `vigia-full-report-pg-sales-20261130-0900-1000`.
pub fn file_stem(kind: ReportKind, subject: &str, from_ms: i64, to_ms: i64, clock: &ReportClock) -> String {
    let local = |ms: i64| {
        let shifted = ms + i64::from(clock.offset_minutes) * 60_000;
        DateTime::from_timestamp_millis(shifted).unwrap_or_default().format("%Y%m%d-%H%M").to_string()
    };
    let slug: String = subject
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug: String = slug.chars().take(60).collect();
    format!(
        "vigia-{}-report-{}-{}-{}",
        kind.as_str(),
        if slug.is_empty() { "all" } else { &slug },
        local(from_ms),
        local(to_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_their_path_names() {
        for name in ReportKind::NAMES {
            assert!(ReportKind::parse(name).is_some(), "{name}");
        }
        assert_eq!(ReportKind::parse("sessions-workload"), Some(ReportKind::SessionHistory));
        assert_eq!(ReportKind::parse("top_queries"), Some(ReportKind::TopQueries));
        assert_eq!(ReportKind::parse("weekly"), None);
    }

    #[test]
    fn file_stems_name_the_subject_and_the_local_period() {
        let clock = ReportClock { name: "UTC+01:00".into(), offset_minutes: 60 };
        let from = 1_796_029_200_000; // 2026-11-30T09:00:00Z
        let stem = file_stem(ReportKind::Full, "127.0.0.1@pg-Sales/eu", from, from + 3_600_000, &clock);
        assert_eq!(stem, "vigia-full-report-127-0-0-1-pg-sales-eu-20261130-1000-20261130-1100");
        assert!(file_stem(ReportKind::Table, "", from, from, &ReportClock::utc()).contains("-report-all-"));
    }
}
