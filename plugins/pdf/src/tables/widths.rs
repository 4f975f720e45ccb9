//! Column widths: every column gets room for its content when the page allows; otherwise long
//! headers wrap first, then the widest cells are cut, while code columns take the rest (they
//! wrap, so any width shows them in full).

use super::header_text;
use crate::canvas::Style;
use crate::fonts::FontId;
use crate::layout::Context;
use crate::style::{BODY_W, TEXT};
use vigia_sdk::report::{is_numeric, ColumnKind, Table};

/// Narrowest a code column gets while other columns compete for room.
const CODE_MIN: f32 = BODY_W * 0.34;
/// Cells are never cut narrower than this (plus padding) to save room for others.
const CELL_MIN: f32 = 46.0;

/// How wide one column would like to be.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wants {
    /// Header on one line, every cell whole.
    preferred: f32,
    /// Header wrapped at its words, every cell whole.
    wrapped: f32,
    /// Header wrapped, long cells cut.
    least: f32,
}

/// How much of a long text cell is worth shrinking a table's type for.
const TEXT_FIT: f32 = 90.0;
/// Smallest type a crowded table is set in.
const MIN_SIZE: f32 = 5.0;

/// The type size, at most `size`, at which every column shows its cells whole with headers
/// wrapped at words (code columns at their minimum, text up to `TEXT_FIT`), or `MIN_SIZE`.
pub fn fitting_size(cx: &Context, table: &Table, texts: &[Vec<String>], size: f32, pad: f32) -> f32 {
    let room = 2.0 * pad + 0.5;
    let (mut text_w, mut fixed) = (0.0, 0.0);
    for (j, column) in table.columns.iter().enumerate() {
        if column.kind == ColumnKind::Code {
            fixed += CODE_MIN;
        } else {
            let wants = measure(cx, table, texts, j, size, pad);
            // Long words may be cut rather than shrink the whole table; numbers may not.
            text_w += wants.wrapped.min(wants.least.max(TEXT_FIT + room)) - room;
            fixed += room;
        }
    }
    if text_w <= 0.0 || text_w + fixed <= BODY_W {
        return size;
    }
    // Text widths scale with the size; padding does not.
    let scaled = size * (BODY_W - fixed) / text_w;
    ((scaled * 10.0).floor() / 10.0).clamp(MIN_SIZE, size)
}

/// The widths of `table`'s columns, summing to the text block's width.
pub fn columns(cx: &Context, table: &Table, texts: &[Vec<String>], size: f32, pad: f32) -> Vec<f32> {
    let wants: Vec<Wants> = (0..table.columns.len()).map(|j| measure(cx, table, texts, j, size, pad)).collect();
    let is_code: Vec<bool> = table.columns.iter().map(|c| c.kind == ColumnKind::Code).collect();
    let code_least: f32 =
        wants.iter().zip(&is_code).filter(|(_, &code)| code).map(|(w, _)| w.preferred.min(CODE_MIN)).sum();
    let others: Vec<Wants> = wants.iter().zip(&is_code).filter(|(_, &code)| !code).map(|(w, _)| *w).collect();
    let mut other_widths = share(&others, BODY_W - code_least).into_iter();
    let mut widths: Vec<f32> =
        is_code.iter().map(|&code| if code { 0.0 } else { other_widths.next().unwrap_or(0.0) }).collect();
    let spare = BODY_W - widths.iter().sum::<f32>();
    let code_wants: Vec<f32> =
        wants.iter().zip(&is_code).map(|(w, &code)| if code { w.preferred } else { 0.0 }).collect();
    if is_code.contains(&true) {
        spread(&mut widths, &code_wants, spare);
    } else {
        let text_weights: Vec<f32> =
            table.columns.iter().zip(&widths).map(|(c, w)| if c.kind == ColumnKind::Text { *w } else { 0.0 }).collect();
        let weights = if text_weights.iter().sum::<f32>() > 0.0 { text_weights } else { vec![1.0; widths.len()] };
        spread(&mut widths, &weights, spare);
    }
    widths
}

