//! Charts as inline SVG: stacked areas over time and horizontal bars.
//!
//! Coordinates are rounded to a tenth of a unit of a fixed 1000-wide view box and each series is
//! a single `<path>`, which keeps a day of minute points for eight wait classes to a few hundred
//! kilobytes. Colours come from the document but pass [`safe_color`] first.

use crate::axis::time_ticks;
use crate::escape::{safe_color, Html};
use crate::tables::EMPTY;
use vigia_sdk::report::{format_number, nice_axis, Bar, Chart, TimeSeries, ValueAxis};

const WIDTH: f64 = 1000.0;
const AREA_HEIGHT: f64 = 300.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
const FALLBACK: &str = "#777777";

/// What a chart needs from the document: its window and clock.
pub struct Frame<'a> {
    pub from_ms: i64,
    pub to_ms: i64,
    pub offset_minutes: i32,
    pub zone: &'a str,
}

/// Series resampled onto one shared, sorted time axis (missing points are 0).
struct Grid {
    times: Vec<i64>,
    values: Vec<Vec<f64>>,
}

/// A stacked-area chart with time and value axes and a legend in the series' colours.
pub fn stacked_area(out: &mut Html, chart: &Chart, series: &[TimeSeries], frame: &Frame<'_>) {
    let caption = format!("{} · times in {}", chart.unit, frame.zone);
    open_figure(out, chart, caption.trim_start_matches(" · "));
    let grid = Grid::new(series);
    let (Some(&first), Some(&last)) = (grid.times.first(), grid.times.last()) else {
        out.raw("<p class=\"empty\">").raw(EMPTY).raw("</p>\n</figure>\n");
        return;
    };
    let (lo, hi) = (frame.from_ms.min(first), frame.to_ms.max(last));
    let hi = if hi > lo { hi } else { lo + 60_000 };
    let tops = grid.stacked();
    let peak = tops.last().map_or(0.0, |top| top.iter().copied().fold(0.0, f64::max));
    let values = nice_axis(peak, 5);
    let y_max = values.top;
    let x = |t: i64| LEFT + (t - lo) as f64 / (hi - lo) as f64 * (WIDTH - LEFT - RIGHT);
    let y = |v: f64| AREA_HEIGHT - BOTTOM - v / y_max * (AREA_HEIGHT - TOP - BOTTOM);
    out.fmt(format_args!("<svg viewBox=\"0 0 {WIDTH} {AREA_HEIGHT}\" role=\"img\" aria-label=\""));
    out.attr(&chart.title).raw("\">\n");
    value_gridlines(out, values, &y);
    time_axis(out, lo, hi, frame.offset_minutes, &x);
    let xs: Vec<f64> = grid.times.iter().map(|&t| x(t)).collect();
    let zeros = vec![0.0; xs.len()];
    for (k, s) in series.iter().enumerate() {
        let lower = if k == 0 { &zeros } else { &tops[k - 1] };
        area(out, s, &xs, lower, &tops[k], &y);
    }
    out.fmt(format_args!(
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\n</svg>\n",
        b = AREA_HEIGHT - BOTTOM,
        r = WIDTH - RIGHT
    ));
    legend(out, series, &grid.values);
    out.raw("</figure>\n");
}

fn open_figure(out: &mut Html, chart: &Chart, detail: &str) {
    out.raw("<figure class=\"chart\">\n<figcaption><span class=\"title\">").text(&chart.title);
    out.raw("</span><span class=\"unit\">").text(detail).raw("</span></figcaption>\n");
}

fn value_gridlines(out: &mut Html, values: ValueAxis, y: &dyn Fn(f64) -> f64) {
    for value in values.ticks() {
        let py = coord(y(value));
        out.fmt(format_args!("<line class=\"grid\" x1=\"{LEFT}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\"/>", WIDTH - RIGHT));
        out.fmt(format_args!("<text x=\"{}\" y=\"{py}\" dy=\"4\" text-anchor=\"end\">", LEFT - 8.0));
        out.text(&format_number(value)).raw("</text>\n");
    }
}

fn time_axis(out: &mut Html, lo: i64, hi: i64, offset_minutes: i32, x: &dyn Fn(i64) -> f64) {
    let base = AREA_HEIGHT - BOTTOM;
    // Nine ticks fit the view box's width and put a day at both midnights and every 3 h.
    for (t, label) in time_ticks(lo, hi, offset_minutes, 9) {
        let (xv, px) = (x(t), coord(x(t)));
        out.fmt(format_args!("<line class=\"axis\" x1=\"{px}\" y1=\"{base}\" x2=\"{px}\" y2=\"{}\"/>", base + 5.0));
        // Edge labels hang inwards so they are not clipped by the view box.
        let anchor = match xv {
            v if v < LEFT + 20.0 => "start",
            v if v > WIDTH - RIGHT - 20.0 => "end",
            _ => "middle",
        };
        out.fmt(format_args!("<text x=\"{px}\" y=\"{}\" text-anchor=\"{anchor}\">", base + 18.0));
        out.text(&label).raw("</text>\n");
    }
}

