//! Workload tables to report tables: each report table names the workload columns it shows, with
//! a title and a kind (so a reporter knows a size from a count from a query text); columns an
//! answer lacks stay empty. Tables whose columns are not known in advance (host metrics) infer
//! the kinds from the values.

use crate::plugins::document::{Cell as DocCell, Column, ColumnKind, Table as DocTable};
use crate::workload::{Cell, Table};

/// One shown column: the workload column it reads, its title, its kind.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub key: &'static str,
    pub title: &'static str,
    pub kind: ColumnKind,
}

pub const fn text(key: &'static str, title: &'static str) -> Col {
    Col { key, title, kind: ColumnKind::Text }
}

pub const fn count(key: &'static str, title: &'static str) -> Col {
    Col { key, title, kind: ColumnKind::Integer }
}

pub const fn bytes(key: &'static str, title: &'static str) -> Col {
    Col { key, title, kind: ColumnKind::Bytes }
}

pub const fn millis(key: &'static str, title: &'static str) -> Col {
    Col { key, title, kind: ColumnKind::DurationMs }
}

pub const fn code(key: &'static str, title: &'static str) -> Col {
    Col { key, title, kind: ColumnKind::Code }
}

/// A workload cell as a report cell.
pub fn cell(c: &Cell) -> DocCell {
    match c {
        Cell::Null => DocCell::None,
        Cell::Shared(s) => DocCell::Text(s.to_string()),
        Cell::Text(s) => DocCell::Text(s.clone()),
        Cell::Int(i) => DocCell::Integer(*i),
        Cell::Float(f) => DocCell::Number(*f),
    }
}

/// A workload cell as plain text (chart labels).
pub fn plain(c: &Cell) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Shared(s) => s.to_string(),
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => f.to_string(),
    }
}

pub fn column(title: &str, kind: ColumnKind) -> Column {
    Column { title: title.to_string(), kind, unit: String::new() }
}

/// The first `limit` rows of `source` through `cols`.
pub fn pick(title: &str, source: &Table, cols: &[Col], limit: usize) -> DocTable {
    let at: Vec<Option<usize>> = cols.iter().map(|c| source.find(c.key)).collect();
    let rows = source
        .rows
        .iter()
        .take(limit)
        .map(|row| at.iter().map(|i| i.map_or(DocCell::None, |i| cell(&row[i]))).collect())
        .collect();
    DocTable {
        title: title.to_string(),
        columns: cols.iter().map(|c| column(c.title, c.kind)).collect(),
        rows,
        note: truncated_note(source.rows.len(), limit),
    }
}

/// Every column of `source` (but `skip`), kinds inferred: numbers are counts when whole, else
/// measures; `*_bytes`/`*size*` columns are sizes.
pub fn all(title: &str, source: &Table, skip: &[&str], limit: usize) -> DocTable {
    let shown: Vec<usize> =
        (0..source.columns().len()).filter(|i| !skip.contains(&source.columns()[*i].as_str())).collect();
    let columns = shown.iter().map(|i| column(&source.columns()[*i], inferred(source, *i))).collect();
    let rows = source.rows.iter().take(limit).map(|row| shown.iter().map(|i| cell(&row[*i])).collect()).collect();
    DocTable { title: title.to_string(), columns, rows, note: truncated_note(source.rows.len(), limit) }
}

fn inferred(source: &Table, i: usize) -> ColumnKind {
    let name = source.columns()[i].as_str();
    let values = || source.rows.iter().map(|r| &r[i]).filter(|c| **c != Cell::Null);
    if values().all(|c| matches!(c, Cell::Int(_))) && values().next().is_some() {
        return if name.contains("bytes") || name.contains("size") { ColumnKind::Bytes } else { ColumnKind::Integer };
    }
    if values().all(|c| matches!(c, Cell::Int(_) | Cell::Float(_))) && values().next().is_some() {
        return ColumnKind::Number;
    }
    ColumnKind::Text
}

fn truncated_note(total: usize, limit: usize) -> Option<String> {
    (total > limit).then(|| format!("The first {limit} of {total} rows."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_columns_keep_their_kinds_and_missing_ones_stay_empty() {
        let mut t = Table::new(["database", "calls", "text"]);
        for (db, calls) in [("a", 3), ("b", 2), ("c", 1)] {
            let mut row = t.blank();
            t.set(&mut row, "database", db);
            t.set(&mut row, "calls", calls);
            t.rows.push(row);
        }
        let cols = [text("database", "Database"), count("calls", "Calls"), code("text", "Query"), count("nope", "X")];
        let doc = pick("Top", &t, &cols, 2);
        assert_eq!(doc.rows.len(), 2);
        assert_eq!(doc.rows[0], vec![DocCell::Text("a".into()), DocCell::Integer(3), DocCell::None, DocCell::None]);
        assert_eq!(doc.columns[2].kind, ColumnKind::Code);
        assert_eq!(doc.note.as_deref(), Some("The first 2 of 3 rows."));
        let inferred = all("All", &t, &["text"], 10);
        let kinds: Vec<ColumnKind> = inferred.columns.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [ColumnKind::Integer, ColumnKind::Text]);
        assert_eq!(inferred.note, None);
    }
}
