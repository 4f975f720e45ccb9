//! The dashboard in a real headless browser against the real `vigia` binary: signing in and out
//! (an HttpOnly, SameSite=Strict session cookie that dies with sign-out), the overview following
//! a real PostgreSQL outage without a reload, the instance screen's ASH chart and top waits,
//! acknowledging an alert, creating a channel through the form rendered from the webhook's JSON
//! Schema, a user whose roles exclude an instance never seeing it, and axe-core finding nothing on
//! any screen. Screenshots of every screen are kept for people; the overview's and the instance
//! screen's go to `docs/screenshots/`.

use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::Locator;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use vigia_testkit::PgCluster;

use crate::alerting_support::Receiver;
use crate::e2e_support::browser::Browser;
use crate::e2e_support::{place_webhook, poll, Client, Server, PASSWORD, PATIENCE};

/// Short sampler cycles: the activity (and with it the connection check) every second once the
/// instance's collection rate is high, statements every 2 s so the top queries fill.
pub(crate) const SAMPLED: &str = "[sampler]\nactivity_interval_seconds = 1\nstatements_interval_seconds = 2\n\
     inventory_interval_seconds = 2\ntables_interval_seconds = 600\n";

/// The operator lets plugins reach the loopback receiver.
const LOOPBACK_PLUGINS: &str = "[plugins.policy]\nprivate_networks = [\"127.0.0.0/8\"]\n";

/// Asserts axe-core finds no WCAG 2.1 A/AA or best-practice violation on the page shown.
pub(crate) async fn assert_accessible(browser: &Browser, screen: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core on {screen}: {}", serde_json::to_string_pretty(&violations).unwrap());
}

/// Saves a screenshot of the top of the page; with `docs`, of the window as it is, copied as
/// `docs/screenshots/<docs>.png` too; otherwise of the whole page (up to 2400 px tall). The
/// window is 1280×900 again after.
pub(crate) async fn screenshot(browser: &Browser, name: &str, docs: Option<&str>) {
    browser.js("window.scrollTo(0, 0); return true;").await.expect("scrolled to the top");
    if docs.is_none() {
        let tall = browser.js("return document.documentElement.scrollHeight").await.and_then(|h| h.as_u64());
        // The window is the page plus the browser's own frame (about 145 px, headless too).
        let height = tall.map_or(900, |h| (h + 145).clamp(900, 2400)) as u32;
        browser.client.set_window_size(1280, height).await.unwrap();
    }
    let shot = browser.screenshot(name).await;
    browser.client.set_window_size(1280, 900).await.unwrap();
    eprintln!("screenshot {name}: {}", shot.display());
    if let Some(docs) = docs {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&shot, dir.join(format!("{docs}.png"))).unwrap();
    }
}

/// Percent-encodes a query parameter's value.
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A loopback port nothing listens on: an instance there is registered but never connects.
pub(crate) fn dead_port() -> u16 {
    vigia_testkit::free_port()
}

/// Registers instance `name` at `port` on the loopback with `tags`.
pub(crate) async fn add_instance(c: &Client, name: &str, port: u16, tags: &str) -> Value {
    let body = json!({"host": "127.0.0.1", "port": port, "user": "postgres", "password": "x", "tags": tags});
    c.call(reqwest::Method::POST, &format!("/api/v1/instances/{name}"), Some(body), 201).await
}

/// Raises a custom alert; returns it.
pub(crate) async fn raise(c: &Client, key: &str, resource: &str, summary: &str) -> Value {
    c.post(
        "/api/v1/alerts",
        json!({"dedup_key": key, "severity": "critical", "summary": summary, "resource": resource}),
    )
    .await
}

/// The start of a script binding `t` to the tile of instance `name` as `{classes, badge, active,
/// text, spark}` (`spark`: its sparkline has a line), `null` while there is none; the caller
/// adds its `return`.
pub(crate) fn tile(name: &str) -> String {
    format!(
        "const e = document.querySelector('#instances li.tile[data-instance=\"{name}\"]');
         const t = e && {{classes: e.className.split(' '), badge: e.querySelector('h3 .badge').innerText,
             active: e.querySelector('.active-now').innerText, text: e.innerText,
             spark: e.querySelector('svg.spark polyline') !== null}};"
    )
}

