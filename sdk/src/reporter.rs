//! The `Reporter` trait and `export_reporter!`: plugins that render series into a document.

use crate::bindings::reporter::Guest;
use crate::export::{cargo_info, CargoPackage};
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
