//! The component glue: report documents as one CSV of all their tables, and the older series form.

use vigia_sdk::report::{Document, Format};
use vigia_sdk::{DocumentReporter, PluginError, Rendered, ReportRequest};

struct Csv;

impl DocumentReporter for Csv {
    fn render_document(document: Document, format: Format) -> Result<Rendered, PluginError> {
        crate::document::render_document(&document, &format)
    }

    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        Ok(crate::series::render_series(&request))
    }
}

vigia_sdk::export_document_reporter!(Csv);
