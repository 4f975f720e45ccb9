//! Browser time-to-usable of the overview with 1,000 instances (issue 14; ignored: a benchmark,
//! numbers go to BENCHMARKS.md). Run:
//! `cargo test -p vigia --release --test e2e dashboard_bench -- --ignored --nocapture`
//!
//! The real release binary (sampler off, rate limit raised for the seeding) with 1,000 instances
//! registered through the API at a loopback port nothing listens on (so every tile is a
//! disconnected one with its error) and 60 open alerts. Headless Chromium signs in through the
//! form, then loads `/` once with an empty cache and five times with the assets cached. Each load
//! measures, from the navigation's start (`performance.now()`), when `#instances` holds 1,000
//! `li.tile` (a MutationObserver installed before any page script through the DevTools protocol)
//! and the frame after it, with the Navigation and Resource Timing of the shell and of
//! `/api/v1/state`, and the bytes transferred: everything, and without the static assets. Then
//! the long tasks of the open page's next 11 s (its 5 s polls of the snapshot).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::e2e_support::browser::Browser;
use crate::e2e_support::{poll, Client, Server, PASSWORD};

const INSTANCES: usize = 1_000;
const ALERTED: usize = 60;
const WARM_LOADS: usize = 5;

/// The sampler off (nothing to sample: every instance is unreachable, and its reconnects would
/// load the two cores under the measure); the per-token budget raised for the seeding only.
const CONFIG: &str = "[server.rate_limit]\nrequests_per_minute = 1000000\n[sampler]\nenabled = false\n";

/// Runs in every document before its scripts: notes when the overview first lists every
/// instance, and when the frame after that has been painted (a task after the next animation
/// frame).
const PROBE: &str = "(() => {
  window.__usable = null; window.__painted = null; window.__long = [];
  try {
    new PerformanceObserver((list) => list.getEntries().forEach((e) =>
      window.__long.push(`${Math.round(e.startTime)}+${Math.round(e.duration)}`))).observe({type: 'longtask', buffered: true});
  } catch (_) {}
  const want = WANT;
  const seen = () => {
    const list = document.getElementById('instances');
    if (window.__usable !== null || !list || list.querySelectorAll('li.tile').length < want) return;
    window.__usable = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => { window.__painted = performance.now(); }, 0));
  };
  const observer = new MutationObserver(seen);
  observer.observe(document, {childList: true, subtree: true});
})();";

/// What one load measured, from the page's own clocks and entries.
const TIMINGS: &str = "const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map((r) => ({name: new URL(r.name).pathname,
    start: r.startTime, requestStart: r.requestStart, responseStart: r.responseStart, end: r.responseEnd,
    transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize}));
  return {usable: window.__usable, painted: window.__painted, long: window.__long, responseEnd: nav.responseEnd,
    dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, transfer: nav.transferSize,
    encoded: nav.encodedBodySize, decoded: nav.decodedBodySize, resources: res};";

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn is_asset(path: &str) -> bool {
    path.starts_with("/assets/")
}

/// Registers the instances (8 requests at a time) and raises the alerts.
async fn seed(c: &Client) {
    let started = Instant::now();
    let created: Vec<()> = futures::stream::iter(0..INSTANCES)
        .map(|i| async move {
            let env = ["production", "production", "staging", "development"][i % 4];
            let tags = format!("application=app{:02},environment={env}", i % 40);
            let body = json!({"host": "127.0.0.1", "port": 1, "user": "vigia", "password": "x", "tags": tags});
            c.call(reqwest::Method::POST, &format!("/api/v1/instances/db-{i:04}"), Some(body), 201).await;
        })
        .buffer_unordered(8)
        .collect()
        .await;
    println!("registered {} instances through the API in {:.1} s", created.len(), started.elapsed().as_secs_f64());
    for k in 0..ALERTED {
        let severity = if k % 3 == 0 { "critical" } else { "warning" };
        let body = json!({"dedup_key": format!("lag-{k}"), "severity": severity,
            "summary": "Replication lag above 30 s", "resource": format!("db-{:04}", k * 16 + 3)});
        c.post("/api/v1/alerts", body).await;
    }
}

async fn sign_in(browser: &Browser, base: &str) {
    let c = &browser.client;
    c.goto(&format!("{base}/sign-in")).await.unwrap();
    for (id, text) in [("username", "admin"), ("password", PASSWORD)] {
        c.wait().for_element(Locator::Id(id)).await.expect("the sign-in form").send_keys(text).await.unwrap();
    }
    c.find(Locator::Css("form[action='/sign-in'] button[type=submit]")).await.unwrap().click().await.unwrap();
    poll("the overview after signing in", Duration::from_secs(60), async || {
        c.current_url().await.ok().filter(|u| u.path() == "/").map(drop)
    })
    .await;
}

