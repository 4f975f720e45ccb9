//! The document form (`render-document`, world 0.1.1): every table of a report in one CSV.
//!
//! Layout (RFC 4180, CRLF, UTF-8 without BOM), chosen so a spreadsheet shows each table as a
//! block under a one-cell title and a program can split the file on empty lines:
//!
//! ```text
//! # Workload report — pg-sales@db1:5432 — 2026-11-29T23:00:00.000Z to 2026-11-30T23:00:00.000Z
//!
//! # 4.1 By total time — Statements (top 20 of 143 by total time)
//! Query,Calls,Total (ms),Share (%)
//! "SELECT a, b
//!   FROM t",1204,5120.25,12.5
//!
//! ```
//!
//! - A title record is a single field starting with `#`: the section number and title, the table
//!   title after ` — `, the table's note in parentheses.
//! - The header row holds the column titles, with the unit in parentheses: the column's own, or
//!   for unit-less columns the one its values are written in: `(ms)` for durations, `(bytes)`,
//!   `(%)` for percentages, `(UTC)` for timestamps.
//! - Values are exact, never the human formatting of the other reporters: integers as integers,
//!   numbers with full (shortest round-trip) precision, bytes as whole numbers, durations as
//!   milliseconds, timestamps as RFC 3339 UTC; an empty cell stays empty.
//! - A facts block (label/value pairs, e.g. the inventory) becomes a table with header
//!   `label,value`. Paragraphs and charts are left out: their figures are in the tables.

use crate::push_record;
use vigia_sdk::report::{Block, Cell, Column, ColumnKind, Document, Section, Table};
use vigia_sdk::time::format_ms;
use vigia_sdk::{PluginError, Rendered};

/// The one document format this reporter produces (the manifest's `formats`).
pub const FORMAT: &str = "csv";

/// `render-document`: all tables as `text/csv`, named after the document's file stem.
pub fn render_document(document: &Document, format: &str) -> Result<Rendered, PluginError> {
    if format != FORMAT {
        return Err(PluginError::permanent(format_args!(
            "the csv reporter cannot render format `{format}`; it renders `{FORMAT}` only"
        )));
    }
    Ok(Rendered {
        content_type: "text/csv; charset=utf-8".into(),
        filename: format!("{}.csv", document.file_stem),
        bytes: to_csv(document).into_bytes(),
    })
}

/// The whole file: a record naming the report, then one block per table or facts list.
pub fn to_csv(doc: &Document) -> String {
    let mut out = String::new();
    let mut title = format!("# {}", doc.title);
    if !doc.subject.is_empty() {
        title.push_str(&format!(" — {}", doc.subject));
    }
    title.push_str(&format!(" — {} to {}", format_ms(doc.from_ms), format_ms(doc.to_ms)));
    push_record(&mut out, &[&title]);
    out.push_str("\r\n");
    for section in &doc.sections {
        for block in &section.blocks {
            match block {
                Block::Table(table) => push_table(&mut out, section, table),
                Block::Facts(facts) => push_facts(&mut out, section, facts),
                Block::Paragraph(_) | Block::Chart(_) => {}
            }
        }
    }
    out
}

/// `# 4.1 By total time — Statements (top 20 of 143)`.
fn block_title(section: &Section, table_title: &str, note: Option<&str>) -> String {
    let mut title = String::from("#");
    for part in [section.number.as_str(), section.title.as_str()].into_iter().filter(|p| !p.is_empty()) {
        title.push(' ');
        title.push_str(part);
    }
    if !table_title.is_empty() {
        title.push_str(" — ");
        title.push_str(table_title);
    }
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        title.push_str(&format!(" ({note})"));
    }
    title
}

