//! Plugin settings, state and bundles on both storage backends, directly and through a
//! `PluginHost` whose capabilities are backed by the real `Store` (secrets sealed at rest, state
//! persisted, bundles installed through one host materialised by another).

use crate::plugins_support;
use crate::support;

use plugins_support::{init_tracing, set, Sandbox};
use serde_json::json;
use support::{fresh_store, Backend};
use vigia::plugins::{CollectContext, Divergence, DivergenceState, HostServices, PluginHost, MASK};
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

async fn bundles_and_host_divergence_round_trip(backend: Backend) {
    let (store, _guard) = fresh_store(backend).await;
    assert!(store.plugin_bundle_digests().await.unwrap().is_empty());
    store.put_plugin_bundle("p", "d1", &[1, 2, 0, 255]).await.unwrap();
    store.put_plugin_bundle("a", "d0", b"").await.unwrap();
    store.put_plugin_bundle("p", "d2", &[9, 0]).await.unwrap();
    let digests: Vec<(String, String)> =
        store.plugin_bundle_digests().await.unwrap().into_iter().map(|b| (b.id, b.digest)).collect();
    assert_eq!(digests, [("a".into(), "d0".into()), ("p".into(), "d2".into())]);
    assert_eq!(store.plugin_bundle("p").await.unwrap(), Some(vec![9, 0]));
    assert_eq!(store.plugin_bundle("q").await.unwrap(), None);
    assert!(store.delete_plugin_bundle("p").await.unwrap());
    assert!(!store.delete_plugin_bundle("p").await.unwrap());
    assert_eq!(store.plugin_bundle_digests().await.unwrap().len(), 1);

    let host = vigia::store::HostRow {
        id: "h1".into(),
        address: "127.0.0.1:1".into(),
        version: "v".into(),
        started_at: 1,
        heartbeat_at: 1,
        stopped_at: None,
        key_check: String::new(),
        leader_since: None,
        samples: false,
        plugin_divergence: "ignored at registration".into(),
    };
    store.register_host(&host).await.unwrap();
    assert_eq!(store.list_hosts().await.unwrap()[0].plugin_divergence, "[]");
    let json = r#"[{"plugin":"p","state":"local_only","detail":"placed by hand"}]"#;
    store.set_host_plugin_divergence("h1", json).await.unwrap();
    store.register_host(&host).await.unwrap();
    assert_eq!(store.list_hosts().await.unwrap()[0].plugin_divergence, json, "kept until the next pass");
}

/// Two plugin hosts on one database, as two cluster members: what one installs, updates or
/// removes, the other's materialiser follows; a directory placed by hand stays and is reported.
async fn bundles_installed_on_one_host_are_materialised_by_another(backend: Backend) {
    init_tracing();
    let (store, _guard) = fresh_store(backend).await;
    let secrets = SecretBox::from_key(&[5; 32]);
    let (mut one, mut two) = (Sandbox::new(), Sandbox::new());
    one.services = HostServices::with_store(store.clone(), secrets.clone());
    two.services = HostServices::with_store(store.clone(), secrets);
    let (a, b) = (one.start().await, two.start().await);
    let materialiser = b.materialiser();
    let tar_gz = |version: &str| {
        let (mut manifest, wasm) = plugins_support::bundle("rust-collector");
        set(&mut manifest, "version", version);
        let text = toml::to_string(&manifest).unwrap();
        let digest = vigia::plugins::bundle_digest(&text, &wasm);
        let wasm_name = manifest["wasm"].as_str().unwrap().to_string();
        (vigia::plugins::pack_bundle(&[("plugin.toml", text.as_bytes()), (&wasm_name, &wasm)]).unwrap(), digest)
    };
    let version_on_b = || b.status("rust-collector").and_then(|s| s.version);

    let (v1, digest) = tar_gz("1.1.0");
    a.install_bundle(&v1).await.unwrap();
    let stored = store.plugin_bundle_digests().await.unwrap();
    assert_eq!((stored[0].id.as_str(), stored[0].digest.as_str()), ("rust-collector", digest.as_str()));
    assert_eq!(materialiser.pass().await.unwrap(), Vec::<Divergence>::new());
    assert_eq!(version_on_b().as_deref(), Some("1.1.0"));
    a.install_bundle(&tar_gz("1.2.0").0).await.unwrap();
    assert_eq!(materialiser.pass().await.unwrap(), Vec::<Divergence>::new());
    assert_eq!(version_on_b().as_deref(), Some("1.2.0"));
    a.remove("rust-collector").await.unwrap();
    assert!(store.plugin_bundle_digests().await.unwrap().is_empty());
    assert_eq!(materialiser.pass().await.unwrap(), Vec::<Divergence>::new());
    assert_eq!(version_on_b(), None);
    assert!(!two.dir.join("rust-collector").exists());

    two.install("rust-collector", "by-hand", |_| {});
    let by_hand = materialiser.pass().await.unwrap();
    assert_eq!(
        by_hand.iter().map(|d| (d.plugin.as_str(), d.state)).collect::<Vec<_>>(),
        [("by-hand", DivergenceState::LocalOnly)]
    );
    assert!(matches!(&by_hand[..], [Divergence { detail, .. }] if detail.contains("by hand")), "{by_hand:?}");
    assert!(two.dir.join("by-hand").exists(), "never removed");

    // A stored bundle this host cannot write is reported missing, at every pass.
    store.put_plugin_bundle("garbage", "0000", b"not a tarball").await.unwrap();
    for _ in 0..2 {
        let found = materialiser.pass().await.unwrap();
        let missing = found.iter().find(|d| d.plugin == "garbage").expect("reported");
        assert_eq!(missing.state, DivergenceState::Missing, "{found:?}");
        assert!(missing.detail.contains("corrupt bundle"), "{found:?}");
    }
    assert!(!two.dir.join("garbage").exists());
}

// On a multi-threaded runtime: the plugin runtime's watchers run beside the test.
mt_backend_tests!(
    settings_and_state_round_trip,
    host_seals_secrets_and_persists_state_in_the_database,
    bundles_and_host_divergence_round_trip,
    bundles_installed_on_one_host_are_materialised_by_another,
);
