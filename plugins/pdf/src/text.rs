//! Line breaking and truncation: prose wraps at spaces, code wraps anywhere (preferring after a
//! space or punctuation) and keeps its indentation, single-line cells end in an ellipsis.

use crate::fonts::Font;

/// Prose split into lines no wider than `width`; words longer than a line are cut.
pub fn wrap(font: &Font, size: f32, text: &str, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in clean(text).split('\n') {
        let start = lines.len();
        let mut line = String::new();
        let mut line_w = 0.0;
        let space = font.char_width(' ', size);
        for word in paragraph.split_whitespace() {
            let word_w = font.width(word, size);
            if !line.is_empty() && line_w + space + word_w <= width {
                line.push(' ');
                line.push_str(word);
                line_w += space + word_w;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut pieces = break_anywhere(font, size, word, width, |_| false);
            let last = pieces.pop().unwrap_or_default();
            lines.extend(pieces);
            line_w = font.width(&last, size);
            line = last;
        }
        if !line.is_empty() || lines.len() == start {
            lines.push(line);
        }
    }
    lines
}

/// Program text split into lines no wider than `width`: original line breaks and indentation
/// stay, long lines break after a space or punctuation when one is near, else anywhere.
pub fn wrap_code(font: &Font, size: f32, text: &str, width: f32) -> Vec<String> {
    let text = clean(text).replace('\t', "    ");
    let mut lines = Vec::new();
    for line in text.trim_end().split('\n') {
        let line = line.trim_end();
        let pieces = break_anywhere(font, size, line, width, |c| matches!(c, ' ' | ',' | '(' | ')' | '=' | ';'));
        lines.extend(pieces);
    }
    lines
}

/// Cuts `text` into pieces no wider than `width`, each ending after the last `breakable`
/// character when that keeps at least a third of the line, else at the width.
fn break_anywhere(font: &Font, size: f32, text: &str, width: f32, breakable: impl Fn(char) -> bool) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut piece_w = 0.0;
    // Byte offset in `piece` just after its last break opportunity, and the width before it.
    let mut last_break: Option<(usize, f32)> = None;
    for c in text.chars() {
        let w = font.char_width(c, size);
        if piece_w + w > width && !piece.is_empty() {
            match last_break {
                Some((at, before)) if before >= width / 3.0 && at < piece.len() => {
                    let rest = piece.split_off(at);
                    pieces.push(std::mem::replace(&mut piece, rest));
                    piece_w -= before;
                }
                _ => {
                    pieces.push(std::mem::take(&mut piece));
                    piece_w = 0.0;
                }
            }
            last_break = None;
        }
        piece.push(c);
        piece_w += w;
        if breakable(c) {
            last_break = Some((piece.len(), piece_w));
        }
    }
    pieces.push(piece);
    pieces
}

/// `text` cut to fit `width` on one line, ending in `…` when cut; line breaks become spaces.
pub fn fit(font: &Font, size: f32, text: &str, width: f32) -> String {
    let text = clean(text).replace('\n', " ");
    if font.width(&text, size) <= width {
        return text;
    }
    let budget = width - font.char_width('…', size);
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let w = font.char_width(c, size);
        if used + w > budget {
            break;
        }
        out.push(c);
        used += w;
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Drops carriage returns and control characters (no glyph, and they confuse text extraction),
/// keeping line breaks and tabs.
fn clean(text: &str) -> String {
    text.chars().filter(|&c| c == '\n' || c == '\t' || !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::{FontId, Fonts};

    fn regular(fonts: &Fonts) -> &Font {
        fonts.get(FontId::Regular)
    }

    #[test]
    fn prose_wraps_at_spaces_within_the_width() {
        let fonts = Fonts::load().expect("fonts");
        let font = regular(&fonts);
        let text = "The quick brown fox jumps over the lazy dog and keeps running far away";
        let lines = wrap(font, 10.0, text, 120.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| font.width(l, 10.0) <= 120.0));
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap(font, 10.0, "", 100.0), vec![String::new()]);
        assert_eq!(wrap(font, 10.0, "a\n\nb", 100.0), vec!["a", "", "b"]);
    }

    #[test]
    fn code_keeps_every_character_and_indentation() {
        let fonts = Fonts::load().expect("fonts");
        let font = fonts.get(FontId::Mono);
        let sql = "SELECT a, b, c\n  FROM t\r\n  WHERE x IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)";
        let lines = wrap_code(font, 8.0, sql, 100.0);
        assert!(lines.iter().all(|l| font.width(l, 8.0) <= 100.0), "{lines:?}");
        assert_eq!(lines[1], "  FROM t");
        let joined: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let expected: String = sql.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(joined, expected);
        assert!(lines.iter().skip(2).any(|l| l.ends_with(", ")), "breaks after commas: {lines:?}");
    }

    #[test]
    fn fit_ellipsizes_only_what_overflows() {
        let fonts = Fonts::load().expect("fonts");
        let font = regular(&fonts);
        assert_eq!(fit(font, 9.0, "short", 100.0), "short");
        let cut = fit(font, 9.0, "a rather long database name that cannot fit", 80.0);
        assert!(cut.ends_with('…') && font.width(&cut, 9.0) <= 80.0, "{cut}");
    }
}
