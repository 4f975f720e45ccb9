//! A report schedule across a stop of the real `vigia` binary: the host is stopped with a run
//! due, time passes (the schedule's stored times are moved back, as a day and more of downtime
//! would leave them), and the host, started again, mails the missed report once, through the
//! real `pdf` and `email` plugins to a real SMTP server (aiosmtpd), and records the run.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, SqliteConnection};

use crate::e2e_support::{poll, Client, Server, PATIENCE};
use crate::plugins_support::{place_bundle, set};
use crate::smtp_support::SmtpServer;

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_missed_while_the_host_was_down_is_mailed_once_at_start() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    place_bundle(dir.path(), "pdf", |_| {});
    place_bundle(dir.path(), "email", |m| {
        set(m, "config.default.smtp_port", i64::from(smtp.port));
        set(m, "config.default.from", "Vigia <reports@vigia.test>");
    });
    let mut server = Server::start(dir.path(), "");
    let client = Client::new(&server).await;
    // Daily, an hour ago: the first run is tomorrow.
    let at = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%H:%M").to_string();
    let schedule = json!({
        "name": "Daily server report", "kind": "server", "period": "previous day", "when": format!("daily at {at}"),
        "time_zone": "UTC", "subject": "Daily server report", "recipients": ["dba@vigia.test"],
    });
    let created = client.call(reqwest::Method::POST, "/api/v1/reports/schedules", Some(schedule), 201).await;
    let id = created["id"].as_i64().unwrap();
    let first = created["next_run_at"].as_str().unwrap().to_string();
    assert!(server.terminate(Duration::from_secs(30)).is_some(), "the host stopped");

    // Two days pass while the host is down: yesterday's and today's runs are missed.
    let url = format!("sqlite://{}", dir.path().join("data/vigia.db").display());
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE report_schedules SET created_at = created_at - $1, next_run_at = next_run_at - $2")
        .bind(3 * DAY_MS)
        .bind(2 * DAY_MS)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let server = Server::start(dir.path(), "");
    let client = Client::new(&server).await;
    poll("the missed report mailed", PATIENCE, async || (!smtp.messages().is_empty()).then_some(())).await;
    let runs_path = format!("/api/v1/reports/schedules/{id}/runs");
    client.poll(&runs_path, "the run recorded as delivered", |r| r["runs"][0]["state"] == "delivered").await;
    // A few passes later, still one run and one mail: the latest missed slot (today's), once.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(smtp.messages().len(), 1, "{:?}", smtp.messages());
    let runs = client.get(&runs_path).await["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let ms = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis();
    assert_eq!(ms(&runs[0]["scheduled_for"]), ms(&json!(first)) - DAY_MS, "today's slot: {runs:?}");
    let mail = &smtp.messages()[0];
    assert_eq!(mail["subject"], "Daily server report");
    assert_eq!(mail["attachments"][0]["filename"], runs[0]["filename"]);
    // The next run is tomorrow's slot again.
    let schedule = client.get(&format!("/api/v1/reports/schedules/{id}")).await;
    assert_eq!(schedule["next_run_at"], json!(first), "{schedule}");
}