/// A script answering `innerText` of the first element matching `css` when it contains
/// `needle`, `null` otherwise.
pub(crate) fn text_with(css: &str, needle: &str) -> String {
    format!(
        "const e = document.querySelector({css:?}); return e && e.innerText.includes({needle:?}) ? e.innerText : null;"
    )
}

/// Asserts neither the text nor the markup of the page shown contains any of `hidden`.
async fn assert_hidden(browser: &Browser, screen: &str, hidden: &[&str]) {
    let (text, source) = (browser.visible_text().await, browser.client.source().await.unwrap());
    for h in hidden {
        assert!(!text.contains(h) && !source.contains(h), "{h:?} on the {screen}:\n{text}");
    }
}

/// The start of a script binding `span`, the seconds of the instance screen's time window, and
/// `pressed`, the range button pressed (`undefined` when zoomed).
const WINDOW: &str = "const w = [...document.querySelectorAll('#window time')].map(t => Date.parse(t.dateTime));
    const span = w.length === 2 ? Math.round((w[1] - w[0]) / 1000) : null;
    const pressed = document.querySelector('#content button[aria-pressed=true]')?.innerText;";

/// The instance screen's button of time range `label`.
pub(crate) fn range_button(label: &str) -> String {
    format!("//span[@aria-label='Time range']/button[normalize-space()='{label}']")
}

/// The session cookie's value sent to `GET path` without redirects; the status it answers.
async fn status_with_cookie(base: &str, path: &str, cookie: &str) -> u16 {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(format!("{base}{path}")).header("cookie", format!("vigia_session={cookie}")).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_http_only_cookie_and_signing_out_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let browser = Browser::start().await;
    let base = &server.base;

    // Not signed in: the overview sends the visitor to the sign-in form, to come back after.
    browser.client.goto(&format!("{base}/")).await.unwrap();
    browser.wait_path("/sign-in").await;
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("next=/"), "{url}");
    browser.wait_js("the sign-in form", "return document.getElementById('username') !== null").await;
    assert_accessible(&browser, "sign-in").await;
    screenshot(&browser, "dashboard_sign_in", None).await;

    // A wrong password: the form again, with the error, and no session.
    browser.submit_sign_in("admin", "not-the-password").await;
    let error = browser
        .wait_js("the sign-in error", "const e = document.getElementById('sign-in-error'); return e && e.innerText;")
        .await;
    assert_eq!(error, "invalid username or password");
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/sign-in");
    assert!(browser.client.get_named_cookie("vigia_session").await.is_err(), "a session after a wrong password");
    let kept = browser.js("return document.getElementById('username').value").await;
    assert_eq!(kept, Some(json!("admin")), "the login is kept for the next try");
    assert_accessible(&browser, "sign-in with an error").await;

    // The right one: the overview, filled from the API with the session cookie.
    browser.submit_sign_in("admin", PASSWORD).await;
    browser.wait_path("/").await;
    browser.wait_js("the overview's totals", &text_with("#totals", "instances")).await;
    let who = browser
        .wait_js("who is signed in", "const e = document.querySelector('.who .login'); return e && e.innerText;")
        .await;
    assert!(who.as_str().unwrap().starts_with("admin"), "{who}");
    let cookie = browser.client.get_named_cookie("vigia_session").await.expect("the session cookie");
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)", "{cookie:?}");
    assert_eq!(cookie.path(), Some("/"), "{cookie:?}");
    let value = cookie.value().to_string();
    assert_eq!(status_with_cookie(base, "/api/v1/state", &value).await, 200, "the cookie works before sign-out");

    // Sign-out: back to the form, the cookie gone from the browser and dead if replayed.
    browser.client.find(Locator::Css("form[action='/sign-out'] button")).await.unwrap().click().await.unwrap();
    browser.wait_path("/sign-in").await;
    browser.wait_js("the sign-in form after sign-out", "return document.getElementById('username') !== null").await;
    assert!(browser.client.get_named_cookie("vigia_session").await.is_err(), "the cookie outlived sign-out");
    assert_eq!(status_with_cookie(base, "/api/v1/state", &value).await, 401, "the old cookie still opens the API");
    assert_eq!(status_with_cookie(base, "/", &value).await, 303, "the old cookie still opens a screen");
    browser.client.goto(&format!("{base}/alerts")).await.unwrap();
    browser.wait_path("/sign-in").await;
    browser.close().await;
}

