//! Tables and facts: typed columns formatted by the SDK's shared helpers, numbers right-aligned,
//! query text in full, monospaced and wrapped.

use crate::escape::Html;
use vigia_sdk::report::{format_cell, is_numeric, Cell, Column, ColumnKind, Table};

/// What an empty table says instead of an empty grid.
pub const EMPTY: &str = "No data for this period.";

/// A titled table, its note, or the empty-period notice.
pub fn table(out: &mut Html, table: &Table, offset_minutes: i32) {
    if !table.title.is_empty() {
        out.raw("<h4 class=\"block-title\">").text(&table.title).raw("</h4>\n");
    }
    if table.rows.is_empty() {
        out.raw("<p class=\"empty\">").raw(EMPTY).raw("</p>\n");
    } else {
        // Query text needs every pixel; a few short columns read better close together.
        let full = table.columns.len() > 4 || table.columns.iter().any(|c| c.kind == ColumnKind::Code);
        out.raw(if full { "<table class=\"full\">\n" } else { "<table>\n" });
        head(out, &table.columns);
        out.raw("<tbody>\n");
        for row in &table.rows {
            body_row(out, &table.columns, row, offset_minutes);
        }
        out.raw("</tbody>\n</table>\n");
    }
    if let Some(note) = table.note.as_deref().filter(|n| !n.is_empty()) {
        out.raw("<p class=\"note\">").text(note).raw("</p>\n");
    }
}

fn head(out: &mut Html, columns: &[Column]) {
    out.raw("<thead><tr>");
    for column in columns {
        out.raw(if is_numeric(column.kind) { "<th scope=\"col\" class=\"r\">" } else { "<th scope=\"col\">" });
        out.text(&column.title);
        if !column.unit.is_empty() {
            out.raw("<span class=\"unit\">").text(&column.unit).raw("</span>");
        }
        out.raw("</th>");
    }
    out.raw("</tr></thead>\n");
}

/// One row; a row shorter than the header is padded so the grid stays whole, and cells beyond
/// the header are shown as text rather than dropped.
fn body_row(out: &mut Html, columns: &[Column], row: &[Cell], offset_minutes: i32) {
    out.raw("<tr>");
    for i in 0..row.len().max(columns.len()) {
        let kind = columns.get(i).map_or(ColumnKind::Text, |c| c.kind);
        out.raw(match kind {
            ColumnKind::Code => "<td class=\"code\">",
            k if is_numeric(k) => "<td class=\"r\">",
            _ => "<td>",
        });
        if let Some(cell) = row.get(i) {
            out.text(&format_cell(cell, kind, offset_minutes));
        }
        out.raw("</td>");
    }
    out.raw("</tr>\n");
}

/// Label/value pairs as a two-column definition list.
pub fn facts(out: &mut Html, facts: &[(String, String)]) {
    if facts.is_empty() {
        return;
    }
    out.raw("<dl class=\"facts\">\n");
    for (label, value) in facts {
        out.raw("<dt>").text(label).raw("</dt><dd>").text(value).raw("</dd>\n");
    }
    out.raw("</dl>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(title: &str, kind: ColumnKind, unit: &str) -> Column {
        Column { title: title.into(), kind, unit: unit.into() }
    }

    #[test]
    fn numbers_right_code_in_full_and_escaped() {
        let t = Table {
            title: "Top <queries>".into(),
            columns: vec![column("Query", ColumnKind::Code, ""), column("Calls", ColumnKind::Integer, "calls")],
            rows: vec![vec![Cell::Text("SELECT 1\n  WHERE a < b".into()), Cell::Integer(1_234_567)], vec![Cell::None]],
            note: Some("top 1 of 2".into()),
        };
        let mut out = Html::default();
        table(&mut out, &t, 0);
        let html = out.into_string();
        assert!(html.contains("<h4 class=\"block-title\">Top &lt;queries&gt;</h4>"), "{html}");
        assert!(html.contains("<th scope=\"col\" class=\"r\">Calls<span class=\"unit\">calls</span></th>"));
        assert!(html.contains("<td class=\"code\">SELECT 1\n  WHERE a &lt; b</td><td class=\"r\">1,234,567</td>"));
        assert!(html.contains("<tr><td class=\"code\"></td><td class=\"r\"></td></tr>"), "short rows are padded");
        assert!(html.contains("<p class=\"note\">top 1 of 2</p>"));
    }

    #[test]
    fn an_empty_table_says_so() {
        let t = Table {
            title: "Locks".into(),
            columns: vec![column("Lock", ColumnKind::Text, "")],
            rows: vec![],
            note: None,
        };
        let mut out = Html::default();
        table(&mut out, &t, 0);
        let html = out.into_string();
        assert!(html.contains(EMPTY) && !html.contains("<table"), "{html}");
    }
}
