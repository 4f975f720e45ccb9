//! PDF reporter: lays a report document out as an A4 PDF with a cover, linked contents,
//! bookmarks, running headers with page numbers, tables, vector charts and embedded subset
//! DejaVu fonts. Everything but the component glue (`plugin`) compiles and is tested natively.

#[cfg(target_arch = "wasm32")]
mod plugin;

mod blocks;
mod canvas;
mod charts;
mod cover;
mod document;
mod embed;
mod fonts;
mod layout;
mod outline;
mod running;
mod style;
mod tables;
mod text;
mod toc;
mod writer;

use vigia_sdk::report::Document;
use vigia_sdk::{PluginError, Rendered};

/// The one format this reporter produces.
pub const FORMAT: &str = "pdf";

/// Why a document could not be rendered (a font that failed to parse or subset).
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The PDF bytes of `document`.
pub fn render_pdf(document: &Document) -> Result<Vec<u8>, Error> {
    let fonts = fonts::Fonts::load()?;
    let laid = document::lay_out(document, &fonts);
    writer::write(document, &laid.pages, &laid.anchors, &fonts)
}

/// `render-document`: `document` as `format`, which must be `pdf`.
pub fn render_document(document: &Document, format: &str) -> Result<Rendered, PluginError> {
    if !format.eq_ignore_ascii_case(FORMAT) {
        return Err(PluginError::permanent(format!(
            "the pdf reporter cannot render format `{format}`; it renders `pdf`"
        )));
    }
    let bytes = render_pdf(document).map_err(PluginError::permanent)?;
    Ok(Rendered { content_type: "application/pdf".into(), filename: format!("{}.pdf", document.file_stem), bytes })
}