/// One series' band, between the stack below it and its own top, as a single closed path.
fn area(out: &mut Html, series: &TimeSeries, xs: &[f64], lower: &[f64], upper: &[f64], y: &dyn Fn(f64) -> f64) {
    if upper.iter().zip(lower).all(|(u, l)| u <= l) {
        return;
    }
    let top = xs.iter().zip(upper).map(|(&px, &v)| (px, y(v)));
    let bottom = xs.iter().zip(lower).rev().map(|(&px, &v)| (px, y(v)));
    let points = simplify(top.chain(bottom).map(|(px, py)| (tenths(px), tenths(py))).collect());
    let mut d = String::with_capacity(points.len() * 12);
    for (i, (px, py)) in points.iter().enumerate() {
        d.push_str(match i {
            0 => "M",
            1 => "L",
            _ => " ",
        });
        push_tenths(&mut d, *px);
        d.push(',');
        push_tenths(&mut d, *py);
    }
    d.push('Z');
    out.fmt(format_args!(
        "<path fill=\"{}\" fill-opacity=\"0.88\" d=\"{d}\"><title>",
        safe_color(&series.color, FALLBACK)
    ));
    out.text(&series.label).raw("</title></path>\n");
}

/// Drops repeated points and the middle of horizontal runs (idle series, the flat base of the
/// stack), which a browser would draw identically.
fn simplify(points: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut kept: Vec<(i64, i64)> = Vec::with_capacity(points.len());
    for (i, &p) in points.iter().enumerate() {
        if kept.last() == Some(&p) {
            continue;
        }
        let flat_before = kept.last().is_some_and(|prev| prev.1 == p.1);
        let flat_after = points.get(i + 1).is_some_and(|next| next.1 == p.1);
        if !(flat_before && flat_after) {
            kept.push(p);
        }
    }
    kept
}

fn legend(out: &mut Html, series: &[TimeSeries], values: &[Vec<f64>]) {
    out.raw("<ul class=\"legend\">\n");
    for (s, v) in series.iter().zip(values) {
        let avg = if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
        let peak = v.iter().copied().fold(0.0, f64::max);
        out.fmt(format_args!("<li><span class=\"sw\" style=\"background:{}\"></span>", safe_color(&s.color, FALLBACK)));
        out.text(&s.label).raw("<span class=\"stat\">avg ").text(&short(avg)).raw(" · peak ");
        out.text(&short(peak)).raw("</span></li>\n");
    }
    out.raw("</ul>\n");
}

