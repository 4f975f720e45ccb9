//! The one result shape of every workload endpoint: named columns (sorted, as Datasentinel's
//! answers are) and rows of cells, rendered to JSON (an array of objects) or CSV from the same
//! data, so the two outputs cannot disagree.

use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// One value. Strings shared by many rows (instance tags, interned names) are `Shared`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Absent: left out of the JSON object, empty in CSV.
    Null,
    Shared(Arc<str>),
    Text(String),
    Int(i64),
    Float(f64),
}

impl Cell {
    /// Whole numbers as integers (what counters are), others as floats.
    pub fn number(v: f64) -> Cell {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Cell::Int(v as i64)
        } else {
            Cell::Float(v)
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Shared(s) => neutralised(s),
            Cell::Text(s) => neutralised(s),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => f.to_string(),
        }
    }
}

/// Text as a spreadsheet cannot take for a formula: monitored clients choose what lands in text
/// cells (`application_name`, query text), so one starting with `=`, `+`, `-`, `@`, tab or CR
/// gets a leading `'` (OWASP's CSV injection advice). Numbers are numeric cells, never text.
fn neutralised(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_string(),
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<Arc<str>> for Cell {
    fn from(s: Arc<str>) -> Cell {
        Cell::Shared(s)
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Cell {
        Cell::Int(i)
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_none(),
            Cell::Shared(v) => s.serialize_str(v),
            Cell::Text(v) => s.serialize_str(v),
            Cell::Int(v) => s.serialize_i64(*v),
            Cell::Float(v) if v.is_finite() => s.serialize_f64(*v),
            Cell::Float(_) => s.serialize_none(),
        }
    }
}

/// Columns and rows; every row has one cell per column.
#[derive(Debug, Clone, Default)]
pub struct Table {
    columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these columns (sorted and deduplicated).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(columns: I) -> Table {
        let mut columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        columns.sort();
        columns.dedup();
        Table { columns, rows: Vec::new() }
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Index of a column, if the endpoint has it.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.columns.binary_search_by(|c| c.as_str().cmp(name)).ok()
    }

    /// Index of a column; panics on a name the endpoint did not declare (a programming error).
    pub fn col(&self, name: &str) -> usize {
        self.columns
            .binary_search_by(|c| c.as_str().cmp(name))
            .unwrap_or_else(|_| panic!("workload table has no column {name:?}"))
    }

    /// A row of `Null`s to fill in.
    pub fn blank(&self) -> Vec<Cell> {
        vec![Cell::Null; self.columns.len()]
    }

    pub fn set(&self, row: &mut [Cell], name: &str, cell: impl Into<Cell>) {
        row[self.col(name)] = cell.into();
    }

    /// Sorts rows by a numeric column, largest first, and keeps `limit` of them.
    pub fn top(&mut self, by: &str, limit: usize) {
        let i = self.col(by);
        self.rows.sort_by(|a, b| {
            let (x, y) = (a[i].as_f64().unwrap_or(f64::MIN), b[i].as_f64().unwrap_or(f64::MIN));
            y.total_cmp(&x)
        });
        self.rows.truncate(limit);
    }

    /// CSV with a header row; absent values are empty fields.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(&self.columns).expect("writing CSV to memory");
        for row in &self.rows {
            out.write_record(row.iter().map(Cell::csv)).expect("writing CSV to memory");
        }
        out.into_inner().expect("flushing CSV to memory")
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("cells serialize")
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in &self.rows {
            seq.serialize_element(&RowView { columns: &self.columns, row })?;
        }
        seq.end()
    }
}

struct RowView<'a> {
    columns: &'a [String],
    row: &'a [Cell],
}

impl Serialize for RowView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (name, cell) in self.columns.iter().zip(self.row) {
            if *cell != Cell::Null {
                map.serialize_entry(name, cell)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_come_from_the_same_rows() {
        let mut t = Table::new(["b", "a", "c"]);
        let mut r = t.blank();
        t.set(&mut r, "a", "x,y");
        t.set(&mut r, "b", Cell::number(2.0));
        t.rows.push(r);
        let mut r = t.blank();
        t.set(&mut r, "b", Cell::number(2.5));
        t.set(&mut r, "c", 7);
        t.rows.push(r);
        assert_eq!(String::from_utf8(t.to_json()).unwrap(), r#"[{"a":"x,y","b":2},{"b":2.5,"c":7}]"#);
        assert_eq!(String::from_utf8(t.to_csv()).unwrap(), "a,b,c\n\"x,y\",2,\n,2.5,7\n");
        let mut formulas = Table::new(["app", "n"]);
        for text in ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "psql = fine"] {
            let mut r = formulas.blank();
            formulas.set(&mut r, "app", text);
            formulas.set(&mut r, "n", -3);
            formulas.rows.push(r);
        }
        let csv = String::from_utf8(formulas.to_csv()).unwrap();
        assert_eq!(
            csv,
            "app,n\n\"'=HYPERLINK(\"\"http://x\"\")\",-3\n'+1,-3\n'-2,-3\n'@SUM(A1),-3\n'\tx,-3\n\"'\rx\",-3\npsql = fine,-3\n"
        );
        t.top("b", 1);
        assert_eq!(t.rows[0][t.col("b")], Cell::Float(2.5));
        assert_eq!(t.rows.len(), 1);
    }
}
