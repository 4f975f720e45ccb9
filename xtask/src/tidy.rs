//! The architecture rules of ARCHITECTURE.md ("Invariants") and the house style, checked on the
//! source text so they stay true without a reviewer remembering them. Runs with
//! `cargo test --workspace` (CI) or alone with `cargo test -p xtask tidy`. Each failure names
//! `file:line`, the rule, and what to do instead.
//!
//! The checks read source text, not a parsed AST: comments and string contents are blanked first
//! (`code_lines`) and `#[cfg(test)]` items skipped (`non_test`), which is exact enough for code
//! formatted by rustfmt and keeps xtask free of heavy dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Longest source file, in lines (house style: "files under ~600 lines").
const MAX_LINES: usize = 600;

/// Directories whose `.rs` files the tidy rules cover (relative to the workspace root).
const SOURCE_DIRS: &[&str] = &["host/src", "host/tests", "tests", "plugins", "sdk", "testkit", "xtask", "examples"];

/// Plugin project templates `vigia plugin new` writes out: Rust text, but not host code.
const TEMPLATES: &str = "host/src/cli/templates/";

/// Who may import axum: the HTTP API, the dashboard's pages and `vigia serve`, which binds and
/// serves them.
const AXUM_ALLOWED: &[&str] = &["host/src/api/", "host/src/web/", "host/src/server.rs"];
/// Who may render HTML templates: the dashboard, and the public status page (an API route with
/// JSON and Atom forms beside its HTML).
const ASKAMA_ALLOWED: &[&str] = &["host/src/web/", "host/src/api/status_page.rs"];
/// Who may import wasmtime: the plugin runtime.
const WASMTIME_ALLOWED: &[&str] = &["host/src/plugins/"];
/// Who may run SQL: Vigia's storage, and the code that talks to *monitored* PostgreSQL servers.
const SQL_ALLOWED: &[&str] = &["host/src/store/", "host/src/instances.rs", "host/src/sampler/"];

/// File-level import cycles inside a host module that are known and being removed; delete an
/// entry when its fix lands, and the test then keeps the module acyclic.
/// - `activity`: `tail.rs` uses `writer::minute_rollups`; it belongs below both (e.g. as
///   `AshChunk::minute_rollups` in `codec.rs`), left to the branch that is editing `writer.rs`.
const PENDING_FILE_CYCLES: &[(&str, &[&str])] = &[];

/// One source file, `path` relative to the workspace root with `/` separators.
struct Source {
    path: String,
    text: String,
}

impl Source {
    fn is_host_code(&self) -> bool {
        self.path.starts_with("host/src/") && !self.path.starts_with(TEMPLATES)
    }

    fn under(&self, prefixes: &[&str]) -> bool {
        prefixes.iter().any(|p| self.path.starts_with(p))
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// Every `.rs` file under `SOURCE_DIRS`, skipping build output and hidden directories.
fn sources() -> Vec<Source> {
    let root = workspace_root();
    let mut out = Vec::new();
    for dir in SOURCE_DIRS {
        collect(&root, &root.join(dir), &mut out);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(out.len() > 100, "tidy found only {} source files under {}: wrong root?", out.len(), root.display());
    out
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect(root, &path, out);
            }
        } else if name.ends_with(".rs") {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let rel = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            out.push(Source { path: rel, text });
        }
    }
}

/// The file's lines with comments removed and the contents of string and char literals blanked,
/// so a rule never fires on prose or on data.
fn code_lines(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines = vec![String::new()];
    let mut i = 0;
    let mut block_depth = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            lines.push(String::new());
            i += 1;
        } else if block_depth > 0 {
            if c == '*' && next == Some('/') {
                block_depth -= 1;
                i += 2;
            } else if c == '/' && next == Some('*') {
                block_depth += 1;
                i += 2;
            } else {
                i += 1;
            }
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            block_depth = 1;
            i += 2;
        } else if let Some(end) = raw_string_end(&chars, i) {
            push_blanked(&mut lines, &chars[i..end]);
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            push_blanked(&mut lines, &chars[i..end]);
            i = end;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\''); a lifetime ('a) has no closing quote.
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            lines.last_mut().expect("one line at least").push_str("' '");
            i = j + 1;
        } else {
            lines.last_mut().expect("one line at least").push(c);
            i += 1;
        }
    }
    lines
}

/// Where the raw string starting at `i` (`r"…"`, `r#"…"#`, `br"…"`) ends, if one starts there.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let starts_ident = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if !starts_ident || chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|c| **c == '#').count();
    j += hashes;
    if chars.get(j) != Some(&'"') {
        return None;
    }
    let closing: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
    (j + 1..chars.len()).find(|&k| chars[k..].starts_with(&closing)).map(|k| k + closing.len())
}