fn push_table(out: &mut String, section: &Section, table: &Table) {
    push_record(out, &[&block_title(section, &table.title, table.note.as_deref())]);
    let header: Vec<String> = table.columns.iter().map(column_header).collect();
    push_record(out, &header.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &table.rows {
        let fields: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| exact(cell, table.columns.get(i).map_or(ColumnKind::Text, |c| c.kind)))
            .collect();
        push_record(out, &fields.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out.push_str("\r\n");
}

fn push_facts(out: &mut String, section: &Section, facts: &[(String, String)]) {
    push_record(out, &[&block_title(section, "", None)]);
    push_record(out, &["label", "value"]);
    for (label, value) in facts {
        push_record(out, &[&inert(label), &inert(value)]);
    }
    out.push_str("\r\n");
}

/// `Total (ms)`: the column's unit, or the unit its values are written in.
fn column_header(column: &Column) -> String {
    let unit = match column.kind {
        _ if !column.unit.is_empty() => column.unit.as_str(),
        ColumnKind::DurationMs => "ms",
        ColumnKind::Bytes => "bytes",
        ColumnKind::Percent => "%",
        ColumnKind::Timestamp => "UTC",
        ColumnKind::Text | ColumnKind::Integer | ColumnKind::Number | ColumnKind::Code => "",
    };
    if unit.is_empty() {
        column.title.clone()
    } else {
        format!("{} ({unit})", column.title)
    }
}

/// Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first: a table named
/// `=HYPERLINK(…)`, a query starting with `-- `) gets a leading `'`, which spreadsheets show as
/// text (OWASP's advice against CSV injection). Numbers are written as numbers, never touched.
fn inert(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_owned(),
    }
}

/// A cell's exact value for its column.
fn exact(cell: &Cell, kind: ColumnKind) -> String {
    match (cell, kind) {
        (Cell::None, _) => String::new(),
        (Cell::Text(text), _) => inert(text),
        (Cell::Integer(ms), ColumnKind::Timestamp) => format_ms(*ms),
        (Cell::Integer(i), _) => i.to_string(),
        (Cell::Number(n), _) if !n.is_finite() => String::new(),
        (Cell::Number(ms), ColumnKind::Timestamp) => format_ms(ms.round() as i64),
        (Cell::Number(bytes), ColumnKind::Bytes) => format!("{}", bytes.round()),
        // f64's Display is the shortest text that reads back as the same number, never exponential.
        (Cell::Number(n), _) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(title: &str, kind: ColumnKind, unit: &str) -> Column {
        Column { title: title.into(), kind, unit: unit.into() }
    }

    fn document(sections: Vec<Section>) -> Document {
        Document {
            title: "Workload report".into(),
            subject: "pg-sales@db1:5432".into(),
            generated_at_ms: 1_795_993_200_000 + 86_400_000,
            from_ms: 1_795_993_200_000,
            to_ms: 1_795_993_200_000 + 86_400_000,
            time_zone: "Europe/Madrid".into(),
            utc_offset_minutes: 60,
            filters: vec!["env = prod".into()],
            sections,
            file_stem: "workload-pg-sales".into(),
        }
    }

    fn section(number: &str, title: &str, blocks: Vec<Block>) -> Section {
        Section { number: number.into(), title: title.into(), level: 2, blocks }
    }

    fn statements() -> Table {
        Table {
            title: "Statements".into(),
            columns: vec![
                column("Query", ColumnKind::Code, ""),
                column("Calls", ColumnKind::Integer, ""),
                column("Total", ColumnKind::DurationMs, ""),
                column("Rate", ColumnKind::Number, "calls/s"),
                column("Share", ColumnKind::Percent, ""),
                column("Temp", ColumnKind::Bytes, ""),
                column("Last seen", ColumnKind::Timestamp, ""),
            ],
            rows: vec![vec![
                Cell::Text("SELECT a, \"b\"\n  FROM t\r\n WHERE c = 'x,y'".into()),
                Cell::Integer(1_234_567_890_123),
                Cell::Number(5_120.256_789_012_345),
                Cell::Number(0.1 + 0.2),
                Cell::Number(12.5),
                Cell::Number(1_073_741_824.0),
                Cell::Integer(1_795_993_200_123),
            ]],
            note: Some("top 1 of 143 by total time".into()),
        }
    }

    fn csv(sections: Vec<Section>) -> String {
        let rendered = render_document(&document(sections), "csv").expect("renders");
        assert_eq!(rendered.content_type, "text/csv; charset=utf-8");
        assert_eq!(rendered.filename, "workload-pg-sales.csv");
        String::from_utf8(rendered.bytes).expect("utf-8")
    }

    #[test]
    fn a_table_is_a_titled_block_of_exact_values() {
        let out = csv(vec![section("4.1", "By total time", vec![Block::Table(statements())])]);
        assert_eq!(
            out,
            "# Workload report — pg-sales@db1:5432 — 2026-11-29T23:00:00.000Z to 2026-11-30T23:00:00.000Z\r\n\
             \r\n\
             # 4.1 By total time — Statements (top 1 of 143 by total time)\r\n\
             Query,Calls,Total (ms),Rate (calls/s),Share (%),Temp (bytes),Last seen (UTC)\r\n\
             \"SELECT a, \"\"b\"\"\n  FROM t\r\n WHERE c = 'x,y'\",1234567890123,5120.256789012345,\
             0.30000000000000004,12.5,1073741824,2026-11-29T23:00:00.123Z\r\n\
             \r\n"
        );
    }

    #[test]
    fn facts_become_label_value_tables_and_charts_and_prose_are_skipped() {
        let blocks = vec![
            Block::Paragraph("Prose".into()),
            Block::Facts(vec![("Server".into(), "PostgreSQL 16.4, x86_64".into())]),
            Block::Table(Table {
                title: String::new(),
                columns: vec![column("Lock", ColumnKind::Text, "")],
                rows: vec![],
                note: None,
            }),
        ];
        let out = csv(vec![section("8", "Inventory", blocks)]);
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).expect("a title record");
        assert_eq!(
            body,
            "# 8 Inventory\r\nlabel,value\r\nServer,\"PostgreSQL 16.4, x86_64\"\r\n\r\n# 8 Inventory\r\nLock\r\n\r\n"
        );
    }

    #[test]
    fn odd_cells_stay_readable() {
        assert_eq!(exact(&Cell::Number(f64::NAN), ColumnKind::Number), "");
        assert_eq!(exact(&Cell::Number(3.0), ColumnKind::Number), "3");
        assert_eq!(exact(&Cell::Number(1536.4), ColumnKind::Bytes), "1536");
        assert_eq!(exact(&Cell::Number(-0.25), ColumnKind::DurationMs), "-0.25");
        assert_eq!(exact(&Cell::Text("=1+1".into()), ColumnKind::Integer), "'=1+1");
        assert_eq!(exact(&Cell::Text("-- note\nSELECT 1".into()), ColumnKind::Code), "'-- note\nSELECT 1");
        assert_eq!(exact(&Cell::Text("@SUM(A1)".into()), ColumnKind::Text), "'@SUM(A1)");
        assert_eq!(exact(&Cell::Text("SELECT -1".into()), ColumnKind::Code), "SELECT -1");
        assert_eq!(exact(&Cell::Integer(-5), ColumnKind::Integer), "-5");
        assert_eq!(exact(&Cell::None, ColumnKind::Timestamp), "");
    }

    #[test]
    fn other_formats_are_refused_by_name() {
        let err = render_document(&document(vec![]), "html").expect_err("refused");
        assert!(err.message.contains("`html`") && err.message.contains("`csv`"), "{}", err.message);
    }
}
