//! The display list layout produces and the writer serialises: pages of positioned text, filled
//! shapes, rules and link areas. Coordinates are points from the page's top-left corner (the
//! writer flips them to PDF's bottom-up space), so layout code reads top to bottom.

use crate::fonts::FontId;
use crate::style::Color;

/// One drawing operation.
#[derive(Debug, Clone)]
pub enum Op {
    /// `text` with its baseline at `y`, starting at `x`.
    Text { font: FontId, size: f32, x: f32, y: f32, color: Color, oblique: bool, text: String },
    /// A filled rectangle with its top-left corner at (`x`, `y`).
    Rect { x: f32, y: f32, w: f32, h: f32, fill: Color },
    /// A straight stroke, solid or dotted (round dots, as contents leaders).
    Line { from: (f32, f32), to: (f32, f32), width: f32, color: Color, dotted: bool },
    /// A filled closed polygon (a chart area).
    Polygon { points: Vec<(f32, f32)>, fill: Color },
}

/// A clickable area that jumps to another page of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Zero-based index of the page the link opens.
    pub page: usize,
    /// Where on that page (points from the top) the view should start.
    pub top: f32,
}

/// One page of the display list.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub ops: Vec<Op>,
    pub links: Vec<Link>,
}

/// A piece of text to place: which font, how big, what colour.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub font: FontId,
    pub size: f32,
    pub color: Color,
    pub oblique: bool,
}

impl Style {
    pub const fn new(font: FontId, size: f32, color: Color) -> Style {
        Style { font, size, color, oblique: false }
    }

    pub const fn oblique(self) -> Style {
        Style { oblique: true, ..self }
    }
}

impl Page {
    /// Places `text` with its baseline at `y`; empty text draws nothing.
    pub fn text(&mut self, style: Style, x: f32, y: f32, text: impl Into<String>) {
        let text = text.into();
        if text.trim().is_empty() {
            return;
        }
        let Style { font, size, color, oblique } = style;
        self.ops.push(Op::Text { font, size, x, y, color, oblique, text });
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Color) {
        if w > 0.0 && h > 0.0 {
            self.ops.push(Op::Rect { x, y, w, h, fill });
        }
    }

    pub fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Color) {
        self.ops.push(Op::Line { from, to, width, color, dotted: false });
    }

    pub fn dotted(&mut self, from: (f32, f32), to: (f32, f32), width: f32, color: Color) {
        if to.0 > from.0 {
            self.ops.push(Op::Line { from, to, width, color, dotted: true });
        }
    }

    /// A horizontal rule from `x1` to `x2` at `y`.
    pub fn hrule(&mut self, x1: f32, x2: f32, y: f32, width: f32, color: Color) {
        self.line((x1, y), (x2, y), width, color);
    }

    pub fn polygon(&mut self, points: Vec<(f32, f32)>, fill: Color) {
        if points.len() >= 3 {
            self.ops.push(Op::Polygon { points, fill });
        }
    }
}
