//! The first page: the cover (what, whom, when, which filters) and the table of contents.

use crate::escape::Html;
use vigia_sdk::report::{format_local, format_span_ms, Document, Section};

/// The cover block: title, subject, the window in the document's zone and in UTC, its length,
/// when the report was made and the filters the caller gave.
pub fn cover(out: &mut Html, doc: &Document) {
    let zone = zone_label(&doc.time_zone, doc.utc_offset_minutes);
    out.raw("<header class=\"cover\">\n<div class=\"brand\">Vigia · PostgreSQL monitoring</div>\n<h1>");
    out.text(&doc.title).raw("</h1>\n");
    if !doc.subject.is_empty() {
        out.raw("<p class=\"subject\">").text(&doc.subject).raw("</p>\n");
    }
    out.raw("<dl class=\"meta\">\n");
    let local_window = window(doc.from_ms, doc.to_ms, doc.utc_offset_minutes);
    meta(out, "Period", &local_window, &zone);
    meta(out, "Period in UTC", &window(doc.from_ms, doc.to_ms, 0), "UTC");
    meta(out, "Duration", &format_span_ms(doc.to_ms - doc.from_ms), "");
    meta(out, "Generated", &minutes(doc.generated_at_ms, doc.utc_offset_minutes), &zone);
    out.raw("<div class=\"wide\"><dt>Filters</dt><dd>");
    if doc.filters.is_empty() {
        out.raw("None (everything the report's owner may see)");
    }
    for (i, filter) in doc.filters.iter().enumerate() {
        out.raw(if i == 0 { "<code>" } else { " · <code>" }).text(filter).raw("</code>");
    }
    out.raw("</dd></div>\n</dl>\n</header>\n");
}

fn meta(out: &mut Html, label: &str, value: &str, detail: &str) {
    out.raw("<div><dt>").text(label).raw("</dt><dd>").text(value);
    if !detail.is_empty() {
        out.raw("<small>").text(detail).raw("</small>");
    }
    out.raw("</dd></div>\n");
}

/// The table of contents: one entry per section, linking to the anchors `ids` gives them. A
/// chapter's sections nest inside its entry, so the two-column layout never separates them.
pub fn toc(out: &mut Html, doc: &Document, ids: &[String]) {
    if doc.sections.is_empty() {
        return;
    }
    out.raw("<nav class=\"toc\" aria-labelledby=\"toc-title\">\n<h2 id=\"toc-title\">Contents</h2>\n<ol>\n");
    let (mut in_chapter, mut in_sub) = (false, false);
    for (section, id) in doc.sections.iter().zip(ids) {
        if section.level <= 1 {
            close_chapter(out, &mut in_chapter, &mut in_sub);
            out.raw("<li class=\"l1\">");
            toc_link(out, section, id);
            in_chapter = true;
        } else {
            if in_chapter && !in_sub {
                out.raw("\n<ol>\n");
                in_sub = true;
            }
            out.raw("<li class=\"l2\">");
            toc_link(out, section, id);
            out.raw("</li>\n");
        }
    }
    close_chapter(out, &mut in_chapter, &mut in_sub);
    out.raw("</ol>\n</nav>\n");
}

fn close_chapter(out: &mut Html, in_chapter: &mut bool, in_sub: &mut bool) {
    if std::mem::take(in_sub) {
        out.raw("</ol>");
    }
    if std::mem::take(in_chapter) {
        out.raw("</li>\n");
    }
}

fn toc_link(out: &mut Html, section: &Section, id: &str) {
    out.fmt(format_args!("<a href=\"#{id}\"><span class=\"n\">"));
    out.text(&section.number).raw("</span>").text(&section.title).raw("</a>");
}

/// `Europe/Madrid (UTC+01:00)`.
pub fn zone_label(zone: &str, offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '−' } else { '+' };
    let abs = offset_minutes.unsigned_abs();
    let offset = format!("UTC{sign}{:02}:{:02}", abs / 60, abs % 60);
    match (zone.is_empty() || zone == "UTC", abs == 0) {
        (true, true) => "UTC".to_owned(),
        (true, false) => offset,
        (false, _) => format!("{zone} ({offset})"),
    }
}

/// A local time to the minute, with seconds only when they are not zero.
pub fn minutes(ms: i64, offset_minutes: i32) -> String {
    let full = format_local(ms, offset_minutes);
    if ms.rem_euclid(60_000) == 0 {
        full.get(..16).unwrap_or(&full).to_owned()
    } else {
        full
    }
}

/// `2026-11-30 00:00 → 2026-12-01 00:00`.
fn window(from_ms: i64, to_ms: i64, offset_minutes: i32) -> String {
    format!("{} → {}", minutes(from_ms, offset_minutes), minutes(to_ms, offset_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_times_read_naturally() {
        assert_eq!(zone_label("Europe/Madrid", 60), "Europe/Madrid (UTC+01:00)");
        assert_eq!(zone_label("America/St_Johns", -210), "America/St_Johns (UTC−03:30)");
        assert_eq!(zone_label("UTC", 0), "UTC");
        assert_eq!(minutes(0, 0), "1970-01-01 00:00");
        assert_eq!(minutes(1_500, 0), "1970-01-01 00:00:01");
    }
}
