//! Stacked-area charts over time (active sessions by wait class): the series are resampled onto
//! one time grid no finer than the plot's resolution, stacked in list order, and drawn as filled
//! polygons over round-valued gridlines, with time ticks in the document's zone.

use super::ticks::time_axis;
use super::{draw_legend, legend_height, plot_frame, Frame};
use crate::canvas::Style;
use crate::fonts::FontId;
use crate::layout::Layout;
use crate::style::*;
use vigia_sdk::report::{nice_axis, Chart, TimeSeries};

pub const PLOT_H: f32 = 170.0;
/// Time grid columns per point of plot width: finer is invisible even in print.
const COLUMNS_PER_POINT: f32 = 1.5;

/// Series values on a shared time grid: `values[series][column]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Resampled {
    pub xs: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

/// Puts every series on the union of their timestamps within `from..=to` (a missing sample
/// counts 0: no session was seen waiting); more than `max_columns` timestamps are averaged
/// into equal time buckets, which keeps the area under each curve.
pub fn resample(series: &[TimeSeries], from: i64, to: i64, max_columns: usize) -> Resampled {
    let mut stamps: Vec<i64> =
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(|t| (from..=to).contains(t)).collect();
    stamps.sort_unstable();
    stamps.dedup();
    let max_columns = max_columns.max(2);
    let column_of = |t: i64| -> usize {
        if stamps.len() <= max_columns {
            stamps.binary_search(&t).unwrap_or(0)
        } else {
            let span = (to - from).max(1) as f64;
            (((t - from) as f64 / span * max_columns as f64) as usize).min(max_columns - 1)
        }
    };
    let columns = stamps.len().min(max_columns);
    let (mut xs, mut samples) = (vec![0.0; columns], vec![0usize; columns]);
    for &t in &stamps {
        let c = column_of(t);
        xs[c] += t as f64;
        samples[c] += 1;
    }
    let mut values = vec![vec![0.0; columns]; series.len()];
    for (s, one) in series.iter().enumerate() {
        for &(t, v) in one.points.iter().filter(|p| (from..=to).contains(&p.0)) {
            values[s][column_of(t)] += if v.is_finite() { v.max(0.0) } else { 0.0 };
        }
    }
    let keep: Vec<usize> = (0..columns).filter(|&c| samples[c] > 0).collect();
    Resampled {
        xs: keep.iter().map(|&c| xs[c] / samples[c] as f64).collect(),
        values: values.iter().map(|row| keep.iter().map(|&c| row[c] / samples[c] as f64).collect()).collect(),
    }
}

/// Draws the chart block, or a remark when there is nothing to draw.
pub fn draw(layout: &mut Layout, chart: &Chart, series: &[TimeSeries]) {
    let (from, to) = time_range(layout.cx.window, series);
    let legend_items: Vec<(String, Color)> = series.iter().map(|s| (s.label.clone(), super::color(&s.color))).collect();
    let legend_h = legend_height(layout, &legend_items);
    let total_h = super::HEADER_H + PLOT_H + 26.0 + legend_h;
    let empty = series.iter().all(|s| s.points.is_empty());
    let Some(mut frame) = plot_frame(layout, chart, total_h, PLOT_H, empty) else {
        return;
    };
    // The y labels' width is not known before the values are: resample for the widest plot.
    let grid = resample(series, from, to, (BODY_W * COLUMNS_PER_POINT) as usize);
    let totals: Vec<f64> = (0..grid.xs.len()).map(|c| grid.values.iter().map(|v| v[c]).sum()).collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    frame.set_values(layout, nice_axis(max, 5));
    frame.gridlines(layout);
    let x_of = |t: f64| frame.x + ((t - from as f64) / (to - from) as f64) as f32 * frame.w;
    areas(layout, &frame, &grid, series, &x_of);
    frame.baseline(layout);
    time_labels(layout, &frame, from, to, &x_of);
    layout.y = frame.y + frame.h + 26.0;
    draw_legend(layout, &legend_items);
}

/// The chart's time span: the document's window, or the data's when the window is empty.
fn time_range(window: (i64, i64), series: &[TimeSeries]) -> (i64, i64) {
    if window.1 > window.0 {
        return window;
    }
    let stamps = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (low, high) = stamps.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if low >= high {
        (low.min(high).saturating_sub(30_000), low.max(high).saturating_add(30_000))
    } else {
        (low, high)
    }
}

