//! Section headings and the simple blocks: paragraphs and label/value facts. Tables and charts
//! have modules of their own.

use crate::canvas::Style;
use crate::fonts::FontId;
use crate::layout::Layout;
use crate::style::*;
use crate::text::{fit, wrap};
use vigia_sdk::report::{Block, Section};

/// Where a section's heading landed, for the contents page and the outline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub page: usize,
    /// Top of the heading, in points from the page top.
    pub top: f32,
}

/// A chapter (level 1) opens a new page; a section flows, kept on one page with the first
/// `keep` points of what follows it.
pub fn heading(layout: &mut Layout, section: &Section, keep: f32) -> Anchor {
    if section.level <= 1 {
        layout.set_chapter(format!("{}  {}", section.number, section.title));
        if !layout.at_top() {
            layout.new_page();
        }
        let anchor = Anchor { page: layout.page_index(), top: layout.y };
        let style = Style::new(FontId::Bold, CHAPTER_SIZE, ACCENT);
        numbered_title(layout, style, section, CHAPTER_SIZE * 1.3);
        let rule_y = layout.y + 2.0;
        layout.page().hrule(MARGIN_X, MARGIN_X + BODY_W, rule_y, 0.8, ACCENT);
        layout.y += 18.0;
        anchor
    } else {
        if !layout.at_top() {
            layout.y += 6.0;
        }
        // A heading alone at the bottom of a page reads badly.
        layout.ensure(SECTION_SIZE * 1.35 + 6.0 + keep.min(BODY_BOTTOM - BODY_TOP - 40.0));
        let anchor = Anchor { page: layout.page_index(), top: layout.y };
        numbered_title(layout, Style::new(FontId::Bold, SECTION_SIZE, TEXT), section, SECTION_SIZE * 1.35);
        layout.y += 6.0;
        anchor
    }
}

/// `5.2  Title`, the title wrapped in a column of its own so continuation lines align with it.
fn numbered_title(layout: &mut Layout, style: Style, section: &Section, leading: f32) {
    let number_w =
        if section.number.is_empty() { 0.0 } else { layout.cx.width(style, &section.number) + style.size * 0.6 };
    let title_x = MARGIN_X + number_w;
    let lines = wrap(layout.cx.font(style.font), style.size, &section.title, BODY_W - number_w);
    let baseline = layout.y + style.size;
    layout.page().text(Style { color: ACCENT, ..style }, MARGIN_X, baseline, section.number.clone());
    for line in lines {
        layout.line(style, title_x, leading, line);
    }
}

/// A paragraph of body text, wrapped to the text block and free to break across pages.
pub fn paragraph(layout: &mut Layout, text: &str) {
    let style = Style::new(FontId::Regular, PARAGRAPH_SIZE, TEXT);
    for line in wrap(layout.cx.font(style.font), style.size, text, BODY_W) {
        layout.line(style, MARGIN_X, PARAGRAPH_LEADING, line);
    }
    layout.y += BLOCK_GAP - (PARAGRAPH_LEADING - PARAGRAPH_SIZE);
}

/// A muted one-line remark (an empty table or chart).
pub fn remark(layout: &mut Layout, text: &str) {
    let style = Style::new(FontId::Regular, PARAGRAPH_SIZE, MUTED).oblique();
    layout.line(style, MARGIN_X, PARAGRAPH_LEADING, text);
}

/// Label/value pairs in two columns: labels muted and cut to their column, values wrapped.
pub fn facts(layout: &mut Layout, pairs: &[(String, String)]) {
    let label_style = Style::new(FontId::Regular, FACTS_SIZE, MUTED);
    let value_style = Style::new(FontId::Regular, FACTS_SIZE, TEXT);
    let widest = pairs.iter().map(|(label, _)| layout.cx.width(label_style, label)).fold(0.0, f32::max);
    let label_w = (widest + 18.0).min(BODY_W * 0.4);
    let value_w = BODY_W - label_w;
    let leading = FACTS_SIZE * 1.45;
    for (label, value) in pairs {
        let lines = wrap(layout.cx.font(value_style.font), FACTS_SIZE, value, value_w);
        let height = lines.len() as f32 * leading + 5.0;
        layout.ensure(height.min(BODY_BOTTOM - BODY_TOP));
        let top = layout.y;
        let label = fit(layout.cx.font(label_style.font), FACTS_SIZE, label, label_w - 10.0);
        layout.page().text(label_style, MARGIN_X, top + 2.5 + FACTS_SIZE, label);
        layout.y += 2.5;
        for line in lines {
            layout.line(value_style, MARGIN_X + label_w, leading, line);
        }
        layout.y += 2.5;
        let rule_y = layout.y;
        layout.page().hrule(MARGIN_X, MARGIN_X + BODY_W, rule_y, 0.4, GRID);
    }
    layout.y += BLOCK_GAP;
}

/// How much of a block must follow its section's heading on the same page.
pub fn keep_height(block: &Block) -> f32 {
    match block {
        Block::Paragraph(_) => 3.0 * PARAGRAPH_LEADING,
        Block::Facts(_) => 2.0 * FACTS_SIZE * 1.45 + 10.0,
        // Title, header and a few rows (what `tables::table` keeps together).
        Block::Table(_) => CAPTION_SIZE * 1.6 + 4.0 * 10.4 + 20.0,
        Block::Chart(chart) => crate::charts::height(chart),
    }
}
