//! The report's only style sheet, inlined into `<head>`: light and dark on screen, A4 on paper.
//!
//! Fonts are the platform's own (no downloads: the file must open offline and in a mail
//! client). Chart colours come from the document; everything else reads CSS variables so the
//! dark scheme is one block. Print forces the light scheme and exact colours, starts each
//! chapter on a new page, repeats table headers and keeps rows and charts whole.

pub const CSS: &str = r#"
:root {
  --bg: #f3f5f8; --paper: #ffffff; --text: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --soft: #eaeef2; --zebra: #f6f8fa; --head: #eef2f6; --accent: #0969da; --grid: #e3e8ee;
  --code: #24292f; --cover: linear-gradient(135deg, #0b3d6e 0%, #0969da 100%);
  color-scheme: light dark;
}
@media screen and (prefers-color-scheme: dark) {
  :root {
    --bg: #010409; --paper: #0d1117; --text: #e6edf3; --muted: #9198a1; --line: #30363d;
    --soft: #21262d; --zebra: #131920; --head: #161b22; --accent: #4493f8; --grid: #262c34;
    --code: #d1d7e0; --cover: linear-gradient(135deg, #0b2a4a 0%, #1158a8 100%);
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--text); background: var(--bg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 24px auto; background: var(--paper); border: 1px solid var(--line);
  border-radius: 10px; overflow: hidden; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .code { font-family: ui-monospace, SFMono-Regular, "Cascadia Mono", Menlo, Consolas, "Liberation Mono", monospace; }
.muted { color: var(--muted); }
.num { font-variant-numeric: tabular-nums; }

.cover { background: var(--cover); color: #ffffff; padding: 36px 44px 32px; }
.cover .brand { font-size: 12px; font-weight: 700; letter-spacing: .18em; text-transform: uppercase; opacity: .85; }
.cover h1 { font-size: 30px; line-height: 1.2; margin: 10px 0 4px; font-weight: 650; }
.cover .subject { font-size: 18px; margin: 0 0 22px; opacity: .95; overflow-wrap: anywhere; }
.meta { display: flex; flex-wrap: wrap; gap: 14px 44px; margin: 0;
  padding: 16px 20px; background: rgba(255, 255, 255, .1); border: 1px solid rgba(255, 255, 255, .22); border-radius: 8px; }
.meta dt { font-size: 11px; letter-spacing: .08em; text-transform: uppercase; opacity: .8; }
.meta dd { margin: 2px 0 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.meta dd small { display: block; opacity: .8; font-size: 12px; }
.meta .wide { flex-basis: 100%; }

.content { padding: 8px 44px 36px; }
.toc { margin: 24px 0 8px; padding: 18px 24px; background: var(--zebra); border: 1px solid var(--line); border-radius: 8px; }
.toc h2 { margin: 0 0 10px; font-size: 15px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); border: 0; padding: 0; }
.toc ol { list-style: none; margin: 0; padding: 0; }
.toc > ol { columns: 2 300px; column-gap: 36px; }
.toc li { padding: 2px 0; }
.toc .l1 { font-weight: 600; break-inside: avoid; padding-bottom: 6px; }
.toc .l2 { padding-left: 26px; font-size: 13px; font-weight: 400; }
.toc .n { display: inline-block; min-width: 26px; color: var(--muted); font-variant-numeric: tabular-nums; }
.toc .l2 .n { min-width: 34px; }

section { margin-top: 8px; }
h2, h3, h4 { line-height: 1.3; }
.chapter > h2 { font-size: 22px; margin: 36px 0 12px; padding-bottom: 8px; border-bottom: 2px solid var(--accent); }
.sub > h3 { font-size: 17px; margin: 26px 0 10px; }
.level-deep > h4 { font-size: 15px; margin: 20px 0 8px; }
h2 .n, h3 .n, h4 .n { color: var(--accent); margin-right: 10px; font-variant-numeric: tabular-nums; }
.block-title { font-size: 14px; font-weight: 600; margin: 18px 0 6px; }
p.para { margin: 8px 0; white-space: pre-line; max-width: 80ch; }
p.note { margin: 6px 0 0; font-size: 12px; color: var(--muted); }
p.empty { margin: 6px 0 14px; padding: 12px 14px; color: var(--muted); font-style: italic;
  border: 1px dashed var(--line); border-radius: 6px; }

dl.facts { display: grid; grid-template-columns: minmax(140px, max-content) 1fr; gap: 0; margin: 10px 0 14px;
  border: 1px solid var(--line); border-radius: 6px; overflow: hidden; max-width: 760px; }
dl.facts dt, dl.facts dd { margin: 0; padding: 6px 12px; border-top: 1px solid var(--soft); }
dl.facts dt { color: var(--muted); background: var(--zebra); }
dl.facts dd { overflow-wrap: anywhere; }
dl.facts dt:first-of-type, dl.facts dt:first-of-type + dd { border-top: 0; }

table { min-width: min(100%, 640px); border-collapse: separate; border-spacing: 0; margin: 4px 0 6px; font-size: 12.5px;
  border: 1px solid var(--line); border-radius: 6px; }
table.full { width: 100%; }
th, td { padding: 5px 9px; text-align: left; vertical-align: top; border-top: 1px solid var(--soft); }
thead th { position: sticky; top: 0; z-index: 1; background: var(--head); border-top: 0; border-bottom: 1px solid var(--line);
  font-weight: 600; white-space: nowrap; }
thead th:first-child { border-top-left-radius: 6px; }
thead th:last-child { border-top-right-radius: 6px; }
th .unit { display: block; font-weight: 400; font-size: 11px; color: var(--muted); }
tbody tr:nth-child(even) td { background: var(--zebra); }
tbody tr:first-child td { border-top: 0; }
th.r, td.r { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.code { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 11.5px; line-height: 1.45; color: var(--code); min-width: 26em; }

figure.chart { margin: 14px 0 18px; padding: 12px 14px 8px; border: 1px solid var(--line); border-radius: 8px; }
figure.chart figcaption { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 4px 16px; margin-bottom: 6px; }
figure.chart .title { font-weight: 600; }
figure.chart .unit { color: var(--muted); font-size: 12px; }
figure.chart svg { display: block; width: 100%; height: auto; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--muted); }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .axis { stroke: var(--line); stroke-width: 1; }
svg text.label { fill: var(--text); }
svg text.value { fill: var(--text); font-weight: 600; }
ul.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; margin: 6px 0 2px; padding: 0; font-size: 12px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
ul.legend .sw { width: 12px; height: 12px; border-radius: 3px; flex: none; }
ul.legend .stat { color: var(--muted); font-variant-numeric: tabular-nums; }

footer { margin-top: 36px; padding-top: 12px; border-top: 1px solid var(--line); font-size: 12px; color: var(--muted);
  display: flex; flex-wrap: wrap; justify-content: space-between; gap: 8px; }

@media (max-width: 760px) {
  main { margin: 0; border: 0; border-radius: 0; }
  .cover, .content { padding-left: 18px; padding-right: 18px; }
  td.code { min-width: 16em; }
}
@media print {
  :root { --bg: #ffffff; color-scheme: light; }
  html, body { background: #ffffff; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; margin: 0; border: 0; border-radius: 0; overflow: visible; }
  .cover { border-radius: 8px; padding: 28px 30px; }
  .content { padding: 0; }
  .toc ol { columns: 1; }
  .chapter { break-before: page; }
  .chapter > h2 { margin-top: 0; }
  h2, h3, h4, .block-title, figcaption { break-after: avoid; }
  thead { display: table-header-group; }
  thead th { position: static; }
  tr, td, th, figure.chart, dl.facts, p.empty { break-inside: avoid; }
  table { font-size: 8.5pt; }
  svg text { font-size: 13px; }
  td.code { font-size: 8pt; min-width: 0; }
  a { color: inherit; }
  footer { break-inside: avoid; }
}
"#;

/// The `@page` rules: A4 with the report's name and page numbers in the margins. Kept apart from
/// [`CSS`] because the running title is document text (see `css_string`).
pub fn page_rules(running_title: &str) -> String {
    format!(
        "@page {{ size: A4; margin: 14mm 12mm 16mm; \
         @bottom-left {{ content: {}; font: 8pt system-ui, sans-serif; color: #59636e; }} \
         @bottom-right {{ content: \"Page \" counter(page) \" of \" counter(pages); font: 8pt system-ui, sans-serif; color: #59636e; }} }}\n",
        css_string(running_title)
    )
}

/// A quoted CSS string holding `text`. Every character outside `[A-Za-z0-9 ]` becomes a hex
/// escape, so no document text can close the string, the rule or the `<style>` element.
pub fn css_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == ' ' {
            out.push(c);
        } else if c.is_control() {
            out.push_str("\\FFFD ");
        } else {
            out.push_str(&format!("\\{:X} ", u32::from(c)));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_strings_cannot_break_out() {
        let s = css_string("a\"; } </style><script>x</script>");
        assert!(!s.contains('<') && !s.contains('}') && s[1..s.len() - 1].find('"').is_none(), "{s}");
        assert_eq!(css_string("Workload — db1"), "\"Workload \\2014  db1\"");
    }
}
