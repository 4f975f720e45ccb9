//! End-to-end reports: the real `vigia` binary samples a private PostgreSQL cluster under a
//! workload, and its reports are rendered by the real `pdf`, `html` and `csv` plugins, checked
//! with poppler (`pdfinfo`, `pdftotext`, `pdftoppm`), and mailed through a real SMTP server
//! (aiosmtpd) with the attachment compared byte for byte to the downloaded PDF.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use vigia_testkit::PgCluster;

use crate::e2e_support::{poll, Client, Server, PATIENCE};
use crate::plugins_support::{place_bundle, set};
use crate::smtp_support::SmtpServer;

/// The query text the report must carry (a comment makes it unmistakable).
const MARKED_QUERY: &str = "SELECT /* vigia-report-marker */ count(*) FROM orders WHERE amount > $1";

/// Three clients for a while: inserts, the marked query, and updates that wait on a lock.
async fn workload(url: String, seconds: u64) {
    let mut setup = PgConnection::connect(&url).await.unwrap();
    setup
        .execute(
            "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, amount numeric, note text); \
             CREATE INDEX IF NOT EXISTS orders_amount ON orders (amount); \
             INSERT INTO orders (amount, note) SELECT g % 1000, repeat('x', 50) FROM generate_series(1, 20000) g",
        )
        .await
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client in 0..3 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = PgConnection::connect(&url).await.unwrap();
            while std::time::Instant::now() < until {
                match client {
                    0 => {
                        c.execute("INSERT INTO orders (amount, note) SELECT random() * 1000, 'n' FROM generate_series(1, 200)")
                            .await
                            .unwrap();
                    }
                    1 => {
                        sqlx::query(MARKED_QUERY).bind(500).execute(&mut c).await.unwrap();
                        c.execute("SELECT pg_sleep(0.3)").await.unwrap();
                    }
                    _ => {
                        c.execute("BEGIN; UPDATE orders SET note = 'u' WHERE id = 1; SELECT pg_sleep(0.5); COMMIT")
                            .await
                            .unwrap();
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn tool(name: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} runs (apt-get install poppler-utils): {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Checks a PDF of at least `min_pages` pages with poppler; keeps its pages as PNG under
/// `target/test-output/reports/`.
fn check_pdf(path: &Path, min_pages: u32, must_contain: &[&str]) -> String {
    let (ok, info, err) = tool("pdfinfo", &[path.to_str().unwrap()]);
    assert!(ok, "pdfinfo refused the report: {err}");
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in {info}"));
    assert!((min_pages..=200).contains(&pages), "{pages} pages: {info}");
    assert!(info.contains("(A4)"), "not A4: {info}");
    let (ok, text, err) = tool("pdftotext", &["-layout", path.to_str().unwrap(), "-"]);
    assert!(ok, "pdftotext: {err}");
    for wanted in must_contain {
        assert!(text.contains(wanted), "{wanted:?} is not in the report's text:\n{text}");
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-output/reports");
    std::fs::create_dir_all(&out).unwrap();
    let prefix = out.join("page");
    let (ok, _, err) = tool("pdftoppm", &["-png", "-r", "50", path.to_str().unwrap(), prefix.to_str().unwrap()]);
    assert!(ok && !err.contains("Error"), "pdftoppm could not render every page: {err}");
    let rendered = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().to_string_lossy().ends_with(".png"))
        .count();
    assert!(rendered >= pages as usize, "{rendered} PNGs for {pages} pages");
    text
}

async fn post(client: &Client, token: &str, path: &str, body: Value) -> reqwest::Response {
    client.http.post(format!("{}{path}", client.base)).bearer_auth(token).json(&body).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_render_through_the_plugins_and_mail_through_smtp() {
    let cluster = PgCluster::start().unwrap();
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    for id in ["pdf", "html", "csv"] {
        place_bundle(dir.path(), id, |_| {});
    }
    let port = i64::from(smtp.port);
    place_bundle(dir.path(), "email", |m| {
        set(m, "config.default.smtp_port", port);
        set(m, "config.default.from", "Vigia <reports@vigia.test>");
    });
    let sampler = "[sampler]\nstatements_interval_seconds = 5\nactivity_interval_seconds = 5\n\
                   tables_interval_seconds = 5\ninventory_interval_seconds = 5\n";
    let server = Server::start(dir.path(), sampler);
    let client = Client::new(&server).await;
    let admin = client.token.clone();
    let shop = cluster.create_database("shop").unwrap();
    for db in ["postgres", "shop"] {
        cluster.psql(db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").unwrap();
    }
    let body = json!({"host": "127.0.0.1", "port": cluster.port(), "user": "postgres", "password": "x"});
    client.post("/api/v1/instances/sales", body).await;
    client.call(reqwest::Method::PATCH, "/api/v1/instances/sales/collection-rate/high", None, 200).await;

    let from = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S").to_string();
    workload(shop.clone(), 40).await;
    // Wait until the marked query has been through a statements cycle.
    let marked = |rows: &Value| {
        rows.as_array()
            .is_some_and(|r| r.iter().any(|q| q["text"].as_str().is_some_and(|t| t.contains("vigia-report-marker"))))
    };
    poll("the marked query in top-queries", PATIENCE, async || {
        let r = post(&client, &admin, "/api/v1/activity/top-queries", json!({"from": from, "limit": 100})).await;
        let rows: Value = r.json().await.unwrap();
        marked(&rows).then_some(())
    })
    .await;
    // A window that has ended, so two renderings read the same data (fresh ASH is readable
    // within 2 s, statement cycles are stamped when they run).
    let to = (chrono::Utc::now() - chrono::Duration::seconds(1)).format("%Y-%m-%d %H:%M:%S").to_string();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let window = json!({"utc_time": true, "from": from, "to": to, "filters": [{"tag": "name", "value": "sales"}]});

    // The Datasentinel form: the PDF itself.
    let r = post(&client, &admin, "/ds-api/activity/full-report", window.clone()).await;
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"vigia-full-report-") && disposition.contains("sales"),
        "{disposition}"
    );
    let pdf = r.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let path = dir.path().join("full.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = check_pdf(
        &path,
        3,
        &[
            "Workload report",
            "General",
            "Sessions workload",
            "Queries",
            "Tables access",
            "Indexes access",
            "Temporary files",
            "vigia-report-marker",
            "orders",
            "UTC",
        ],
    );
    assert!(text.contains(&from[..16]), "the period's start {from} is not in the report");

    // Mailed: the attachment is the same document under the same name.
    let mail = json!({"report_type": "email", "subject": "Nightly sales report", "recipients": ["dba@vigia.test", "Ops <ops@vigia.test>"]});
    let mut mailed = window.clone();
    mailed.as_object_mut().unwrap().extend(mail.as_object().unwrap().clone());
    let r = post(&client, &admin, "/ds-api/activity/full-report", mailed.clone()).await;
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "sent", "{answer}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["subject"], "Nightly sales report");
    assert_eq!(m["rcpt_tos"], json!(["dba@vigia.test", "ops@vigia.test"]));
    let attachment = &m["attachments"][0];
    let expected_name = disposition.trim_start_matches("attachment; filename=\"").trim_end_matches('"');
    assert_eq!(attachment["filename"], expected_name);
    assert_eq!(attachment["content_type"], "application/pdf");
    let attached = std::fs::read(attachment["path"].as_str().unwrap()).unwrap();
    // Rendered again at another instant: same pages, but the cover's "generated at" differs.
    let attached_path = dir.path().join("attached.pdf");
    std::fs::write(&attached_path, &attached).unwrap();
    let attached_text = check_pdf(&attached_path, 3, &["Workload report", "vigia-report-marker"]);
    // Rendered a moment later over the same ended window: only the generation time and the
    // inventory (the instance as it is now: size, uptime) may differ.
    let content = |t: &str| {
        let kept = t.lines().filter(|l| !l.contains("enerated") && !l.contains(" primary "));
        kept.map(str::trim_end).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(content(&attached_text), content(&text), "the mailed report is the downloaded document");

    // A bad address is a 400 naming it, and nothing is sent.
    let mut bad = mailed.clone();
    bad["recipients"] = json!(["dba@vigia.test", "not an address"]);
    let r = post(&client, &admin, "/ds-api/activity/full-report", bad).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("not an address"), "{e}");
    assert_eq!(smtp.messages().len(), 1);

    // An unreachable SMTP server: a clear 502 naming it, not a hang.
    drop(smtp);
    let started = std::time::Instant::now();
    let r = post(&client, &admin, "/ds-api/activity/session-history-report", mailed.clone()).await;
    assert_eq!(r.status(), 502);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(started.elapsed() < Duration::from_secs(60), "the unreachable server took {:?}", started.elapsed());

    // Native form: HTML and CSV from their plugins; renderers listed.
    let renderers = client.get("/api/v1/reports/renderers").await;
    let ids: Vec<&str> = renderers.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["csv", "html", "pdf"], "{renderers}");
    let mut html = window.clone();
    html["kind"] = json!("top-queries");
    html["format"] = json!("html");
    let r = post(&client, &admin, "/api/v1/reports", html.clone()).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("vigia-report-marker") && page.contains("Top queries report"),
        "{}",
        &page[..page.len().min(2000)]
    );
    html["format"] = json!("csv");
    let r = post(&client, &admin, "/api/v1/reports", html.clone()).await;
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(csv.contains("vigia-report-marker"), "{csv}");

    // Every other kind, as Datasentinel serves it: a PDF titled for its kind that poppler reads
    // and renders page by page (the query report names the marked query by its queryid).
    let top =
        post(&client, &admin, "/api/v1/activity/top-queries", json!({"from": from, "to": to, "limit": 100})).await;
    let top: Value = top.json().await.unwrap();
    let marked_query =
        top.as_array().unwrap().iter().find(|q| q["text"].as_str().unwrap().contains("vigia-report-marker"));
    let queryid = marked_query.expect("the marked query in the window")["queryid"].clone();
    let kinds = [
        ("workload", "Workload report"),
        ("session-history", "Sessions workload report"),
        ("sessions-workload", "Sessions workload report"),
        ("top-queries", "Top queries report"),
        ("table", "Tables report"),
        ("instance", "Instance report"),
        ("server", "Server report"),
        ("query", "Query report"),
        ("data-size", "Data size report"),
    ];
    for (kind, title) in kinds {
        let mut body = window.clone();
        if kind == "query" {
            body["queryid"] = queryid.clone();
        }
        let r = post(&client, &admin, &format!("/ds-api/activity/{kind}-report"), body).await;
        assert_eq!(r.status(), 200, "{kind}-report");
        assert_eq!(r.headers()["content-type"], "application/pdf", "{kind}-report");
        let path = dir.path().join(format!("{kind}.pdf"));
        std::fs::write(&path, r.bytes().await.unwrap()).unwrap();
        let text = check_pdf(&path, 1, &[title, "sales"]);
        if kind == "query" {
            assert!(text.contains("vigia-report-marker"), "the query report has not the query's text:\n{text}");
        }
    }

    // Bad bodies and unknown kinds name the problem.
    let r = post(&client, &admin, "/ds-api/activity/weekly-report", window.clone()).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("session-history"), "{e}");
    let r = post(&client, &admin, "/ds-api/activity/full-report", json!({"from": "yesterday-ish"})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("from"), "{e}");
    let r = post(&client, &admin, "/ds-api/activity/full-report", json!({"sections": ["top_stuff"]})).await;
    assert_eq!(r.status(), 400);
    html["format"] = json!("docx");
    let r = post(&client, &admin, "/api/v1/reports", html).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("docx") && e["error"].as_str().unwrap().contains("pdf"), "{e}");

    // The developer profile: sessions and queries only; a table report is refused.
    let dev =
        json!({"login": "dev", "password": crate::e2e_support::PASSWORD, "privilege": "read", "profile": "developer"});
    client.post("/api/v1/users", dev).await;
    let dev_token = server.user_token("dev").await;
    let r = post(&client, &dev_token, "/ds-api/activity/table-report", window.clone()).await;
    assert_eq!(r.status(), 403);
    let r = post(&client, &dev_token, "/ds-api/activity/full-report", window.clone()).await;
    assert_eq!(r.status(), 200);
    let dev_pdf = dir.path().join("dev.pdf");
    std::fs::write(&dev_pdf, r.bytes().await.unwrap()).unwrap();
    let dev_text = check_pdf(&dev_pdf, 3, &["Sessions workload", "Queries", "vigia-report-marker"]);
    for hidden in ["Tables access", "Indexes access", "Temporary files", "PostgreSQL instance inventory"] {
        assert!(!dev_text.contains(hidden), "the developer's report has {hidden:?}");
    }
}
