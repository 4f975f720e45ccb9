//! Reports over the workload fixture on both backends, as the host's own JSON document (the
//! plugins' PDF, HTML and CSV renderings are tested end to end in `tests/e2e/reports.rs`): what
//! a report holds, that roles and the developer profile narrow it exactly as they narrow the
//! workload API, and that bad bodies and unknown kinds are named.

use super::*;

backend_tests!(
    a_full_report_holds_the_sessions_workload,
    reports_follow_roles_and_profiles,
    bad_report_bodies_name_the_problem,
);

async fn report(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call(Method::POST, "/api/v1/reports", Some(token), Some(body)).await
}

fn body(kind: &str, filters: Value) -> Value {
    json!({"kind": kind, "format": "json", "utc_time": true, "from": FROM, "to": TO, "filters": filters})
}

fn titles(doc: &Value) -> Vec<String> {
    doc["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_string()).collect()
}

/// The blocks of the section titled `title`.
fn blocks<'a>(doc: &'a Value, title: &str) -> &'a Vec<Value> {
    let section = doc["sections"].as_array().unwrap().iter().find(|s| s["title"] == title);
    section.unwrap_or_else(|| panic!("no section {title:?} in {:?}", titles(doc)))["blocks"].as_array().unwrap()
}

/// Three ticks of `sales`: CPU, IO and a lock wait each second; one of `crm`.
async fn feed(f: &Fixture) {
    let sales = [session(1, "CPU", ""), session(2, "IO", "DataFileRead"), session(3, "Lock", "tuple")];
    for i in 0..3 {
        f.writer.sender().send(Batch::Ash(f.sales.clone(), tick(T0 + i * 1000, &sales))).await.unwrap();
    }
    f.writer.sender().send(Batch::Ash(f.crm.clone(), tick(T0, &[session(7, "CPU", "")]))).await.unwrap();
    f.writer.flush().await;
}

