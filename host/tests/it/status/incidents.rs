//! Incidents: the lifecycle through the state machine, every illegal move (409 naming the
//! allowed ones), `service_ids` of the tenant only, lists, tenancy, scopes and the audit log.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{send, service};
use crate::support::{Backend, TestApp};

/// Opens an incident as the admin and returns it.
async fn open(app: &TestApp, body: Value) -> Value {
    let r = send(app, Method::POST, "/api/v1/incidents", &app.admin, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json
}

async fn an_incident_moves_through_its_lifecycle_and_keeps_a_timeline(b: Backend) {
    let app = TestApp::start(b).await;
    let api = service(&app, &app.admin, "main-api").await;
    let created = open(
        &app,
        json!({"title": "Deploy failed — rolling back", "description": "Health checks failing post-deploy",
        "severity": "degraded", "visibility": "public", "service_ids": [api, api]}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!((created["status"].as_str(), created["severity"].as_str()), (Some("investigating"), Some("degraded")));
    assert_eq!(created["services"], json!([{"id": api, "slug": "main-api", "name": "Service main-api"}]));
    assert_eq!(created["updates"].as_array().unwrap().len(), 1);
    assert_eq!(created["updates"][0]["message"], "Health checks failing post-deploy");
    assert_eq!(created["resolved_at"], Value::Null);

    let path = format!("/api/v1/incidents/{id}");
    let update = json!({"status": "identified", "message": "Bad config found.", "is_public": false});
    let r = send(&app, Method::POST, &format!("{path}/updates"), &app.admin, update).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["status"], "identified");
    assert_eq!(
        r.json["updates"][1],
        json!({"id": r.json["updates"][1]["id"], "status": "identified",
        "message": "Bad config found.", "is_public": false, "at": r.json["updates"][1]["at"]})
    );
    // A message without a status keeps the status.
    let note =
        send(&app, Method::POST, &format!("{path}/updates"), &app.admin, json!({"message": "Still on it."})).await;
    assert_eq!((note.status, note.json["status"].as_str()), (StatusCode::CREATED, Some("identified")), "{}", note.text);

    let patched =
        send(&app, Method::PATCH, &path, &app.admin, json!({"status": "monitoring", "severity": "informational"}))
            .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(
        (patched.json["status"].as_str(), patched.json["severity"].as_str()),
        (Some("monitoring"), Some("informational"))
    );
    assert_eq!(patched.json["title"], "Deploy failed — rolling back", "absent fields unchanged");
    assert_eq!(patched.json["services"].as_array().unwrap().len(), 1, "absent service_ids unchanged");

    let body =
        json!({"root_cause": "Stale DNS cache after failover.", "postmortem": "https://internal.notes/inc-2041"});
    let resolved = send(&app, Method::POST, &format!("{path}/resolve"), &app.admin, body).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    assert_eq!(resolved.json["status"], "resolved");
    assert_eq!(resolved.json["root_cause"], "Stale DNS cache after failover.");
    assert!(resolved.json["resolved_at"].is_string(), "{}", resolved.text);
    let statuses: Vec<&str> =
        resolved.json["updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["investigating", "identified", "identified", "monitoring", "resolved"]);

    let reopened =
        send(&app, Method::PATCH, &path, &app.admin, json!({"status": "investigating", "service_ids": []})).await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text);
    assert_eq!(
        (reopened.json["status"].as_str(), &reopened.json["resolved_at"]),
        (Some("investigating"), &Value::Null)
    );
    assert_eq!(reopened.json["services"], json!([]));
    assert_eq!(reopened.json["root_cause"], "Stale DNS cache after failover.", "kept for the record");

    let audit = app.get("/api/v1/audit?event=incident", &app.admin).await;
    let actions: Vec<&str> =
        audit.json["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["incident.create", "incident.add-update", "incident.update", "incident.resolve"] {
        assert!(actions.contains(&action), "{action} not audited: {actions:?}");
    }
}

async fn every_illegal_incident_move_is_refused_naming_the_allowed_ones(b: Backend) {
    let app = TestApp::start(b).await;
    // How to reach each status from a new incident, and the one move allowed from it.
    let paths: &[(&str, &[&str], &str)] = &[
        ("investigating", &[], "identified"),
        ("identified", &["identified"], "monitoring"),
        ("monitoring", &["identified", "monitoring"], "resolved"),
        ("resolved", &["identified", "monitoring", "resolved"], "investigating"),
    ];
    for &(from, steps, allowed) in paths {
        let id = open(&app, json!({"title": format!("from {from}")})).await["id"].as_i64().unwrap();
        let path = format!("/api/v1/incidents/{id}");
        for step in steps {
            let r = send(&app, Method::PATCH, &path, &app.admin, json!({"status": step})).await;
            assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.text);
        }
        for to in ["investigating", "identified", "monitoring", "resolved"] {
            if to == from || to == allowed {
                continue;
            }
            let want =
                format!("incident {id} is {from} and cannot move to {to}; from {from} it can only move to {allowed}");
            let r = send(&app, Method::PATCH, &path, &app.admin, json!({"status": to, "title": "changed"})).await;
            assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, want.as_str()), "PATCH {from} → {to}");
            let r =
                send(&app, Method::POST, &format!("{path}/updates"), &app.admin, json!({"status": to, "message": "m"}))
                    .await;
            assert_eq!((r.status, r.error()), (StatusCode::CONFLICT, want.as_str()), "update {from} → {to}");
        }
        if from != "monitoring" {
            let r = send(&app, Method::POST, &format!("{path}/resolve"), &app.admin, json!({})).await;
            assert_eq!(r.status, StatusCode::CONFLICT, "resolve from {from}: {}", r.text);
            assert!(r.error().starts_with(&format!("incident {id} is {from}")), "{}", r.text);
        }
        let kept = app.get(&path, &app.admin).await;
        assert_eq!(
            (kept.json["status"].as_str(), kept.json["title"].as_str()),
            (Some(from), Some(format!("from {from}").as_str()))
        );
        assert_eq!(kept.json["updates"].as_array().unwrap().len(), 1 + steps.len(), "refused moves add nothing");
    }
    // Resolving with no body at all.
    let id = open(&app, json!({"title": "t"})).await["id"].as_i64().unwrap();
    for step in ["identified", "monitoring"] {
        send(&app, Method::PATCH, &format!("/api/v1/incidents/{id}"), &app.admin, json!({"status": step})).await;
    }
    let r = app.call(Method::POST, &format!("/api/v1/incidents/{id}/resolve"), Some(&app.admin), None).await;
    assert_eq!((r.status, r.json["status"].as_str()), (StatusCode::OK, Some("resolved")), "{}", r.text);
}

