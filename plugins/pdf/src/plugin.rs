//! The component glue: `render-document` hands the document to the native-tested layout.

use vigia_sdk::report::{Document, Format};
use vigia_sdk::{DocumentReporter, PluginError, Rendered};

struct Pdf;

impl DocumentReporter for Pdf {
    fn render_document(document: Document, format: Format) -> Result<Rendered, PluginError> {
        crate::render_document(&document, &format)
    }
}

vigia_sdk::export_document_reporter!(Pdf);
