//! The dashboard's comfort in a real headless browser (issue 14: "keyboard navigation, visible
//! focus, … dark mode following the OS, usable at 1280 px and on a phone (overview and alerts)"):
//! the overview and the alerts screen on a 390×844 phone (nothing wider than the screen, the
//! navigation and an alert's Acknowledge button in reach of a finger, a new alert arriving by
//! the event stream); the overview and the instance screen when the OS is dark (dark page,
//! light text, axe-core's contrast checks, the chart's axes and grid drawn legibly); the
//! keyboard alone from the top of a page (skip link, navigation, a visible focus ring, Enter
//! following a link). Screenshots are kept for people to look at.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::Locator;
use serde_json::{json, Value};
use vigia_testkit::PgCluster;

use crate::dashboard::{
    add_instance, assert_accessible, busy, dead_port, raise, range_button, screenshot, text_with, tile, SAMPLED,
};
use crate::e2e_support::browser::Browser;
use crate::e2e_support::{poll, Client, Server, PASSWORD, PATIENCE};

/// The phone: an iPhone 12–15's screen in CSS pixels.
const PHONE: (u32, u32) = (390, 844);

/// Script helpers: `lum(css)`, the relative luminance (WCAG) of a computed `rgb()`/`rgba()`
/// colour, and `contrast(a, b)` of two luminances.
const COLOURS: &str =
    "const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    const lumOf = (r, g, b) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    const lum = (css) => { const [r, g, b] = css.match(/[\\d.]+/g).map(Number); return lumOf(r, g, b); };
    const contrast = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);";

