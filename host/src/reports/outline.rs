//! The outline of a report: its chapters, which a kind has, how Datasentinel's `sections` name
//! them, and which the developer profile may read.

use super::{ReportError, ReportKind};

/// A chapter of a report, in document order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Chapter {
    General,
    Workload,
    TempFiles,
    Rows,
    Sessions,
    Queries,
    Query,
    Tables,
    Indexes,
    DataSize,
    Server,
}

impl Chapter {
    /// Datasentinel's `sections` names.
    pub const SECTION_NAMES: [&'static str; 6] =
        ["pg_instance", "top_queries", "top_segments", "data_size", "sessions_workload", "parameters"];

    /// The chapters of one Datasentinel section name.
    pub fn of_section(name: &str) -> Option<&'static [Chapter]> {
        Some(match name.replace('-', "_").as_str() {
            "pg_instance" => &[Chapter::Workload, Chapter::TempFiles, Chapter::Rows],
            "top_queries" => &[Chapter::Queries],
            "top_segments" => &[Chapter::Tables, Chapter::Indexes],
            "data_size" => &[Chapter::DataSize],
            "sessions_workload" => &[Chapter::Sessions],
            // The instances' settings are part of the inventory in chapter 1.
            "parameters" => &[],
            _ => return None,
        })
    }

    pub fn title(self) -> &'static str {
        match self {
            Chapter::General => "General",
            Chapter::Workload => "Workload",
            Chapter::TempFiles => "Temporary files",
            Chapter::Rows => "Rows",
            Chapter::Sessions => "Sessions workload",
            Chapter::Queries => "Queries",
            Chapter::Query => "Query",
            Chapter::Tables => "Tables access",
            Chapter::Indexes => "Indexes access",
            Chapter::DataSize => "Data size",
            Chapter::Server => "Server",
        }
    }

    /// What the developer profile (no `settings:read`) may read: sessions and queries only.
    pub fn for_developers(self) -> bool {
        matches!(self, Chapter::General | Chapter::Sessions | Chapter::Queries | Chapter::Query)
    }
}

/// Parses Datasentinel's `sections` into chapters; unknown names are a 400 listing the known.
pub fn chapters_of_sections(names: &[String]) -> Result<Vec<Chapter>, ReportError> {
    let mut out = vec![Chapter::General];
    for name in names {
        let chapters = Chapter::of_section(name.trim()).ok_or_else(|| {
            ReportError::Invalid(format!(
                "invalid section {name:?} in \"sections\": expected {}",
                Chapter::SECTION_NAMES.join(", ")
            ))
        })?;
        out.extend_from_slice(chapters);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub fn chapters_of_kind(kind: ReportKind) -> &'static [Chapter] {
    use Chapter::*;
    match kind {
        ReportKind::Full | ReportKind::Workload => {
            &[General, Workload, TempFiles, Rows, Sessions, Queries, Tables, Indexes, DataSize]
        }
        ReportKind::SessionHistory => &[General, Sessions],
        ReportKind::TopQueries => &[General, Queries],
        ReportKind::Table => &[General, Rows, Tables, Indexes],
        ReportKind::Instance => &[General, Workload, TempFiles, Rows, DataSize],
        ReportKind::Server => &[General, Server],
        ReportKind::Query => &[General, Query],
        ReportKind::DataSize => &[General, DataSize],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_map_to_chapters_and_unknown_ones_are_named() {
        let names: Vec<String> = ["top_queries", "sessions_workload"].iter().map(|s| s.to_string()).collect();
        assert_eq!(chapters_of_sections(&names).unwrap(), [Chapter::General, Chapter::Sessions, Chapter::Queries]);
        let err = chapters_of_sections(&["top_stuff".into()]).unwrap_err().to_string();
        assert!(err.contains("top_stuff") && err.contains("top_segments"), "{err}");
    }
}