/// Keeps a literal's quotes and line breaks, drops its contents.
fn push_blanked(lines: &mut Vec<String>, literal: &[char]) {
    lines.last_mut().expect("one line at least").push('"');
    for _ in literal.iter().filter(|c| **c == '\n') {
        lines.push(String::new());
    }
    lines.last_mut().expect("one line at least").push('"');
}

/// `(line number, code)` of the lines outside `#[cfg(test)]` items.
fn non_test(code: &[String]) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if code[i].trim_start().starts_with("#[cfg(test)]") {
            i = item_end(code, i + 1);
            continue;
        }
        out.push((i + 1, code[i].as_str()));
        i += 1;
    }
    out
}

/// The index just past the item starting at line `start` (a `;`-terminated line or a braced block).
fn item_end(code: &[String], start: usize) -> usize {
    let mut depth = 0i64;
    let mut opened = false;
    for (i, line) in code.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        if (opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')) {
            return i + 1;
        }
    }
    code.len()
}

/// The identifiers of a line of code, with their byte offsets.
fn identifiers(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain(std::iter::once((line.len(), ' '))) {
        let ident = c.is_alphanumeric() || c == '_';
        match (start, ident) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Whether a line names one of `crates` as a path root (`use axum::…`, `wasmtime_wasi::p2::…`),
/// not as the last segment of another path (`my::axum`).
fn mentions_crate(line: &str, crates: &[&str]) -> bool {
    identifiers(line).into_iter().any(|(at, word)| crates.contains(&word) && !line[..at].ends_with("::"))
}

/// Collected rule violations, reported together so one run shows everything to fix.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    /// `line` 0 means the rule is about `path` as a whole (a module, not one line).
    fn add(&mut self, path: &str, line: usize, rule: &str, fix: &str) {
        let place = if line == 0 { path.to_string() } else { format!("{path}:{line}") };
        self.0.push(format!("{place}: {rule}\n    fix: {fix}"));
    }

    fn check(self, what: &str) {
        if !self.0.is_empty() {
            panic!(
                "\n{} violation(s) of \"{what}\" (xtask/src/tidy.rs; the rules are ARCHITECTURE.md's \
                 Invariants):\n\n{}\n",
                self.0.len(),
                self.0.join("\n")
            );
        }
    }
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let mut v = Violations::default();
    for s in sources() {
        let first = s.text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
        if !first.starts_with("//!") {
            v.add(&s.path, 1, "the file does not open with a `//!` comment", "start it with `//! What this file is.`");
        }
    }
    v.check("every source file opens with a //! line saying what it is");
}

#[test]
fn no_source_file_exceeds_the_line_limit() {
    let mut v = Violations::default();
    for s in sources() {
        let n = s.text.lines().count();
        if n > MAX_LINES {
            v.add(
                &s.path,
                MAX_LINES + 1,
                &format!("{n} lines, over the {MAX_LINES}-line limit"),
                "split it by topic into sibling modules (a test file can become a directory module: \
                 `tests/x/main.rs` + `tests/x/topic.rs`)",
            );
        }
    }
    v.check("files under ~600 lines");
}

/// Host code outside `allowed` must not name any of `crates`.
fn crate_confined_to(crates: &[&str], allowed: &[&str], fix: &str) -> Violations {
    let mut v = Violations::default();
    for s in sources().iter().filter(|s| s.is_host_code() && !s.under(allowed)) {
        for (n, line) in code_lines(&s.text).iter().enumerate() {
            if mentions_crate(line, crates) {
                v.add(&s.path, n + 1, &format!("`{}` used outside {}", crates[0], allowed.join(", ")), fix);
            }
        }
    }
    v
}

#[test]
fn only_the_api_and_the_server_know_axum() {
    crate_confined_to(
        &["axum", "axum_server"],
        AXUM_ALLOWED,
        "keep HTTP in host/src/api (handlers, extractors, AppError) and serving in server.rs; \
         give this module plain types and let the api map them",
    )
    .check("only host/src/api, host/src/web (and server.rs for serving) know axum");
}

#[test]
fn html_is_rendered_only_by_the_dashboard_and_the_status_page() {
    crate_confined_to(&["askama"], ASKAMA_ALLOWED, "screens belong in host/src/web; other modules hand it plain types")
        .check("only host/src/web and api/status_page.rs render HTML");
}

#[test]
fn only_the_plugin_runtime_knows_wasmtime() {
    crate_confined_to(
        &["wasmtime", "wasmtime_wasi", "wasmtime_wasi_http"],
        WASMTIME_ALLOWED,
        "go through plugins::PluginHost and the plain types of plugins::types",
    )
    .check("only host/src/plugins touches wasmtime");
}

#[test]
fn sql_runs_only_in_the_store_and_against_monitored_servers() {
    crate_confined_to(
        &["sqlx"],
        SQL_ALLOWED,
        "add a method to `Store` (host/src/store, written once for SQLite and PostgreSQL) and call it; \
         queries to monitored servers belong in host/src/sampler",
    )
    .check("SQL runs only in store/, instances.rs and sampler/");
}

#[test]
fn host_code_does_not_unwrap() {
    let mut v = Violations::default();
    for s in sources().iter().filter(|s| s.is_host_code()) {
        let code = code_lines(&s.text);
        for (n, line) in non_test(&code) {
            if line.contains(".unwrap()") {
                v.add(
                    &s.path,
                    n,
                    "`.unwrap()` in non-test host code",
                    "propagate with `?`, handle the case, or `.expect(\"why it cannot fail\")` when it truly cannot",
                );
            }
        }
    }
    v.check("no .unwrap() in non-test host code");
}

/// A reference from one module to another, with the first place it occurs.
type Edges = BTreeMap<String, BTreeMap<String, String>>;

/// The modules a line refers to through `prefix` (`crate::` or `super::`), grouped imports
/// (`crate::{a, b::c}`) included.
fn referenced_after<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
        rest = &rest[at + prefix.len()..];
        if !boundary {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(body.split(',').filter_map(|item| identifiers(item).first().map(|(_, w)| *w)));
        } else if let Some((_, word)) = identifiers(rest).first().filter(|(at, _)| *at == 0) {
            out.push(*word);
        }
    }
    out
}