async fn incidents_take_only_the_tenants_services_and_ignore_a_tenant_id(b: Backend) {
    let app = TestApp::start(b).await;
    let ours = service(&app, &app.admin, "ours").await;
    let theirs = service(&app, &app.other_admin, "theirs").await;
    for ids in [json!([ours, theirs]), json!([987_654])] {
        let r =
            send(&app, Method::POST, "/api/v1/incidents", &app.admin, json!({"title": "t", "service_ids": ids})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        let named = ids.as_array().unwrap().last().unwrap().to_string();
        assert_eq!(r.error(), format!("service_ids: no service {named}"));
    }
    let listed = app.get("/api/v1/incidents", &app.admin).await;
    assert_eq!(listed.json["total"], 0, "nothing was created: {}", listed.text);

    let body = json!({"title": "t", "tenant_id": app.other_user.tenant_id, "service_ids": [ours]});
    let id = open(&app, body).await["id"].as_i64().unwrap();
    let path = format!("/api/v1/incidents/{id}");
    assert_eq!(app.get(&path, &app.admin).await.status, StatusCode::OK);
    let patch = send(&app, Method::PATCH, &path, &app.admin, json!({"service_ids": [theirs]})).await;
    assert_eq!(
        (patch.status, patch.error()),
        (StatusCode::BAD_REQUEST, format!("service_ids: no service {theirs}").as_str())
    );

    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"title": "mine now"}))),
        (Method::POST, "/updates", Some(json!({"message": "hello"}))),
        (Method::POST, "/resolve", Some(json!({}))),
    ] {
        let r = app.call(method.clone(), &format!("{path}{suffix}"), Some(&app.other_admin), body).await;
        assert_eq!((r.status, r.error()), (StatusCode::NOT_FOUND, "incident not found"), "{method} {suffix}");
    }
    let theirs_list = app.get("/api/v1/incidents", &app.other_admin).await;
    assert_eq!(theirs_list.json["total"], 0, "{}", theirs_list.text);
}

