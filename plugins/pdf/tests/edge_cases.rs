//! Documents the host should not send but might: no sections, empty and degenerate charts,
//! malformed colours, NaN values, ragged rows, a query longer than a page, characters the font
//! lacks, an empty window. Each must still give a valid PDF that poppler reads without errors.

mod support;

use support::{out_dir, poppler, stdout};
use vigia_plugin_pdf::render_pdf;
use vigia_sdk::report::*;

fn document(sections: Vec<Section>) -> Document {
    Document {
        title: "Edge cases".into(),
        subject: "pg-odd@db9:5432".into(),
        generated_at_ms: 1_795_993_200_000,
        from_ms: 1_795_906_800_000,
        to_ms: 1_795_906_800_000 + 90 * 60_000,
        time_zone: "America/St_Johns".into(),
        utc_offset_minutes: -210,
        filters: Vec::new(),
        sections,
        file_stem: "edge".into(),
    }
}

/// Renders, checks the file with pdfinfo and pdftoppm, and returns its text.
fn check(name: &str, document: &Document) -> String {
    let bytes = render_pdf(document).expect("renders");
    let path = out_dir().join(format!("{name}.pdf"));
    std::fs::write(&path, bytes).expect("write");
    let path = path.to_str().expect("UTF-8 path");
    poppler("pdfinfo", &[path]);
    let prefix = out_dir().join(format!("{name}-page"));
    poppler("pdftoppm", &["-r", "20", "-png", path, prefix.to_str().expect("UTF-8")]);
    stdout(poppler("pdftotext", &["-raw", path, "-"]))
}

fn section(number: &str, title: &str, level: u8, blocks: Vec<Block>) -> Section {
    Section { number: number.into(), title: title.into(), level, blocks }
}

fn chart(title: &str, data: ChartData) -> Block {
    Block::Chart(Chart { title: title.into(), unit: "things".into(), data })
}

fn series(color: &str, points: Vec<(i64, f64)>) -> TimeSeries {
    TimeSeries { label: format!("series {color}"), color: color.into(), points }
}

#[test]
fn a_document_without_sections_is_a_cover_and_empty_contents() {
    let text = check("empty", &document(Vec::new()));
    assert!(text.contains("Edge cases") && text.contains("none"), "cover with `none` filters: {text}");
    assert!(text.contains("1 h 30 min") && text.contains("UTC-03:30"));
}

#[test]
fn degenerate_charts_and_tables_still_render() {
    let from = 1_795_906_800_000;
    let charts = vec![
        chart("No series", ChartData::StackedArea(Vec::new())),
        chart("Empty series", ChartData::StackedArea(vec![series("#ff0000", Vec::new())])),
        chart("One point", ChartData::StackedArea(vec![series("#00ff00", vec![(from + 60_000, 3.0)])])),
        chart(
            "Bad values",
            ChartData::StackedArea(vec![series(
                "teal",
                vec![(from, f64::NAN), (from + 1, f64::INFINITY), (from + 2, -4.0)],
            )]),
        ),
        chart("No bars", ChartData::Bars(Vec::new())),
        chart("Zero bars", ChartData::Bars(vec![Bar { label: "zero".into(), value: 0.0, color: "#zzzzzz".into() }])),
    ];
    let columns: Vec<Column> = (0..40)
        .map(|i| Column { title: format!("Column number {i}"), kind: ColumnKind::Integer, unit: String::new() })
        .collect();
    let ragged = Table {
        title: "Ragged and wide".into(),
        columns,
        rows: vec![vec![Cell::Integer(1)], (0..45).map(|i| Cell::Integer(i * 1_000_000)).collect(), Vec::new()],
        note: Some(String::new()),
    };
    let sections = vec![
        section("0.1", "A section before any chapter", 2, charts),
        section(
            "1",
            "Tables",
            1,
            vec![Block::Table(ragged), Block::Facts(Vec::new()), Block::Paragraph(String::new())],
        ),
    ];
    let text = check("degenerate", &document(sections));
    assert_eq!(text.matches("No data for this period.").count(), 3, "no series, empty series, no bars: {text}");
}

#[test]
fn a_query_longer_than_a_page_is_split_but_complete() {
    let long: String = (0..3000).map(|i| format!("${i}, ")).collect();
    let query = format!("SELECT 1 WHERE x IN ({long}$3000)");
    let table = Table {
        title: "Long".into(),
        columns: vec![Column { title: "Query".into(), kind: ColumnKind::Code, unit: String::new() }],
        rows: vec![vec![Cell::Text(query.clone())], vec![Cell::Text("SELECT 2".into())]],
        note: None,
    };
    let text = check("long-query", &document(vec![section("1", "Queries", 1, vec![Block::Table(table)])]));
    assert!(text.contains("$0, $1,") && text.contains("$2999, $3000)") && text.contains("SELECT 2"));
}

#[test]
fn characters_the_font_lacks_do_not_break_the_file() {
    let blocks = vec![
        Block::Paragraph(
            "Ünïcödé ünd Ελληνικά und Кириллица; 数据库 and 🐘 have no DejaVu glyph.\tTabs\r\nand CRLF.".into(),
        ),
        Block::Facts(vec![("Ключ".into(), "значение".into())]),
    ];
    let title = "A very long chapter title that certainly does not fit on one line of the page and must wrap";
    let text = check("unicode", &document(vec![section("1", title, 1, blocks)]));
    assert!(text.contains("Ελληνικά") && text.contains("Кириллица") && text.contains("значение"), "{text}");
}

#[test]
fn an_empty_window_still_renders_a_chart() {
    let mut doc = document(Vec::new());
    doc.to_ms = doc.from_ms;
    let points = (0..10).map(|m| (doc.from_ms + m * 60_000, m as f64)).collect();
    doc.sections = vec![section(
        "1",
        "Chart",
        1,
        vec![chart("Data outside the window", ChartData::StackedArea(vec![series("#123456", points)]))],
    )];
    let text = check("empty-window", &doc);
    assert!(text.contains("Data outside the window"));
}
