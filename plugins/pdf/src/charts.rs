//! Charts as vector graphics: the shared frame (title, unit, value gridlines, legend) and
//! horizontal bar charts; stacked areas over time live in `area`.

use crate::blocks::remark;
use crate::canvas::Style;
use crate::fonts::FontId;
use crate::layout::Layout;
use crate::style::*;
use crate::text::fit;
use vigia_sdk::report::{format_number, nice_axis, Bar, Chart, ChartData, ValueAxis};

mod area;
mod ticks;

/// Height of the chart title and the unit line above the plot.
const HEADER_H: f32 = CAPTION_SIZE * 1.6 + 12.0;
const BAR_ROW: f32 = 14.0;
const BAR_H: f32 = 9.0;
const LEGEND_ROW: f32 = 12.0;
const AXIS_STYLE: Style = Style::new(FontId::Regular, 7.0, MUTED);

/// A chart block (never split across pages).
pub fn chart(layout: &mut Layout, chart: &Chart) {
    match &chart.data {
        ChartData::StackedArea(series) => area::draw(layout, chart, series),
        ChartData::Bars(bars) => draw_bars(layout, chart, bars),
    }
    layout.y += BLOCK_GAP;
}

/// About how tall a chart block is (its legend's rows are only known when laid out).
pub fn height(chart: &Chart) -> f32 {
    match &chart.data {
        ChartData::StackedArea(_) => HEADER_H + area::PLOT_H + 26.0 + LEGEND_ROW,
        ChartData::Bars(bars) => HEADER_H + bars.len() as f32 * BAR_ROW + 16.0,
    }
}

/// A series or bar colour exactly as given, grey when it is not `#rrggbb`.
fn color(text: &str) -> Color {
    Color::parse(text).unwrap_or(FALLBACK_SERIES)
}

/// The plot area of a chart and its value scale.
struct Frame {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    values: ValueAxis,
}

impl Frame {
    /// Fixes the value scale and narrows the plot to leave room for its labels on the left.
    fn set_values(&mut self, layout: &Layout, values: ValueAxis) {
        self.values = values;
        let widest = self.values.ticks().map(|v| layout.cx.width(AXIS_STYLE, &format_number(v))).fold(0.0, f32::max);
        self.x = MARGIN_X + widest + 6.0;
        self.w = BODY_W - widest - 6.0;
    }

    /// The page y of value `v` (clamped to the axis).
    fn y_of(&self, v: f64) -> f32 {
        let share = if self.values.top > 0.0 { (v / self.values.top).clamp(0.0, 1.0) } else { 0.0 };
        self.y + self.h - share as f32 * self.h
    }

    /// Horizontal gridlines with their values to the left.
    fn gridlines(&self, layout: &mut Layout) {
        for v in self.values.ticks() {
            let y = self.y_of(v);
            layout.page().hrule(self.x, self.x + self.w, y, 0.4, GRID);
            let label = format_number(v);
            let w = layout.cx.width(AXIS_STYLE, &label);
            layout.page().text(AXIS_STYLE, self.x - 5.0 - w, y + 2.5, label);
        }
    }

    fn baseline(&self, layout: &mut Layout) {
        layout.page().hrule(self.x, self.x + self.w, self.y + self.h, 0.7, RULE);
    }
}

/// Keeps the whole chart on one page, writes its title and unit, and returns the plot area
/// (`None`, after a remark, when there is no data).
fn plot_frame(layout: &mut Layout, chart: &Chart, total_h: f32, plot_h: f32, empty: bool) -> Option<Frame> {
    layout.ensure(if empty { HEADER_H + PARAGRAPH_LEADING } else { total_h });
    layout.line(Style::new(FontId::Bold, CAPTION_SIZE, TEXT), MARGIN_X, CAPTION_SIZE * 1.6, chart.title.clone());
    if empty {
        remark(layout, "No data for this period.");
        return None;
    }
    let unit_y = layout.y + 6.0;
    layout.page().text(AXIS_STYLE, MARGIN_X, unit_y, chart.unit.clone());
    layout.y += 12.0;
    Some(Frame { x: MARGIN_X, y: layout.y, w: BODY_W, h: plot_h, values: nice_axis(1.0, 1) })
}

