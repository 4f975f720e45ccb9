//! Whole-document tests on the 24 h sample: structure, escaping, size, determinism.

use crate::sample::{self, HOSTILE_QUERY};
use crate::{render_document, to_html};
use std::time::Instant;
use vigia_sdk::report::{Block, Cell, Column, ColumnKind, Table};

/// Elements that never close in HTML.
const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];

/// Checks that every element closes, in order; returns the first mismatch.
fn check_nesting(html: &str) -> Result<usize, String> {
    let mut stack: Vec<&str> = Vec::new();
    let mut count = 0;
    for chunk in html.split('<').skip(1) {
        let tag_end = chunk.find('>').ok_or_else(|| format!("unterminated tag: {:.40}", chunk))?;
        let tag = &chunk[..tag_end];
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if let Some(closing) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or_else(|| format!("</{closing}> closes nothing"))?;
            if open != name {
                return Err(format!("<{open}> closed by </{name}> (element {count})"));
            }
        } else if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(chunk[..name.len()].as_ref());
            count += 1;
        }
    }
    if stack.is_empty() {
        Ok(count)
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn the_sample_report_is_whole_linked_and_small() {
    let doc = sample::document();
    let started = Instant::now();
    let rendered = render_document(&doc, "html").expect("renders");
    let elapsed = started.elapsed();
    let html = String::from_utf8(rendered.bytes).expect("utf-8");
    println!("24 h sample: {} bytes in {elapsed:?}", html.len());
    assert_eq!(rendered.content_type, "text/html; charset=utf-8");
    assert_eq!(rendered.filename, "workload-pg-sales-2026-11-30.html");
    assert!(html.len() < 2 * 1024 * 1024, "{} bytes", html.len());

    let elements = check_nesting(&html).unwrap_or_else(|e| panic!("{e}"));
    assert!(elements > 1000, "{elements} elements");
    for section in &doc.sections {
        assert!(
            html.contains(&format!("<span class=\"n\">{}</span>{}</h", section.number, section.title)),
            "{}",
            section.title
        );
    }
    let links: Vec<&str> = html.split("href=\"#").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert_eq!(links.len(), doc.sections.len());
    for id in links {
        assert_eq!(html.matches(&format!(" id=\"{id}\"")).count(), 1, "anchor {id}");
    }
    assert_eq!(html.matches("<svg").count(), 2);
    assert_eq!(html.matches("<path").count(), 8, "one path per wait class");
    assert!(html.contains("No data for this period."));
}

#[test]
fn needs_nothing_from_the_network_and_runs_no_script() {
    let html = to_html(&sample::document());
    for forbidden in ["<script", "http://", "https://", "src=", "url(", "@import", "<link", "@font-face"] {
        assert!(!html.contains(forbidden), "found {forbidden}");
    }
    assert!(html.contains("@media print") && html.contains("size: A4") && html.contains("break-before: page"));
}

#[test]
fn query_text_cannot_become_markup() {
    let html = to_html(&sample::document());
    assert!(!html.contains("</code><script>"));
    let escaped = "SELECT &#39;&lt;/code&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39; AS x, &quot;a,b&quot; FROM t";
    assert!(html.contains(&format!("<td class=\"code\">{escaped}</td>")), "{HOSTILE_QUERY}");
}

#[test]
fn titles_labels_and_colours_from_the_document_are_neutralised() {
    let mut doc = sample::document();
    doc.title = "<b>Report</b>".into();
    doc.sections[0].title = "Sum<mary>".into();
    if let Some(Block::Chart(chart)) = doc.sections[1].blocks.first_mut() {
        chart.title = "a\"onload=\"x".into();
        if let vigia_sdk::report::ChartData::StackedArea(series) = &mut chart.data {
            series[0].label = "<img src=x>".into();
            series[0].color = "red\" onclick=\"x".into();
        }
    }
    let html = to_html(&doc);
    check_nesting(&html).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("<h1>&lt;b&gt;Report&lt;/b&gt;</h1>") && html.contains("Sum&lt;mary&gt;"));
    assert!(html.contains("aria-label=\"a&quot;onload=&quot;x\""));
    assert!(html.contains("&lt;img src=x&gt;") && !html.contains("<img"));
    assert!(!html.contains("onclick") && html.contains("fill=\"#777777\""));
}

#[test]
fn other_formats_are_refused_by_name() {
    let err = render_document(&sample::document(), "pdf").expect_err("refused");
    assert!(err.message.contains("`pdf`") && err.message.contains("`html`"), "{}", err.message);
}

#[test]
fn output_is_deterministic() {
    let doc = sample::document();
    assert_eq!(to_html(&doc), to_html(&doc));
}

#[test]
fn cells_use_the_document_clock() {
    let mut doc = sample::document();
    let column = Column { title: "At".into(), kind: ColumnKind::Timestamp, unit: String::new() };
    let table = Table {
        title: String::new(),
        columns: vec![column],
        rows: vec![vec![Cell::Integer(sample::FROM_MS)]],
        note: None,
    };
    doc.sections.truncate(1);
    doc.sections[0].blocks = vec![Block::Table(table)];
    assert!(to_html(&doc).contains("<td class=\"r\">2026-11-30 00:00:00</td>"));
}

/// `VIGIA_HTML_SAMPLE=/tmp/report.html cargo test -p vigia-plugin-html write_sample` writes the
/// sample out for a look in a browser.
#[test]
fn write_sample() {
    if let Some(path) = std::env::var_os("VIGIA_HTML_SAMPLE") {
        std::fs::write(&path, to_html(&sample::document())).expect("write the sample");
    }
}
