//! The table of contents: one line per section with its page number and a link to it. Its
//! length is planned before the body is laid out, so the body's page numbers are final.

use crate::blocks::Anchor;
use crate::canvas::{Link, Page, Style};
use crate::fonts::{FontId, Fonts};
use crate::style::*;
use crate::text::fit;
use vigia_sdk::report::Section;

const CHAPTER_ROW: f32 = 19.0;
const SECTION_ROW: f32 = 14.5;
/// Below the "Contents" heading on the first contents page.
const FIRST_TOP: f32 = BODY_TOP + 42.0;
const NUMBER_W: f32 = 30.0;
const PAGE_NUMBER_W: f32 = 36.0;

/// Where one contents line goes: which contents page, and its top.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub page: usize,
    pub top: f32,
    pub height: f32,
}

fn is_chapter(section: &Section) -> bool {
    section.level <= 1
}

/// The slot of every section's line, and how many contents pages they take (at least one).
pub fn plan(sections: &[Section]) -> (Vec<Slot>, usize) {
    let (mut page, mut y) = (0, FIRST_TOP);
    let mut slots = Vec::with_capacity(sections.len());
    for (i, section) in sections.iter().enumerate() {
        let (gap, height) =
            if is_chapter(section) { (if i == 0 { 0.0 } else { 5.0 }, CHAPTER_ROW) } else { (0.0, SECTION_ROW) };
        if y + gap + height > BODY_BOTTOM {
            (page, y) = (page + 1, BODY_TOP);
        } else {
            y += gap;
        }
        slots.push(Slot { page, top: y, height });
        y += height;
    }
    (slots, page + 1)
}

/// Fills the contents pages: `pages` are the whole document, the contents starting at `first`.
pub fn draw(pages: &mut [Page], first: usize, fonts: &Fonts, sections: &[Section], slots: &[Slot], anchors: &[Anchor]) {
    if let Some(page) = pages.get_mut(first) {
        let style = Style::new(FontId::Bold, CHAPTER_SIZE, ACCENT);
        page.text(style, MARGIN_X, BODY_TOP + CHAPTER_SIZE, "Contents");
        page.hrule(MARGIN_X, MARGIN_X + BODY_W, BODY_TOP + CHAPTER_SIZE * 1.3 + 2.0, 0.8, ACCENT);
    }
    for ((section, slot), anchor) in sections.iter().zip(slots).zip(anchors) {
        if let Some(page) = pages.get_mut(first + slot.page) {
            entry(page, fonts, section, *slot, *anchor);
        }
    }
}

/// One line: number, title, dotted leader, page number; all of it a link to the section.
fn entry(page: &mut Page, fonts: &Fonts, section: &Section, slot: Slot, anchor: Anchor) {
    let chapter = is_chapter(section);
    let (font, color) = if chapter { (FontId::Bold, TEXT) } else { (FontId::Regular, TEXT) };
    let size = if chapter { 10.0 } else { 9.0 };
    let style = Style::new(font, size, color);
    let indent = if chapter { 0.0 } else { NUMBER_W };
    let baseline = slot.top + slot.height - 5.0;
    let title_x = MARGIN_X + indent + NUMBER_W + if chapter { 0.0 } else { 6.0 };
    let right = MARGIN_X + BODY_W;
    let title = fit(fonts.get(font), size, &section.title, right - PAGE_NUMBER_W - title_x);
    let title_end = title_x + fonts.width(font, &title, size);
    let number = (anchor.page + 1).to_string();
    let number_x = right - fonts.width(font, &number, size);
    page.text(
        Style { color: if chapter { ACCENT } else { MUTED }, ..style },
        MARGIN_X + indent,
        baseline,
        section.number.clone(),
    );
    page.text(style, title_x, baseline, title);
    page.dotted((title_end + 6.0, baseline - 1.0), (number_x - 6.0, baseline - 1.0), 0.9, RULE);
    page.text(style, number_x, baseline, number);
    page.links.push(Link { x: MARGIN_X, y: slot.top, w: BODY_W, h: slot.height, page: anchor.page, top: anchor.top });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(level: u8) -> Section {
        Section { number: "1".into(), title: "T".into(), level, blocks: Vec::new() }
    }

    #[test]
    fn long_contents_run_onto_more_pages() {
        let (slots, pages) = plan(&[section(1), section(2)]);
        assert_eq!(pages, 1);
        assert_eq!(slots[1].top, slots[0].top + CHAPTER_ROW);
        let many: Vec<Section> = (0..120).map(|i| section(if i % 6 == 0 { 1 } else { 2 })).collect();
        let (slots, pages) = plan(&many);
        assert_eq!(pages, 3);
        assert!(slots.iter().all(|s| s.top + s.height <= BODY_BOTTOM));
        assert_eq!(plan(&[]).1, 1);
    }
}