/// Keeps sessions of the monitored server busy until it stops: two sleeping in a loop and one
/// waiting for a row lock another holds (the holder is returned, to keep its transaction open).
pub(crate) async fn busy(cluster: &PgCluster) -> PgConnection {
    cluster
        .psql("postgres", "CREATE TABLE stock (id int PRIMARY KEY, n int); INSERT INTO stock VALUES (1, 0)")
        .unwrap();
    let url = cluster.url("postgres");
    let mut holder = PgConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    holder.execute("UPDATE stock SET n = n + 1 WHERE id = 1").await.unwrap();
    let mut waiter = PgConnection::connect(&url).await.unwrap();
    tokio::spawn(async move { waiter.execute("UPDATE stock SET n = n + 10 WHERE id = 1").await });
    for _ in 0..2 {
        let mut sleeper = PgConnection::connect(&url).await.unwrap();
        tokio::spawn(async move { while sleeper.execute("SELECT pg_sleep(0.5)").await.is_ok() {} });
    }
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_follows_a_real_outage_live_and_the_instance_screen_charts_its_sessions() {
    let cluster = PgCluster::start().unwrap();
    cluster.psql("postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), SAMPLED);
    let c = Client::new(&server).await;
    let base = &server.base;

    // `orders-db` is up and sampled every second; `reports-db` points where nothing listens.
    let orders = add_instance(&c, "orders-db", cluster.port(), "environment=production,team=orders").await;
    assert_eq!(orders["connected"], true, "{orders}");
    let reports = add_instance(&c, "reports-db", dead_port(), "environment=staging,team=reports").await;
    assert_eq!(reports["connected"], false, "{reports}");
    c.call(reqwest::Method::PATCH, "/api/v1/instances/orders-db/collection-rate/high", None, 200).await;
    let _holder = busy(&cluster).await;

    let browser = Browser::start().await;
    browser.sign_in(base, "admin", PASSWORD).await;
    browser.wait_js("the event stream open", "return document.querySelector('#live.on') !== null").await;
    let up = browser
        .wait_js(
            "orders-db connected, its version, active sessions and their sparkline",
            &format!(
                "{} return t && t.badge === 'connected' && /^[1-9]/.test(t.active) && /PostgreSQL 15/.test(t.text)
                    && t.spark ? t : null;",
                tile("orders-db")
            ),
        )
        .await;
    assert!(!up["classes"].as_array().unwrap().contains(&json!("down")), "{up}");
    let down = browser
        .wait_js(
            "reports-db disconnected",
            &format!("{} return t && t.badge === 'disconnected' ? t : null;", tile("reports-db")),
        )
        .await;
    assert!(down["classes"].as_array().unwrap().contains(&json!("down")), "{down}");
    // Each tile shows the instance's tags.
    assert!(up["text"].as_str().unwrap().contains("team=orders"), "{up}");
    assert_accessible(&browser, "the overview").await;
    screenshot(&browser, "dashboard_overview", Some("overview")).await;

    // The instance screen: its facts, the ASH chart drawn by uPlot, and the top wait events
    // (the sleepers and the lock waiter).
    browser.client.goto(&format!("{base}/instances/orders-db")).await.unwrap();
    browser.wait_js("the instance facts", &text_with("#instance-facts", "connected")).await;
    browser.wait_js("the ASH chart", "return document.querySelector('#ash-chart canvas') !== null").await;
    let waits = browser.wait_js("the top wait events", &text_with("#top-waits table", "PgSleep")).await;
    assert!(waits.as_str().unwrap().contains("Lock"), "the lock waiter is not among the top waits: {waits}");
    let label = browser.js("return document.getElementById('ash-chart').getAttribute('aria-label')").await.unwrap();
    assert!(label.as_str().unwrap().contains("Timeout"), "{label}");
    browser.wait_js("the top queries", &text_with("#top-queries table", "pg_sleep")).await;
    // The last 15 minutes, then a drag across its last minute or so, once the instance was
    // sampled for 20 s (so the drag takes samples in): the chart zooms in, and stays so, no
    // longer following the live edge.
    poll("20 s of samples", PATIENCE, async || {
        let ago =
            |secs| enc(&(Utc::now() - chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true));
        let path = format!(
            "/api/v1/activity/session-history?compute=wait-events&bucket=1&from={}&to={}&filters=name%3Dorders-db",
            ago(900),
            ago(20)
        );
        c.get(&path).await.as_array().is_some_and(|rows| !rows.is_empty()).then_some(())
    })
    .await;
    browser.client.set_window_size(1280, 1300).await.unwrap();
    browser.client.find(Locator::XPath(&range_button("15m"))).await.unwrap().click().await.unwrap();
    browser.wait_js("the last 15 minutes", &format!("{WINDOW} return span === 900 && pressed === '15m';")).await;
    let over = browser.client.find(Locator::Css("#ash-chart .u-over")).await.unwrap();
    let width = browser.js("return document.querySelector('#ash-chart .u-over').getBoundingClientRect().width").await;
    let half = width.and_then(|w| w.as_f64()).expect("the chart's width") / 2.0;
    let at = |x: f64| PointerAction::MoveToElement { element: over.clone(), duration: None, x, y: 0.0 };
    let drag = MouseActions::new("mouse".into())
        .then(at(half - 60.0))
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(at(half - 30.0))
        .then(at(half - 1.0))
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveTo { duration: None, x: 1.0, y: 1.0 });
    browser.client.perform_actions(drag).await.unwrap();
    let zoomed =
        browser.wait_js("the zoomed chart", &format!("{WINDOW} return span < 900 && !pressed ? span : null;")).await;
    assert!(zoomed.as_i64().unwrap() > 0, "{zoomed}");
    browser.wait_js("the zoomed top waits", &text_with("#top-waits table", "PgSleep")).await;
    assert_accessible(&browser, "the instance screen").await;
    screenshot(&browser, "dashboard_instance", Some("instance")).await;
    // A statement's text opens its detail: the whole text and its counters over time.
    let statement = "//div[@id='top-queries']//button[contains(., 'pg_sleep')]";
    browser.client.find(Locator::XPath(statement)).await.unwrap().click().await.unwrap();
    let sql = browser.wait_js("the statement's detail", &text_with("#query-detail pre.sql", "pg_sleep")).await;
    assert!(!sql.as_str().unwrap().contains("not captured"), "{sql}");
    browser.wait_js("the statement over time", &text_with("#query-detail table", "calls")).await;

    // Back on the overview, marked so that a reload would show. The server stops: the tile
    // turns disconnected in the page as it is.
    browser.client.goto(&format!("{base}/")).await.unwrap();
    browser
        .wait_js("orders-db connected again", &format!("{} return t && t.badge === 'connected';", tile("orders-db")))
        .await;
    browser.js("window.vigiaTestMark = 'not reloaded'; return true;").await.unwrap();
    cluster.stop().unwrap();
    let gone = browser
        .wait_js(
            "orders-db disconnected without a reload",
            &format!("{} return t && t.badge === 'disconnected' ? t : null;", tile("orders-db")),
        )
        .await;
    assert!(gone["classes"].as_array().unwrap().contains(&json!("down")), "{gone}");
    let mark = browser.js("return window.vigiaTestMark").await;
    assert_eq!(mark, Some(json!("not reloaded")), "the page was reloaded");
    let state = c.get("/api/v1/state").await;
    assert_eq!(state["totals"]["disconnected"], 2, "{state}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_acknowledged_and_channels_created_from_the_screens() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    place_webhook(dir.path(), &rx.origin());
    let server = Server::start(dir.path(), LOOPBACK_PLUGINS);
    let c = Client::new(&server).await;
    let base = &server.base;
    let alert = raise(&c, "backup-nas", "backup-nas", "Nightly backup failed").await;
    let id = alert["id"].as_i64().unwrap();
    assert_eq!(alert["state"], "firing", "{alert}");

    let browser = Browser::start().await;
    browser.sign_in(base, "admin", PASSWORD).await;

    // Alerts: the firing one has an Acknowledge button; once clicked the API says acknowledged
    // and the page shows it so.
    let ack = "#active-alerts button[data-action=acknowledge]";
    browser.open(base, "/alerts", &text_with("#active-alerts table", "Nightly backup failed")).await;
    let buttons = browser.client.find_all(Locator::Css(ack)).await.unwrap();
    assert_eq!(buttons.len(), 1, "one Acknowledge button for the one firing alert");
    buttons[0].click().await.unwrap();
    let path = format!("/api/v1/alerts/{id}");
    let acked = c.poll(&path, "the alert acknowledged", |a| a["state"] != "firing").await;
    assert_eq!(acked["state"], "acknowledged", "{acked}");
    assert!(acked["acknowledged_at"].is_string(), "{acked}");
    browser.wait_js("the acknowledgement said", &text_with("#notice", &format!("Alert {id} acknowledged"))).await;
    let row =
        browser.wait_js("the alert shown acknowledged", &text_with("#active-alerts tbody", "Unacknowledge")).await;
    assert!(row.as_str().unwrap().contains("acknowledged"), "{row}");
    assert!(browser.client.find_all(Locator::Css(ack)).await.unwrap().is_empty(), "still an Acknowledge button");
    assert_accessible(&browser, "alerts").await;
    screenshot(&browser, "dashboard_alerts", None).await;

    // Notifications: a webhook channel made with the fields the plugin's schema asks for.
    browser
        .open(base, "/notifications", "return document.querySelector('#channel-config input[name=url]') !== null")
        .await;
    let fill = async |css: &str, text: &str| {
        let input = browser.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    };
    fill("#channel-name", "ops-hook").await;
    fill("#channel-config input[name=url]", &rx.url("/hook")).await;
    fill("#channel-config input[name=secret]", "signing-key-1").await;
    fill("#channel-config input[name=timeout_ms]", "5000").await;
    let secret_type = browser.js("return document.querySelector('#channel-config input[name=secret]').type").await;
    assert_eq!(secret_type, Some(json!("password")), "a secret field is typed in the clear");
    browser.client.find(Locator::Css("#channel-form button[type=submit]")).await.unwrap().click().await.unwrap();
    let channels = c
        .poll("/api/v1/notifications/channels", "the channel created", |l| {
            l.as_array().is_some_and(|l| l.iter().any(|ch| ch["name"] == "ops-hook"))
        })
        .await;
    let channel = channels.as_array().unwrap().iter().find(|ch| ch["name"] == "ops-hook").unwrap();
    assert_eq!(channel["plugin"], "webhook", "{channel}");
    assert_eq!(channel["config"]["url"], rx.url("/hook"), "{channel}");
    assert_eq!(channel["config"]["timeout_ms"], 5000, "a number, as the schema says: {channel}");
    assert!(channel["config"]["secret"].is_string(), "the secret was not kept: {channel}");
    assert_ne!(channel["config"]["secret"], "signing-key-1", "the secret is shown: {channel}");
    assert_eq!(channel["events"], json!(["alerts"]), "{channel}");
    browser.wait_js("the creation said", &text_with("#notice", "Channel ops-hook created")).await;
    browser.wait_js("the channel listed", &text_with("#channels table", "ops-hook")).await;

    // Its test notification reaches the receiver.
    let before = rx.requests().len();
    let test = "//div[@id='channels']//tr[td[1][normalize-space()='ops-hook']]//button[normalize-space()='Send test']";
    browser.client.find(Locator::XPath(test)).await.unwrap().click().await.unwrap();
    let seen = rx.wait_for(before + 1).await;
    let last = seen.last().unwrap();
    assert_eq!(last.path, "/hook");
    assert_eq!(last.body["alerts"][0]["summary"], "Test notification of channel ops-hook", "{:?}", last.body);
    browser.wait_js("the test said", &text_with("#notice", "Test notification sent through ops-hook")).await;
    assert_accessible(&browser, "notifications").await;
    screenshot(&browser, "dashboard_notifications", None).await;

    // Plugins and administration, for the accessibility check and people to look at.
    browser.open(base, "/plugins", &text_with("#plugin-list table", "loaded")).await;
    let plugins = browser.visible_text().await;
    assert!(plugins.contains("webhook"), "{plugins}");
    assert_accessible(&browser, "plugins").await;
    screenshot(&browser, "dashboard_plugins", None).await;
    browser.open(base, "/admin", &text_with("#tokens table", "Revoke")).await;
    browser.wait_js("the users", &text_with("#users table", "admin")).await;
    assert_accessible(&browser, "administration").await;
    screenshot(&browser, "dashboard_admin", None).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_whose_roles_exclude_an_instance_never_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "");
    let c = Client::new(&server).await;
    let base = &server.base;
    add_instance(&c, "payments-db", dead_port(), "team=payments").await;
    let hr_port = dead_port();
    add_instance(&c, "hr-db", hr_port, "team=hr,data=payroll").await;
    let access = json!([{"filters": [{"tag": "team", "value": "payments"}]}]);
    c.post("/api/v1/roles", json!({"name": "payments-only", "access": access})).await;
    let user = json!({"login": "pat", "password": "pat-password-1", "privilege": "read", "roles": ["payments-only"]});
    c.post("/api/v1/users", user).await;
    raise(&c, "capture", "payments-db", "Card capture lagging").await;
    raise(&c, "export", "hr-db", "Salary export stalled").await;
    // What of hr-db must never reach pat's browser (its name aside, which pat may type).
    let secrets = ["team=hr", "payroll", "Salary export stalled", &format!(":{hr_port}")];

    let browser = Browser::start().await;
    browser.sign_in(base, "pat", "pat-password-1").await;
    browser.wait_js("payments-db's tile", &format!("{} return t && t.badge;", tile("payments-db"))).await;
    let names = browser
        .js("return [...document.querySelectorAll('#instances li.tile')].map(t => t.dataset.instance)")
        .await
        .unwrap();
    assert_eq!(names, json!(["payments-db"]), "pat's overview");
    let total = browser.js("return document.querySelector('#totals .total .n').innerText").await.unwrap();
    assert_eq!(total, json!("1"), "instances counted for pat");
    let everything: Vec<&str> = secrets.iter().copied().chain(["hr-db"]).collect();
    assert_hidden(&browser, "overview", &everything).await;

    // The alerts screen: payments-db's alert only.
    browser.open(base, "/alerts", &text_with("#active-alerts table", "Card capture lagging")).await;
    assert_hidden(&browser, "alerts", &everything).await;

    // Typing hr-db's address: an error, no facts, no chart, nothing of hr-db but the name typed.
    browser
        .open(
            base,
            "/instances/hr-db",
            "const e = document.querySelector('#content p.error'); return e && e.innerText;",
        )
        .await;
    let error = browser.js("return document.querySelector('#content p.error').innerText").await.unwrap();
    assert!(error.as_str().unwrap().contains("not found"), "{error}");
    for absent in ["#instance-facts", "#ash-chart", "#top-waits"] {
        let found = browser.js(&format!("return document.querySelector('{absent}') !== null")).await;
        assert_eq!(found, Some(json!(false)), "{absent} on pat's hr-db screen");
    }
    assert_hidden(&browser, "hr-db screen", &secrets).await;
    // Nor through the API with pat's session.
    let cookie = browser.client.get_named_cookie("vigia_session").await.unwrap();
    assert_eq!(status_with_cookie(base, "/api/v1/instances/hr-db", cookie.value()).await, 404);
    browser.close().await;
}
