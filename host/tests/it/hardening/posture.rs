//! `GET /api/v1/security/status`: the posture an auditor checks first, from real facts: the
//! first admin's password, plugins beyond a strict policy, key file permissions, TLS.

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::config::Config;
use vigia::secrets::SecretBox;

use crate::plugins_support::Sandbox;
use crate::support::{Backend, TestApp, SECRET_KEY};

async fn the_posture_reports_what_an_auditor_checks_first(b: Backend) {
    let sandbox = Sandbox::new();
    sandbox.install("webhook", "webhook", |_| {});
    sandbox.install("csv", "csv", |_| {});
    let host = sandbox.start().await;
    let data = tempfile::tempdir().unwrap();
    let key = data.path().join("secret.key");
    std::fs::write(&key, "not read here").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let config = Config { data_dir: data.path().to_path_buf(), ..TestApp::config() };
    let mut app = TestApp::start_with(b, config.clone()).await;
    app.ctx = vigia::server::context(app.store.clone(), &config, Some(host), SecretBox::from_key(&SECRET_KEY));
    app.router = vigia::api::app(app.ctx.clone());

    let r = app.get("/api/v1/security/status", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json["tls"].as_str(), r.json["authentication_required"].as_bool()), (Some("off"), Some(true)));
    assert_eq!(r.json["first_admin_password_unchanged"], true, "{}", r.text);
    assert_eq!(r.json["rate_limiting"], true, "on by default: {}", r.text);
    assert_eq!(
        r.json["plugins_beyond_strict_policy"],
        json!([{"id": "webhook", "capabilities": ["allowed_outbound_hosts https://*:*", "allowed_outbound_hosts http://*:*"]}]),
        "csv asks for nothing: {}",
        r.text
    );
    let keys = r.json["key_files"].as_array().unwrap();
    assert_eq!(keys[0]["path"], key.display().to_string());
    if cfg!(unix) {
        assert_eq!((&keys[0]["mode"], &keys[0]["private"]), (&json!("640"), &json!(false)), "{}", r.text);
    }

    let (_, operator) = app.api_token(&app.admin, &["plugins:manage"]).await;
    let r = app.get("/api/v1/security/status", &app.other_admin).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the operator's, not a tenant's: {}", r.text);
    let change = json!({"password": "a-brand-new-passphrase"});
    let r = app.call(Method::PATCH, "/api/v1/users/admin", Some(&app.admin), Some(change)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get("/api/v1/security/status", &operator).await;
    assert_eq!(r.json["first_admin_password_unchanged"], false, "{}", r.text);
}

backend_tests!(the_posture_reports_what_an_auditor_checks_first);
