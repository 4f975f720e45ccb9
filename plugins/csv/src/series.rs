//! The series form (`render`, world 0.1.0): every point of every series becomes one CSV row.

use crate::{file_name, push_record, HEADER};
use vigia_sdk::time::format_ms;
use vigia_sdk::{Rendered, ReportRequest};

/// `resource,metric,unit,timestamp,value`, one row per point, timestamps in RFC 3339 UTC.
pub fn render_series(request: &ReportRequest) -> Rendered {
    let mut out = String::from(HEADER);
    for series in &request.series {
        let unit = series.unit.as_deref().unwrap_or("");
        for &(timestamp_ms, value) in &series.points {
            let (timestamp, value) = (format_ms(timestamp_ms), value.to_string());
            push_record(&mut out, &[&series.resource, &series.metric, unit, &timestamp, &value]);
        }
    }
    Rendered { content_type: "text/csv".into(), filename: file_name(&request.title), bytes: out.into_bytes() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigia_sdk::Series;

    #[test]
    fn one_row_per_point() {
        let request = ReportRequest {
            title: "Weekly (prod)".into(),
            from_ms: 0,
            to_ms: 120_000,
            series: vec![Series {
                resource: "db,1".into(),
                metric: "pg.tps".into(),
                unit: Some("1/s".into()),
                points: vec![(0, 1.5), (60_000, 2.0)],
            }],
            parameters: "{}".into(),
        };
        let rendered = render_series(&request);
        assert_eq!(rendered.content_type, "text/csv");
        assert_eq!(rendered.filename, "weekly-prod.csv");
        assert_eq!(
            String::from_utf8(rendered.bytes).expect("utf-8"),
            "resource,metric,unit,timestamp,value\r\n\
             \"db,1\",pg.tps,1/s,1970-01-01T00:00:00.000Z,1.5\r\n\
             \"db,1\",pg.tps,1/s,1970-01-01T00:01:00.000Z,2\r\n"
        );
    }
}
