//! Report schedules on both backends: the runner, driven by an injected clock, makes each slot's
//! report once through the real `pdf` plugin and mails it through a real SMTP server (aiosmtpd)
//! via the real `email` plugin; a failed mail is retried with the kept document and dead-lettered
//! when the retry schedule is spent; a host down over several slots runs the latest one once;
//! runs a crash left in flight go out after a restart. And the API: definitions checked field
//! by field, schedules visible to their owner (and the organization's admin) only.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use vigia::activity::FreshAsh;
use vigia::config::ReportsConfig;
use vigia::reports::runner::{PassReport, ScheduleRunner};

use crate::plugins_support::{set, Sandbox};
use crate::smtp_support::{free_port, SmtpServer};
use crate::support::{add_user, Backend, TestApp};

// Multi-threaded: the plugin runtime runs beside the test.
mt_backend_tests!(
    schedules_run_once_per_slot_retry_and_catch_up,
    schedules_are_their_owners_and_definitions_are_checked,
);

const DAY: i64 = 86_400_000;

fn daily() -> Value {
    json!({
        "name": "Nightly queries", "kind": "top-queries", "format": "pdf", "period": "last 24h",
        "when": "daily at 07:00", "time_zone": "Europe/Paris", "subject": "Nightly queries",
        "recipients": ["dba@vigia.test", "Ops <ops@vigia.test>"],
    })
}

async fn runs(app: &TestApp, id: i64) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/reports/schedules/{id}/runs"), &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["runs"].as_array().unwrap().clone()
}

fn report(queued: usize, delivered: usize, retried: usize, dead: usize) -> PassReport {
    PassReport { queued, delivered, retried, dead }
}

async fn schedules_run_once_per_slot_retry_and_catch_up(b: Backend) {
    let app = TestApp::start(b).await;
    // The mail server's port is known before it runs: the first attempt finds it closed.
    let port = free_port();
    let sandbox = Sandbox::new();
    sandbox.install("pdf", "pdf", |_| {});
    sandbox.install("email", "email", |m| {
        set(m, "config.default.smtp_port", i64::from(port));
        set(m, "config.default.from", "Vigia <reports@vigia.test>");
    });
    let plugins = sandbox.start().await;
    let retry = vec![Duration::ZERO, Duration::from_secs(60)];
    let runner = |plugins| {
        ScheduleRunner::new(app.store.clone(), FreshAsh::default(), plugins, ReportsConfig::default(), retry.clone())
    };
    let first = runner(Some(plugins.clone()));

    let r = app.call(Method::POST, "/api/v1/reports/schedules", Some(&app.admin), Some(daily())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    let slot = app.store.schedule(app.admin_user.tenant_id, None, id).await.unwrap().next_run_at.unwrap();
    assert_eq!(chrono::DateTime::from_timestamp_millis(slot).unwrap().format("%M").to_string(), "00");

    // Before its time nothing runs; at its time, one run, whose mail fails (no server yet).
    assert_eq!(first.pass(slot - 1).await.unwrap(), PassReport::default());
    assert_eq!(first.pass(slot + 1_000).await.unwrap(), report(1, 0, 1, 0));
    let [run] = runs(&app, id).await.try_into().unwrap();
    assert_eq!((run["state"].as_str(), run["attempts"].as_i64()), (Some("pending"), Some(1)), "{run}");
    assert!(run["last_error"].as_str().unwrap().contains(&port.to_string()), "{run}");
    let filename = run["filename"].as_str().unwrap().to_string();
    assert!(filename.starts_with("vigia-top-queries-report-") && filename.ends_with(".pdf"), "{filename}");
    // The same pass time again: the slot is not queued twice, and the retry is not due yet.
    assert_eq!(first.pass(slot + 1_000).await.unwrap(), PassReport::default());

    // The server is up at the retry: the kept document goes out.
    let smtp = SmtpServer::start_on(port);
    assert_eq!(first.pass(slot + 62_000).await.unwrap(), report(0, 1, 0, 0));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["subject"], "Nightly queries");
    assert_eq!(mails[0]["rcpt_tos"], json!(["dba@vigia.test", "ops@vigia.test"]));
    assert_eq!(mails[0]["attachments"][0]["filename"], filename.as_str());
    assert!(mails[0]["text"].as_str().unwrap().contains("Nightly queries"), "{}", mails[0]["text"]);
    let pdf = std::fs::read(mails[0]["attachments"][0]["path"].as_str().unwrap()).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "the attachment is the PDF");

    // The next day's slot: a second run.
    assert_eq!(first.pass(slot + DAY + 1_000).await.unwrap(), report(1, 1, 0, 0));
    assert_eq!(smtp.messages().len(), 2);

    // Down for four days, then a new process: the latest slot runs, once.
    drop(first);
    let second = runner(Some(plugins.clone()));
    second.requeue_in_flight().await.unwrap();
    let back = slot + 5 * DAY + 3_600_000;
    assert_eq!(second.pass(back).await.unwrap(), report(1, 1, 0, 0));
    assert_eq!(second.pass(back + 60_000).await.unwrap(), PassReport::default());
    assert_eq!(smtp.messages().len(), 3);
    let all = runs(&app, id).await;
    let slots: Vec<i64> = all.iter().map(|r| rfc3339_ms(&r["scheduled_for"])).collect();
    assert_eq!(slots, [slot + 5 * DAY, slot + DAY, slot]);
    for run in &all {
        let (at, from, to) = (rfc3339_ms(&run["scheduled_for"]), rfc3339_ms(&run["from"]), rfc3339_ms(&run["to"]));
        assert_eq!((run["state"].as_str(), from, to), (Some("delivered"), at - DAY, at - 1), "{run}");
    }

    // A run a crash left in flight (claimed, never finished) goes out after the restart.
    assert_eq!(second.pass(slot + 6 * DAY + 1_000).await.unwrap(), report(1, 1, 0, 0));
    let queued = runner(None);
    assert_eq!(queued.pass(slot + 7 * DAY + 1_000).await.unwrap().queued, 1, "queued without a runtime");
    let claimed = app.store.claim_due_runs(slot + 7 * DAY + 2_000, 10, None).await.unwrap();
    assert_eq!(claimed.len(), 0, "the runtime-less pass left it pending for a minute: {claimed:?}");
    let claimed = app.store.claim_due_runs(slot + 7 * DAY + 62_000, 10, None).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let third = runner(Some(plugins.clone()));
    third.requeue_in_flight().await.unwrap();
    assert_eq!(third.pass(slot + 7 * DAY + 63_000).await.unwrap(), report(0, 1, 0, 0));
    assert_eq!(smtp.messages().len(), 5);

    // The server goes away for good: retried once, then dead, with the reason kept.
    drop(smtp);
    assert_eq!(third.pass(slot + 8 * DAY + 1_000).await.unwrap(), report(1, 0, 1, 0));
    assert_eq!(third.pass(slot + 8 * DAY + 62_000).await.unwrap(), report(0, 0, 0, 1));
    let latest = &runs(&app, id).await[0];
    assert_eq!((latest["state"].as_str(), latest["attempts"].as_i64()), (Some("dead"), Some(2)), "{latest}");
    assert!(latest["last_error"].as_str().unwrap().contains(&port.to_string()), "{latest}");
}

