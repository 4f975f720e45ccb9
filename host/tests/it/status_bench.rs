//! Status side benchmarks (ignored by default; numbers go to BENCHMARKS.md). Run:
//! `cargo test -p vigia --release --test it status_bench:: -- --ignored --nocapture --test-threads 1`
//!
//! A tenant with 50 public services × 2 years of status transitions (one ten-minute outage every
//! two hours: 12 transitions a day, 438,000 rows) and 1,000 public incidents (3 public updates
//! each, spread over the two years, a few still open), on each backend:
//! - a rendering of `/status/{tenant}` and of `/status/{tenant}.json` (what the background
//!   refresh costs, around the cache);
//! - `GET /status/{tenant}` as visitors get it: 500 requests 10 ms apart with a one-second cache
//!   period, so about five background renderings run among them;
//! - `GET /api/v1/services/{id}/uptime` (never cached: three periods from the transitions).

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::support::{Backend, TestApp};

const SERVICES: i64 = 50;
const DAYS: i64 = 730;
const INCIDENTS: i64 = 1_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// Runs the statements on the database directly (bulk seeding, around the store).
async fn execute(url: &str, statements: &[String]) {
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::raw_sql(s).execute(&mut c).await.unwrap();
        }
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        for s in statements {
            sqlx::raw_sql(s).execute(&mut c).await.unwrap();
        }
    }
}

/// `INSERT … VALUES` statements of at most 2,000 rows each.
fn inserts(head: &str, rows: impl Iterator<Item = String>) -> Vec<String> {
    let rows: Vec<String> = rows.collect();
    rows.chunks(2_000).map(|chunk| format!("{head} VALUES {}", chunk.join(","))).collect()
}

/// Seeds the tenant through the API (services) and around it (history); returns the service ids.
async fn seed(app: &TestApp, now: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..SERVICES {
        let body = json!({"slug": format!("service-{n}"), "name": format!("Service {n:02}"),
            "description": "A service of the benchmark tenant"});
        let r = app.call(Method::POST, "/api/v1/services", Some(&app.admin), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json["id"].as_i64().unwrap());
    }
    let start = now - DAYS * 24 * HOUR;
    let transitions = ids.iter().flat_map(|id| {
        (0..DAYS * 6).flat_map(move |i| {
            let at = start + i * 4 * HOUR;
            [
                format!("({id},{at},'major_outage','bench')"),
                format!("({id},{},'operational','bench')", at + 10 * MINUTE),
            ]
        })
    });
    let mut sql = inserts("INSERT INTO service_status_transitions (service_id, at, status, cause)", transitions);
    let tenant = app.admin_user.tenant_id;
    let spacing = DAYS * 24 * HOUR / INCIDENTS;
    let incidents = (0..INCIDENTS).map(|n| {
        let (at, open) = (start + n * spacing, n >= INCIDENTS - 3);
        let (status, resolved) =
            if open { ("'monitoring'", "NULL".to_string()) } else { ("'resolved'", (at + HOUR).to_string()) };
        format!(
            "({tenant},'Incident {n}','Something broke',{}, {status},'public',{at},{},{resolved})",
            "'major_outage'",
            at + HOUR
        )
    });
    sql.extend(inserts(
        "INSERT INTO incidents (tenant_id, title, description, severity, status, visibility, created_at, updated_at, resolved_at)",
        incidents,
    ));
    execute(&app.db_url, &sql).await;
    let first =
        app.store.public_incidents(tenant, vigia::store::PublicIncidents::LatestUpdated, 1).await.unwrap()[0].id;
    let first = first - (INCIDENTS - 1);
    let updates = (first..first + INCIDENTS).flat_map(|id| {
        ["investigating", "identified", "resolved"]
            .into_iter()
            .map(move |s| format!("({id},'{s}','Update: {s}',TRUE,{})", now - HOUR))
    });
    let mut sql = inserts("INSERT INTO incident_updates (incident_id, status, message, is_public, at)", updates);
    let links = (first..first + INCIDENTS).map(|id| format!("({id},{})", ids[(id % SERVICES) as usize]));
    sql.extend(inserts("INSERT INTO incident_services (incident_id, service_id)", links));
    execute(&app.db_url, &sql).await;
    ids
}

/// Milliseconds of `n` sequential GETs of `path` (waiting `gap` before each).
async fn timed(app: &TestApp, path: &str, token: Option<&str>, n: usize, gap: Duration) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        tokio::time::sleep(gap).await;
        let t = Instant::now();
        let r = app.call(Method::GET, path, token, None).await;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    }
    samples
}

fn report(what: &str, samples: &mut [f64]) {
    println!(
        "{what:<52} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  (n={})",
        pct(samples, 0.5),
        pct(samples, 0.99),
        pct(samples, 1.0),
        samples.len()
    );
}

async fn status_page_and_uptime_latency(b: Backend) {
    let mut config = TestApp::config();
    config.status_page.cache_seconds = 1;
    let app = TestApp::start_with(b, config).await;
    let now = vigia::store::now_ms();
    let seeding = Instant::now();
    let ids = seed(&app, now).await;
    println!(
        "\n== {b:?}: seeded {} transitions and {INCIDENTS} incidents in {:.1} s",
        SERVICES * DAYS * 12,
        seeding.elapsed().as_secs_f64()
    );
    let page = app.call(Method::GET, "/status/default", None, None).await;
    println!(
        "page: {} bytes of HTML, {} incidents listed",
        page.text.len(),
        page.text.matches("<article id=\"incident-").count()
    );
    for page in ["default", "default.json"] {
        let mut samples = Vec::new();
        for _ in 0..15 {
            let t = Instant::now();
            let body = app.ctx.status_pages.render_now(&app.store, page).await.unwrap();
            samples.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(body.is_some_and(|b| b.len() > 10_000));
        }
        report(&format!("rendering /status/{page}"), &mut samples);
    }
    let visitors = Duration::from_millis(10);
    report(
        "GET /status/default (visitors, 1 s period)",
        &mut timed(&app, "/status/default", None, 500, visitors).await,
    );
    let mut uptime = Vec::new();
    for id in ids.iter().cycle().take(200) {
        let path = format!("/api/v1/services/{id}/uptime");
        uptime.extend(timed(&app, &path, Some(&app.admin), 1, Duration::ZERO).await);
    }
    report("GET /api/v1/services/{id}/uptime", &mut uptime);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn sqlite() {
    status_page_and_uptime_latency(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
async fn postgres() {
    status_page_and_uptime_latency(Backend::Postgres).await;
}