/// The module graph of `files` (name → source), edges found with `module_refs`.
fn graph<'a>(files: impl Iterator<Item = (String, &'a Source)>, module_refs: impl Fn(&str) -> Vec<String>) -> Edges {
    let files: Vec<(String, &Source)> = files.collect();
    let names: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    let mut edges = Edges::new();
    for (from, s) in &files {
        let code = code_lines(&s.text);
        for (n, line) in non_test(&code) {
            for to in module_refs(line) {
                if to != *from && names.contains(to.as_str()) {
                    edges
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| format!("{}:{n}: {}", s.path, line.trim()));
                }
            }
        }
    }
    edges
}

/// The strongly connected components with more than one module (each holds at least one cycle).
fn cycles(edges: &Edges) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for next in edges.get(&m).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (m, r) in &reachable {
        if !r.contains(*m) || out.iter().any(|c| c.contains(*m)) {
            continue;
        }
        let scc = r.iter().filter(|o| reachable.get(o).is_some_and(|back| back.contains(*m))).cloned().collect();
        out.push(scc);
    }
    out
}

/// The shortest cycle through `start` (`start -> … -> start`), breadth first.
fn shortest_cycle(start: &str, edges: &Edges) -> Vec<String> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(m) = queue.pop_front() {
        for next in edges.get(&m).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                // m, its parent, …, start (the only node without a parent), then reversed.
                let mut path = vec![m.clone()];
                while let Some(p) = parent.get(path.last().expect("not empty")) {
                    path.push(p.clone());
                }
                path.reverse();
                path.push(start.to_string());
                return path;
            }
            if !parent.contains_key(next) && next != start {
                parent.insert(next.clone(), m.clone());
                queue.push_back(next.clone());
            }
        }
    }
    Vec::new()
}