/// Unix ms of an RFC 3339 value.
fn rfc3339_ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis()
}

async fn schedules_are_their_owners_and_definitions_are_checked(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    let path = "/api/v1/reports/schedules";
    let dev = add_user(&app.store, tenant, "dev@example.com", "read write", "developer").await;
    let dev = app.ctx.auth.issue_user_token(&dev).await.unwrap().0;
    let mut mine = daily();
    mine["format"] = json!("json");
    mine["name"] = json!("Developer's");
    let r = app.call(Method::POST, path, Some(&dev), Some(mine.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["when"], "daily at 07:00");
    assert_eq!(r.json["period"], "last 24h");
    assert!(r.json["next_run_at"].as_str().unwrap().ends_with(":00:00.000Z"), "{}", r.json);
    // Names are unique in the organization.
    let r = app.call(Method::POST, path, Some(&app.admin), Some(mine.clone())).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // The owner and the organization's admin see it; another user and another organization get
    // the answer of a missing schedule.
    let peer = add_user(&app.store, tenant, "peer@example.com", "read write", "data admin").await;
    let peer = app.ctx.auth.issue_user_token(&peer).await.unwrap().0;
    let one = format!("{path}/{id}");
    for token in [&peer, &app.other_admin] {
        for method in [Method::GET, Method::DELETE] {
            let r = app.call(method, &one, Some(token.as_str()), None).await;
            assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "report schedule not found"), "{}", r.text);
        }
        let r = app.call(Method::PUT, &one, Some(token.as_str()), Some(mine.clone())).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(app.get(path, token).await.json["schedules"], json!([]));
    }
    for token in [&dev, &app.admin] {
        assert_eq!(app.get(&one, token).await.json["name"], "Developer's");
        assert_eq!(app.get(path, token).await.json["schedules"][0]["id"], id);
    }
    check_definitions(&app, &one, &dev, mine).await;
    let r = app.call(Method::DELETE, &one, Some(&app.admin), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&one, &dev).await.status, StatusCode::NOT_FOUND);
}

/// A PUT that disables the schedule clears its next run; bad fields are named.
async fn check_definitions(app: &TestApp, one: &str, token: &str, mut body: Value) {
    body["enabled"] = json!(false);
    let r = app.call(Method::PUT, one, Some(token), Some(body.clone())).await;
    assert_eq!((r.status, &r.json["next_run_at"]), (StatusCode::OK, &Value::Null), "{}", r.text);
    let cases = [
        ("kind", json!("weekly"), "unknown report kind \"weekly\""),
        ("when", json!("* * * * *"), "at most every 5 minutes"),
        ("period", json!("yesterday"), "\"yesterday\""),
        ("time_zone", json!("Mars/Olympus"), "\"time_zone\""),
        ("recipients", json!(["nobody"]), "\"nobody\""),
        ("selection", json!({"to": "2026-01-01"}), "\"selection.to\""),
        ("sections", json!(["nope"]), "invalid section \"nope\""),
        ("owner_id", json!(1), "owner_id"),
    ];
    for (field, value, message) in cases {
        let mut bad = body.clone();
        bad[field] = value;
        let r = app.call(Method::PUT, one, Some(token), Some(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text);
        assert!(r.error().contains(message), "{field}: {}", r.text);
    }
}
