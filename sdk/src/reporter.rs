//! The `Reporter` trait and `export_reporter!`: plugins that render series into a document; and
//! `DocumentReporter` with `export_document_reporter!`: plugins that lay out the host's report
//! documents (sections, tables, charts) as PDF, HTML, CSV….

use crate::bindings::document_reporter::Guest as DocumentGuest;
use crate::bindings::reporter::Guest;
use crate::export::{cargo_info, CargoPackage};
use crate::report::{Document, Format};
use crate::types::{PluginError, PluginInfo, Rendered, ReportRequest};
use std::marker::PhantomData;

/// A plugin that renders a report (CSV, HTML, PDF…) from time series.
pub trait Reporter {
    /// What the plugin says about itself; see [`Collector::info`](crate::Collector::info).
    fn info(from_cargo: PluginInfo) -> PluginInfo {
        from_cargo
    }

    /// Renders the requested report.
    fn render(request: ReportRequest) -> Result<Rendered, PluginError>;
}

#[doc(hidden)]
pub struct ReporterExport<T, P>(PhantomData<(T, P)>);

impl<T: Reporter, P: CargoPackage> Guest for ReporterExport<T, P> {
    fn info() -> PluginInfo {
        T::info(cargo_info::<P>())
    }

    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        T::render(request)
    }
}

/// Exports a [`Reporter`] implementation as the component's `reporter` world.
///
/// ```no_run
/// use vigia_sdk::{PluginError, Rendered, ReportRequest, Reporter};
///
/// struct Count;
///
/// impl Reporter for Count {
///     fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
///         Ok(Rendered {
///             content_type: "text/plain".into(),
///             filename: "count.txt".into(),
///             bytes: format!("{} series\n", request.series.len()).into_bytes(),
///         })
///     }
/// }
///
/// vigia_sdk::export_reporter!(Count);
/// ```
#[macro_export]
macro_rules! export_reporter {
    ($plugin:ty) => {
        $crate::__export_kind!($plugin, ReporterExport, reporter, __export_reporter_world);
    };
}

/// A reporter that renders the host's report documents (world `document-reporter`, since
/// `vigia:plugin@0.1.1`). List the formats it produces in the manifest's `formats`.
pub trait DocumentReporter {
    /// What the plugin says about itself; see [`Collector::info`](crate::Collector::info).
    fn info(from_cargo: PluginInfo) -> PluginInfo {
        from_cargo
    }

    /// Renders `document` as `format` (one of the manifest's `formats`).
    fn render_document(document: Document, format: Format) -> Result<Rendered, PluginError>;

    /// The series form of `reporter` (0.1.0); a document reporter need not support it.
    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        let _ = request;
        Err(PluginError::permanent("this reporter renders report documents only"))
    }
}

#[doc(hidden)]
pub struct DocumentReporterExport<T, P>(PhantomData<(T, P)>);

impl<T: DocumentReporter, P: CargoPackage> DocumentGuest for DocumentReporterExport<T, P> {
    fn info() -> PluginInfo {
        T::info(cargo_info::<P>())
    }

    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        T::render(request)
    }

    fn render_document(document: Document, format: Format) -> Result<Rendered, PluginError> {
        T::render_document(document, format)
    }
}

/// Exports a [`DocumentReporter`] implementation as the component's `document-reporter` world.
///
/// ```no_run
/// use vigia_sdk::report::{Document, Format};
/// use vigia_sdk::{DocumentReporter, PluginError, Rendered};
///
/// struct Outline;
///
/// impl DocumentReporter for Outline {
///     fn render_document(document: Document, _format: Format) -> Result<Rendered, PluginError> {
///         let lines: Vec<String> = document.sections.iter().map(|s| format!("{} {}", s.number, s.title)).collect();
///         Ok(Rendered {
///             content_type: "text/plain".into(),
///             filename: format!("{}.txt", document.file_stem),
///             bytes: lines.join("\n").into_bytes(),
///         })
///     }
/// }
///
/// vigia_sdk::export_document_reporter!(Outline);
/// ```
#[macro_export]
macro_rules! export_document_reporter {
    ($plugin:ty) => {
        $crate::__export_kind!($plugin, DocumentReporterExport, document_reporter, __export_document_reporter_world);
    };
}
