//! The flow of body pages: a cursor that moves down the text block and starts a new page when
//! the next piece does not fit, plus what every block needs to know (fonts, time zone).

use crate::canvas::{Page, Style};
use crate::fonts::{Font, FontId, Fonts};
use crate::style::{BODY_BOTTOM, BODY_TOP};

/// What layout code needs besides the cursor: fonts and the document's time zone.
pub struct Context<'a> {
    pub fonts: &'a Fonts,
    /// The document's offset from UTC (for timestamps and chart ticks).
    pub offset_minutes: i32,
    /// The time zone's name, for axis captions.
    pub zone: &'a str,
    /// The report's window (epoch ms): the time axis of every chart.
    pub window: (i64, i64),
}

impl Context<'_> {
    pub fn font(&self, id: FontId) -> &Font {
        self.fonts.get(id)
    }

    /// Width of `text` in `style`'s font and size.
    pub fn width(&self, style: Style, text: &str) -> f32 {
        self.fonts.width(style.font, text, style.size)
    }
}

/// Pages under construction and the cursor on the last one.
pub struct Layout<'a> {
    pub cx: Context<'a>,
    pub pages: Vec<Page>,
    /// The chapter each page belongs to, for its running header.
    pub chapters: Vec<String>,
    /// Distance of the cursor from the top of the last page.
    pub y: f32,
    chapter: String,
}

impl<'a> Layout<'a> {
    /// A layout whose first `reserved` pages (cover, contents) are filled in later.
    pub fn new(cx: Context<'a>, reserved: usize) -> Layout<'a> {
        Layout {
            cx,
            pages: vec![Page::default(); reserved],
            chapters: vec![String::new(); reserved],
            y: BODY_BOTTOM,
            chapter: String::new(),
        }
    }

    /// Sets the running-header chapter for pages started from now on, and for the current
    /// page when nothing is on it yet.
    pub fn set_chapter(&mut self, chapter: String) {
        if self.at_top() {
            if let Some(current) = self.chapters.last_mut() {
                current.clone_from(&chapter);
            }
        }
        self.chapter = chapter;
    }

    pub fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.chapters.push(self.chapter.clone());
        self.y = BODY_TOP;
    }

    /// The page being filled.
    pub fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.new_page();
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn page_index(&self) -> usize {
        self.pages.len().saturating_sub(1)
    }

    /// Vertical space left on the current page.
    pub fn room(&self) -> f32 {
        BODY_BOTTOM - self.y
    }

    /// Whether nothing has been placed on the current page yet.
    pub fn at_top(&self) -> bool {
        self.y <= BODY_TOP + 0.01
    }

    /// Starts a new page unless `height` fits below the cursor (or the page is still empty, where
    /// a new page would not help). Returns whether it started one.
    pub fn ensure(&mut self, height: f32) -> bool {
        if height <= self.room() || self.at_top() {
            return false;
        }
        self.new_page();
        true
    }

    /// Places one line of text at the cursor's left margin plus `indent` and moves down `leading`.
    pub fn line(&mut self, style: Style, x: f32, leading: f32, text: impl Into<String>) {
        self.ensure(leading);
        let baseline = self.y + style.size;
        self.page().text(style, x, baseline, text);
        self.y += leading;
    }
}
