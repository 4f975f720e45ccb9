//! CSV reporter: report documents as one CSV of all their tables with exact values
//! ([`document`]), and the older series form, one row per point ([`series`]).

pub mod document;
#[cfg(target_arch = "wasm32")]
mod plugin;
pub mod series;

pub const HEADER: &str = "resource,metric,unit,timestamp,value\r\n";

/// Appends one CSV record (RFC 4180: CRLF line ends, fields quoted only when they need it).
fn push_record(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// A file name from a report title: lowercase ASCII words joined by `-`.
fn file_name(title: &str) -> String {
    let slug: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if slug.is_empty() {
        "report.csv".to_owned()
    } else {
        format!("{}.csv", slug.join("-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_fields_that_need_it() {
        let mut out = String::new();
        push_record(&mut out, &["db,1", "say \"hi\"", "plain", "two\nlines"]);
        assert_eq!(out, "\"db,1\",\"say \"\"hi\"\"\",plain,\"two\nlines\"\r\n");
    }

    #[test]
    fn file_names_are_slugs() {
        assert_eq!(file_name("Weekly DB report (prod)"), "weekly-db-report-prod.csv");
        assert_eq!(file_name("  ***  "), "report.csv");
    }
}
