//! Tidy checks of the web assets: the dashboard script never parses strings as HTML, listens to
//! every event type the stream sends, and draws every wait class in the reports' colour.

use crate::tidy::workspace_root;

/// The dashboard script builds elements with the DOM, so text from the API can never become
/// markup: no `innerHTML`, `outerHTML`, `insertAdjacentHTML` or `document.write`.
#[test]
fn the_dashboard_script_never_parses_strings_as_html() {
    let path = workspace_root().join("host/assets/vigia.js");
    let script = std::fs::read_to_string(&path).expect("host/assets/vigia.js");
    let found: Vec<String> = script
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| {
            ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"].iter().any(|w| line.contains(w))
        })
        .map(|(n, line)| format!("host/assets/vigia.js:{}: {}", n + 1, line.trim()))
        .collect();
    assert!(found.is_empty(), "build elements with h(…) instead:\n{}", found.join("\n"));
}

/// `(class, colour)` pairs written `Name: '#rrggbb'` (JS) or `("Name", "#rrggbb")` (Rust), in order.
fn colour_pairs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (i, _) in text.match_indices('#') {
        let colour = &text[i..text.len().min(i + 7)];
        if colour.len() < 7 || !colour[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let before = text[..i].trim_end_matches(['\'', '"', ' ', ':', ',']);
        let name: String = before.chars().rev().take_while(|c| c.is_ascii_alphanumeric()).collect();
        pairs.push((name.chars().rev().collect(), colour.to_ascii_uppercase()));
    }
    pairs
}

/// A wait class has one colour everywhere: the dashboard's `WAIT_COLOURS` (vigia.js) and the
/// reports' (`reports/palette.rs`) list the same classes with the same colours.
#[test]
fn charts_and_reports_share_the_wait_class_palette() {
    let read = |p: &str| std::fs::read_to_string(workspace_root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let script = read("host/assets/vigia.js");
    let start = script.find("const WAIT_COLOURS").expect("WAIT_COLOURS in vigia.js");
    let js = colour_pairs(&script[start..start + script[start..].find("};").expect("end of WAIT_COLOURS")]);
    let rust = read("host/src/reports/palette.rs");
    let start = rust.find("pub const WAIT_COLOURS").expect("WAIT_COLOURS in palette.rs");
    let rs = colour_pairs(&rust[start..start + rust[start..].find("];").expect("end of WAIT_COLOURS")]);
    assert!(js.len() >= 10, "{js:?}");
    assert_eq!(js, rs, "host/assets/vigia.js and host/src/reports/palette.rs must list the same wait-class colours");
}

/// The dashboard hears every event the stream sends: an `EventSource` listener fires only for
/// its exact `event:` name, so each name `EventType::as_str` gives (host/src/events.rs) must be
/// one the script listens to (vigia.js `live`).
#[test]
fn the_dashboard_listens_to_every_event_type() {
    let read = |p: &str| std::fs::read_to_string(workspace_root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let events = read("host/src/events.rs");
    let start = events.find("pub fn as_str").expect("EventType::as_str in events.rs");
    let body = &events[start..start + events[start..].find("\n    }\n").expect("end of as_str")];
    let names: Vec<&str> = body.split("=> \"").skip(1).filter_map(|s| s.split('"').next()).collect();
    assert!(names.len() >= 10 && names.contains(&"alert.opened"), "{names:?}");
    let script = read("host/assets/vigia.js");
    let missing: Vec<&&str> = names.iter().filter(|n| !script.contains(&format!("'{n}'"))).collect();
    assert!(missing.is_empty(), "host/assets/vigia.js (live) does not listen to {missing:?}");
}
