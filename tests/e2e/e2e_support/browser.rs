//! A real headless browser for the tests of the screens: Debian's `chromium` driven through
//! `chromedriver` (WebDriver) with fantoccini, and axe-core (`tests/browser`, installed by
//! `.ci/run` with `npm ci`) injected for the accessibility check. The DevTools protocol (through
//! chromedriver) emulates a phone's screen and the OS's dark mode.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// A command of the Chrome DevTools protocol, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
pub struct Cdp(pub &'static str, pub Value);

type UrlError = <reqwest::Url as std::str::FromStr>::Err;

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &reqwest::Url, session: Option<&str>) -> Result<reqwest::Url, UrlError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"cmd": self.0, "params": self.1}).to_string()))
    }
}

/// One chromedriver with one headless Chromium session; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session of a 1280×900 window.
    pub async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian packages chromium and chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        // As root Chromium needs --no-sandbox; there is no display, hence headless.
        let caps = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]}});
        let caps = caps.as_object().cloned().unwrap_or_default();
        // The WebDriver client is built on rustls, which needs a process-wide provider (chromedriver
        // itself is plain HTTP on loopback); another test may have installed it already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .expect("rustls")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser { client, driver }
    }

    /// The text a person sees on the page (`innerText` of the body).
    pub async fn visible_text(&self) -> String {
        self.client.execute("return document.body.innerText", vec![]).await.unwrap().as_str().unwrap_or("").to_string()
    }

    /// The WCAG 2.1 A/AA and best-practice violations axe-core finds on the page, each as
    /// `{id, impact, help, nodes}`.
    pub async fn accessibility_violations(&self) -> Vec<Value> {
        let axe = std::fs::read_to_string(axe_path()).expect("axe-core installed (npm ci in tests/browser)");
        self.client.execute(&axe, vec![]).await.expect("axe-core loads");
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
              .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))))
              .catch(e => done([{id: 'axe-error', help: String(e)}]));";
        let found = self.client.execute_async(run, vec![]).await.expect("axe-core runs");
        found.as_array().cloned().unwrap_or_default()
    }

    /// Saves a PNG of the window under the test target's temp dir for a person to look at;
    /// returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Runs `script` (a function body; `return` what is wanted) in the page; `None` when it fails
    /// (the page is navigating, say).
    pub async fn js(&self, script: &str) -> Option<Value> {
        self.client.execute(script, vec![]).await.ok()
    }

    /// Polls `script` until it returns something other than `null`, `false`, `""` or `undefined`
    /// (`PATIENCE` at most); returns that.
    pub async fn wait_js(&self, what: &str, script: &str) -> Value {
        super::poll(what, super::PATIENCE, async || {
            self.js(script).await.filter(|v| !(v.is_null() || *v == json!(false) || *v == json!("")))
        })
        .await
    }

    /// Polls until the page's path is `path`.
    pub async fn wait_path(&self, path: &str) {
        super::poll(&format!("the page at {path}"), super::PATIENCE, async || {
            self.client.current_url().await.ok().filter(|u| u.path() == path).map(drop)
        })
        .await
    }

    /// Fills and submits the sign-in form of the page shown.
    pub async fn submit_sign_in(&self, login: &str, password: &str) {
        for (id, text) in [("username", login), ("password", password)] {
            let input = self.client.wait().for_element(Locator::Id(id)).await.expect("the sign-in form");
            input.clear().await.unwrap();
            input.send_keys(text).await.unwrap();
        }
        self.client
            .find(Locator::Css("form[action='/sign-in'] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Signs in through the form at `base` and waits for the overview it leads to.
    pub async fn sign_in(&self, base: &str, login: &str, password: &str) {
        self.client.goto(&format!("{base}/sign-in")).await.unwrap();
        self.submit_sign_in(login, password).await;
        self.wait_js(
            &format!("{login} signed in"),
            "return document.querySelector('main[data-screen=overview]') !== null",
        )
        .await;
    }

    /// Opens `path` of `base` and waits until `ready` (a script, as `wait_js`) holds.
    pub async fn open(&self, base: &str, path: &str, ready: &str) -> Value {
        self.client.goto(&format!("{base}{path}")).await.unwrap();
        self.wait_js(&format!("{path} ready"), ready).await
    }

    /// Runs DevTools command `cmd`; its answer.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client.issue_cmd(Cdp(cmd, params)).await.unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// From now on (navigations included) the page is shown as on a phone: a `width`×`height`
    /// CSS-pixel touch screen at 2 device pixels per CSS pixel, its `<meta name="viewport">`
    /// obeyed. `phone(0, 0)` goes back to the window.
    pub async fn phone(&self, width: u32, height: u32) {
        if width == 0 {
            self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
            self.cdp("Emulation.setTouchEmulationEnabled", json!({"enabled": false})).await;
            return;
        }
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 2, "mobile": true});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        self.cdp("Emulation.setTouchEmulationEnabled", json!({"enabled": true, "maxTouchPoints": 5})).await;
    }

    /// The OS's colour scheme as the page sees it (`prefers-color-scheme`): `dark` or `light`.
    pub async fn color_scheme(&self, scheme: &str) {
        let features = json!([{"name": "prefers-color-scheme", "value": scheme}]);
        self.cdp("Emulation.setEmulatedMedia", json!({"features": features})).await;
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn axe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/node_modules/axe-core/axe.min.js")
}
