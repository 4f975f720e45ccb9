//! Metric store: batched ingestion, history with downsampling, tenant isolation, on both backends.

use crate::support;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use support::{Backend, TestApp};
use vigia::timeseries::{MetricWriter, Sample};

backend_tests!(
    written_samples_come_back_raw_through_the_api,
    history_downsamples_to_max_points_with_bucket_averages,
    history_is_tenant_scoped_and_validates_its_parameters,
    a_resource_with_too_many_series_names_the_limit,
);

fn sample(tenant_id: i64, metric: &str, labels: &[(&str, &str)], ts: i64, value: f64) -> Sample {
    Sample {
        tenant_id,
        resource: "redis-main".into(),
        metric: metric.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        unit: Some("count".into()),
        ts,
        value,
    }
}

async fn written_samples_come_back_raw_through_the_api(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    let writer = MetricWriter::start(app.store.clone());
    let t0 = 1_700_000_000_000;
    let samples: Vec<_> = (0..5)
        .flat_map(|i| {
            [
                sample(tenant, "redis.clients", &[("role", "primary")], t0 + i * 1000, i as f64),
                sample(tenant, "redis.clients", &[("role", "replica")], t0 + i * 1000, 10.0 + i as f64),
                sample(tenant, "redis.memory", &[], t0 + i * 1000, 100.0),
            ]
        })
        .collect();
    writer.write(samples, "redis").await;
    writer.flush().await;

    let path = format!("/api/v1/metrics/history?resource=redis-main&metric=redis.clients&from={t0}&to={}", t0 + 10_000);
    let r = app.get(&path, &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let series = r.json["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "one series per label set: {}", r.text);
    let primary = series.iter().find(|s| s["labels"]["role"] == "primary").unwrap();
    assert_eq!(primary["downsampled"], false);
    assert_eq!(primary["source"], "redis");
    let points: Vec<(i64, f64)> = serde_json::from_value(primary["points"].clone()).unwrap();
    assert_eq!(points, (0..5).map(|i| (t0 + i * 1000, i as f64)).collect::<Vec<_>>());

    let all = app
        .get(&format!("/api/v1/metrics/history?resourceId=redis-main&from={t0}&to={}", t0 + 10_000), &app.admin)
        .await;
    assert_eq!(all.json["series"].as_array().unwrap().len(), 3);
    let stats = app.get("/api/v1/metrics/stats", &app.admin).await;
    assert_eq!((stats.json["series"].as_i64(), stats.json["points"].as_i64()), (Some(3), Some(15)));
}

async fn history_downsamples_to_max_points_with_bucket_averages(b: Backend) {
    let app = TestApp::start(b).await;
    let tenant = app.admin_user.tenant_id;
    let writer = MetricWriter::start(app.store.clone());
    let t0 = 1_700_000_000_000;
    // 1,000 points one second apart, value = index.
    writer.write((0..1000).map(|i| sample(tenant, "load", &[], t0 + i * 1000, i as f64)).collect(), "test").await;
    writer.flush().await;
    let to = t0 + 999_999;
    let r = app
        .get(
            &format!("/api/v1/metrics/history?resource=redis-main&metric=load&from={t0}&to={to}&maxPoints=10"),
            &app.admin,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let s = &r.json["series"][0];
    assert_eq!(s["downsampled"], true);
    let points: Vec<(i64, f64)> = serde_json::from_value(s["points"].clone()).unwrap();
    assert_eq!(points.len(), 10);
    // Buckets of 100 s: averages 49.5, 149.5, …, stamped at their start.
    for (k, (ts, v)) in points.iter().enumerate() {
        assert_eq!(*ts, t0 + k as i64 * 100_000);
        assert!((v - (k as f64 * 100.0 + 49.5)).abs() < 1e-9, "bucket {k}: {v}");
    }
    let r = app
        .get(
            &format!("/api/v1/metrics/history?resource=redis-main&metric=load&from={t0}&to={to}&maxPoints=5000"),
            &app.admin,
        )
        .await;
    assert_eq!(r.json["series"][0]["points"].as_array().unwrap().len(), 1000, "under the cap: raw");
}

async fn history_is_tenant_scoped_and_validates_its_parameters(b: Backend) {
    let app = TestApp::start(b).await;
    let writer = MetricWriter::start(app.store.clone());
    writer
        .write(vec![sample(app.admin_user.tenant_id, "secret.metric", &[], vigia::store::now_ms(), 1.0)], "test")
        .await;
    writer.flush().await;
    let mine = app.get("/api/v1/metrics/history?resource=redis-main&range=1h", &app.admin).await;
    assert_eq!(mine.json["series"].as_array().unwrap().len(), 1, "{}", mine.text);
    let theirs = app.get("/api/v1/metrics/history?resource=redis-main&range=1h", &app.other_admin).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(theirs.json["series"].as_array().unwrap().is_empty(), "other tenants see nothing");

    for (query, expected) in [
        ("range=1h", "resource is required"),
        ("resource=x&range=1y", "range \"1y\""),
        ("resource=x&from=yesterday", "from \"yesterday\""),
        ("resource=x&maxPoints=0", "maxPoints must be 1 to 10000"),
        ("resource=x&maxPoints=10001", "maxPoints must be 1 to 10000"),
        // An overflowing span used to wrap around into a window in 1970.
        ("resource=x&from=-9223372036854775808&to=9223372036854775807", "out of range for a time"),
        ("resource=x&from=0&to=9999999999999", "must be at most 3650 days"),
        ("resource=x&from=2000&to=1000", "from must not be after to"),
        ("resource=x&bogus=1", "unknown field `bogus`"),
    ] {
        let r = app.get(&format!("/api/v1/metrics/history?{query}"), &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert!(r.error().contains(expected), "{query}: {}", r.text);
    }
    let (_, status_only) = app.api_token(&app.admin, &["read:status"]).await;
    let r = app.get("/api/v1/metrics/history?resource=x", &status_only).await;
    assert_eq!(r.error(), "missing required scope: monitoring:read");
}

/// A resource with more series than one answer holds is read a metric at a time (hole 7).
async fn a_resource_with_too_many_series_names_the_limit(b: Backend) {
    let app = TestApp::start(b).await;
    let writer = MetricWriter::start(app.store.clone());
    let now = vigia::store::now_ms();
    let tenant = app.admin_user.tenant_id;
    let labels: Vec<String> = (0..=1000).map(|i| i.to_string()).collect();
    let samples = labels.iter().map(|l| sample(tenant, "per.key", &[("key", l)], now, 1.0)).collect();
    writer.write(samples, "test").await;
    writer.write(vec![sample(tenant, "single", &[], now, 2.0)], "test").await;
    writer.flush().await;
    let r = app.get("/api/v1/metrics/history?resource=redis-main&range=1h", &app.admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.error(),
        "resource \"redis-main\" has 1002 series, more than the 1000 one answer holds: ask for one `metric`"
    );
    let one = app.get("/api/v1/metrics/history?resource=redis-main&metric=single&range=1h", &app.admin).await;
    assert_eq!(one.json["series"][0]["points"][0][1], 2.0, "{}", one.text);
}