async fn incident_lists_filter_paginate_and_need_their_scopes(b: Backend) {
    let app = TestApp::start(b).await;
    for (title, severity) in [("a", "critical"), ("b", "degraded"), ("c", "critical")] {
        open(&app, json!({"title": title, "severity": severity})).await;
    }
    let all = app.get("/api/v1/incidents", &app.admin).await;
    assert_eq!((all.json["total"].as_i64(), all.json["limit"].as_i64()), (Some(3), Some(50)), "{}", all.text);
    assert_eq!(all.json["incidents"][0]["title"], "c", "newest first");
    let c = all.json["incidents"][0]["id"].as_i64().unwrap();
    for step in ["identified", "monitoring"] {
        send(&app, Method::PATCH, &format!("/api/v1/incidents/{c}"), &app.admin, json!({"status": step})).await;
    }
    send(&app, Method::POST, &format!("/api/v1/incidents/{c}/resolve"), &app.admin, json!({})).await;

    let critical = app.get("/api/v1/incidents?severity=critical&limit=1&offset=1", &app.admin).await;
    assert_eq!(critical.json["total"], 2, "{}", critical.text);
    assert_eq!(critical.json["incidents"][0]["title"], "a");
    let resolved = app.get("/api/v1/incidents?status=resolved", &app.admin).await;
    assert_eq!(resolved.json["total"], 1, "{}", resolved.text);
    let active = app.get("/api/v1/incidents/active", &app.admin).await;
    let titles: Vec<&str> =
        active.json["incidents"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["b", "a"], "{}", active.text);
    assert_eq!(app.get("/api/v1/incidents/active", &app.other_admin).await.json["incidents"], json!([]));
    assert_eq!(app.get("/api/v1/incidents?limit=200", &app.admin).await.status, StatusCode::OK);
    for query in ["limit=0", "limit=201", "offset=-1", "status=closed", "severity=minor"] {
        let r = app.get(&format!("/api/v1/incidents?{query}"), &app.admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
    }

    let (_, reader) = app.api_token(&app.admin, &["read:status"]).await;
    assert_eq!(app.get("/api/v1/incidents/active", &reader).await.status, StatusCode::OK);
    let path = format!("/api/v1/incidents/{c}");
    for (method, path, body) in [
        (Method::POST, "/api/v1/incidents".to_string(), json!({"title": "t"})),
        (Method::PATCH, path.clone(), json!({"title": "t"})),
        (Method::POST, format!("{path}/updates"), json!({"message": "m"})),
        (Method::POST, format!("{path}/resolve"), json!({})),
    ] {
        let r = send(&app, method.clone(), &path, &reader, body).await;
        assert_eq!(
            (r.status, r.error()),
            (StatusCode::FORBIDDEN, "missing required scope: write:incidents"),
            "{method} {path}"
        );
    }
    // A CI pipeline's token declares incidents and reads nothing.
    let (_, writer) = app.api_token(&app.admin, &["write:incidents"]).await;
    let r = send(&app, Method::POST, "/api/v1/incidents", &writer, json!({"title": "deploy failed"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.get("/api/v1/incidents", &writer).await;
    assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, "missing required scope: read:status"));
}

backend_tests!(
    an_incident_moves_through_its_lifecycle_and_keeps_a_timeline,
    every_illegal_incident_move_is_refused_naming_the_allowed_ones,
    incidents_take_only_the_tenants_services_and_ignore_a_tenant_id,
    incident_lists_filter_paginate_and_need_their_scopes,
);
