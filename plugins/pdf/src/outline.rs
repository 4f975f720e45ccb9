//! The document outline (bookmarks: chapters with their sections nested) and the document
//! information dictionary.

use crate::blocks::Anchor;
use crate::style::PAGE_H;
use crate::writer::Ids;
use pdf_writer::{Date, Pdf, Ref, TextStr};
use vigia_sdk::report::Document;

/// One bookmark: a section's number and title, nesting level, and where it starts.
struct Bookmark<'a> {
    title: String,
    level: u8,
    anchor: &'a Anchor,
}

/// Writes the outline and returns its root; `None` for a document without sections.
pub fn write(pdf: &mut Pdf, ids: &mut Ids, document: &Document, anchors: &[Anchor], page_refs: &[Ref]) -> Option<Ref> {
    let bookmarks: Vec<Bookmark> = document
        .sections
        .iter()
        .zip(anchors)
        .map(|(s, anchor)| Bookmark {
            title: format!("{} {}", s.number, s.title).trim().to_owned(),
            level: s.level,
            anchor,
        })
        .collect();
    write_items(pdf, ids, &bookmarks, page_refs)
}

/// Bookmarks for chapters with their sections nested.
fn write_items(pdf: &mut Pdf, ids: &mut Ids, bookmarks: &[Bookmark], page_refs: &[Ref]) -> Option<Ref> {
    if bookmarks.is_empty() {
        return None;
    }
    let root = ids.next();
    let items: Vec<Ref> = bookmarks.iter().map(|_| ids.next()).collect();
    // Parent of each bookmark: the latest chapter before a section, else the root.
    let parents: Vec<Option<usize>> = outline_parents(bookmarks);
    let children =
        |parent: Option<usize>| -> Vec<usize> { (0..bookmarks.len()).filter(|&i| parents[i] == parent).collect() };
    let top = children(None);
    for (i, bookmark) in bookmarks.iter().enumerate() {
        let siblings = children(parents[i]);
        let position = siblings.iter().position(|&s| s == i).unwrap_or(0);
        let mut item = pdf.outline_item(items[i]);
        item.title(TextStr(&bookmark.title)).parent(parents[i].map_or(root, |p| items[p]));
        if position > 0 {
            item.prev(items[siblings[position - 1]]);
        }
        if let Some(&after) = siblings.get(position + 1) {
            item.next(items[after]);
        }
        let kids = children(Some(i));
        if let (Some(&first), Some(&last)) = (kids.first(), kids.last()) {
            item.first(items[first]).last(items[last]).count(-(kids.len() as i32));
        }
        if let Some(&page) = page_refs.get(bookmark.anchor.page) {
            item.dest().page(page).xyz(0.0, PAGE_H - bookmark.anchor.top + 6.0, None);
        }
    }
    let (first, last) = (top.first().copied()?, top.last().copied()?);
    pdf.outline(root).first(items[first]).last(items[last]).count(top.len() as i32);
    Some(root)
}

fn outline_parents(bookmarks: &[Bookmark]) -> Vec<Option<usize>> {
    let mut chapter = None;
    let mut parents = Vec::with_capacity(bookmarks.len());
    for (i, bookmark) in bookmarks.iter().enumerate() {
        if bookmark.level <= 1 {
            chapter = Some(i);
            parents.push(None);
        } else {
            parents.push(chapter);
        }
    }
    parents
}

/// Title, subject, producer and the creation date (the document's, not the wall clock's).
pub fn write_info(pdf: &mut Pdf, id: Ref, document: &Document) {
    let mut info = pdf.document_info(id);
    info.title(TextStr(&document.title)).subject(TextStr(&document.subject));
    info.creator(TextStr("Vigia")).producer(TextStr("Vigia pdf reporter"));
    if let Some(date) = pdf_date(document.generated_at_ms) {
        info.creation_date(date);
    }
}

fn pdf_date(epoch_ms: i64) -> Option<Date> {
    let text = vigia_sdk::time::format_ms(epoch_ms);
    let field = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u16>().ok());
    let year = field(0..4)?;
    let [month, day, hour, minute, second] =
        [field(5..7)?, field(8..10)?, field(11..13)?, field(14..16)?, field(17..19)?].map(|v| v as u8);
    Some(Date::new(year).month(month).day(day).hour(hour).minute(minute).second(second).utc_offset_hour(0))
}
