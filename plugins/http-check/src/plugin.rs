//! The component glue: one HTTP GET per target, three samples each (status only when there was a response).

use crate::is_up;
use serde::Deserialize;
use std::time::{Duration, Instant};
use vigia_sdk::http::Request;
use vigia_sdk::{CollectContext, Collector, PluginError, Sample};

#[derive(Deserialize)]
struct Config {
    targets: Vec<Target>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    url: String,
    expect_status: Option<u16>,
}

fn default_timeout_ms() -> u64 {
    5000
}

struct HttpCheck;

impl Collector for HttpCheck {
    fn collect(_: CollectContext) -> Result<Vec<Sample>, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let timeout = Duration::from_millis(config.timeout_ms);
        Ok(config.targets.iter().flat_map(|target| check(target, timeout)).collect())
    }
}

fn check(target: &Target, timeout: Duration) -> Vec<Sample> {
    let labelled = |name: &str, value: f64| Sample::new(name, value).label("target", target.name.as_str());
    let started = Instant::now();
    let outcome = Request::get(target.url.as_str()).timeout(timeout).send();
    let latency = labelled("http.latency_ms", started.elapsed().as_secs_f64() * 1000.0).unit("ms");
    match outcome {
        Ok(response) => vec![
            labelled("http.up", f64::from(u8::from(is_up(response.status, target.expect_status)))),
            labelled("http.status", f64::from(response.status)),
            latency,
        ],
        Err(e) => {
            // A failed probe is a measurement (down), not a plugin failure.
            vigia_sdk::warn!("{}: {}", target.name, e.message);
            vec![labelled("http.up", 0.0), latency]
        }
    }
}

vigia_sdk::export_collector!(HttpCheck);
