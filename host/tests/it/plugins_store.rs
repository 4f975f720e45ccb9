//! Plugin settings and state on both storage backends, directly and through a `PluginHost`
//! whose capabilities are backed by the real `Store` (secrets sealed at rest, state persisted).

use crate::plugins_support;
use crate::support;

use plugins_support::{init_tracing, set, Sandbox};
use serde_json::json;
use support::{fresh_store, Backend};
use vigia::plugins::{CollectContext, HostServices, PluginHost, MASK};
use vigia::secrets::SecretBox;

async fn settings_and_state_round_trip(backend: Backend) {
    let (store, _guard) = fresh_store(backend).await;
    assert_eq!(store.plugin_settings("p").await.unwrap(), None);
    store.set_plugin_config("p", r#"{"a":1}"#).await.unwrap();
    let row = store.plugin_settings("p").await.unwrap().unwrap();
    assert!(row.enabled && row.config_json == r#"{"a":1}"# && row.updated_at > 0);
    store.set_plugin_enabled("p", false).await.unwrap();
    let row = store.plugin_settings("p").await.unwrap().unwrap();
    assert!(!row.enabled && row.config_json == r#"{"a":1}"#, "enabling keeps the config");
    store.set_plugin_enabled("q", false).await.unwrap();
    assert_eq!(store.plugin_settings("q").await.unwrap().unwrap().config_json, "{}");

    assert_eq!(store.plugin_state_get("p", "k").await.unwrap(), None);
    store.plugin_state_set("p", "k", &[0, 1, 255]).await.unwrap();
    store.plugin_state_set("p", "k", &[7]).await.unwrap();
    store.plugin_state_set("p", "k2", b"").await.unwrap();
    store.plugin_state_set("other", "k", b"x").await.unwrap();
    assert_eq!(store.plugin_state_get("p", "k").await.unwrap(), Some(vec![7]));
    assert_eq!(store.plugin_state_get("p", "k2").await.unwrap(), Some(vec![]));
    assert_eq!(store.plugin_state_count("p").await.unwrap(), 2);
    store.plugin_state_delete("p", "k2").await.unwrap();
    assert_eq!(store.plugin_state_count("p").await.unwrap(), 1);
    store.delete_plugin_data("p").await.unwrap();
    assert_eq!(store.plugin_settings("p").await.unwrap(), None);
    assert_eq!(store.plugin_state_count("p").await.unwrap(), 0);
    assert_eq!(store.plugin_state_get("other", "k").await.unwrap(), Some(b"x".to_vec()));
}

async fn host_seals_secrets_and_persists_state_in_the_database(backend: Backend) {
    init_tracing();
    let (store, _guard) = fresh_store(backend).await;
    let secrets = SecretBox::from_key(&[5; 32]);
    let mut sb = Sandbox::new();
    sb.services = HostServices::with_store(store.clone(), secrets.clone());
    sb.install("misbehave", "misbehave", |m| {
        set(m, "config.schema.properties.token.type", "string");
        set(m, "config.schema.properties.token.x-secret", true);
    });
    let host: std::sync::Arc<PluginHost> = sb.start().await;
    host.set_config("misbehave", json!({"mode": "state", "token": "s3cret-value"})).await.unwrap();
    let row = store.plugin_settings("misbehave").await.unwrap().unwrap();
    assert!(!row.config_json.contains("s3cret-value"), "sealed at rest: {}", row.config_json);
    assert_eq!(host.config("misbehave", true).await.unwrap(), json!({"mode": "state", "token": MASK}));
    assert_eq!(host.config("misbehave", false).await.unwrap()["token"], "s3cret-value");
    // Writing the masked view back keeps the secret.
    host.set_config("misbehave", json!({"mode": "state", "token": MASK})).await.unwrap();
    assert_eq!(host.config("misbehave", false).await.unwrap()["token"], "s3cret-value");

    let ctx = CollectContext::default();
    assert_eq!(host.collect("misbehave", ctx.clone()).await.unwrap()[0].value, 1.0);
    assert_eq!(host.collect("misbehave", ctx.clone()).await.unwrap()[0].value, 2.0);
    assert!(store.plugin_state_get("misbehave", "counter").await.unwrap().is_some());

    // A restart reads enabled flag, config and state back from the database.
    host.set_enabled("misbehave", false).await.unwrap();
    drop(host);
    let host = sb.start().await;
    assert_eq!(host.status("misbehave").unwrap().status, vigia::plugins::LoadState::Disabled);
    host.set_enabled("misbehave", true).await.unwrap();
    assert_eq!(host.config("misbehave", false).await.unwrap()["token"], "s3cret-value");
    assert_eq!(host.collect("misbehave", ctx).await.unwrap()[0].value, 3.0);
    host.remove("misbehave").await.unwrap();
    assert_eq!(store.plugin_settings("misbehave").await.unwrap(), None);
    assert_eq!(store.plugin_state_count("misbehave").await.unwrap(), 0);
}

backend_tests!(settings_and_state_round_trip, host_seals_secrets_and_persists_state_in_the_database);
