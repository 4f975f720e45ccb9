//! What a request may ask and see: filters, tenancy, profiles and roles, bad bodies named, the
//! native GET form with `Accept: text/csv`.

use super::*;

backend_tests!(
    filters_tenancy_and_profiles,
    bad_requests_name_the_problem,
    native_get_with_query_string_and_accept_csv,
    roles_narrow_workload_to_their_instances,
);

async fn filters_tenancy_and_profiles(b: Backend) {
    let f = fixture(b).await;
    f.writer.sender().send(Batch::Ash(f.crm.clone(), tick(T0 + 1000, &[session(5, "CPU", "CPU")]))).await.unwrap();
    f.writer.sender().send(Batch::Ash(f.sales.clone(), tick(T0 + 1000, &[session(6, "CPU", "CPU")]))).await.unwrap();
    f.writer.flush().await;
    let names =
        |r: &Resp| ok_rows(r).iter().map(|r| r["pg_instance"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let r =
        activity(&f.app, "session-history", range(json!({"filters": [{"tag": "environment", "value": "staging"}]})))
            .await;
    assert_eq!(names(&r), ["127.0.0.1@crm"]);
    let both = json!([{"tag": "environment", "value": "staging"}, {"tag": "application", "value": "sales"}]);
    let r = activity(&f.app, "session-history", range(json!({"filters": both}))).await;
    assert!(names(&r).is_empty(), "filters are ANDed");
    let r =
        activity(&f.app, "session-history", range(json!({"filters": [{"tag": "server", "value": "127.0.0.1"}]}))).await;
    assert_eq!(names(&r).len(), 2, "tenant default's two instances; the other tenant's pid 999 never");
    assert!(!r.text.contains("999"));
    // The other tenant sees only its own.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ds-api/activity/session-history")
        .header("user-token", &f.app.other_admin)
        .header("content-type", "application/json")
        .body(Body::from(range(json!({})).to_string()))
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!(ok_rows(&r).len(), 1);
    assert_eq!(ok_rows(&r)[0]["process_id"], "999 - sales");
    // A developer reads sessions and queries, not tables (Datasentinel's developer profile).
    let dev = support::add_user(&f.app.store, f.app.admin_user.tenant_id, "dev", "read", "developer").await;
    let token = f.app.ctx.auth.issue_user_token(&dev).await.unwrap().0;
    for (endpoint, status) in
        [("session-history", StatusCode::OK), ("top-queries", StatusCode::OK), ("tables", StatusCode::FORBIDDEN)]
    {
        let r = f
            .app
            .call(Method::POST, &format!("/api/v1/activity/{endpoint}"), Some(&token), Some(range(json!({}))))
            .await;
        assert_eq!(r.status, status, "{endpoint}: {}", r.text);
    }
    let r = f.app.call(Method::POST, "/api/v1/activity/tables", Some(&token), Some(json!({}))).await;
    assert_eq!(r.error(), "missing required scope: settings:read");
    let r = f.app.call(Method::POST, "/ds-api/activity/session-history", None, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn bad_requests_name_the_problem(b: Backend) {
    let f = fixture(b).await;
    for (endpoint, body, status, needle) in [
        ("session-history", json!({"from": "2020-021-20"}), StatusCode::BAD_REQUEST, "\"from\""),
        ("session-history", json!({"from": "2020-01-22", "to": "2020-01-21"}), StatusCode::BAD_REQUEST, "after"),
        ("session-history", json!({"output": "xml"}), StatusCode::BAD_REQUEST, "output"),
        ("session-history", json!({"frm": "2020-01-22"}), StatusCode::BAD_REQUEST, "frm"),
        ("session-history", json!({"compute": "everything"}), StatusCode::BAD_REQUEST, "compute"),
        ("session-history", json!({"filters": [{"tag": "", "value": "x"}]}), StatusCode::BAD_REQUEST, "tag"),
        ("top-queries", json!({"limit": -1}), StatusCode::BAD_REQUEST, "limit"),
        ("top-queries", json!({"by": "speed"}), StatusCode::BAD_REQUEST, "total_time"),
        ("pg-instance", json!({"compute": "weekly"}), StatusCode::BAD_REQUEST, "summary"),
        ("top-consumers", json!({"by": "vibes"}), StatusCode::BAD_REQUEST, "db_time"),
        ("nonsense", json!({}), StatusCode::NOT_FOUND, "session-history"),
        ("weekly-report", json!({}), StatusCode::NOT_FOUND, "full-report"),
    ] {
        let r = activity(&f.app, endpoint, body.clone()).await;
        assert_eq!(r.status, status, "{endpoint} {body}: {}", r.text);
        assert!(r.error().contains(needle), "{endpoint} {body}: {}", r.text);
    }
    // The toolkit's empty body (and trailing commas) are accepted: the last hour, JSON.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/ds-api/activity/top-queries")
        .header("user-token", &f.app.admin)
        .header("content-type", "application/json")
        .body(Body::from(""))
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::CREATED, json!([])), "{}", r.text);
}

async fn native_get_with_query_string_and_accept_csv(b: Backend) {
    let f = fixture(b).await;
    load_statements(&f).await;
    let path = "/api/v1/activity/top-queries?from=2026-01-10%2010:00&to=2026-01-10%2011:00&by=calls&limit=2&filters=name%3Dsales";
    let r = f.app.get(path, &f.app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let json_rows = r.json.as_array().unwrap().clone();
    assert_eq!(json_rows.len(), 2);
    assert_eq!(json_rows[0]["queryid"], "2");
    let req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", f.app.admin))
        .header("accept", "text/csv")
        .body(Body::empty())
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(csv_rows(&r.text), json_as_text(&json_rows));
    let r = f.app.get("/api/v1/activity/top-queries?filters=oops", &f.app.admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("oops"), "{}", r.text);
    let r = f.app.get("/api/v1/activity/top-queries?limit=abc", &f.app.admin).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

async fn roles_narrow_workload_to_their_instances(b: Backend) {
    let f = fixture(b).await;
    for key in [&f.sales, &f.crm] {
        f.writer.sender().send(Batch::Ash(key.clone(), tick(T0 + 1000, &[session(5, "CPU", "CPU")]))).await.unwrap();
    }
    load_statements(&f).await;
    let access = json!([{"filters": [{"tag": "environment", "value": "staging"}]}]);
    let r = f
        .app
        .call(Method::POST, "/api/v1/roles", Some(&f.app.admin), Some(json!({"name": "staging", "access": access})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = json!({"login": "stager", "password": support::PASSWORD, "privilege": "read", "roles": ["staging"]});
    let r = f.app.call(Method::POST, "/api/v1/users", Some(&f.app.admin), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let user = f.app.store.user_by_login(f.app.admin_user.tenant_id, "stager").await.unwrap().unwrap();
    let token = f.app.ctx.auth.issue_user_token(&user).await.unwrap().0;
    let r = f.app.call(Method::POST, "/api/v1/activity/session-history", Some(&token), Some(range(json!({})))).await;
    let seen: Vec<&str> = r.json.as_array().unwrap().iter().map(|r| r["pg_instance"].as_str().unwrap()).collect();
    assert_eq!(seen, ["127.0.0.1@crm"], "{}", r.text);
    // Asking for an out-of-scope instance by name gives nothing, like a missing one.
    let body = range(json!({"filters": [{"tag": "name", "value": "sales"}]}));
    let r = f.app.call(Method::POST, "/api/v1/activity/top-queries", Some(&token), Some(body)).await;
    assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!([])), "{}", r.text);
    let r = f.app.call(Method::POST, "/api/v1/activity/top-queries", Some(&f.app.admin), Some(range(json!({})))).await;
    assert_eq!(r.json.as_array().unwrap().len(), 3, "the unrestricted admin sees sales' statements");
}