/// Horizontal bars, largest first as given: labels on the left, values after each bar, a value
/// scale underneath.
fn draw_bars(layout: &mut Layout, chart: &Chart, bars: &[Bar]) {
    let total_h = HEADER_H + bars.len() as f32 * BAR_ROW + 16.0;
    let Some(mut frame) = plot_frame(layout, chart, total_h, bars.len() as f32 * BAR_ROW, bars.is_empty()) else {
        return;
    };
    let label_style = Style::new(FontId::Regular, 8.0, TEXT);
    let values: Vec<String> = bars.iter().map(|b| value_label(b.value, &chart.unit)).collect();
    let widest_label = bars.iter().map(|b| layout.cx.width(label_style, &b.label)).fold(0.0, f32::max);
    let label_w = widest_label.min(BODY_W * 0.36) + 10.0;
    let value_w = values.iter().map(|v| layout.cx.width(AXIS_STYLE, v)).fold(0.0, f32::max) + 8.0;
    let max = bars.iter().map(|b| b.value).filter(|v| v.is_finite()).fold(0.0, f64::max);
    frame.values = nice_axis(max, 5);
    (frame.x, frame.w) = (MARGIN_X + label_w, BODY_W - label_w - value_w);
    bar_scale(layout, &frame);
    for (i, (bar, value)) in bars.iter().zip(values).enumerate() {
        let top = frame.y + i as f32 * BAR_ROW + (BAR_ROW - BAR_H) / 2.0;
        let v = if bar.value.is_finite() { bar.value.max(0.0) } else { 0.0 };
        let w = (v / frame.values.top).min(1.0) as f32 * frame.w;
        layout.page().rect(frame.x, top, w, BAR_H, color(&bar.color));
        let label = fit(layout.cx.font(label_style.font), label_style.size, &bar.label, label_w - 10.0);
        layout.page().text(label_style, MARGIN_X, top + BAR_H - 1.2, label);
        layout.page().text(AXIS_STYLE, frame.x + w + 4.0, top + BAR_H - 1.5, value);
    }
    layout.y = frame.y + frame.h + 16.0;
}

/// Vertical gridlines with their values under the bars.
fn bar_scale(layout: &mut Layout, frame: &Frame) {
    let bottom = frame.y + frame.h;
    for v in frame.values.ticks() {
        let x = frame.x + (v / frame.values.top) as f32 * frame.w;
        layout.page().line((x, frame.y), (x, bottom), 0.4, GRID);
        let label = format_number(v);
        let w = layout.cx.width(AXIS_STYLE, &label);
        layout.page().text(AXIS_STYLE, x - w / 2.0, bottom + 10.0, label);
    }
    layout.page().line((frame.x, frame.y), (frame.x, bottom), 0.7, RULE);
}

/// A bar's value: percentages with one decimal, other measures with precision that shrinks as
/// they grow.
fn value_label(value: f64, unit: &str) -> String {
    if unit.trim_start().starts_with('%') {
        return format!("{value:.1} %");
    }
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 1.0 {
        1
    } else {
        3
    };
    let scale = 10f64.powi(digits);
    format_number((value * scale).round() / scale)
}

/// Height of a legend of `items` wrapped to the text block.
fn legend_height(layout: &Layout, items: &[(String, Color)]) -> f32 {
    legend_rows(layout, items).len() as f32 * LEGEND_ROW
}

/// Colour swatches with their labels, flowing in rows.
fn draw_legend(layout: &mut Layout, items: &[(String, Color)]) {
    let style = Style::new(FontId::Regular, 7.5, TEXT);
    for row in legend_rows(layout, items) {
        let top = layout.y;
        for (x, (label, color)) in row {
            layout.page().rect(x, top + 1.5, 7.0, 7.0, *color);
            layout.page().text(style, x + 10.0, top + 8.0, label.clone());
        }
        layout.y += LEGEND_ROW;
    }
}

/// Legend items placed in rows: (x of each item, item).
fn legend_rows<'i>(layout: &Layout, items: &'i [(String, Color)]) -> Vec<Vec<(f32, &'i (String, Color))>> {
    let style = Style::new(FontId::Regular, 7.5, TEXT);
    let mut rows: Vec<Vec<(f32, &(String, Color))>> = Vec::new();
    let mut x = BODY_W;
    for item in items {
        let w = 10.0 + layout.cx.width(style, &item.0) + 14.0;
        if x + w > BODY_W && x > 0.0 {
            rows.push(Vec::new());
            x = 0.0;
        }
        if let Some(row) = rows.last_mut() {
            row.push((MARGIN_X + x, item));
        }
        x += w;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_values_read_naturally() {
        assert_eq!(value_label(42.345, "% of total time"), "42.3 %");
        assert_eq!(value_label(1234.56, "calls/s"), "1,235");
        assert_eq!(value_label(12.34, "ms"), "12.3");
        assert_eq!(value_label(0.01234, "ms"), "0.012");
    }
}
