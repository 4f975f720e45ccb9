//! Plugin bundles stored in the database and materialised by every member (issue 13), with two
//! real `vigia serve` members on one private PostgreSQL, each with its own plugins directory:
//! installs, updates and removals through one member's API reach the other's directory and
//! registry; a directory edited or placed by hand on a member is never overwritten, and
//! `GET /api/v1/cluster` names it as that member's divergence.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vigia_testkit::PgCluster;

use crate::cluster::start_member;
use crate::e2e_support::{poll, Client, PATIENCE};
use crate::plugins_support;

const PLUGIN: &str = "rust-collector";

fn config(url: &str) -> String {
    format!(
        "[storage]\nurl = {url:?}\n[sampler]\nenabled = false\n\
         [cluster]\nenabled = true\nheartbeat_seconds = 1\ndead_after_seconds = 3\n"
    )
}

/// The rust-collector bundle as a tar.gz, its manifest saying `version`.
fn bundle(version: &str) -> Vec<u8> {
    let (mut manifest, wasm) = plugins_support::bundle(PLUGIN);
    plugins_support::set(&mut manifest, "version", version);
    let text = toml::to_string(&manifest).unwrap();
    let wasm_name = manifest["wasm"].as_str().unwrap().to_string();
    vigia::plugins::pack_bundle(&[("plugin.toml", text.as_bytes()), (&wasm_name, &wasm)]).unwrap()
}

/// Installs a bundle through `client`'s host and asserts it serves it at once.
async fn install(client: &Client, tar_gz: Vec<u8>) -> Value {
    let r = client
        .http
        .post(format!("{}/api/v1/plugins", client.base))
        .bearer_auth(&client.token)
        .header("content-type", "application/gzip")
        .body(tar_gz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let installed: Value = r.json().await.unwrap();
    assert_eq!(installed["status"], "loaded", "{installed}");
    installed
}

/// The version `client`'s host serves of `id` (`None`: not installed there).
async fn serving(client: &Client, id: &str) -> Option<String> {
    let r = client.http.get(format!("{}/api/v1/plugins/{id}", client.base)).bearer_auth(&client.token).send().await;
    let r = r.unwrap();
    if r.status() == 404 {
        return None;
    }
    let status: Value = r.json().await.unwrap();
    (status["status"] == "loaded").then(|| status["version"].as_str().unwrap().to_string())
}

async fn wait_for_version(client: &Client, id: &str, want: Option<&str>) {
    poll(&format!("{id} at version {want:?} on {}", client.base), PATIENCE, async || {
        (serving(client, id).await.as_deref() == want).then_some(())
    })
    .await;
}

/// The divergences `client`'s host lists for the host `id`: (plugin, state) pairs.
async fn divergence_of(client: &Client, id: &str) -> Vec<(String, String)> {
    let answer = client.get("/api/v1/cluster").await;
    let host = answer["hosts"].as_array().unwrap().iter().find(|h| h["id"] == id).unwrap().clone();
    let list = host["plugin_divergence"].as_array().unwrap_or_else(|| panic!("no plugin_divergence: {host}"));
    let mut pairs: Vec<(String, String)> = list
        .iter()
        .map(|d| {
            assert!(d["detail"].as_str().is_some_and(|s| !s.is_empty()), "a divergence says why: {d}");
            (d["plugin"].as_str().unwrap().to_string(), d["state"].as_str().unwrap().to_string())
        })
        .collect();
    pairs.sort();
    pairs
}

/// Rewrites the plugin's manifest on disk with another version, as an operator's editor would.
fn edit_by_hand(plugins_dir: &Path, id: &str, version: &str) {
    let path = plugins_dir.join(id).join("plugin.toml");
    let mut manifest: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    plugins_support::set(&mut manifest, "version", version);
    std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_installed_through_one_member_are_served_by_every_member() {
    let pg = PgCluster::start().unwrap();
    let config = config(&pg.create_database("vigia").unwrap());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let _a = start_member(dir_a.path(), &config);
    let _b = start_member(dir_b.path(), &config);
    let (a, b) = (Client::new(&_a).await, Client::new(&_b).await);
    let id_b = b.get("/api/v1/cluster").await["this_host"].as_str().unwrap().to_string();
    let id_a = a.get("/api/v1/cluster").await["this_host"].as_str().unwrap().to_string();

    // Installed through A: B writes it into its own directory and serves it.
    install(&a, bundle("1.1.0")).await;
    wait_for_version(&b, PLUGIN, Some("1.1.0")).await;
    assert!(dir_b.path().join("plugins").join(PLUGIN).join("plugin.toml").is_file());
    let dry_run = b.call(reqwest::Method::POST, &format!("/api/v1/plugins/{PLUGIN}/invoke"), None, 200).await;
    assert!(dry_run["samples"].as_array().is_some_and(|s| !s.is_empty()), "B runs it: {dry_run}");

    // A new version through A replaces B's; a removal through A removes it from B.
    install(&a, bundle("1.2.0")).await;
    wait_for_version(&b, PLUGIN, Some("1.2.0")).await;
    a.call(reqwest::Method::DELETE, &format!("/api/v1/plugins/{PLUGIN}"), None, 200).await;
    wait_for_version(&b, PLUGIN, None).await;
    assert!(!dir_b.path().join("plugins").join(PLUGIN).exists());
    assert!(divergence_of(&a, &id_b).await.is_empty());

    // Edited by hand on B: B keeps serving its own, even over a later install through A, and
    // says so; A, in agreement, reports nothing.
    install(&a, bundle("1.3.0")).await;
    wait_for_version(&b, PLUGIN, Some("1.3.0")).await;
    edit_by_hand(&dir_b.path().join("plugins"), PLUGIN, "9.9.9");
    wait_for_version(&b, PLUGIN, Some("9.9.9")).await;
    let differs = vec![(PLUGIN.to_string(), "differs".to_string())];
    poll("B's hand edit reported", PATIENCE, async || (divergence_of(&a, &id_b).await == differs).then_some(())).await;
    install(&a, bundle("1.4.0")).await;
    // Several heartbeats (1 s) of B pass without B writing over its edit.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(serving(&b, PLUGIN).await.as_deref(), Some("9.9.9"));
    assert_eq!(serving(&a, PLUGIN).await.as_deref(), Some("1.4.0"));
    assert_eq!(divergence_of(&b, &id_b).await, differs, "every member sees the same report");

    // Placed by hand on B only: local to B, reported as such.
    plugins_support::place_bundle(dir_b.path(), "webhook", |_| {});
    let both = vec![(PLUGIN.to_string(), "differs".to_string()), ("webhook".to_string(), "local_only".to_string())];
    poll("B's hand-placed plugin reported", PATIENCE, async || (divergence_of(&a, &id_b).await == both).then_some(()))
        .await;
    assert_eq!(serving(&a, "webhook").await, None, "a hand-placed plugin stays on its host");
    assert!(divergence_of(&a, &id_a).await.is_empty(), "A is in agreement");
}
