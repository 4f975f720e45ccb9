//! The component glue: every point of every series becomes one CSV row.

use crate::{file_name, push_record, HEADER};
use vigia_sdk::time::format_ms;
use vigia_sdk::{PluginError, Rendered, ReportRequest, Reporter};

struct Csv;

impl Reporter for Csv {
    fn render(request: ReportRequest) -> Result<Rendered, PluginError> {
        let mut out = String::from(HEADER);
        for series in &request.series {
            let unit = series.unit.as_deref().unwrap_or("");
            for &(timestamp_ms, value) in &series.points {
                let (timestamp, value) = (format_ms(timestamp_ms), value.to_string());
                push_record(&mut out, &[&series.resource, &series.metric, unit, &timestamp, &value]);
            }
        }
        Ok(Rendered { content_type: "text/csv".into(), filename: file_name(&request.title), bytes: out.into_bytes() })
    }
}

vigia_sdk::export_reporter!(Csv);
