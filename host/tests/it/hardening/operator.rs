//! Hole 1: plugins are the host operator's. No tenant privilege, not even `admin`, installs,
//! removes, enables, configures or invokes them; the operator's `[plugins.policy]` bounds what
//! any manifest may declare, and the host's own files are never readable whatever it says.

use axum::http::{Method, StatusCode};
use serde_json::json;
use vigia::plugins::{LoadState, PluginError, PluginPolicy};

use crate::plugins_support::{bundle, init_tracing, set, sha256_hex, wait_for, Sandbox};
use crate::support::{add_user, Backend, TestApp};

/// Every plugin route that changes or reveals host-wide plugin state.
fn operator_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::POST, "/api/v1/plugins", None),
        (Method::DELETE, "/api/v1/plugins/email", None),
        (Method::PATCH, "/api/v1/plugins/email/enable", None),
        (Method::PATCH, "/api/v1/plugins/email/disable", None),
        (Method::GET, "/api/v1/plugins/email/config", None),
        (Method::PUT, "/api/v1/plugins/email/config", Some(json!({"smtp_host": "evil.example.com"}))),
        (Method::POST, "/api/v1/plugins/email/invoke", Some(json!({}))),
    ]
}

async fn no_tenant_privilege_manages_plugins(b: Backend) {
    let app = TestApp::start(b).await;
    let default_tenant = app.admin_user.tenant_id;
    let second = add_user(&app.store, default_tenant, "second-admin", "admin", "data admin").await;
    let second_admin = app.ctx.auth.issue_user_token(&second).await.unwrap().0;
    // Even the operator's own token, when it was minted with `admin` only.
    let (_, operators_admin_token) = app.api_token(&app.admin, &["admin"]).await;
    for token in [&app.other_admin, &second_admin, &operators_admin_token] {
        for (method, path, body) in operator_routes() {
            let r = app.call(method.clone(), path, Some(token), body).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.text);
            assert_eq!(r.error(), "missing required scope: plugins:manage");
        }
        // Nor can they mint the scope for themselves.
        let mint = json!({"name": "x", "scopes": ["plugins:manage"]});
        let r = app.call(Method::POST, "/api/v1/tokens", Some(token), Some(mint)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        // Listing what exists stays open to tenants (they pick notifiers for their channels).
        let r = app.get("/api/v1/plugins", token).await;
        assert_ne!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    // The operator passes the check (this app runs no plugin runtime: 503, not 403), with its
    // sign-in token and with an API token that asks for the scope.
    let (_, operators_plugin_token) = app.api_token(&app.admin, &["admin", "plugins:manage"]).await;
    for token in [&app.admin, &operators_plugin_token] {
        let r = app.call(Method::DELETE, "/api/v1/plugins/email", Some(token), None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    }
}

backend_tests!(no_tenant_privilege_manages_plugins);

fn manifest_asking(edit: impl FnOnce(&mut toml::Table)) -> (String, Vec<u8>) {
    let (mut manifest, wasm) = bundle("misbehave");
    set(&mut manifest, "sha256", sha256_hex(&wasm));
    edit(&mut manifest);
    (toml::to_string(&manifest).unwrap(), wasm)
}

fn tar_gz(manifest: &str, wasm: &[u8]) -> Vec<u8> {
    vigia::plugins::pack_bundle(&[("plugin.toml", manifest.as_bytes()), ("misbehave.wasm", wasm)]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_asking_for_more_than_the_policy_are_refused_naming_the_capability() {
    init_tracing();
    let mut sb = Sandbox::new();
    sb.policy = PluginPolicy { read_only_paths: vec!["/".into()], ..sb.policy.clone() };
    let host = sb.start().await;
    let data = sb.data.display().to_string();
    let cases = [
        // The data directory (secret key, SQLite file) even under a policy that allows "/".
        ("capabilities.read_only_paths", data.as_str(), "never readable by plugins".to_string()),
        ("capabilities.read_only_paths", "/", "never readable by plugins".to_string()),
        (
            "capabilities.allowed_tcp",
            "10.9.9.9:6379",
            "capability allowed_tcp \"10.9.9.9:6379\" exceeds the operator's policy: [plugins.policy] \
             tcp_networks allows \"127.0.0.0/8\""
                .to_string(),
        ),
    ];
    for (key, value, expected) in cases {
        let (manifest, wasm) = manifest_asking(|m| set(m, key, vec![value]));
        let err = host.install_bundle(&tar_gz(&manifest, &wasm)).await.unwrap_err();
        assert!(matches!(&err, PluginError::Invalid(e) if e.contains(&expected)), "{err}");
    }
    assert_eq!(std::fs::read_dir(&sb.dir).unwrap().count(), 0, "nothing written for refused bundles");
    let (manifest, wasm) = manifest_asking(|m| set(m, "capabilities.read_only_paths", vec!["/usr"]));
    assert_eq!(host.install_bundle(&tar_gz(&manifest, &wasm)).await.unwrap().status, LoadState::Loaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_asking_for_more_keeps_the_old_version() {
    init_tracing();
    let sb = Sandbox::new();
    let (manifest, wasm) = bundle("misbehave");
    sb.write("misbehave", &manifest, &wasm);
    let host = sb.start().await;
    let loaded_at = host.status("misbehave").unwrap().loaded_at;

    let mut greedy = manifest.clone();
    set(&mut greedy, "version", "6.6.6");
    set(&mut greedy, "capabilities.allowed_tcp", vec!["10.0.0.1:5432"]);
    sb.write("misbehave", &greedy, &wasm);
    wait_for(&host, "misbehave", "the refused reload", |s| {
        s.is_some_and(|s| s.last_error.as_deref().is_some_and(|e| e.contains("allowed_tcp \"10.0.0.1:5432\"")))
    })
    .await;
    let status = host.status("misbehave").unwrap();
    assert_eq!((status.status, status.version.as_deref()), (LoadState::Loaded, Some("0.1.0")), "{status:?}");
    assert_eq!(status.loaded_at, loaded_at);
    assert!(status.last_error.unwrap().contains("tcp_networks"));
}
