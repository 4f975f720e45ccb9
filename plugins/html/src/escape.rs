//! HTML text escaping and the string builder every renderer writes into.
//!
//! Everything in a document may come from a monitored database (query texts, object names,
//! labels), so every string is written through [`Html::text`] or [`Html::attr`] and only the
//! renderer's own constants go through [`Html::raw`].

use std::fmt::{self, Write as _};

/// The output being built: markup from the renderer, escaped text from the document.
#[derive(Default)]
pub struct Html(String);

impl Html {
    pub fn with_capacity(capacity: usize) -> Self {
        Html(String::with_capacity(capacity))
    }

    /// Renderer-owned markup, written as is.
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Renderer-owned formatted markup (numbers, coordinates); arguments must not carry document text.
    pub fn fmt(&mut self, args: fmt::Arguments<'_>) -> &mut Self {
        // Writing into a String cannot fail.
        let _ = self.0.write_fmt(args);
        self
    }

    /// Document text between tags.
    pub fn text(&mut self, text: &str) -> &mut Self {
        push_escaped(&mut self.0, text);
        self
    }

    /// Document text inside a double-quoted attribute value (same escaping; named for the reader).
    pub fn attr(&mut self, value: &str) -> &mut Self {
        self.text(value)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Appends `text` with `& < > " '` replaced by entities. C0 control characters other than tab and
/// line breaks are not allowed in HTML (nor in the XML an SVG might be copied into), so they
/// become U+FFFD instead of silently breaking the file.
pub fn push_escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(needs_escape) {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or('\u{FFFD}');
        out.push_str(match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            _ => "\u{FFFD}",
        });
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// A `#rrggbb` colour from the document, or `fallback`: colours land in `fill` and `style`
/// attributes, where escaping alone would not stop a crafted value from injecting CSS.
pub fn safe_color<'a>(color: &'a str, fallback: &'a str) -> &'a str {
    let hex = color.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        color
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(text: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, text);
        out
    }

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(escape("a < b && c > \"d\" 'e'"), "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;");
        assert_eq!(escape("</code><script>alert(1)</script>"), "&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape("tab\tnl\nnul\u{0}é"), "tab\tnl\nnul\u{FFFD}é");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn only_hex_colours_pass() {
        assert_eq!(safe_color("#0072B2", "#777777"), "#0072B2");
        assert_eq!(safe_color("red", "#777777"), "#777777");
        assert_eq!(safe_color("#fff;x:url(a)", "#777777"), "#777777");
        assert_eq!(safe_color("#12345g", "#777777"), "#777777");
    }
}
