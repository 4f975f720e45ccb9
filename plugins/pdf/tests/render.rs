//! Renders the full-size sample report and checks the PDF with poppler (`pdfinfo`,
//! `pdftotext`, `pdffonts`, `pdftoppm`): page size and count, extractable text (titles, windows,
//! whole query texts, page numbers), embedded subset fonts, every page rasterising cleanly, and
//! contents links landing on their sections. Poppler missing is a failure, never a skip.

mod sample;
mod support;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{out_dir, poppler, stdout};
use vigia_plugin_pdf::{render_document, render_pdf};
use vigia_sdk::report::Document;

/// The rendered sample (rendered once per test binary), where it was written, and how long it took.
struct Rendered {
    path: PathBuf,
    bytes: Vec<u8>,
    took: Duration,
}

fn rendered() -> &'static Rendered {
    static RENDERED: OnceLock<Rendered> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let document = sample::workload_document();
        let started = Instant::now();
        let bytes = render_pdf(&document).expect("the sample renders");
        let took = started.elapsed();
        let path = out_dir().join("workload.pdf");
        std::fs::write(&path, &bytes).expect("write the PDF");
        Rendered { path, bytes, took }
    })
}

fn path() -> &'static str {
    rendered().path.to_str().expect("UTF-8 path")
}

fn page_count() -> usize {
    let info = stdout(poppler("pdfinfo", &[path()]));
    let line = info.lines().find(|l| l.starts_with("Pages:")).expect("pdfinfo prints Pages:");
    line["Pages:".len()..].trim().parse().expect("a page count")
}

/// Text of pages `first..=last` (1-based), in content-stream order.
fn page_text(first: usize, last: usize, layout: bool) -> String {
    let (f, l) = (first.to_string(), last.to_string());
    let mode = if layout { "-layout" } else { "-raw" };
    stdout(poppler("pdftotext", &[mode, "-f", &f, "-l", &l, path(), "-"]))
}

#[test]
fn pdfinfo_sees_a4_pages_and_the_metadata() {
    let info = stdout(poppler("pdfinfo", &[path()]));
    let field = |name: &str| {
        let line =
            info.lines().find(|l| l.starts_with(&format!("{name}:"))).unwrap_or_else(|| panic!("{name}: {info}"));
        line[name.len() + 1..].trim().to_owned()
    };
    assert!(field("Page size").starts_with("595.276 x 841.89 pts (A4)"), "{info}");
    assert_eq!(field("Title"), sample::TITLE);
    assert_eq!(field("Subject"), sample::SUBJECT);
    let pages = page_count();
    assert!((20..=120).contains(&pages), "a full report takes tens of pages, got {pages}");
}

#[test]
fn the_text_can_be_found() {
    let text = page_text(1, page_count(), false);
    let document = sample::workload_document();
    for needle in [sample::TITLE, sample::SUBJECT, sample::LOCAL_WINDOW, sample::UTC_WINDOW, "24 h", "env = production"]
    {
        assert!(text.contains(needle), "`{needle}` is not in the text");
    }
    for section in &document.sections {
        assert!(text.contains(&section.title), "section `{}` is not in the text", section.title);
    }
    let pages = page_count();
    assert!(text.contains(&format!("Page 2 of {pages}")) && text.contains(&format!("Page {pages} of {pages}")));
    assert!(text.contains("No data for this period."), "the empty table says so");
    assert!(text.contains("1,204 sessions"), "table notes are there");
}

#[test]
fn query_texts_are_complete() {
    let flat: String = page_text(1, page_count(), false).chars().filter(|c| !c.is_whitespace()).collect();
    for i in 0..sample::QUERY_ROWS {
        let query: String = sample::query_text(i).chars().filter(|c| !c.is_whitespace()).collect();
        assert!(contains_across_pages(&flat, &query), "query {i} is not complete in the text");
    }
    // A short one must also be findable as-is, on one line, the way a reader would search.
    let text = page_text(1, page_count(), false);
    assert!(text.contains("UPDATE inventory SET reserved ="), "a query line reads as written");
}

