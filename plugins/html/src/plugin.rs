//! The component glue: `render-document` lays the document out; the series form is not offered.

use vigia_sdk::report::{Document, Format};
use vigia_sdk::{DocumentReporter, PluginError, Rendered};

struct HtmlReporter;

impl DocumentReporter for HtmlReporter {
    fn render_document(document: Document, format: Format) -> Result<Rendered, PluginError> {
        crate::render_document(&document, &format)
    }
}

vigia_sdk::export_document_reporter!(HtmlReporter);
