//! Running header and footer on every page after the cover: report title and subject, the
//! chapter, the window, and `Page N of M` (physical page numbers, as a viewer shows them).

use crate::canvas::{Page, Style};
use crate::fonts::{FontId, Fonts};
use crate::style::*;
use crate::text::fit;
use vigia_sdk::report::Document;

/// Adds header and footer to `pages[1..]`; `chapters[i]` names page i's chapter.
pub fn decorate(pages: &mut [Page], chapters: &[String], fonts: &Fonts, document: &Document) {
    let total = pages.len();
    let style = Style::new(FontId::Regular, RUNNING_SIZE, MUTED);
    let strong = Style::new(FontId::Bold, RUNNING_SIZE, MUTED);
    let font = fonts.get(FontId::Regular);
    let left = format!("{} · {}", document.title, document.subject);
    let zone = format!("{} ({})", document.time_zone, crate::cover::utc_offset(document.utc_offset_minutes));
    let window = format!("{} {}", crate::cover::window(document, document.utc_offset_minutes), zone);
    let right_edge = MARGIN_X + BODY_W;
    for (index, page) in pages.iter_mut().enumerate().skip(1) {
        let chapter = chapters.get(index).map(String::as_str).unwrap_or_default();
        let chapter = fit(font, RUNNING_SIZE, chapter, BODY_W * 0.45);
        let chapter_w = fonts.width(FontId::Regular, &chapter, RUNNING_SIZE);
        let left = fit(font, RUNNING_SIZE, &left, BODY_W - chapter_w - 20.0);
        page.text(strong, MARGIN_X, HEADER_BASELINE, left);
        page.text(style, right_edge - chapter_w, HEADER_BASELINE, chapter);
        page.hrule(MARGIN_X, right_edge, HEADER_RULE, 0.5, RULE);
        page.hrule(MARGIN_X, right_edge, FOOTER_RULE, 0.5, RULE);
        page.text(style, MARGIN_X, FOOTER_BASELINE, fit(font, RUNNING_SIZE, &window, BODY_W - 80.0));
        let number = format!("Page {} of {total}", index + 1);
        let number_w = fonts.width(FontId::Bold, &number, RUNNING_SIZE);
        page.text(strong, right_edge - number_w, FOOTER_BASELINE, number);
    }
}