/// Whether `needle` appears in `hay`, allowing it to be interrupted by a page turn (the running
/// footer and header, the repeated table header) at most a few times.
fn contains_across_pages(hay: &str, needle: &str) -> bool {
    let (mut rest, mut from, mut gaps) = (needle, 0, 0);
    while !rest.is_empty() {
        let window = &hay[from..];
        // After a page turn the text must go on within the page furniture's length.
        let reach = if gaps == 0 { usize::MAX } else { 600 };
        let mut len = rest.len();
        let found = loop {
            let prefix = &rest[..floor_boundary(rest, len)];
            if prefix.len() >= 12.min(rest.len()) {
                if let Some(at) = window.find(prefix).filter(|&at| at <= reach) {
                    break Some((at, prefix.len()));
                }
            } else {
                break None;
            }
            len = prefix.len() * 3 / 4;
        };
        let Some((at, mut matched)) = found else { return false };
        // The search above found some prefix; the match may run on further.
        let tail = &window.as_bytes()[at..];
        while matched < rest.len() && matched < tail.len() && tail[matched] == rest.as_bytes()[matched] {
            matched += 1;
        }
        matched = floor_boundary(rest, matched);
        from += at + matched;
        rest = &rest[matched..];
        gaps += 1;
        if gaps > 6 {
            return false;
        }
    }
    true
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[test]
fn fonts_are_embedded_subsets_with_unicode_maps() {
    let fonts = stdout(poppler("pdffonts", &[path()]));
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{fonts}");
    for name in ["DejaVuSans ", "DejaVuSans-Bold", "DejaVuSansMono"] {
        let row = rows.iter().find(|r| r.contains(&format!("+{name}"))).unwrap_or_else(|| panic!("{name}: {fonts}"));
        let fields: Vec<&str> = row.split_whitespace().collect();
        // name, type (CID TrueType), encoding, emb, sub, uni, object id.
        assert_eq!(&fields[1..7], ["CID", "TrueType", "Identity-H", "yes", "yes", "yes"], "{row}");
    }
    for base14 in ["Helvetica", "Times", "Courier", "Symbol"] {
        assert!(!fonts.contains(base14), "no base-14 fallback: {fonts}");
    }
}

#[test]
fn every_page_rasterises_and_the_chart_page_is_kept() {
    let dir = out_dir().join("pages");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("pages directory");
    let prefix = dir.join("page");
    poppler("pdftoppm", &["-r", "30", "-png", path(), prefix.to_str().expect("UTF-8")]);
    let pngs = std::fs::read_dir(&dir).expect("list pages").count();
    assert_eq!(pngs, page_count(), "one image per page");
    // The first chapter with a chart (2 Activity overview), at a readable resolution.
    let chart_page = section_page("Activity overview").to_string();
    let chart = out_dir().join("chart-page");
    poppler(
        "pdftoppm",
        &[
            "-r",
            "110",
            "-png",
            "-singlefile",
            "-f",
            &chart_page,
            "-l",
            &chart_page,
            path(),
            chart.to_str().expect("UTF-8"),
        ],
    );
    assert!(out_dir().join("chart-page.png").is_file());
}

/// The page numbers the contents print, by section title.
fn contents_entries() -> Vec<(String, usize)> {
    let document = sample::workload_document();
    let toc = page_text(2, 3, true);
    document
        .sections
        .iter()
        .map(|section| {
            let line = toc
                .lines()
                .find(|l| {
                    l.contains(&format!("{}  ", section.title)) || l.trim_end().contains(&format!("{} ", section.title))
                })
                .unwrap_or_else(|| panic!("`{}` is in the contents:\n{toc}", section.title));
            let page =
                line.split_whitespace().last().and_then(|n| n.parse().ok()).expect("a page number ends the line");
            (section.title.clone(), page)
        })
        .collect()
}

fn section_page(title: &str) -> usize {
    contents_entries().into_iter().find(|(t, _)| t == title).map(|(_, p)| p).expect("section is listed")
}

#[test]
fn contents_list_the_right_pages_and_link_to_them() {
    let entries = contents_entries();
    for (title, page) in &entries {
        let text = page_text(*page, *page, false);
        assert!(text.contains(title.as_str()), "`{title}` is on page {page} as the contents say");
    }
    let targets = link_targets(&String::from_utf8_lossy(&rendered().bytes));
    let printed: Vec<usize> = entries.iter().map(|(_, p)| *p).collect();
    assert_eq!(targets, printed, "one GoTo link per contents line, to the printed page");
    let pdf = String::from_utf8_lossy(&rendered().bytes);
    assert!(pdf.contains("/Outlines") && pdf.contains("/PageMode /UseOutlines"), "bookmarks shown on opening");
    assert_eq!(pdf.matches("/Dest [").count(), entries.len(), "one bookmark per section");
}

/// The 1-based page each link annotation's destination points at, in file order.
fn link_targets(pdf: &str) -> Vec<usize> {
    let kids_at = pdf.find("/Kids [").expect("a page tree") + "/Kids [".len();
    let kids = &pdf[kids_at..kids_at + pdf[kids_at..].find(']').expect("end of /Kids")];
    let pages: Vec<&str> = kids.split(" R").map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut targets = Vec::new();
    for annotation in pdf.split("/Subtype /Link").skip(1) {
        assert!(annotation.contains("/S /GoTo"), "links are GoTo actions");
        let dest = &annotation[annotation.find("/D [").expect("a destination") + 4..];
        let target = dest[..dest.find(" R").expect("a page reference")].trim();
        targets.push(pages.iter().position(|p| *p == target).expect("the destination is a page") + 1);
    }
    targets
}

#[test]
fn output_is_deterministic() {
    let again = render_pdf(&sample::workload_document()).expect("renders");
    assert!(again == rendered().bytes, "two renders of one document are byte-identical");
}

#[test]
fn the_plugin_answers_with_a_named_pdf_and_refuses_other_formats() {
    let document: Document = sample::workload_document();
    let out = render_document(&document, "pdf").expect("pdf renders");
    assert_eq!(out.content_type, "application/pdf");
    assert_eq!(out.filename, "workload-pg-sales-2026-11-29.pdf");
    assert!(out.bytes.starts_with(b"%PDF-"));
    let err = render_document(&document, "docx").expect_err("docx is not a pdf");
    assert!(err.message.contains("docx"), "{}", err.message);
}

#[test]
fn a_full_day_report_is_small_and_quick() {
    let Rendered { bytes, took, .. } = rendered();
    let size = bytes.len();
    println!("full 24 h sample: {} pages, {} KiB, rendered in {:?}", page_count(), size / 1024, took);
    assert!(size < 2 * 1024 * 1024, "under 2 MiB, got {size} bytes");
    // Unoptimised test builds are several times slower than the release plugin; stay generous.
    assert!(took.as_secs_f64() < 10.0, "took {took:?}");
}
