//! {{name}}: a Vigia collector plugin.
// Only the wasm32 build is a plugin; on the host target this crate compiles to nothing.
#![cfg(target_arch = "wasm32")]

use vigia_sdk::{CollectContext, Collector, PluginError, Sample};

#[derive(serde::Deserialize)]
struct Config {
    /// Value reported as `{{name}}.value`.
    value: f64,
}

struct Plugin;

impl Collector for Plugin {
    fn collect(context: CollectContext) -> Result<Vec<Sample>, PluginError> {
        let config: Config = vigia_sdk::config()?;
        vigia_sdk::debug!("collecting for {}", context.resource);
        Ok(vec![Sample::new("{{name}}.value", config.value)])
    }
}

vigia_sdk::export_collector!(Plugin);
