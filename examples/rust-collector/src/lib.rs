//! Minimal Vigia collector: reports a constant and how many times it has run.
// The crate is a plugin only when built for wasm32; on the host target it compiles to nothing.
#![cfg(target_arch = "wasm32")]

use vigia_sdk::{CollectContext, Collector, PluginError, Sample};

#[derive(serde::Deserialize)]
struct Config {
    /// Value of the `example.answer` sample.
    answer: f64,
}

struct Example;

impl Collector for Example {
    fn collect(context: CollectContext) -> Result<Vec<Sample>, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let runs = vigia_sdk::state::get("runs").map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
        vigia_sdk::state::set("runs", &(runs + 1).to_le_bytes());
        vigia_sdk::debug!("collecting for {}", context.resource);
        Ok(vec![Sample::new("example.answer", config.answer), Sample::new("example.runs", (runs + 1) as f64)])
    }
}

vigia_sdk::export_collector!(Example);
