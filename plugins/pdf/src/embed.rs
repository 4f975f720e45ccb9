//! Font embedding: text is encoded as glyph ids of a subset font (two bytes each, Identity-H),
//! and each font is written as a Type0/CIDFontType2 with only the glyphs used, its widths, and
//! a ToUnicode map so the text can be extracted and searched.

use crate::fonts::Font;
use crate::writer::Ids;
use crate::Error;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;

/// The glyphs one font has drawn so far, in subset order.
pub struct FontUse {
    remapper: GlyphRemapper,
    /// The character each subset glyph stands for (first one seen; `None` for `.notdef`).
    chars: Vec<Option<char>>,
}

impl Default for FontUse {
    fn default() -> Self {
        FontUse { remapper: GlyphRemapper::new(), chars: vec![None] }
    }
}

impl FontUse {
    /// `text` as big-endian subset glyph ids, recording the glyphs it needs.
    pub fn encode(&mut self, font: &Font, text: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let (glyph, _) = font.glyph(c);
            let cid = self.remapper.remap(glyph);
            if usize::from(cid) == self.chars.len() {
                self.chars.push((glyph != 0).then_some(c));
            }
            bytes.extend(cid.to_be_bytes());
        }
        bytes
    }
}

/// The object ids one embedded font needs besides its Type0 dictionary.
struct FontRefs {
    cid: Ref,
    descriptor: Ref,
    file: Ref,
    to_unicode: Ref,
}

/// Writes `font`'s subset under `type0`, taking fresh object ids from `ids`.
pub fn write_font(pdf: &mut Pdf, ids: &mut Ids, type0: Ref, font: &Font, used: &FontUse) -> Result<(), Error> {
    let refs = FontRefs { cid: ids.next(), descriptor: ids.next(), file: ids.next(), to_unicode: ids.next() };
    let subset = subsetter::subset(font.data, 0, &used.remapper)
        .map_err(|e| Error(format!("subsetting {}: {e}", font.postscript_name)))?;
    let base_name = format!("{}+{}", subset_tag(&subset), font.postscript_name);
    let base_name = Name(base_name.as_bytes());

    pdf.type0_font(type0)
        .base_font(base_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(refs.cid)
        .to_unicode(refs.to_unicode);

    let widths: Vec<f32> = used.remapper.remapped_gids().map(|old| font.advance_milli(old).round()).collect();
    let mut cid = pdf.cid_font(refs.cid);
    cid.subtype(CidFontType::Type2).base_font(base_name).system_info(system_info()).font_descriptor(refs.descriptor);
    cid.default_width(0.0).cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().consecutive(0, widths);
    cid.finish();

    descriptor(pdf, refs.descriptor, refs.file, font, base_name);
    let compressed = crate::writer::deflate(&subset);
    let length = i32::try_from(subset.len()).map_err(|_| Error("font subset too large".into()))?;
    pdf.stream(refs.file, &compressed).filter(Filter::FlateDecode).pair(Name(b"Length1"), length);
    let cmap = to_unicode(used);
    pdf.stream(refs.to_unicode, &crate::writer::deflate(&cmap)).filter(Filter::FlateDecode);
    Ok(())
}

fn system_info() -> SystemInfo<'static> {
    SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 }
}

fn descriptor(pdf: &mut Pdf, id: Ref, file: Ref, font: &Font, name: Name) {
    let face = &font.face;
    let bbox = face.global_bounding_box();
    let milli = |v: i16| font.to_milli(v);
    let mut flags = FontFlags::SYMBOLIC;
    if face.is_monospaced() {
        flags |= FontFlags::FIXED_PITCH;
    }
    let weight = face.weight().to_number();
    // The usual estimate of the dominant vertical stem from the weight class (as typst does).
    let stem_v = 10.0 + 0.244 * (f32::from(weight) - 50.0);
    pdf.font_descriptor(id)
        .name(name)
        .flags(flags)
        .bbox(Rect::new(milli(bbox.x_min), milli(bbox.y_min), milli(bbox.x_max), milli(bbox.y_max)))
        .italic_angle(0.0)
        .ascent(milli(face.ascender()))
        .descent(milli(face.descender()))
        .cap_height(milli(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(stem_v)
        .font_file2(file);
}

/// The CMap telling readers which character each subset glyph is.
fn to_unicode(used: &FontUse) -> Vec<u8> {
    let mut cmap = UnicodeCmap::new(Name(b"Vigia-UTF16"), system_info());
    for (cid, c) in used.chars.iter().enumerate() {
        if let (Some(c), Ok(cid)) = (c, u16::try_from(cid)) {
            cmap.pair(cid, *c);
        }
    }
    cmap.finish().into_vec()
}

/// Six capitals derived from the subset's bytes: the PDF convention marking a subset font,
/// deterministic so equal documents give equal files (FNV-1a).
fn subset_tag(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6).map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::{FontId, Fonts};

    #[test]
    fn glyphs_are_numbered_in_order_of_first_use() {
        let fonts = Fonts::load().expect("fonts");
        let mut used = FontUse::default();
        assert_eq!(used.encode(fonts.get(FontId::Regular), "abca"), vec![0, 1, 0, 2, 0, 3, 0, 1]);
        assert_eq!(used.chars, vec![None, Some('a'), Some('b'), Some('c')]);
        assert_eq!(subset_tag(b"x").len(), 6);
    }
}