/// Cumulative areas drawn top series first, each from the axis up to its stack height: the
/// lower ones then paint over the upper ones' bottoms, so no hairline gaps show between bands.
fn areas(layout: &mut Layout, frame: &Frame, grid: &Resampled, series: &[TimeSeries], x_of: &dyn Fn(f64) -> f32) {
    let mut stacks: Vec<Vec<f64>> = Vec::with_capacity(grid.values.len());
    let mut running = vec![0.0; grid.xs.len()];
    for row in &grid.values {
        running.iter_mut().zip(row).for_each(|(sum, v)| *sum += v);
        stacks.push(running.clone());
    }
    let bottom = frame.y + frame.h;
    for (k, stack) in stacks.iter().enumerate().rev() {
        if grid.values[k].iter().all(|v| *v <= 0.0) {
            continue;
        }
        let mut points: Vec<(f32, f32)> = Vec::with_capacity(grid.xs.len() * 2 + 2);
        for (x, total) in grid.xs.iter().zip(stack) {
            let (px, py) = (x_of(*x), frame.y_of(*total));
            if grid.xs.len() == 1 {
                // A single sample still gets a visible sliver.
                points.extend([(px - 1.0, py), (px + 1.0, py)]);
            } else {
                points.push((px, py));
            }
        }
        let (first, last) = (points.first().map_or(frame.x, |p| p.0), points.last().map_or(frame.x, |p| p.0));
        points.extend([(last, bottom), (first, bottom)]);
        layout.page().polygon(points, super::color(&series[k].color));
    }
}

/// Tick marks and local-time labels under the plot, and which zone they are in.
fn time_labels(layout: &mut Layout, frame: &Frame, from: i64, to: i64, x_of: &dyn Fn(f64) -> f32) {
    let style = Style::new(FontId::Regular, 7.0, MUTED);
    let bottom = frame.y + frame.h;
    let ticks = time_axis(from, to, layout.cx.offset_minutes, (frame.w / 55.0) as usize);
    for tick in ticks {
        let x = x_of(tick.at_ms as f64);
        layout.page().line((x, bottom), (x, bottom + 3.0), 0.6, RULE);
        let w = layout.cx.width(style, &tick.label);
        layout.page().text(style, x - w / 2.0, bottom + 11.0, tick.label);
    }
    let caption = format!("time in {} ({})", layout.cx.zone, crate::cover::utc_offset(layout.cx.offset_minutes));
    let caption_style = Style::new(FontId::Regular, 6.5, MUTED);
    let w = layout.cx.width(caption_style, &caption);
    layout.page().text(caption_style, frame.x + frame.w - w, bottom + 21.0, caption);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: Vec<(i64, f64)>) -> TimeSeries {
        TimeSeries { label: "s".into(), color: "#000000".into(), points }
    }

    #[test]
    fn aligned_series_keep_their_samples() {
        let a = series(vec![(0, 1.0), (10, 2.0)]);
        let b = series(vec![(10, 5.0)]);
        let grid = resample(&[a, b], 0, 100, 50);
        assert_eq!(grid.xs, vec![0.0, 10.0]);
        assert_eq!(grid.values, vec![vec![1.0, 2.0], vec![0.0, 5.0]]);
    }

    #[test]
    fn dense_series_are_averaged_into_buckets() {
        let dense = series((0..1440).map(|m| (m * 60_000, if m % 2 == 0 { 2.0 } else { 4.0 })).collect());
        let grid = resample(&[dense], 0, 1439 * 60_000, 360);
        assert!(grid.xs.len() <= 360 && grid.xs.len() > 300, "{}", grid.xs.len());
        let mean: f64 = grid.values[0].iter().sum::<f64>() / grid.xs.len() as f64;
        assert!((mean - 3.0).abs() < 0.05, "the average survives resampling: {mean}");
    }

    #[test]
    fn points_outside_the_window_and_bad_values_are_dropped() {
        let s = series(vec![(-5, 9.0), (0, f64::NAN), (5, -1.0), (200, 9.0)]);
        let grid = resample(&[s], 0, 100, 10);
        assert_eq!(grid.values, vec![vec![0.0, 0.0]]);
    }
}
