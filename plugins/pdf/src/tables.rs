//! Tables: columns sized to their content, numbers right-aligned, zebra rows, a header row
//! repeated on every page the table runs onto, and code cells wrapped in full (never cut, so a
//! query's text can be searched in the PDF).

use crate::blocks::remark;
use crate::canvas::Style;
use crate::fonts::FontId;
use crate::layout::Layout;
use crate::style::*;
use crate::text::{fit, wrap, wrap_code};
use vigia_sdk::report::{format_cell, is_numeric, Column, ColumnKind, Table};

mod widths;

/// Vertical padding inside a cell.
const PAD_Y: f32 = 2.6;
/// Fewest lines of a tall row worth starting at the bottom of a page.
const MIN_SLICE_LINES: usize = 4;
/// Header lines kept before a header is cut.
const MAX_HEADER_LINES: usize = 3;

/// The sizes one table is set in: smaller type when it has many columns.
#[derive(Debug, Clone, Copy)]
struct Metrics {
    size: f32,
    leading: f32,
    /// Horizontal padding inside a cell.
    pad: f32,
}

impl Metrics {
    /// The starting size for a table of `count` columns, before checking that its cells fit.
    fn for_columns(count: usize) -> Metrics {
        let size = match count {
            0..=5 => 8.0,
            6..=8 => 7.4,
            9..=11 => 6.7,
            _ => 6.2,
        };
        Metrics { size, leading: size * 1.3, pad: if count > 8 { 3.0 } else { 4.0 } }
    }

    fn resized(self, size: f32) -> Metrics {
        Metrics { size, leading: size * 1.3, ..self }
    }

    fn style(self, column: &Column) -> Style {
        match column.kind {
            // Mono runs wider than Sans; a touch smaller keeps code columns from dominating.
            ColumnKind::Code => Style::new(FontId::Mono, self.size * 0.94, TEXT),
            _ => Style::new(FontId::Regular, self.size, TEXT),
        }
    }

    fn header_style(self) -> Style {
        Style::new(FontId::Bold, self.size, ACCENT)
    }
}

/// A table block: title, header, rows (or a remark when empty), note.
pub fn table(layout: &mut Layout, table: &Table) {
    let texts = cell_texts(table, layout.cx.offset_minutes);
    let metrics = Metrics::for_columns(table.columns.len());
    let metrics = metrics.resized(widths::fitting_size(&layout.cx, table, &texts, metrics.size, metrics.pad));
    if !table.title.is_empty() {
        // Keep the title with the header and the first rows.
        layout.ensure(CAPTION_SIZE * 1.6 + 4.0 * metrics.leading + 20.0);
        let style = Style::new(FontId::Bold, CAPTION_SIZE, TEXT);
        layout.line(style, MARGIN_X, CAPTION_SIZE * 1.6, table.title.clone());
    }
    if table.rows.is_empty() || table.columns.is_empty() {
        remark(layout, "No data for this period.");
    } else {
        let widths = widths::columns(&layout.cx, table, &texts, metrics.size, metrics.pad);
        Grid { table, metrics, widths: &widths }.draw(layout, &texts);
    }
    if let Some(note) = table.note.as_deref().filter(|n| !n.trim().is_empty()) {
        let style = Style::new(FontId::Regular, NOTE_SIZE, MUTED).oblique();
        layout.y += 3.0;
        for line in wrap(layout.cx.font(style.font), NOTE_SIZE, note, BODY_W) {
            layout.line(style, MARGIN_X, NOTE_SIZE * 1.4, line);
        }
    }
    layout.y += BLOCK_GAP;
}

/// Every cell formatted once, row by row (rows may be shorter than the header: blanks).
fn cell_texts(table: &Table, offset_minutes: i32) -> Vec<Vec<String>> {
    let format = |(column, cell): (&Column, &vigia_sdk::report::Cell)| format_cell(cell, column.kind, offset_minutes);
    table.rows.iter().map(|row| table.columns.iter().zip(row).map(format).collect()).collect()
}

/// A column's header text: its title, and its unit when it has one.
pub(crate) fn header_text(column: &Column) -> String {
    if column.unit.trim().is_empty() {
        column.title.clone()
    } else {
        format!("{} ({})", column.title, column.unit)
    }
}

/// One table being drawn with its column widths fixed.
struct Grid<'t> {
    table: &'t Table,
    metrics: Metrics,
    widths: &'t [f32],
}

