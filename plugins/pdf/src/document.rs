//! Lays a whole report out: cover, contents (planned first so page numbers are known), the
//! sections with their blocks, then running headers and footers once the page count is known.

use crate::blocks::{self, Anchor};
use crate::canvas::Page;
use crate::fonts::Fonts;
use crate::layout::{Context, Layout};
use crate::{charts, cover, running, tables, toc};
use vigia_sdk::report::{Block, Document};

/// The laid-out document: its pages, and where each section starts (for the outline).
pub struct Laid {
    pub pages: Vec<Page>,
    pub anchors: Vec<Anchor>,
}

/// Pages before the contents: the cover.
const COVER_PAGES: usize = 1;

pub fn lay_out(document: &Document, fonts: &Fonts) -> Laid {
    let (slots, toc_pages) = toc::plan(&document.sections);
    let cx = Context {
        fonts,
        offset_minutes: document.utc_offset_minutes,
        zone: &document.time_zone,
        window: (document.from_ms, document.to_ms),
    };
    let mut layout = Layout::new(cx, COVER_PAGES + toc_pages);
    for chapter in layout.chapters.iter_mut().skip(COVER_PAGES) {
        *chapter = "Contents".to_owned();
    }
    layout.new_page();
    let mut anchors = Vec::with_capacity(document.sections.len());
    for section in &document.sections {
        let keep = section.blocks.first().map_or(0.0, blocks::keep_height);
        anchors.push(blocks::heading(&mut layout, section, keep));
        for block in &section.blocks {
            lay_out_block(&mut layout, block);
        }
    }
    let Layout { mut pages, chapters, .. } = layout;
    // A document without sections still gets its (empty) body page; drop it.
    if document.sections.is_empty() {
        pages.truncate(COVER_PAGES + toc_pages);
    }
    if let Some(cover_page) = pages.first_mut() {
        cover::draw(cover_page, fonts, document);
    }
    toc::draw(&mut pages, COVER_PAGES, fonts, &document.sections, &slots, &anchors);
    running::decorate(&mut pages, &chapters, fonts, document);
    Laid { pages, anchors }
}

fn lay_out_block(layout: &mut Layout, block: &Block) {
    match block {
        Block::Paragraph(text) => blocks::paragraph(layout, text),
        Block::Facts(pairs) => blocks::facts(layout, pairs),
        Block::Table(table) => tables::table(layout, table),
        Block::Chart(chart) => charts::chart(layout, chart),
    }
}