/// Describes a cycle by one shortest loop and every reference inside the strongly connected
/// set, with where each occurs, so the reader sees what to move.
fn describe(scc: &BTreeSet<String>, edges: &Edges) -> String {
    let first = scc.iter().next().map(String::as_str).unwrap_or_default();
    let mut text = format!(
        "{} (modules {{{}}} reach each other; references:",
        shortest_cycle(first, edges).join(" -> "),
        scc.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    for from in scc {
        for (to, place) in edges.get(from).into_iter().flatten().filter(|(to, _)| scc.contains(*to)) {
            let _ = write!(text, "\n      {from} -> {to}  ({place})");
        }
    }
    text.push(')');
    text
}

const CYCLE_FIX: &str = "move what both need into a lower module (types into `model`, helpers into `fsutil`, \
     shared constants next to their owner) so dependencies point one way: api -> domain -> store";

#[test]
fn top_level_host_modules_have_no_import_cycles() {
    let all = sources();
    // Every file of `host/src/<m>/` (or `host/src/<m>.rs`) speaks for module `<m>`.
    let files = all.iter().filter(|s| s.is_host_code()).filter_map(|s| {
        let rel = s.path.strip_prefix("host/src/")?;
        let top = rel.split('/').next()?.trim_end_matches(".rs");
        (top != "lib" && top != "main").then(|| (top.to_string(), s))
    });
    let edges = graph(files, |line| referenced_after(line, "crate::").into_iter().map(String::from).collect());
    let mut v = Violations::default();
    for scc in cycles(&edges) {
        v.add("host/src", 0, &format!("import cycle between top-level modules: {}", describe(&scc, &edges)), CYCLE_FIX);
    }
    v.check("no import cycles between top-level host modules");
}

#[test]
fn files_of_a_host_module_have_no_import_cycles() {
    let all = sources();
    let mut by_module: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in all.iter().filter(|s| s.is_host_code()) {
        let rel = s.path.strip_prefix("host/src/").unwrap_or_default();
        if let Some((module, file)) = rel.split_once('/') {
            if !file.contains('/') && file != "mod.rs" {
                by_module.entry(module).or_default().push(s);
            }
        }
    }
    let mut v = Violations::default();
    for (module, files) in by_module {
        let in_module = format!("crate::{module}::");
        let named = files.iter().map(|s| (file_stem(&s.path), *s));
        let edges = graph(named, |line| {
            let mut refs: Vec<String> = referenced_after(line, "super::").into_iter().map(String::from).collect();
            refs.extend(referenced_after(line, &in_module).into_iter().map(String::from));
            refs
        });
        for scc in cycles(&edges) {
            let pending = PENDING_FILE_CYCLES
                .iter()
                .any(|(m, members)| *m == module && scc.iter().map(String::as_str).eq(members.iter().copied()));
            if !pending {
                let what = format!("import cycle between files of host/src/{module}: {}", describe(&scc, &edges));
                v.add(&format!("host/src/{module}"), 0, &what, CYCLE_FIX);
            }
        }
    }
    v.check("no import cycles between the files of a host module");
}

fn file_stem(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).trim_end_matches(".rs").to_string()
}

#[cfg(test)]
mod self_tests {
    //! The scanners themselves, on snippets whose answer is known.
    use super::*;

    #[test]
    fn comments_and_literals_are_blanked() {
        let code = code_lines("let a = \"x.unwrap()\"; // .unwrap()\n/* axum::\n */ let c = '{';\nr#\"sqlx\"#");
        assert_eq!(code.len(), 4);
        assert!(!code.iter().any(|l| l.contains("unwrap") || l.contains("axum") || l.contains("sqlx")), "{code:?}");
        assert!(code[2].contains("let c"));
        assert_eq!(code_lines("fn f<'a>(x: &'a str) {}")[0], "fn f<'a>(x: &'a str) {}");
    }

    #[test]
    fn test_items_are_skipped() {
        let code = code_lines("fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { x.unwrap() }\n}\nfn c() {}");
        let kept: Vec<usize> = non_test(&code).iter().map(|(n, _)| *n).collect();
        assert_eq!(kept, vec![1, 6]);
    }

    #[test]
    fn crate_roots_and_module_references_are_found() {
        assert!(mentions_crate("use axum::Router;", &["axum"]));
        assert!(mentions_crate("    wasmtime_wasi::p2::add(x)", &["wasmtime", "wasmtime_wasi"]));
        assert!(!mentions_crate("let axum_like = my::axum;", &["axum"]));
        assert!(!mentions_crate("use crate::sqlx_free::x;", &["sqlx"]));
        assert_eq!(referenced_after("use crate::{store::Store, model};", "crate::"), vec!["store", "model"]);
        assert_eq!(referenced_after("x = crate::fsutil::write(a)", "crate::"), vec!["fsutil"]);
        assert!(referenced_after("vigia_crate::x", "crate::").is_empty());
    }

    #[test]
    fn a_cycle_is_reported_with_its_edges() {
        let mut edges = Edges::new();
        edges.entry("a".into()).or_default().insert("b".into(), "a.rs:1".into());
        edges.entry("b".into()).or_default().insert("a".into(), "b.rs:2".into());
        edges.entry("b".into()).or_default().insert("c".into(), "b.rs:3".into());
        let found = cycles(&edges);
        assert_eq!(found, vec![BTreeSet::from(["a".to_string(), "b".to_string()])]);
        let text = describe(&found[0], &edges);
        assert!(text.starts_with("a -> b -> a ("), "{text}");
        edges.entry("b".into()).or_default().remove("a");
        edges.entry("c".into()).or_default().insert("a".into(), "c.rs:4".into());
        assert_eq!(shortest_cycle("a", &edges), ["a", "b", "c", "a"]);
        assert!(text.contains("a -> b  (a.rs:1)") && text.contains("b -> a  (b.rs:2)") && !text.contains("-> c"));
    }
}
