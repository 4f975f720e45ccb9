//! The cover page: what the report is, about which instance, for which window (in the
//! document's zone and in UTC), how long, under which filters, and when it was made.

use crate::canvas::{Page, Style};
use crate::fonts::{FontId, Fonts};
use crate::style::*;
use crate::text::wrap;
use vigia_sdk::report::{format_local, format_span_ms, Document};

/// Height of the coloured band at the top of the cover.
const BAND_H: f32 = 250.0;

/// `UTC+01:00`, `UTC-03:30`, `UTC`.
pub fn utc_offset(minutes: i32) -> String {
    if minutes == 0 {
        return "UTC".to_owned();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let abs = minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60)
}

/// `2026-11-29 00:00:00 – 2026-11-30 00:00:00` at `offset` minutes from UTC.
pub fn window(document: &Document, offset: i32) -> String {
    format!("{} – {}", format_local(document.from_ms, offset), format_local(document.to_ms, offset))
}

/// The label/value lines of the cover.
pub fn facts(document: &Document) -> Vec<(String, String)> {
    let offset = document.utc_offset_minutes;
    let zone = format!("{} ({})", document.time_zone, utc_offset(offset));
    let filters = if document.filters.is_empty() { "none".to_owned() } else { document.filters.join("\n") };
    let mut facts = vec![("Subject".to_owned(), document.subject.clone())];
    // A report in UTC says its period once.
    if document.time_zone != "UTC" {
        facts.push((format!("Period ({})", document.time_zone), window(document, offset)));
    }
    facts.extend([
        ("Period (UTC)".to_owned(), format!("{} UTC", window(document, 0))),
        ("Duration".to_owned(), format_span_ms(document.to_ms - document.from_ms)),
        ("Time zone".to_owned(), zone),
        ("Filters".to_owned(), filters),
        ("Generated".to_owned(), format!("{} {}", format_local(document.generated_at_ms, offset), document.time_zone)),
    ]);
    facts
}

/// Draws the cover onto `page`.
pub fn draw(page: &mut Page, fonts: &Fonts, document: &Document) {
    page.rect(0.0, 0.0, PAGE_W, BAND_H, ACCENT);
    let brand = Style::new(FontId::Bold, 10.0, Color::hex(0xbcd0e4));
    page.text(brand, MARGIN_X, 70.0, "VIGIA  ·  PostgreSQL monitoring");
    let title_style = Style::new(FontId::Bold, 30.0, WHITE);
    let title_lines = wrap(fonts.get(FontId::Bold), 30.0, &document.title, BODY_W);
    let mut y = BAND_H - 60.0 - (title_lines.len().saturating_sub(1)) as f32 * 36.0;
    for line in title_lines {
        page.text(title_style, MARGIN_X, y, line);
        y += 36.0;
    }
    let subject_style = Style::new(FontId::Regular, 15.0, Color::hex(0xdde7f1));
    page.text(subject_style, MARGIN_X, BAND_H - 30.0, document.subject.clone());
    draw_facts(page, fonts, &facts(document));
    let note = format!(
        "Times are in {} ({}) unless marked UTC. The contents on the next page link to every section.",
        document.time_zone,
        utc_offset(document.utc_offset_minutes)
    );
    page.hrule(MARGIN_X, MARGIN_X + BODY_W, PAGE_H - 78.0, 0.6, RULE);
    page.text(Style::new(FontId::Regular, 8.0, MUTED), MARGIN_X, PAGE_H - 64.0, note);
}

fn draw_facts(page: &mut Page, fonts: &Fonts, facts: &[(String, String)]) {
    let label_style = Style::new(FontId::Regular, 9.0, MUTED);
    let value_style = Style::new(FontId::Regular, 11.0, TEXT);
    let label_w = 150.0;
    let mut y = BAND_H + 60.0;
    for (label, value) in facts {
        page.text(label_style, MARGIN_X, y, label.clone());
        for line in value.lines().flat_map(|l| wrap(fonts.get(FontId::Regular), 11.0, l, BODY_W - label_w)) {
            page.text(value_style, MARGIN_X + label_w, y, line);
            y += 15.0;
        }
        page.hrule(MARGIN_X, MARGIN_X + BODY_W, y - 6.0, 0.4, GRID);
        y += 12.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_name_their_sign() {
        assert_eq!(utc_offset(60), "UTC+01:00");
        assert_eq!(utc_offset(-210), "UTC-03:30");
        assert_eq!(utc_offset(0), "UTC");
    }
}
