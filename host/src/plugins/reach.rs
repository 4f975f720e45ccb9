//! Whether a notifier can reach the destinations in a channel's configuration, checked when the
//! channel is saved: a URL its manifest or the operator's policy would refuse at every delivery
//! is a 400 now, naming what would admit it, rather than a dead letter later.

use serde_json::Value;

use super::http_policy::{allows, host_and_port};
use super::loader::LoadedPlugin;

/// Checks every top-level `http(s)://` value of `config` (the channel's merged configuration).
/// Messages show a destination's origin only: a webhook URL's path can be its secret.
pub(crate) async fn check(plugin: &LoadedPlugin, config: &Value) -> Result<(), String> {
    let Value::Object(map) = config else { return Ok(()) };
    let (rules, addresses) = plugin.policy.outbound();
    for (key, value) in map {
        let Some(uri) = value.as_str().and_then(|text| text.parse::<http::Uri>().ok()) else { continue };
        let (Some(scheme @ ("http" | "https")), Some(_)) = (uri.scheme_str(), uri.host()) else { continue };
        let (host, port) = host_and_port(&uri);
        let origin = format!("{scheme}://{host}:{port}");
        if !allows(rules, &uri) {
            let id = &plugin.valid.manifest.id;
            let listed = &plugin.valid.manifest.capabilities.allowed_outbound_hosts;
            return Err(format!(
                "{key}: the {id} plugin may not reach {origin}: its manifest's allowed_outbound_hosts {listed:?} \
                 must admit it (the operator edits the manifest in the plugins directory)"
            ));
        }
        addresses.check_destination(&host, port).await.map_err(|why| format!("{key}: {why}"))?;
    }
    Ok(())
}
