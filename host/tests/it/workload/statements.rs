//! Statement endpoints: top-queries (deltas summed, sorted, limited), queries-summary and one query.

use super::*;

backend_tests!(
    top_queries_sum_deltas_sort_and_limit,
    queries_summary_and_one_query,
    whole_hours_read_from_rollups_agree
);

async fn top_queries_sum_deltas_sort_and_limit(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let r = activity(&f.app, "top-queries", range(json!({"by": "total_time", "limit": 10})));
    let r = r.await;
    let rows = ok_rows(&r);
    let order: Vec<&str> = rows.iter().map(|r| r["queryid"].as_str().unwrap()).collect();
    assert_eq!(order, ["3", "1", "2"], "by total_time: 400, 75, 40: {}", r.text);
    let q1 = &rows[1];
    assert_eq!((q1["calls"].clone(), q1["total_time"].clone(), q1["rows"].clone()), (json!(15), json!(75), json!(15)));
    assert_eq!(q1["shared_blks_hit"], 150);
    assert_eq!(q1["text"], "UPDATE stock SET n = n - $1");
    assert_eq!(q1["query_md5_id"], activity::text_md5("UPDATE stock SET n = n - $1"));
    assert_eq!(
        (q1["database"].clone(), q1["user"].clone(), q1["pg_instance"].clone()),
        (json!("shop"), json!("app"), json!("127.0.0.1@sales"))
    );
    csv_agrees(&f.app, "top-queries", range(json!({"by": "total_time", "limit": 10})), rows).await;

    let r = activity(&f.app, "top-queries", range(json!({"by": "calls", "limit": 1}))).await;
    assert_eq!(ok_rows(&r).len(), 1);
    assert_eq!(ok_rows(&r)[0]["queryid"], "2");
    assert_eq!(ok_rows(&r)[0]["calls"], 200);
    let r = activity(&f.app, "top-queries", range(json!({"database": "hr"}))).await;
    assert_eq!(ok_rows(&r).iter().map(|r| r["queryid"].clone()).collect::<Vec<_>>(), [json!("3")]);
}

async fn queries_summary_and_one_query(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let r = activity(&f.app, "queries-summary", range(json!({}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 2, "{}", r.text);
    let shop = rows.iter().find(|r| r["database"] == "shop").unwrap();
    assert_eq!((shop["calls"].clone(), shop["total_time"].clone()), (json!(215), json!(115)));
    // Mean time per call: 5 ms (15 calls), 0.2 ms (200 calls) → 90th percentile 0.2, 99th 5.
    assert_eq!((shop["perc_90"].as_f64(), shop["perc_99"].as_f64()), (Some(0.2), Some(5.0)), "{}", r.text);
    csv_agrees(&f.app, "queries-summary", range(json!({})), rows).await;

    let md5 = activity::text_md5("SELECT * FROM stock WHERE id = $1");
    let r = activity(&f.app, "query", range(json!({"query_md5_id": md5}))).await;
    let rows = ok_rows(&r);
    assert_eq!(rows.len(), 1, "{}", r.text);
    assert_eq!((rows[0]["queryid"].clone(), rows[0]["calls"].clone()), (json!("2"), json!(200)));
    let r = activity(&f.app, "query", range(json!({"queryid": 3}))).await;
    assert_eq!(ok_rows(&r)[0]["text"], "select pg_sleep($1)");
    let r = activity(&f.app, "query", range(json!({}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("query_md5_id"), "{}", r.text);
}

/// A range of a few hours reads the hourly rollups for its whole, settled hours and raw rows for
/// the rest: the answers are the ones the raw rows give.
async fn whole_hours_read_from_rollups_agree(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await; // 10:01 and 10:02
    let (minute, hour) = (60_000, 3_600_000);
    // 09:40 (before the first whole hour), 11:30, 12:00 (stamped on its hour's start), 13:00 (the
    // range's last instant, in hour 13) and 13:10 (outside).
    for (ts, queryid, calls, time) in [
        (T0 - 20 * minute, 1, 4, 2.0),
        (T0 + 90 * minute, 2, 30, 9.0),
        (T0 + 2 * hour, 3, 2, 100.0),
        (T0 + 3 * hour, 1, 7, 3.5),
        (T0 + 3 * hour + 10 * minute, 2, 1_000, 1.0),
    ] {
        let deltas = vec![delta(queryid, if queryid == 3 { "hr" } else { "shop" }, counters(calls, time, calls))];
        let batch = StatementBatch { ts_ms: ts, interval_ms: minute, deltas, texts: vec![] };
        f.writer.sender().send(Batch::Statements(f.sales.clone(), batch)).await.unwrap();
    }
    f.writer.flush().await;
    let body = || json!({"from": "2026-01-10 09:30:00", "to": "2026-01-10 13:00:00", "limit": 10});
    let endpoints = ["top-queries", "queries-summary", "query"];
    let answer = async |endpoint: &str| {
        let mut b = body();
        if endpoint == "query" {
            b["queryid"] = json!(1);
        }
        let r = activity(&f.app, endpoint, b).await;
        ok_rows(&r).clone()
    };
    let mut raw = Vec::new();
    for e in endpoints {
        raw.push(answer(e).await);
    }
    let top = &raw[0];
    let calls: Vec<(String, i64)> =
        top.iter().map(|r| (r["queryid"].as_str().unwrap().to_string(), r["calls"].as_i64().unwrap())).collect();
    assert_eq!(calls, [("3".into(), 3), ("1".into(), 26), ("2".into(), 230)], "13:10 is outside: {top:?}");
    f.app.store.roll_up_statement_hours(T0 - 2 * hour, T0 + 4 * hour).await.unwrap();
    for (e, raw) in endpoints.iter().zip(&raw) {
        assert_eq!(&answer(e).await, raw, "{e}: the same answer with hourly rollups");
    }
    // Hours 10 to 12 (each followed by a rolled-up hour) now come from their rollups: a raw row
    // arriving in hour 11 after its rollup is not seen until `maintain` recomputes that hour.
    let late = vec![delta(2, "shop", counters(5, 1.0, 5))];
    let batch = StatementBatch { ts_ms: T0 + 100 * minute, interval_ms: minute, deltas: late, texts: vec![] };
    f.writer.sender().send(Batch::Statements(f.sales.clone(), batch)).await.unwrap();
    f.writer.flush().await;
    assert_eq!(answer("top-queries").await, raw[0], "whole settled hours are read from the rollups");
    f.app.store.roll_up_statement_hours(T0, T0 + 4 * hour).await.unwrap();
    let again = answer("top-queries").await;
    assert_eq!(again.iter().find(|r| r["queryid"] == "2").unwrap()["calls"], 235, "{again:?}");
}