/// Adds `extra` to `widths` in proportion to `weights`.
fn spread(widths: &mut [f32], weights: &[f32], extra: f32) {
    let total: f32 = weights.iter().sum();
    if total <= 0.0 || extra <= 0.0 {
        return;
    }
    for (width, weight) in widths.iter_mut().zip(weights) {
        *width += extra * weight / total;
    }
}

fn measure(cx: &Context, table: &Table, texts: &[Vec<String>], j: usize, size: f32, pad: f32) -> Wants {
    let column = &table.columns[j];
    let header = Style::new(FontId::Bold, size, TEXT);
    let title = header_text(column);
    let header_full = cx.width(header, &title);
    let header_word = title.split_whitespace().map(|w| cx.width(header, w)).fold(0.0, f32::max);
    let cell_font = if column.kind == ColumnKind::Code { FontId::Mono } else { FontId::Regular };
    let cell_style = Style::new(cell_font, size, TEXT);
    let widest_cell = texts
        .iter()
        .filter_map(|row| row.get(j))
        .flat_map(|text| text.lines())
        .map(|line| cx.width(cell_style, line))
        .fold(0.0, f32::max);
    let room = 2.0 * pad + 0.5;
    // A cut number is a wrong number: only words may end in an ellipsis.
    let cuttable = if is_numeric(column.kind) { widest_cell } else { widest_cell.min(CELL_MIN) };
    Wants {
        preferred: header_full.max(widest_cell) + room,
        wrapped: header_word.max(widest_cell) + room,
        least: header_word.max(cuttable) + room,
    }
}

/// Widths for columns that must share `budget`: all they prefer when it fits, then wrapped
/// headers, then the widest columns cut down first, and only as a last resort all shrunk alike.
fn share(wants: &[Wants], budget: f32) -> Vec<f32> {
    let sum = |f: fn(&Wants) -> f32| wants.iter().map(f).sum::<f32>();
    let (preferred, wrapped, least) = (sum(|w| w.preferred), sum(|w| w.wrapped), sum(|w| w.least));
    if preferred <= budget {
        return wants.iter().map(|w| w.preferred).collect();
    }
    if wrapped <= budget {
        let t = (budget - wrapped) / (preferred - wrapped);
        return wants.iter().map(|w| w.wrapped + (w.preferred - w.wrapped) * t).collect();
    }
    if least <= budget {
        let cap = water_level(wants, budget);
        return wants.iter().map(|w| w.wrapped.min(cap).max(w.least)).collect();
    }
    let scale = budget.max(0.0) / least;
    wants.iter().map(|w| w.least * scale).collect()
}

/// The cap on column width at which the capped columns just fill `budget` (bisection: the sum
/// grows with the cap).
fn water_level(wants: &[Wants], budget: f32) -> f32 {
    let filled = |cap: f32| wants.iter().map(|w| w.wrapped.min(cap).max(w.least)).sum::<f32>();
    let (mut low, mut high) = (0.0, BODY_W);
    for _ in 0..40 {
        let mid = (low + high) / 2.0;
        if filled(mid) > budget {
            high = mid;
        } else {
            low = mid;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(preferred: f32, wrapped: f32, least: f32) -> Wants {
        Wants { preferred, wrapped, least }
    }

    #[test]
    fn columns_get_what_they_prefer_when_it_fits() {
        let w = share(&[wants(100.0, 60.0, 40.0), wants(50.0, 50.0, 50.0)], 400.0);
        assert_eq!(w, vec![100.0, 50.0]);
    }

    #[test]
    fn the_widest_column_is_cut_first() {
        let w = share(&[wants(300.0, 300.0, 50.0), wants(80.0, 80.0, 50.0)], 200.0);
        assert!((w.iter().sum::<f32>() - 200.0).abs() < 0.1, "{w:?}");
        assert!((w[1] - 80.0).abs() < 0.1 && w[0] < 121.0, "{w:?}");
    }

    #[test]
    fn hopeless_tables_shrink_evenly() {
        let w = share(&[wants(100.0, 100.0, 100.0), wants(100.0, 100.0, 100.0)], 100.0);
        assert_eq!(w, vec![50.0, 50.0]);
    }
}