impl Grid<'_> {
    fn draw(&self, layout: &mut Layout, texts: &[Vec<String>]) {
        let header = self.header_lines(layout);
        let header_h = self.block_height(header.iter().map(Vec::len).max().unwrap_or(1));
        self.draw_header(layout, &header, header_h);
        for (index, row) in texts.iter().enumerate() {
            let lines = self.row_lines(layout, row);
            self.draw_row(layout, &lines, index % 2 == 1, (&header, header_h));
        }
        let bottom = layout.y;
        layout.page().hrule(MARGIN_X, MARGIN_X + self.total_width(), bottom, 0.6, RULE);
    }

    fn total_width(&self) -> f32 {
        self.widths.iter().sum()
    }

    fn block_height(&self, lines: usize) -> f32 {
        lines as f32 * self.metrics.leading + 2.0 * PAD_Y
    }

    fn header_lines(&self, layout: &Layout) -> Vec<Vec<String>> {
        let style = self.metrics.header_style();
        let font = layout.cx.font(style.font);
        let cut = |(column, width): (&Column, &f32)| {
            let mut lines = wrap(font, style.size, &header_text(column), width - 2.0 * self.metrics.pad);
            if lines.len() > MAX_HEADER_LINES {
                let rest = lines.split_off(MAX_HEADER_LINES - 1).join(" ");
                lines.push(fit(font, style.size, &rest, width - 2.0 * self.metrics.pad));
            }
            lines
        };
        self.table.columns.iter().zip(self.widths).map(cut).collect()
    }

    /// The lines of each cell of a row: code wrapped in full, everything else on one line.
    fn row_lines(&self, layout: &Layout, row: &[String]) -> Vec<Vec<String>> {
        let cells = self.table.columns.iter().zip(self.widths).zip(row);
        let lines = |((column, width), text): ((&Column, &f32), &String)| {
            let style = self.metrics.style(column);
            let font = layout.cx.font(style.font);
            match column.kind {
                ColumnKind::Code => wrap_code(font, style.size, text, width - 2.0 * self.metrics.pad),
                _ => vec![fit(font, style.size, text, width - 2.0 * self.metrics.pad)],
            }
        };
        cells.map(lines).collect()
    }

    fn draw_header(&self, layout: &mut Layout, header: &[Vec<String>], height: f32) {
        let top = layout.y;
        let style = self.metrics.header_style();
        let total = self.total_width();
        let page = layout.page();
        page.rect(MARGIN_X, top, total, height, ACCENT_LIGHT);
        page.hrule(MARGIN_X, MARGIN_X + total, top + height, 0.8, ACCENT);
        let mut x = MARGIN_X;
        for ((column, width), lines) in self.table.columns.iter().zip(self.widths).zip(header) {
            for (i, line) in lines.iter().enumerate() {
                let baseline = top + PAD_Y + i as f32 * self.metrics.leading + style.size;
                let text_w = layout.cx.width(style, line);
                let left = align(column, x, *width, text_w, self.metrics.pad);
                layout.page().text(style, left, baseline, line.clone());
            }
            x += width;
        }
        layout.y += height;
    }

    /// Draws a row, on the next page (below a repeated header) when it does not fit here, or in
    /// slices across pages when it is taller than a page.
    fn draw_row(&self, layout: &mut Layout, lines: &[Vec<String>], zebra: bool, header: (&[Vec<String>], f32)) {
        let count = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let full_page = BODY_BOTTOM - BODY_TOP - header.1;
        let mut start = 0;
        while start < count {
            let fitting = ((layout.room() - 2.0 * PAD_Y) / self.metrics.leading).floor().max(0.0) as usize;
            // A short row moves whole to the next page; a tall one (a long query) is split
            // rather than leave a large gap, as long as a few of its lines fit here.
            let short = self.block_height(count) <= full_page / 4.0;
            let move_whole = start == 0 && fitting < count && (short || fitting < MIN_SLICE_LINES);
            if fitting == 0 || move_whole {
                layout.new_page();
                self.draw_header(layout, header.0, header.1);
                continue;
            }
            let end = count.min(start + fitting);
            self.draw_slice(layout, lines, start..end, zebra);
            start = end;
        }
    }

    fn draw_slice(&self, layout: &mut Layout, lines: &[Vec<String>], range: std::ops::Range<usize>, zebra: bool) {
        let top = layout.y;
        let height = self.block_height(range.len());
        if zebra {
            let total = self.total_width();
            layout.page().rect(MARGIN_X, top, total, height, ZEBRA);
        }
        let mut x = MARGIN_X;
        for ((column, width), cell) in self.table.columns.iter().zip(self.widths).zip(lines) {
            let style = self.metrics.style(column);
            let visible = cell.iter().enumerate().skip(range.start).take(range.len());
            for (i, line) in visible {
                let baseline = top + PAD_Y + (i - range.start) as f32 * self.metrics.leading + self.metrics.size;
                let left = align(column, x, *width, layout.cx.width(style, line), self.metrics.pad);
                layout.page().text(style, left, baseline, line.clone());
            }
            x += width;
        }
        layout.y += height;
    }
}

/// Where text of width `text_w` starts in a column: right-aligned for numbers.
fn align(column: &Column, x: f32, width: f32, text_w: f32, pad: f32) -> f32 {
    if is_numeric(column.kind) {
        x + width - pad - text_w
    } else {
        x + pad
    }
}
