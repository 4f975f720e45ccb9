//! Reporters across WIT versions, through the real plugin runtime: the first-party document
//! reporters (`pdf`, `html`, `csv`, world `document-reporter` of 0.1.1) are offered for the
//! formats their manifests list and render a document; a reporter built against 0.1.0 (fixture
//! `reporter-0-1-0`) keeps loading and rendering series, is offered for no format, and may not
//! claim one.

use crate::plugins_support;

use plugins_support::*;
use vigia::plugins::document::{Block, Cell, Column, ColumnKind, Document, Section, Table};
use vigia::plugins::{LoadState, ReportRequest};

fn document() -> Document {
    let table = Table {
        title: "Top queries".into(),
        columns: vec![
            Column { title: "Query".into(), kind: ColumnKind::Code, unit: String::new() },
            Column { title: "Calls".into(), kind: ColumnKind::Integer, unit: String::new() },
        ],
        rows: vec![vec![Cell::Text("SELECT 1 /* marker */".into()), Cell::Integer(1234)]],
        note: None,
    };
    Document {
        title: "Top queries report".into(),
        subject: "127.0.0.1@sales".into(),
        generated_at_ms: 1_796_029_200_000,
        from_ms: 1_796_025_600_000,
        to_ms: 1_796_029_200_000,
        time_zone: "UTC".into(),
        utc_offset_minutes: 0,
        filters: vec!["name = sales".into()],
        sections: vec![Section {
            number: "1".into(),
            title: "Queries".into(),
            level: 1,
            blocks: vec![Block::Table(table)],
        }],
        file_stem: "vigia-top-queries-report".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_reporters_are_offered_for_their_formats_and_older_reporters_keep_loading() {
    init_tracing();
    let sb = Sandbox::new();
    for id in ["pdf", "html", "csv", "reporter-0-1-0"] {
        sb.install(id, id, |_| {});
    }
    // The same 0.1.0 component, claiming a format it cannot render.
    sb.install("reporter-0-1-0", "liar", |m| {
        set(m, "id", "liar");
        set(m, "formats", vec!["txt".to_string()]);
    });
    let host = sb.start().await;
    for id in ["pdf", "html", "csv", "reporter-0-1-0"] {
        assert_eq!(host.status(id).unwrap().status, LoadState::Loaded, "{id}: {:?}", host.status(id));
    }
    let liar = host.status("liar").unwrap();
    assert_eq!(liar.status, LoadState::Failed, "{liar:?}");
    assert!(liar.last_error.as_deref().unwrap_or_default().contains("document-reporter"), "{liar:?}");

    let offered: Vec<(String, Vec<String>)> = host.renderers().into_iter().map(|r| (r.id, r.formats)).collect();
    let formats = |f: &str| vec![f.to_string()];
    assert_eq!(
        offered,
        [("csv".into(), formats("csv")), ("html".into(), formats("html")), ("pdf".into(), formats("pdf"))]
    );

    // The 0.1.0 reporter still renders series.
    let request = ReportRequest { title: "t".into(), from_ms: 0, to_ms: 1, parameters: "{}".into(), series: vec![] };
    let r = host.render("reporter-0-1-0", request).await.unwrap();
    assert_eq!(String::from_utf8(r.bytes).unwrap(), "t: 0 series");
    assert!(host.render_document("reporter-0-1-0", &document(), "txt").await.is_err(), "no render-document export");

    // The document reporters render the document; other formats are refused by the plugin.
    let pdf = host.render_document("pdf", &document(), "pdf").await.unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF-") && pdf.content_type == "application/pdf", "{}", pdf.content_type);
    let html = host.render_document("html", &document(), "html").await.unwrap();
    let page = String::from_utf8(html.bytes).unwrap();
    assert!(page.contains("SELECT 1 /* marker */") && page.contains("1,234"), "{page}");
    let csv = host.render_document("csv", &document(), "csv").await.unwrap();
    let text = String::from_utf8(csv.bytes).unwrap();
    assert!(text.contains("SELECT 1 /* marker */,1234"), "{text}");
    let refused = host.render_document("pdf", &document(), "docx").await.unwrap_err().to_string();
    assert!(refused.contains("docx"), "{refused}");
}