async fn a_full_report_holds_the_sessions_workload(b: Backend) {
    let f = fixture(b).await;
    feed(&f).await;
    let r = report(&f.app, &f.app.admin, body("full", json!([{"tag": "name", "value": "sales"}]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let doc = &r.json;
    assert_eq!(doc["title"], "Workload report");
    assert_eq!(doc["subject"], "127.0.0.1@sales");
    assert_eq!((doc["from_ms"].as_i64(), doc["to_ms"].as_i64()), (Some(T0), Some(T0 + 3_600_000)));
    assert_eq!(doc["filters"], json!(["name = sales"]));
    assert!(doc["file_stem"].as_str().unwrap().starts_with("vigia-full-report-127-0-0-1-sales-20260110-1000"), "{doc}");
    let t = titles(doc);
    for chapter in ["General", "Workload", "Temporary files", "Rows", "Sessions workload", "Queries", "Tables access"] {
        assert!(t.iter().any(|x| x == chapter), "no chapter {chapter}: {t:?}");
    }
    // Chapters are numbered in order, their sections below them.
    let numbers: Vec<&str> =
        doc["sections"].as_array().unwrap().iter().map(|s| s["number"].as_str().unwrap()).collect();
    assert_eq!(&numbers[..3], ["1", "1.1", "1.2"]);

    // The chart stacks the three classes in the dashboard's colours, one point per bucket.
    let chart = blocks(doc, "Sessions workload").iter().find_map(|b| b.get("Chart")).expect("a chart");
    let series = chart["data"]["StackedArea"].as_array().unwrap_or_else(|| panic!("{chart}"));
    let colours: Vec<(&str, &str)> =
        series.iter().map(|s| (s["label"].as_str().unwrap(), s["color"].as_str().unwrap())).collect();
    assert_eq!(colours, [("CPU", "#009E73"), ("IO", "#0072B2"), ("Lock", "#D55E00")]);
    let active: f64 = series.iter().map(|s| s["points"][0][1].as_f64().unwrap()).sum();
    assert_eq!(active, 3.0, "three sessions in the first bucket: {series:?}");

    // Each dimension's share: a third each by wait event type, all of it for the database.
    let table = |title: &str| -> Value {
        blocks(doc, title).iter().find_map(|b| b.get("Table")).cloned().unwrap_or_else(|| panic!("{title}"))
    };
    let by_type = table("By wait event type");
    let rows = by_type["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{by_type}");
    assert!(rows.iter().all(|r| r[1] == json!({"Integer": 3}) && r[2] == json!({"Number": 33.3})), "{by_type}");
    assert_eq!(by_type["columns"][2]["kind"], "Percent");
    let by_db = table("By database");
    assert_eq!(by_db["rows"], json!([[{"Text": "shop"}, {"Integer": 9}, {"Number": 100.0}]]));
    let by_query = table("By query id");
    assert_eq!(by_query["rows"].as_array().unwrap().len(), 3, "three queries: {by_query}");
}

async fn reports_follow_roles_and_profiles(b: Backend) {
    let f = fixture(b).await;
    feed(&f).await;
    let app = &f.app;
    let access = json!([{"filters": [{"tag": "environment", "value": "staging"}]}]);
    let r = app
        .call(Method::POST, "/api/v1/roles", Some(&app.admin), Some(json!({"name": "staging", "access": access})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let token = async |login: &str, profile: &str, roles: Value| {
        let body = json!({"login": login, "password": support::PASSWORD, "privilege": "read", "profile": profile, "roles": roles});
        let r = app.call(Method::POST, "/api/v1/users", Some(&app.admin), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let user = app.store.user_by_login(app.admin_user.tenant_id, login).await.unwrap().unwrap();
        app.ctx.auth.issue_user_token(&user).await.unwrap().0
    };
    let stager = token("stager", "data admin", json!(["staging"])).await;

    // `sales` is outside the stager's roles: its report is the report of an instance that
    // does not exist, to the byte once the generation time is set aside.
    let comparable = |r: &Resp| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut doc = r.json.clone();
        // What differs is only what the caller typed: the filters, echoed on the cover and in 1.2.
        for key in ["generated_at_ms", "file_stem", "filters"] {
            doc.as_object_mut().unwrap().remove(key);
        }
        doc["sections"].as_array_mut().unwrap().retain(|s| s["title"] != "Filters");
        doc
    };
    let hidden = report(app, &stager, body("full", json!([{"tag": "name", "value": "sales"}]))).await;
    let missing = report(app, &stager, body("full", json!([{"tag": "name", "value": "no-such-instance"}]))).await;
    assert_eq!(comparable(&hidden), comparable(&missing));
    assert_eq!(hidden.json["subject"], "no instance");
    // Its own instance it sees, and only that one.
    let own = report(app, &stager, body("session-history", json!([]))).await;
    assert_eq!(own.json["subject"], "127.0.0.1@crm", "{}", own.text);

    // The developer profile reads sessions and queries only.
    let dev = token("dev", "developer", json!([])).await;
    let r = report(app, &dev, body("table", json!([]))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.error().contains("settings:read"), "{}", r.text);
    let r = report(app, &dev, body("full", json!([]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let t = titles(&r.json);
    assert!(t.contains(&"Sessions workload".to_string()) && t.contains(&"Queries".to_string()), "{t:?}");
    for hidden in ["Workload", "Tables access", "Indexes access", "Temporary files", "PostgreSQL instance inventory"] {
        assert!(!t.iter().any(|x| x == hidden), "the developer's report has {hidden:?}: {t:?}");
    }
}

async fn bad_report_bodies_name_the_problem(b: Backend) {
    let app = TestApp::start(b).await;
    let admin = app.admin.clone();
    let cases = [
        (json!({"format": "json"}), StatusCode::BAD_REQUEST, "\"kind\" is required"),
        (json!({"kind": "weekly", "format": "json"}), StatusCode::NOT_FOUND, "session-history"),
        (json!({"kind": "full", "format": "json", "from": "soon"}), StatusCode::BAD_REQUEST, "\"from\""),
        (json!({"kind": "full", "format": "json", "colour": "red"}), StatusCode::BAD_REQUEST, "colour"),
        (json!({"kind": "full", "format": "json", "sections": ["top_stuff"]}), StatusCode::BAD_REQUEST, "top_stuff"),
        (json!({"kind": "full", "format": "json", "report_type": "fax"}), StatusCode::BAD_REQUEST, "fax"),
        (json!({"kind": "full", "format": "json", "recipients": ["a@b.c"]}), StatusCode::BAD_REQUEST, "report_type"),
        (
            json!({"kind": "full", "format": "json", "report_type": "email", "subject": "s", "recipients": ["ok@x.io", "nope"]}),
            StatusCode::BAD_REQUEST,
            "\"nope\"",
        ),
        (
            json!({"kind": "full", "format": "json", "report_type": "email", "recipients": ["ok@x.io"]}),
            StatusCode::BAD_REQUEST,
            "subject",
        ),
    ];
    for (body, status, needle) in cases {
        let r = report(&app, &admin, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert!(r.error().contains(needle), "{body}: {needle:?} not in {}", r.text);
    }
    let r = app.call(Method::POST, "/ds-api/activity/weekly-report", Some(&admin), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("full") && r.error().contains("data-size"), "{}", r.text);
    // Without the plugin runtime a PDF cannot be rendered: said so, nothing half-made.
    let r = app.call(Method::POST, "/ds-api/activity/full-report", Some(&admin), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
}
