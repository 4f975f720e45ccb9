//! The example plugins in `examples/` (Rust with vigia-sdk, Python with componentize-py) load
//! and collect through the real runtime. `cargo xtask test` builds both bundles first.

use crate::plugins_support;

use plugins_support::{bundles_dir, Sandbox};
use vigia::plugins::CollectContext;

fn context() -> CollectContext {
    CollectContext { resource: "example".into(), scheduled_at_ms: 0, interval_ms: 60_000 }
}

#[tokio::test]
async fn rust_example_collects_its_configured_answer_and_counts_runs() {
    let sandbox = Sandbox::new();
    sandbox.install("rust-collector", "rust-collector", |_| {});
    let host = sandbox.start().await;
    for run in 1..=2 {
        let samples = host.collect("rust-collector", context()).await.unwrap();
        let value = |name: &str| samples.iter().find(|s| s.name == name).map(|s| s.value);
        assert_eq!(value("example.answer"), Some(42.0));
        assert_eq!(value("example.runs"), Some(run as f64), "state persists between calls");
    }
}

#[tokio::test]
async fn python_example_loads_and_collects() {
    assert!(
        bundles_dir().join("python-collector/plugin.toml").exists(),
        "the Python example bundle is missing: run `cargo xtask plugins --python` (needs componentize-py)"
    );
    let sandbox = Sandbox::new();
    sandbox.install("python-collector", "python-collector", |_| {});
    let host = sandbox.start().await;
    let status = host.status("python-collector").unwrap();
    assert_eq!(status.status, vigia::plugins::LoadState::Loaded, "{:?}", status.last_error);
    let samples = host.collect("python-collector", context()).await.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].name, "python.greeting_length");
    assert_eq!(samples[0].value, 5.0, "len(\"hello\")");
}