/// What sticks out of a phone's screen: the layout's width against the window's, and the
/// elements whose right edge passes the window's (those inside a box the reader can scroll
/// sideways aside).
const OVERFLOW: &str = "const vw = window.innerWidth;
    const scrolls = (e) => { for (let p = e.parentElement; p; p = p.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX) && p !== document.documentElement) return true; }
        return false; };
    const wide = [...document.body.querySelectorAll('*')].filter((e) => {
        const r = e.getBoundingClientRect(); return r.width > 0 && r.right > vw + 0.5 && !scrolls(e); })
      .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className.baseVal ?? e.className} → ${Math.round(e.getBoundingClientRect().right)}`);
    return {vw, scroll: document.documentElement.scrollWidth, wide};";

/// Asserts the page shown fits the phone's width: `innerWidth` is the phone's (so the emulation
/// holds), the document is no wider, and no element passes its right edge.
async fn assert_fits(browser: &Browser, screen: &str) {
    let fit = browser.js(OVERFLOW).await.expect("the overflow probe");
    assert_eq!(fit["vw"], PHONE.0, "{screen}: not the phone's width: {fit}");
    assert!(fit["scroll"].as_u64().unwrap() <= u64::from(PHONE.0), "{screen} scrolls sideways: {fit}");
    assert_eq!(fit["wide"], json!([]), "{screen}: elements wider than the phone: {fit}");
}

/// The start of a script binding `inReach(e)`: `e`, once the page is scrolled down (only down:
/// a box scrolling sideways stays as it is shown) to bring it to the middle of the screen, lies
/// within the screen's width, is at least 24×24 CSS px (WCAG 2.5.8) and is what a finger at its
/// centre touches (nothing covers it); the caller adds its `return`.
const IN_REACH: &str = "const inReach = (e) => {
    const at = e.getBoundingClientRect();
    window.scrollBy(0, at.top + at.height / 2 - window.innerHeight / 2);
    const r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {left: r.left, right: r.right, width: r.width, height: r.height,
        fits: r.left >= 0 && r.right <= window.innerWidth && r.width >= 24 && r.height >= 24,
        touched: hit !== null && (hit === e || e.contains(hit))}; };";

/// Saves a phone screenshot of the whole page (up to 2,400 CSS px tall), then gives the phone
/// its own height back.
async fn phone_screenshot(browser: &Browser, name: &str) {
    browser.js("window.scrollTo(0, 0); return true;").await.expect("scrolled to the top");
    let tall = browser.js("return document.documentElement.scrollHeight").await.and_then(|h| h.as_u64());
    let height = tall.map_or(PHONE.1, |h| (h as u32).clamp(PHONE.1, 2400));
    browser.phone(PHONE.0, height).await;
    let shot = browser.screenshot(name).await;
    browser.phone(PHONE.0, PHONE.1).await;
    eprintln!("screenshot {name}: {}", shot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_overview_and_alerts_fit_and_an_alert_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let c = Client::new(&server).await;
    let base = &server.base;
    // Unreachable instances carry a long connection error; long tags and summary too.
    let tags = "environment=production,team=payments-and-settlements,region=eu-west-1,application=card-capture";
    add_instance(&c, "payments-primary-eu-west-1", dead_port(), tags).await;
    add_instance(&c, "reports-db", dead_port(), "environment=staging").await;
    let summary = "Replication lag on payments-primary-eu-west-1 above 300 s for 10 minutes (standby far behind)";
    let alert = raise(&c, "lag", "payments-primary-eu-west-1", summary).await;
    let id = alert["id"].as_i64().unwrap();

    let browser = Browser::start().await;
    browser.sign_in(base, "admin", PASSWORD).await;
    browser.phone(PHONE.0, PHONE.1).await;
    browser.client.goto(&format!("{base}/")).await.unwrap();
    let down = browser
        .wait_js(
            "the overview's tiles on the phone",
            &format!("{} return t && t.badge === 'disconnected' ? t : null;", tile("payments-primary-eu-west-1")),
        )
        .await;
    assert!(down["text"].as_str().unwrap().contains("team=payments"), "{down}");
    browser.wait_js("the totals", &text_with("#totals", "critical alerts")).await;
    assert_fits(&browser, "the overview").await;
    // Every navigation link is on the screen, uncovered, big enough for a finger.
    let nav = browser
        .js(&format!(
            "{IN_REACH} return [...document.querySelectorAll('nav[aria-label=Main] a')].map((a) => ({{text: a.innerText, ...inReach(a)}}));"
        ))
        .await
        .unwrap();
    let links = nav.as_array().unwrap();
    assert!(links.iter().any(|l| l["text"] == "Alerts"), "{nav}");
    for link in links {
        assert!(link["fits"] == true && link["touched"] == true, "a navigation link out of reach: {link}");
    }
    assert_accessible(&browser, "the overview on a phone").await;
    phone_screenshot(&browser, "dashboard_overview_phone").await;

    // To the alerts by the navigation, as a finger would.
    browser.client.find(Locator::XPath("//nav//a[normalize-space()='Alerts']")).await.unwrap().click().await.unwrap();
    browser.wait_path("/alerts").await;
    browser.wait_js("the active alert", &text_with("#active-alerts", "Replication lag")).await;
    assert_fits(&browser, "the alerts").await;
    // The alert reads as a card: its summary and state in full, without scrolling sideways.
    let card = browser
        .js(&format!(
            "{IN_REACH} const b = document.querySelector('#active-alerts button[data-action=acknowledge]');
             const row = b.closest('tr');
             const button = inReach(b), r = row.getBoundingClientRect();
             return {{button, text: row.innerText, left: r.left, right: r.right}};"
        ))
        .await
        .unwrap();
    assert!(card["button"]["fits"] == true && card["button"]["touched"] == true, "Acknowledge out of reach: {card}");
    assert!(card["text"].as_str().unwrap().contains(summary), "the summary is cut: {card}");
    let (left, right) = (card["left"].as_f64().unwrap(), card["right"].as_f64().unwrap());
    assert!(left >= 0.0 && right <= f64::from(PHONE.0), "the alert is wider than the phone: {card}");
    assert_accessible(&browser, "the alerts on a phone").await;
    phone_screenshot(&browser, "dashboard_alerts_phone").await;

    let ack = browser.client.find(Locator::Css("#active-alerts button[data-action=acknowledge]")).await.unwrap();
    ack.click().await.expect("the Acknowledge button takes a click");
    let acked = c.poll(&format!("/api/v1/alerts/{id}"), "the alert acknowledged", |a| a["state"] != "firing").await;
    assert_eq!(acked["state"], "acknowledged", "{acked}");
    browser.wait_js("the acknowledgement said", &text_with("#notice", &format!("Alert {id} acknowledged"))).await;
    assert_fits(&browser, "the alerts after acknowledging").await;
    // The screen follows the event stream (it does not poll): a new alert shows by itself.
    browser.js("window.vigiaTestMark = 'not reloaded'; return true;").await.unwrap();
    raise(&c, "disk", "reports-db", "Disk 95 % full").await;
    let started = std::time::Instant::now();
    browser.wait_js("the new alert, live", &text_with("#active-alerts", "Disk 95 % full")).await;
    assert!(started.elapsed().as_secs() < 10, "the new alert took {:?} to show", started.elapsed());
    assert_eq!(browser.js("return window.vigiaTestMark").await, Some(json!("not reloaded")));
    assert_fits(&browser, "the alerts with two").await;
    browser.close().await;
}

/// A script answering the luminance of the page's background and text and their contrast, and
/// whether the page sees a dark OS.
fn page_colours() -> String {
    format!(
        "{COLOURS} const body = getComputedStyle(document.body);
         const bg = lum(body.backgroundColor), fg = lum(body.color);
         const panel = document.querySelector('.tile, .chart, .total');
         return {{dark: matchMedia('(prefers-color-scheme: dark)').matches, bg, fg, contrast: contrast(bg, fg),
             panel: panel && lum(getComputedStyle(panel).backgroundColor)}};"
    )
}

/// Asserts the page is dark with light text (contrast at least 7:1, WCAG AAA).
async fn assert_dark(browser: &Browser, screen: &str) {
    let seen = browser.js(&page_colours()).await.unwrap();
    assert_eq!(seen["dark"], true, "{screen}: the OS is not dark for the page: {seen}");
    let f = |k: &str| seen[k].as_f64().unwrap_or(1.0);
    assert!(f("bg") < 0.05 && f("panel") < 0.05, "{screen}: the page is not dark: {seen}");
    assert!(f("fg") > 0.6 && f("contrast") >= 7.0, "{screen}: the text is not light: {seen}");
}

/// Binds `ink` to what the ASH chart's canvas shows: among the opaque pixels outside the plot (the axes' labels and
/// ticks), the contrast against the chart's background of the most contrasted one and how many
/// reach 4.5:1; inside the plot's top tenth (above the data: the scale goes 10 % over the
/// peak), the contrast of the grid lines drawn there; below it, how many pixels the bands of
/// sessions fill (the baseline's row aside), at 2:1 or more.
const CHART_INK: &str = "const box = document.querySelector('#ash-chart'), canvas = box.querySelector('canvas');
    const over = box.querySelector('.u-over'), k = canvas.width / canvas.getBoundingClientRect().width;
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const [br, bgG, bb] = getComputedStyle(box).backgroundColor.match(/[\\d.]+/g).map(Number);
    const bg = lumOf(br, bgG, bb);
    const l = over.offsetLeft * k, t = over.offsetTop * k, r = l + over.offsetWidth * k, b = t + over.offsetHeight * k;
    let best = 1, legible = 0, grid = 0, gridBest = 1, filled = 0;
    for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) {
      const i = 4 * (y * canvas.width + x), a = px[i + 3] / 255;
      if (a === 0) continue;
      // Composited over the background, as the reader sees it.
      const mix = (c, under) => c * a + under * (1 - a);
      const c = contrast(lumOf(mix(px[i], br), mix(px[i + 1], bgG), mix(px[i + 2], bb)), bg);
      const inside = x >= l && x < r && y >= t && y < b;
      if (!inside && a > 0.8) { best = Math.max(best, c); if (c >= 4.5) legible++; }
      if (inside && y < t + (b - t) / 10) { grid++; gridBest = Math.max(gridBest, c); }
      else if (inside && y < b - 3 * k && c >= 2) filled++;
    }
    const ink = {best, legible, grid, gridBest, filled};";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_dark_mode_the_screens_are_dark_legible_and_pass_axe() {
    let cluster = PgCluster::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), SAMPLED);
    let c = Client::new(&server).await;
    let base = &server.base;
    add_instance(&c, "orders-db", cluster.port(), "environment=production,team=orders").await;
    add_instance(&c, "reports-db", dead_port(), "environment=staging").await;
    c.call(reqwest::Method::PATCH, "/api/v1/instances/orders-db/collection-rate/high", None, 200).await;
    raise(&c, "backup", "reports-db", "Nightly backup failed").await;
    let _holder = busy(&cluster).await;

    let browser = Browser::start().await;
    browser.sign_in(base, "admin", PASSWORD).await;
    // Light first: the same page, a light background (the emulation is what turns it dark).
    let light = browser.js(&page_colours()).await.unwrap();
    assert!(light["dark"] == false && light["bg"].as_f64().unwrap() > 0.9, "{light}");
    browser.color_scheme("dark").await;
    browser.client.goto(&format!("{base}/")).await.unwrap();
    browser
        .wait_js(
            "orders-db's tile with its sparkline",
            &format!("{} return t && t.badge === 'connected' && t.spark;", tile("orders-db")),
        )
        .await;
    assert_dark(&browser, "the overview").await;
    assert_accessible(&browser, "the overview in dark mode").await;
    screenshot(&browser, "dashboard_overview_dark", None).await;

    browser.client.goto(&format!("{base}/instances/orders-db")).await.unwrap();
    browser.wait_js("the instance facts", &text_with("#instance-facts", "connected")).await;
    browser.wait_js("the top wait events", &text_with("#top-waits table", "PgSleep")).await;
    browser
        .wait_js(
            "the chart with sessions",
            "const e = document.getElementById('ash-chart'); return e.querySelector('canvas') && e.getAttribute('aria-label').includes('Timeout');",
        )
        .await;
    assert_dark(&browser, "the instance screen").await;
    // The last 15 minutes (3 s buckets), once bands of sessions are drawn.
    browser.client.find(Locator::XPath(&range_button("15m"))).await.unwrap().click().await.unwrap();
    let ink = browser
        .wait_js("sessions drawn on the chart", &format!("{COLOURS} {CHART_INK} return ink.filled < 500 ? null : ink;"))
        .await;
    let f = |k: &str| ink[k].as_f64().unwrap();
    assert!(f("best") >= 4.5 && f("legible") > 100.0, "the chart's axis labels are not legible: {ink}");
    assert!(f("grid") > 0.0 && f("gridBest") >= 1.5, "the chart's grid does not show: {ink}");
    assert_accessible(&browser, "the instance screen in dark mode").await;
    screenshot(&browser, "dashboard_instance_dark", None).await;
    browser.close().await;
}

/// Presses `key` (and lets it go) where the focus is.
async fn press(browser: &Browser, key: Key) {
    let k = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    browser.client.perform_actions(k).await.unwrap();
}

/// The focused element as `{tag, text, id, outline, width}` (its computed outline style and
/// width in px).
const FOCUSED: &str = "const e = document.activeElement, s = getComputedStyle(e);
    return {tag: e.tagName.toLowerCase(), text: e.innerText.trim(), id: e.id, outline: s.outlineStyle,
        width: parseFloat(s.outlineWidth)};";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_skips_to_content_and_follows_the_navigation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let c = Client::new(&server).await;
    let base = &server.base;
    raise(&c, "backup", "backup-nas", "Nightly backup failed").await;
    let browser = Browser::start().await;
    browser.sign_in(base, "admin", PASSWORD).await;
    browser.client.goto(&format!("{base}/")).await.unwrap();
    browser.wait_js("the overview's totals", &text_with("#totals", "instances")).await;

    // From the top: the skip link, the brand, then the navigation, each with a visible ring.
    let mut stops = Vec::new();
    for _ in 0..4 {
        press(&browser, Key::Tab).await;
        let focused = browser.js(FOCUSED).await.unwrap();
        assert!(
            focused["outline"] != "none" && focused["width"].as_f64().unwrap() >= 2.0,
            "no visible focus: {focused}"
        );
        stops.push(focused["text"].as_str().unwrap().to_string());
    }
    assert_eq!(stops, ["Skip to content", "Vigia", "Overview", "Alerts"], "the Tab order from the top");
    press(&browser, Key::Enter).await;
    browser.wait_path("/alerts").await;
    browser.wait_js("the active alert", &text_with("#active-alerts", "Nightly backup failed")).await;

    // The skip link, shown when focused, takes the focus past the navigation to the content.
    press(&browser, Key::Tab).await;
    let skip = browser
        .js("const e = document.activeElement, r = e.getBoundingClientRect();
             return {text: e.innerText, shown: r.left >= 0 && r.top >= 0 && r.width > 0};")
        .await
        .unwrap();
    assert_eq!(skip, json!({"text": "Skip to content", "shown": true}), "the skip link is not shown on focus");
    press(&browser, Key::Enter).await;
    let main = poll("the focus on the content", PATIENCE, async || {
        browser.js("return document.activeElement.id").await.filter(|id| *id == json!("main"))
    })
    .await;
    assert_eq!(main, Value::from("main"));
    press(&browser, Key::Tab).await;
    let next = browser.js(FOCUSED).await.unwrap();
    let within = browser.js("return document.querySelector('#main').contains(document.activeElement)").await;
    assert!(next["id"] != "main" && within == Some(json!(true)), "after the skip link, Tab leaves the content: {next}");
    browser.close().await;
}
