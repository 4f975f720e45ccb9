//! The embedded DejaVu fonts (fonts/LICENSE): glyph lookup and advance widths for layout. Only
//! the glyphs a report uses end up in the PDF (see `embed`).

use crate::Error;
use ttf_parser::{Face, GlyphId};

static SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");
static MONO: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");

/// The faces a report uses; italics are sheared `Regular` (DejaVu's oblique is a slanted regular).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FontId {
    Regular,
    Bold,
    Mono,
}

impl FontId {
    pub const ALL: [FontId; 3] = [FontId::Regular, FontId::Bold, FontId::Mono];

    /// The resource name content streams select the font by.
    pub fn resource_name(self) -> &'static [u8] {
        match self {
            FontId::Regular => b"F1",
            FontId::Bold => b"F2",
            FontId::Mono => b"F3",
        }
    }
}

/// One parsed font with an ASCII fast path for the widths layout asks for constantly.
pub struct Font {
    pub data: &'static [u8],
    pub face: Face<'static>,
    pub postscript_name: &'static str,
    units_per_em: f32,
    /// (glyph id, advance in font units) of the printable ASCII characters.
    ascii: [(u16, u16); 128],
}

impl Font {
    fn parse(data: &'static [u8], postscript_name: &'static str) -> Result<Font, Error> {
        let face = Face::parse(data, 0).map_err(|e| Error(format!("font {postscript_name}: {e}")))?;
        let mut ascii = [(0, 0); 128];
        for (code, slot) in ascii.iter_mut().enumerate().skip(32) {
            let glyph = char::from_u32(code as u32).and_then(|c| face.glyph_index(c)).unwrap_or(GlyphId(0));
            *slot = (glyph.0, face.glyph_hor_advance(glyph).unwrap_or(0));
        }
        let units_per_em = f32::from(face.units_per_em());
        Ok(Font { data, face, postscript_name, units_per_em, ascii })
    }

    /// The glyph drawing `c` (0, `.notdef`, when the font lacks it) and its advance in font units.
    pub fn glyph(&self, c: char) -> (u16, u16) {
        match self.ascii.get(c as usize) {
            Some(&entry) if c >= ' ' => entry,
            _ => {
                let glyph = self.face.glyph_index(c).unwrap_or(GlyphId(0));
                (glyph.0, self.face.glyph_hor_advance(glyph).unwrap_or(0))
            }
        }
    }

    /// A glyph's advance in thousandths of the font size (PDF's width unit).
    pub fn advance_milli(&self, glyph: u16) -> f32 {
        let units = self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0);
        f32::from(units) * 1000.0 / self.units_per_em
    }

    /// Font units to thousandths of the font size.
    pub fn to_milli(&self, units: i16) -> f32 {
        f32::from(units) * 1000.0 / self.units_per_em
    }

    /// Width of one character set at `size` points.
    pub fn char_width(&self, c: char, size: f32) -> f32 {
        f32::from(self.glyph(c).1) * size / self.units_per_em
    }

    /// Width of `text` set at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| u32::from(self.glyph(c).1)).sum();
        units as f32 * size / self.units_per_em
    }
}

/// The three faces, parsed once per render.
pub struct Fonts {
    regular: Font,
    bold: Font,
    mono: Font,
}

impl Fonts {
    pub fn load() -> Result<Fonts, Error> {
        Ok(Fonts {
            regular: Font::parse(SANS, "DejaVuSans")?,
            bold: Font::parse(SANS_BOLD, "DejaVuSans-Bold")?,
            mono: Font::parse(MONO, "DejaVuSansMono")?,
        })
    }

    pub fn get(&self, id: FontId) -> &Font {
        match id {
            FontId::Regular => &self.regular,
            FontId::Bold => &self.bold,
            FontId::Mono => &self.mono,
        }
    }

    /// Width of `text` in `font` at `size` points.
    pub fn width(&self, font: FontId, text: &str, size: f32) -> f32 {
        self.get(font).width(text, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_text_with_real_metrics() {
        let fonts = Fonts::load().expect("vendored fonts parse");
        let mono = fonts.width(FontId::Mono, "abcd", 10.0);
        assert!((mono - 4.0 * 6.02).abs() < 0.1, "DejaVu Sans Mono advances 0.602 em, got {mono}");
        assert!(fonts.width(FontId::Bold, "Sessions", 10.0) > fonts.width(FontId::Regular, "Sessions", 10.0));
        assert_ne!(fonts.get(FontId::Regular).glyph('é').0, 0, "Latin-1 is covered");
        assert_eq!(fonts.get(FontId::Regular).glyph('\u{E000}').0, 0, "private use is not");
    }
}
