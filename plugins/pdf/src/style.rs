//! Page geometry, type sizes and the colour palette: one place to tune how every report looks.

/// A4 portrait in PDF points (1/72 in).
pub const PAGE_W: f32 = 595.276;
pub const PAGE_H: f32 = 841.89;

/// Left and right margin of the text block.
pub const MARGIN_X: f32 = 50.0;
/// Top of the text block, below the running header.
pub const BODY_TOP: f32 = 62.0;
/// Bottom of the text block, above the running footer.
pub const BODY_BOTTOM: f32 = PAGE_H - 58.0;
/// Width of the text block.
pub const BODY_W: f32 = PAGE_W - 2.0 * MARGIN_X;

/// Running header baseline and rule (measured from the page top).
pub const HEADER_BASELINE: f32 = 34.0;
pub const HEADER_RULE: f32 = 40.0;
/// Running footer rule and baseline.
pub const FOOTER_RULE: f32 = PAGE_H - 44.0;
pub const FOOTER_BASELINE: f32 = PAGE_H - 32.0;
pub const RUNNING_SIZE: f32 = 7.5;

pub const PARAGRAPH_SIZE: f32 = 9.5;
pub const PARAGRAPH_LEADING: f32 = 13.5;
pub const FACTS_SIZE: f32 = 9.0;
pub const CHAPTER_SIZE: f32 = 17.0;
pub const SECTION_SIZE: f32 = 12.0;
pub const CAPTION_SIZE: f32 = 10.0;
pub const NOTE_SIZE: f32 = 7.5;
/// Space between consecutive blocks.
pub const BLOCK_GAP: f32 = 12.0;

/// Horizontal shear of synthetic oblique text (≈ 11°, what DejaVu Sans Oblique uses).
pub const OBLIQUE_SKEW: f32 = 0.2;

/// An RGB colour with components in 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Color(pub f32, pub f32, pub f32);

impl Color {
    /// A colour from `0xRRGGBB`.
    pub const fn hex(rgb: u32) -> Color {
        Color(((rgb >> 16) & 0xff) as f32 / 255.0, ((rgb >> 8) & 0xff) as f32 / 255.0, (rgb & 0xff) as f32 / 255.0)
    }

    /// `#rrggbb` (or `rrggbb`, or `#rgb`) from the document; `None` when it is not a colour.
    pub fn parse(text: &str) -> Option<Color> {
        let digits = text.trim().trim_start_matches('#');
        let expanded: String = match digits.len() {
            3 => digits.chars().flat_map(|c| [c, c]).collect(),
            6 => digits.to_owned(),
            _ => return None,
        };
        u32::from_str_radix(&expanded, 16).ok().map(Color::hex)
    }
}

pub const TEXT: Color = Color::hex(0x1a1f24);
pub const MUTED: Color = Color::hex(0x5f6b76);
pub const ACCENT: Color = Color::hex(0x1f4e79);
pub const ACCENT_LIGHT: Color = Color::hex(0xe3ebf3);
pub const RULE: Color = Color::hex(0xc9d2db);
pub const GRID: Color = Color::hex(0xe2e6ea);
pub const ZEBRA: Color = Color::hex(0xf4f6f8);
pub const WHITE: Color = Color::hex(0xffffff);
/// For a series or bar whose colour the host sent malformed.
pub const FALLBACK_SERIES: Color = Color::hex(0x8c96a0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_document_colours() {
        assert_eq!(Color::parse("#ff0000"), Some(Color(1.0, 0.0, 0.0)));
        assert_eq!(Color::parse("0f0"), Some(Color(0.0, 1.0, 0.0)));
        assert_eq!(Color::parse("red"), None);
        assert_eq!(Color::parse("#12345g"), None);
    }
}