/// One load of `/`: its timings (ms from the navigation's start) and bytes.
async fn load(browser: &Browser, base: &str, label: &str) -> (f64, f64, f64) {
    let c = &browser.client;
    // Leave the overview first, so the load below is a new navigation with a new probe.
    c.goto("about:blank").await.unwrap();
    c.goto(&format!("{base}/")).await.unwrap();
    poll("1,000 tiles painted", Duration::from_secs(120), async || {
        c.execute("return window.__painted", vec![]).await.ok().filter(|v| v.is_number())
    })
    .await;
    let t = c.execute(TIMINGS, vec![]).await.unwrap();
    let resources = t["resources"].as_array().cloned().unwrap_or_default();
    let state = resources.iter().find(|r| r["name"] == "/api/v1/state").cloned().unwrap_or(Value::Null);
    let sum = |pick: &dyn Fn(&str) -> bool| -> f64 {
        resources.iter().filter(|r| pick(r["name"].as_str().unwrap_or(""))).map(|r| f(r, "transfer")).sum()
    };
    let (all, without_assets) = (f(&t, "transfer") + sum(&|_| true), f(&t, "transfer") + sum(&|p| !is_asset(p)));
    println!(
        "{label:<13} tiles {:>7.1} ms  painted {:>7.1} ms | shell end {:>6.1}  DCL {:>6.1}  load {:>6.1} | \
         state {:>6.1} → {:>6.1} ms ({} B over the wire, {} B body) | transferred {:>7} B, {:>7} B without assets",
        f(&t, "usable"),
        f(&t, "painted"),
        f(&t, "responseEnd"),
        f(&t, "dcl"),
        f(&t, "load"),
        f(&state, "start"),
        f(&state, "end"),
        f(&state, "transfer"),
        f(&state, "decoded"),
        all,
        without_assets
    );
    let listed: Vec<String> = resources
        .iter()
        .map(|r| format!("{} {}/{} B", r["name"].as_str().unwrap_or(""), f(r, "transfer"), f(r, "decoded")))
        .collect();
    println!("              shell {}/{} B; {}", f(&t, "transfer"), f(&t, "decoded"), listed.join("; "));
    println!("              long tasks (start+duration ms): {}", t["long"]);
    (f(&t, "painted"), all, without_assets)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn overview_time_to_usable_with_1000_instances() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), CONFIG);
    let api = Client::new(&server).await;
    seed(&api).await;
    let state = api.get("/api/v1/state").await;
    assert_eq!(state["instances"].as_array().map(Vec::len), Some(INSTANCES));

    let browser = Browser::start().await;
    let probe = PROBE.replace("WANT", &INSTANCES.to_string());
    browser.cdp("Page.addScriptToEvaluateOnNewDocument", json!({"source": probe})).await;
    sign_in(&browser, &server.base).await;

    println!("\noverview with {INSTANCES} instances (times from navigation start):");
    browser.cdp("Network.clearBrowserCache", json!({})).await;
    load(&browser, &server.base, "cold cache").await;
    let mut warm = Vec::new();
    for n in 1..=WARM_LOADS {
        warm.push(load(&browser, &server.base, &format!("cached #{n}")).await);
    }
    println!(
        "median of {WARM_LOADS} cached loads: painted {:.1} ms, {:.0} B transferred ({:.0} B without assets)",
        median(warm.iter().map(|w| w.0).collect()),
        median(warm.iter().map(|w| w.1).collect()),
        median(warm.iter().map(|w| w.2).collect())
    );
    // The page stays open: it polls the snapshot every 5 s (a 304 when unchanged) and renders
    // the tiles from it; what that costs the main thread over 11 s.
    let c = &browser.client;
    c.execute("document.querySelector('#instances li.tile').dataset.seen = 'yes'", vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let after = "return {painted: window.__painted, long: window.__long, visibility: document.visibilityState,
        same: document.querySelector('#instances li.tile').dataset.seen === 'yes',
        polls: performance.getEntriesByName(location.origin + '/api/v1/state').length}";
    let after = c.execute(after, vec![]).await.unwrap();
    println!(
        "11 s later ({} page, {} fetches of the state in all, tiles {}): long tasks since the navigation {}",
        after["visibility"],
        after["polls"],
        if after["same"] == json!(true) { "not rendered again" } else { "rendered again" },
        after["long"]
    );
    browser.close().await;
}