/// Horizontal bars, in the order given, with their labels and values.
pub fn bars(out: &mut Html, chart: &Chart, bars: &[Bar]) {
    open_figure(out, chart, &chart.unit);
    if bars.is_empty() {
        out.raw("<p class=\"empty\">").raw(EMPTY).raw("</p>\n</figure>\n");
        return;
    }
    const ROW: f64 = 26.0;
    const LABEL_WIDTH: f64 = 300.0;
    const VALUE_WIDTH: f64 = 90.0;
    let height = ROW * bars.len() as f64 + 8.0;
    let max = bars.iter().map(|b| finite(b.value)).fold(0.0, f64::max);
    let scale = if max > 0.0 { (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / max } else { 0.0 };
    out.fmt(format_args!("<svg viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"")).attr(&chart.title);
    out.raw("\">\n");
    out.fmt(format_args!(
        "<line class=\"axis\" x1=\"{LABEL_WIDTH}\" y1=\"0\" x2=\"{LABEL_WIDTH}\" y2=\"{height}\"/>\n"
    ));
    for (i, bar) in bars.iter().enumerate() {
        let top = 4.0 + ROW * i as f64;
        let width = coord(finite(bar.value) * scale);
        out.raw("<g><title>").text(&bar.label).raw(": ").text(&format_number(bar.value)).raw("</title>");
        out.fmt(format_args!(
            "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">",
            LABEL_WIDTH - 8.0,
            top + 14.0
        ));
        out.text(&shorten(&bar.label, 40)).raw("</text>");
        out.fmt(format_args!(
            "<rect x=\"{LABEL_WIDTH}\" y=\"{}\" width=\"{width}\" height=\"16\" rx=\"2\" fill=\"{}\"/>",
            top + 2.0,
            safe_color(&bar.color, "#0969da")
        ));
        let value_x = coord(LABEL_WIDTH + finite(bar.value) * scale + 6.0);
        out.fmt(format_args!("<text class=\"value\" x=\"{value_x}\" y=\"{}\">", top + 14.0));
        out.text(&short(bar.value)).raw("</text></g>\n");
    }
    out.raw("</svg>\n</figure>\n");
}

impl Grid {
    /// The union of all timestamps, plus a zero point just inside each gap longer than three
    /// usual steps, so an outage reads as a drop instead of a line drawn across it.
    fn new(series: &[TimeSeries]) -> Grid {
        let mut times: Vec<i64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        times.sort_unstable();
        times.dedup();
        let times = with_gap_edges(times);
        let values = series.iter().map(|s| aligned(&s.points, &times)).collect();
        Grid { times, values }
    }

    /// The running sums: `tops[k]` is the top edge of series `k`'s band.
    fn stacked(&self) -> Vec<Vec<f64>> {
        let mut running = vec![0.0; self.times.len()];
        self.values
            .iter()
            .map(|v| {
                running.iter_mut().zip(v).for_each(|(r, x)| *r += x);
                running.clone()
            })
            .collect()
    }
}

fn with_gap_edges(times: Vec<i64>) -> Vec<i64> {
    let mut steps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_unstable();
    let Some(&step) = steps.get(steps.len() / 2) else { return times };
    let mut out = Vec::with_capacity(times.len());
    for (i, &t) in times.iter().enumerate() {
        if let Some(&prev) = i.checked_sub(1).and_then(|p| times.get(p)) {
            if t - prev > 3 * step {
                out.extend([prev + step, t - step]);
            }
        }
        out.push(t);
    }
    out
}

/// A series' values at `times` (sorted): its own point there, else 0; negative and non-finite
/// values count as 0 because a stack cannot show them.
fn aligned(points: &[(i64, f64)], times: &[i64]) -> Vec<f64> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.0);
    let mut j = 0;
    times
        .iter()
        .map(|&t| {
            while j < sorted.len() && sorted[j].0 < t {
                j += 1;
            }
            match sorted.get(j) {
                Some(&(pt, v)) if pt == t => finite(v),
                _ => 0.0,
            }
        })
        .collect()
}

fn finite(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v
    } else {
        0.0
    }
}

/// A value to about three significant digits (`52.3`, `9.51`, `1,234`): chart labels are read
/// at a glance; the tables carry the exact figures.
fn short(v: f64) -> String {
    let decimals = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        _ => 2,
    };
    let scale = 10f64.powi(decimals);
    format_number((v * scale).round() / scale)
}

fn shorten(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        return label.to_owned();
    }
    let mut short: String = label.chars().take(max_chars - 1).collect();
    short.push('…');
    short
}

fn tenths(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

fn push_tenths(out: &mut String, t: i64) {
    use std::fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = match t % 10 {
        0 => write!(out, "{}", t / 10),
        _ => write!(out, "{}{}.{}", if t < 0 { "-" } else { "" }, (t / 10).abs(), (t % 10).abs()),
    };
}

/// A coordinate with at most one decimal.
fn coord(v: f64) -> String {
    let mut s = String::new();
    push_tenths(&mut s, tenths(v));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_keep_one_decimal() {
        assert_eq!(coord(12.0), "12");
        assert_eq!(coord(12.345), "12.3");
        assert_eq!(coord(-0.44), "-0.4");
        assert_eq!(coord(-3.55), "-3.6");
    }

    #[test]
    fn chart_labels_are_short() {
        assert_eq!(short(27.526), "27.5");
        assert_eq!(short(9.509), "9.51");
        assert_eq!(short(1234.5), "1,235");
    }

    #[test]
    fn flat_runs_collapse() {
        let pts = vec![(0, 5), (1, 5), (2, 5), (3, 7), (3, 7), (4, 5)];
        assert_eq!(simplify(pts), vec![(0, 5), (2, 5), (3, 7), (4, 5)]);
    }

    #[test]
    fn gaps_fall_to_zero_and_missing_points_are_zero() {
        let a = TimeSeries {
            label: "a".into(),
            color: "#000000".into(),
            points: vec![(0, 1.0), (1, 1.0), (2, 1.0), (10, 1.0)],
        };
        let b = TimeSeries { label: "b".into(), color: "#000000".into(), points: vec![(1, 2.0)] };
        let grid = Grid::new(&[a, b]);
        assert_eq!(grid.times, [0, 1, 2, 3, 9, 10]);
        assert_eq!(grid.values[0], [1.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(grid.stacked()[1], [1.0, 3.0, 1.0, 0.0, 0.0, 1.0]);
    }
}
