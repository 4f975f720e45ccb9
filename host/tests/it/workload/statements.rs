//! Statement endpoints: top-queries (deltas summed, sorted, limited), queries-summary and one query.

use super::*;

backend_tests!(top_queries_sum_deltas_sort_and_limit, queries_summary_and_one_query);

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
