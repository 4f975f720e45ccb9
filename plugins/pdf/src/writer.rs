//! Serialises the display list as PDF: compressed content streams, link annotations that jump to
//! sections, the outline (bookmarks), document info, and the embedded font subsets.

use crate::blocks::Anchor;
use crate::canvas::{Link, Op, Page};
use crate::embed::{write_font, FontUse};
use crate::fonts::{FontId, Fonts};
use crate::outline;
use crate::style::{Color, OBLIQUE_SKEW, PAGE_H, PAGE_W};
use crate::Error;
use pdf_writer::types::{ActionType, AnnotationType, LineCapStyle, PageMode};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use vigia_sdk::report::Document;

/// `data` zlib-compressed for a FlateDecode stream (level 6: most of the gain, quickly).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Coordinates rounded to 1/100 pt: invisible, and the numbers stay short in the file.
fn r(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Hands out object ids in order, so equal documents number their objects alike.
pub struct Ids(i32);

impl Ids {
    pub fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

/// What every page object refers to: the page tree, all pages (link targets) and the fonts.
struct Shared<'a> {
    tree: Ref,
    page_refs: &'a [Ref],
    font_refs: &'a [(FontId, Ref)],
}

/// Writes the whole file.
pub fn write(document: &Document, pages: &[Page], anchors: &[Anchor], fonts: &Fonts) -> Result<Vec<u8>, Error> {
    let mut pdf = Pdf::new();
    let mut ids = Ids(0);
    let (catalog, tree, info) = (ids.next(), ids.next(), ids.next());
    let font_refs: Vec<(FontId, Ref)> = FontId::ALL.iter().map(|&id| (id, ids.next())).collect();
    let page_refs: Vec<Ref> = pages.iter().map(|_| ids.next()).collect();
    let mut uses: Vec<FontUse> = FontId::ALL.iter().map(|_| FontUse::default()).collect();
    let shared = Shared { tree, page_refs: &page_refs, font_refs: &font_refs };
    for (page, &id) in pages.iter().zip(&page_refs) {
        let content = content(page, fonts, &mut uses);
        write_page(&mut pdf, &mut ids, id, page, &content, &shared);
    }
    pdf.pages(tree).kids(page_refs.iter().copied()).count(pages.len() as i32);
    for ((font, font_ref), used) in font_refs.iter().zip(&uses) {
        write_font(&mut pdf, &mut ids, *font_ref, fonts.get(*font), used)?;
    }
    let outline = outline::write(&mut pdf, &mut ids, document, anchors, &page_refs);
    let mut catalog_writer = pdf.catalog(catalog);
    catalog_writer.pages(tree);
    if let Some(outline) = outline {
        catalog_writer.outlines(outline).page_mode(PageMode::UseOutlines);
    }
    catalog_writer.finish();
    outline::write_info(&mut pdf, info, document);
    Ok(pdf.finish())
}

/// One page object with its (compressed) content stream and link annotations.
fn write_page(pdf: &mut Pdf, ids: &mut Ids, id: Ref, page: &Page, content: &[u8], shared: &Shared) {
    let content_id = ids.next();
    pdf.stream(content_id, &deflate(content)).filter(Filter::FlateDecode);
    let annotations: Vec<Ref> = page.links.iter().map(|_| ids.next()).collect();
    for (link, &annotation) in page.links.iter().zip(&annotations) {
        write_link(pdf, annotation, link, shared.page_refs);
    }
    let mut page_writer = pdf.page(id);
    page_writer.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(shared.tree).contents(content_id);
    let mut resources = page_writer.resources();
    let mut font_dict = resources.fonts();
    for &(font, font_ref) in shared.font_refs {
        font_dict.pair(Name(font.resource_name()), font_ref);
    }
    font_dict.finish();
    resources.finish();
    if !annotations.is_empty() {
        page_writer.annotations(annotations);
    }
}

/// A page's drawing operations as a content stream (y flipped to PDF's bottom-up space).
fn content(page: &Page, fonts: &Fonts, uses: &mut [FontUse]) -> Vec<u8> {
    let mut c = Content::new();
    let mut fill: Option<Color> = None;
    let mut set_fill = |c: &mut Content, color: Color| {
        if fill != Some(color) {
            c.set_fill_rgb(color.0, color.1, color.2);
            fill = Some(color);
        }
    };
    for op in &page.ops {
        match op {
            Op::Text { font, size, x, y, color, oblique, text } => {
                set_fill(&mut c, *color);
                let index = FontId::ALL.iter().position(|f| f == font).unwrap_or(0);
                let bytes = uses[index].encode(fonts.get(*font), text);
                let skew = if *oblique { OBLIQUE_SKEW } else { 0.0 };
                c.begin_text();
                c.set_font(Name(font.resource_name()), *size);
                c.set_text_matrix([1.0, 0.0, skew, 1.0, r(*x), r(PAGE_H - y)]);
                c.show(Str(&bytes));
                c.end_text();
            }
            Op::Rect { x, y, w, h, fill: color } => {
                set_fill(&mut c, *color);
                c.rect(r(*x), r(PAGE_H - y - h), r(*w), r(*h));
                c.fill_nonzero();
            }
            Op::Line { from, to, width, color, dotted } => line(&mut c, *from, *to, *width, *color, *dotted),
            Op::Polygon { points, fill: color } => {
                set_fill(&mut c, *color);
                polygon(&mut c, points);
            }
        }
    }
    c.finish().into_vec()
}

fn line(c: &mut Content, from: (f32, f32), to: (f32, f32), width: f32, color: Color, dotted: bool) {
    c.save_state();
    c.set_stroke_rgb(color.0, color.1, color.2);
    c.set_line_width(width);
    if dotted {
        c.set_line_cap(LineCapStyle::RoundCap);
        c.set_dash_pattern([0.0, 2.6], 0.0);
    }
    c.move_to(r(from.0), r(PAGE_H - from.1));
    c.line_to(r(to.0), r(PAGE_H - to.1));
    c.stroke();
    c.restore_state();
}

fn polygon(c: &mut Content, points: &[(f32, f32)]) {
    let mut iter = points.iter();
    if let Some(&(x, y)) = iter.next() {
        c.move_to(r(x), r(PAGE_H - y));
        for &(x, y) in iter {
            c.line_to(r(x), r(PAGE_H - y));
        }
        c.close_path();
        c.fill_nonzero();
    }
}

/// An invisible link area that jumps to `link.page`, its top at `link.top`.
fn write_link(pdf: &mut Pdf, id: Ref, link: &Link, page_refs: &[Ref]) {
    let Some(&target) = page_refs.get(link.page) else { return };
    let mut annotation = pdf.annotation(id);
    annotation.subtype(AnnotationType::Link);
    annotation.rect(Rect::new(r(link.x), r(PAGE_H - link.y - link.h), r(link.x + link.w), r(PAGE_H - link.y)));
    annotation.border(0.0, 0.0, 0.0, None);
    annotation.action().action_type(ActionType::GoTo).destination().page(target).xyz(
        0.0,
        r(PAGE_H - link.top + 6.0),
        None,
    );
}
