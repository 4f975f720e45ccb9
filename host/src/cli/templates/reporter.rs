//! {{name}}: a Vigia reporter plugin.
// Only the wasm32 build is a plugin; on the host target this crate compiles to nothing.
#![cfg(target_arch = "wasm32")]

use vigia_sdk::{PluginError, Rendered, ReportRequest, Reporter};

struct Plugin;

impl Reporter for Plugin {
    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        let mut text = format!("{}\n", request.title);
        for series in &request.series {
            text.push_str(&format!("{} {}: {} points\n", series.resource, series.metric, series.points.len()));
        }
        Ok(Rendered { content_type: "text/plain".into(), filename: "report.txt".into(), bytes: text.into_bytes() })
    }
}

vigia_sdk::export_reporter!(Plugin);
