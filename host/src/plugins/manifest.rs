//! `plugin.toml`: what a plugin bundle declares about itself. Parsed strictly (unknown keys are
//! errors) and validated before any wasm is compiled, so a bad bundle fails fast and clearly.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::http_policy::{parse_tcp_rule, OutboundRule};

/// File name of the manifest inside a plugin directory.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// The WIT package version this host implements. Guests targeting any `0.1.x` are accepted.
pub const HOST_WORLD_VERSION: &str = "0.1.1";
pub(crate) const HOST_WORLD_MAJOR: u64 = 0;
pub(crate) const HOST_WORLD_MINOR: u64 = 1;

/// Longest call deadline a manifest may ask for.
pub const MAX_TIMEOUT_MS: u64 = 300_000;

/// Largest `limits.memory_mb` a manifest may ask for: every pooled memory slot is sized for it.
pub const MAX_PLUGIN_MEMORY_MB: u64 = 1024;

/// A plugin manifest (`plugin.toml`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Unique plugin id: lowercase letters, digits and `-` (`[a-z0-9-]+`), at most 64 characters.
    /// Must equal the plugin's directory name and the id its `info()` reports.
    pub id: String,
    /// The plugin's own version (semver), e.g. `0.1.0`.
    pub version: String,
    /// Which world the component implements: `collector`, `notifier` or `reporter`.
    pub kind: PluginKind,
    /// The `vigia:plugin` WIT version the component was built against; this host accepts `0.1.x`.
    pub world: String,
    /// File name of the component next to the manifest, e.g. `http-check.wasm`.
    pub wasm: String,
    /// Lowercase hex SHA-256 of the wasm file; loading fails if the file does not match.
    pub sha256: String,
    /// One line shown in listings.
    #[serde(default)]
    pub description: String,
    /// What the plugin may reach outside its sandbox. Everything is denied by default.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Resource limits of one call.
    #[serde(default)]
    pub limits: Limits,
    /// Reporters of world `document-reporter` only: the report formats `render-document`
    /// produces (`pdf`, `html`, `csv`…), each `[a-z0-9-]+`. The host offers the plugin as a
    /// renderer of exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// The plugin's configuration: a JSON Schema and default values.
    #[serde(default)]
    pub config: ConfigSpec,
}

/// The three plugin worlds of `vigia:plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Exports `collect`: produces metric samples on an interval.
    Collector,
    /// Exports `deliver`: sends alert notifications to an outside system.
    Notifier,
    /// Exports `render`: turns series into a document (CSV, HTML…).
    Reporter,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Collector => "collector",
            PluginKind::Notifier => "notifier",
            PluginKind::Reporter => "reporter",
        }
    }

    /// The export that identifies this world.
    pub(crate) fn entry_export(self) -> &'static str {
        match self {
            PluginKind::Collector => "collect",
            PluginKind::Notifier => "deliver",
            PluginKind::Reporter => "render",
        }
    }
}

/// Sandbox permissions. Anything not listed is denied.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Outbound HTTP(S) through `wasi:http`, as `scheme://host[:port|:*]` (e.g.
    /// `https://api.example.com`, `http://127.0.0.1:*`). Without a port the scheme's default
    /// port is meant. Requests to anything else fail with `HTTP-request-denied`.
    pub allowed_outbound_hosts: Vec<String>,
    /// Raw TCP connections through `wasi:sockets`, as `host:port` with an IP host (e.g.
    /// `127.0.0.1:6379`). UDP and name lookups are never allowed.
    pub allowed_tcp: Vec<String>,
    /// Host directories made visible read-only under the same path inside the sandbox.
    pub read_only_paths: Vec<String>,
    /// Real wall and monotonic clocks. When false the plugin sees a frozen clock (the time of
    /// the call's start), which keeps it from timing side channels.
    pub clocks: bool,
    /// Mail through the host's SMTP client (`vigia:plugin/smtp`), notifiers only. The server and
    /// credentials are the operator's: the host reads them from the plugin's `smtp_*` config
    /// keys (added to its schema, `smtp_password` secret), so the plugin reaches no other server.
    pub smtp: bool,
}

/// Per-call resource limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest linear memory of the plugin, in MiB (1..=1024). Growth past it fails.
    pub memory_mb: u64,
    /// Deadline of one call in milliseconds (1..=300000); the call is killed when it passes.
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_mb: 32, timeout_ms: 5000 }
    }
}

/// `[config]`: the shape and defaults of the plugin's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigSpec {
    /// JSON Schema (written as TOML) the configuration must satisfy. A property with
    /// `x-secret = true` is a secret: sealed at rest and masked when read back. A secret's
    /// `x-bound-to = ["url"]` names the destination keys (property paths, dotted) it may only be
    /// sent with: configuration layered over it that changes one of them without giving the
    /// secret again does not inherit it.
    pub schema: Option<toml::Table>,
    /// Values used for every key the operator did not set.
    pub default: Option<toml::Table>,
}

/// A manifest that parsed and passed every check that does not need the component.
#[derive(Debug, Clone)]
pub struct ValidManifest {
    pub manifest: Manifest,
    /// `config.schema` as JSON (`{}` when absent).
    pub schema: serde_json::Value,
    /// `config.default` as JSON (`{}` when absent).
    pub defaults: serde_json::Value,
    /// Each secret with its `x-bound-to` destinations.
    pub bindings: Vec<super::config::Binding>,
}

/// Parses and validates a manifest; `wasm` is the file it names, checked against `sha256`.
pub fn parse_and_validate(text: &str, wasm: Option<&[u8]>) -> Result<ValidManifest, String> {
    let manifest: Manifest = toml::from_str(text).map_err(|e| format!("{MANIFEST_FILE}: {e}"))?;
    validate(manifest, wasm)
}

pub fn validate(manifest: Manifest, wasm: Option<&[u8]>) -> Result<ValidManifest, String> {
    let m = &manifest;
    if m.id.is_empty()
        || m.id.len() > 64
        || !m.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("id {:?} must match [a-z0-9-]+ (at most 64 characters)", m.id));
    }
    if m.version.trim().is_empty() {
        return Err("version must not be empty".into());
    }
    check_world(&m.world)?;
    if m.wasm.is_empty() || m.wasm.contains(['/', '\\']) || m.wasm.starts_with('.') || !m.wasm.ends_with(".wasm") {
        return Err(format!("wasm = {:?} must be a plain file name ending in .wasm", m.wasm));
    }
    if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("sha256 = {:?} is not a hex SHA-256", m.sha256));
    }
    if let Some(wasm) = wasm {
        let actual = hex::encode(Sha256::digest(wasm));
        if !actual.eq_ignore_ascii_case(&m.sha256) {
            return Err(format!("sha256 mismatch: manifest says {}, {} has {actual}", m.sha256, m.wasm));
        }
    }
    if !(1..=MAX_PLUGIN_MEMORY_MB).contains(&m.limits.memory_mb) {
        return Err(format!("limits.memory_mb = {} must be within 1..={MAX_PLUGIN_MEMORY_MB}", m.limits.memory_mb));
    }
    if !(1..=MAX_TIMEOUT_MS).contains(&m.limits.timeout_ms) {
        return Err(format!("limits.timeout_ms = {} must be within 1..={MAX_TIMEOUT_MS}", m.limits.timeout_ms));
    }
    for host in &m.capabilities.allowed_outbound_hosts {
        OutboundRule::parse(host)?;
    }
    for addr in &m.capabilities.allowed_tcp {
        parse_tcp_rule(addr)?;
    }
    for path in &m.capabilities.read_only_paths {
        if !std::path::Path::new(path).is_absolute() {
            return Err(format!("read_only_paths entry {path:?} must be an absolute path"));
        }
    }

    if m.capabilities.smtp && m.kind != PluginKind::Notifier {
        return Err(format!("capabilities.smtp is for notifiers, not a {}", m.kind.as_str()));
    }
    check_formats(m)?;

    let mut schema = toml_to_json(m.config.schema.as_ref());
    if m.kind == PluginKind::Collector {
        add_scheduler_keys(&mut schema);
    }
    if m.capabilities.smtp {
        add_smtp_keys(&mut schema);
    }
    let defaults = toml_to_json(m.config.default.as_ref());
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| format!("config.schema is not a valid JSON Schema: {e}"))?;
    if let Some(err) = validator.iter_errors(&defaults).next() {
        return Err(format!("config.default does not satisfy config.schema: {err} (at {})", err.instance_path()));
    }
    let bindings = secret_bindings(&schema)?;
    Ok(ValidManifest { manifest, schema, defaults, bindings })
}

/// Config keys the host itself reads from every collector's config (the scheduler's interval and
/// the default resource of its samples). They are added to the plugin's schema so plugins need not
/// declare them, even with `additionalProperties = false`.
pub const SCHEDULER_KEYS: [&str; 2] = ["interval_seconds", "resource"];

fn add_scheduler_keys(schema: &mut serde_json::Value) {
    add_host_keys(
        schema,
        [
            (
                "interval_seconds",
                serde_json::json!({"type": "integer", "minimum": 1, "description": "Collection interval (host scheduler)"}),
            ),
            (
                "resource",
                serde_json::json!({"type": "string", "minLength": 1, "description": "Default resource of the samples"}),
            ),
        ],
    );
}

/// Declares config keys the host reads, unless the plugin's schema already declares them.
pub(crate) fn add_host_keys<const N: usize>(schema: &mut serde_json::Value, keys: [(&str, serde_json::Value); N]) {
    let Some(object) = schema.as_object_mut() else { return };
    let properties = object.entry("properties").or_insert_with(|| serde_json::json!({}));
    if let Some(properties) = properties.as_object_mut() {
        for (name, spec) in keys {
            properties.entry(name).or_insert(spec);
        }
    }
}

/// Most formats one reporter may declare.
const MAX_FORMATS: usize = 8;

/// `formats`: reporters only, a few `[a-z0-9-]+` names, each once.
fn check_formats(m: &Manifest) -> Result<(), String> {
    if m.formats.is_empty() {
        return Ok(());
    }
    if m.kind != PluginKind::Reporter {
        return Err(format!("formats is for reporters, not a {}", m.kind.as_str()));
    }
    if m.formats.len() > MAX_FORMATS {
        return Err(format!("formats lists {} formats; at most {MAX_FORMATS}", m.formats.len()));
    }
    for (i, f) in m.formats.iter().enumerate() {
        if f.is_empty() || f.len() > 16 || !f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("formats entry {f:?} must match [a-z0-9-]+ (at most 16 characters)"));
        }
        if m.formats[..i].contains(f) {
            return Err(format!("formats lists {f:?} twice"));
        }
    }
    Ok(())
}

/// Accepts `0.1.x` only; names both versions when it refuses.
pub fn check_world(world: &str) -> Result<(), String> {
    let (major, minor) = parse_major_minor(world)
        .ok_or_else(|| format!("world = {world:?} is not a version like {HOST_WORLD_VERSION}"))?;
    if major != HOST_WORLD_MAJOR || minor != HOST_WORLD_MINOR {
        return Err(format!(
            "plugin targets vigia:plugin@{world} but this host implements vigia:plugin@{HOST_WORLD_VERSION} \
             (accepts {HOST_WORLD_MAJOR}.{HOST_WORLD_MINOR}.x)"
        ));
    }
    Ok(())
}

/// `major.minor` of a semver string (`0.1.3`, `1.0.0-rc1`).
pub(crate) fn parse_major_minor(version: &str) -> Option<(u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn toml_to_json(table: Option<&toml::Table>) -> serde_json::Value {
    match table {
        Some(t) => serde_json::to_value(t).unwrap_or_else(|_| serde_json::json!({})),
        None => serde_json::json!({}),
    }
}

/// Every property path (`["smtp", "password"]`) the schema marks `x-secret = true`, following
/// nested `properties` of objects.
pub fn secret_paths(schema: &serde_json::Value) -> Vec<Vec<String>> {
    fn walk(node: &serde_json::Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        let Some(props) = node.get("properties").and_then(|p| p.as_object()) else { return };
        for (name, sub) in props {
            prefix.push(name.clone());
            if sub.get("x-secret").and_then(|v| v.as_bool()) == Some(true) {
                out.push(prefix.clone());
            } else {
                walk(sub, prefix, out);
            }
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

/// Declares the `smtp_*` keys in the schema of a plugin granted `smtp` (unless it declares them).
fn add_smtp_keys(schema: &mut serde_json::Value) {
    add_host_keys(
        schema,
        [
            (
                "smtp_host",
                serde_json::json!({"type": "string", "minLength": 1, "description": "SMTP server (host smtp capability)"}),
            ),
            (
                "smtp_port",
                serde_json::json!({"type": "integer", "minimum": 1, "maximum": 65535,
                "description": "SMTP port; default 25 (none), 587 (starttls), 465 (tls)"}),
            ),
            (
                "smtp_tls",
                serde_json::json!({"type": "string", "enum": ["none", "starttls", "tls"],
                "description": "none, starttls (default) or tls (implicit TLS)"}),
            ),
            ("smtp_username", serde_json::json!({"type": "string", "description": "SMTP AUTH user"})),
            (
                "smtp_password",
                serde_json::json!({"type": "string", "x-secret": true, "description": "SMTP AUTH password"}),
            ),
        ],
    );
    // The operator's password goes to the operator's server only, whatever the plugin declared:
    // a channel pointing `smtp_host` elsewhere does not inherit it.
    if let Some(password) = schema.pointer_mut("/properties/smtp_password").and_then(|p| p.as_object_mut()) {
        password.insert("x-secret".into(), serde_json::json!(true));
        password.insert("x-bound-to".into(), serde_json::json!(SMTP_DESTINATION));
    }
}

/// The keys that say where mail goes, and so where `smtp_password` may be sent.
pub const SMTP_DESTINATION: [&str; 3] = ["smtp_host", "smtp_port", "smtp_tls"];

/// The `x-bound-to` of every secret; an error names a misplaced binding or an unknown key.
pub fn secret_bindings(schema: &serde_json::Value) -> Result<Vec<super::config::Binding>, String> {
    let declared = |path: &[String]| {
        path.iter().try_fold(schema, |node, key| node.get("properties").and_then(|p| p.get(key))).is_some()
    };
    let secrets = secret_paths(schema);
    let mut out = Vec::new();
    for (path, spec) in property_specs(schema) {
        let Some(bound) = spec.get("x-bound-to") else { continue };
        let at = path.join(".");
        if !secrets.contains(&path) {
            return Err(format!("config.schema: x-bound-to is for x-secret properties ({at} is not one)"));
        }
        let names = bound
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("config.schema: {at}.x-bound-to must be a non-empty array of property names"))?;
        let mut destinations = Vec::new();
        for name in names {
            let key: Vec<String> = name.as_str().unwrap_or_default().split('.').map(String::from).collect();
            if !declared(&key) || secrets.contains(&key) {
                return Err(format!("config.schema: {at}.x-bound-to names {name}, not a declared non-secret property"));
            }
            destinations.push(key);
        }
        out.push(super::config::Binding { secret: path, destinations });
    }
    Ok(out)
}

/// Every property of the schema with its path, nested objects included.
fn property_specs(schema: &serde_json::Value) -> Vec<(Vec<String>, &serde_json::Value)> {
    fn walk<'a>(
        node: &'a serde_json::Value,
        prefix: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, &'a serde_json::Value)>,
    ) {
        let Some(props) = node.get("properties").and_then(|p| p.as_object()) else { return };
        for (name, sub) in props {
            prefix.push(name.clone());
            out.push((prefix.clone(), sub));
            walk(sub, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut Vec::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::super::config;
    use super::*;

    const WASM: &[u8] = b"\0asm fake";

    fn manifest(extra: &str) -> String {
        let sha = hex::encode(Sha256::digest(WASM));
        format!(
            "id = \"demo\"\nversion = \"0.1.0\"\nkind = \"collector\"\nworld = \"0.1.0\"\nwasm = \"demo.wasm\"\n\
             sha256 = \"{sha}\"\n{extra}"
        )
    }

    #[test]
    fn accepts_a_minimal_manifest_with_defaults() {
        let v = parse_and_validate(&manifest(""), Some(WASM)).unwrap();
        assert_eq!(v.manifest.limits, Limits::default());
        assert!(!v.manifest.capabilities.clocks);
        assert_eq!(v.defaults, serde_json::json!({}));
    }

    #[test]
    fn rejects_unknown_keys_bad_ids_and_hash_mismatch() {
        assert!(parse_and_validate(&manifest("colour = 1\n"), Some(WASM)).unwrap_err().contains("colour"));
        let bad_id = manifest("").replace("id = \"demo\"", "id = \"Demo_1\"");
        assert!(parse_and_validate(&bad_id, Some(WASM)).unwrap_err().contains("[a-z0-9-]+"));
        assert!(parse_and_validate(&manifest(""), Some(b"other")).unwrap_err().contains("sha256 mismatch"));
        let kind = manifest("").replace("collector", "exporter");
        assert!(parse_and_validate(&kind, Some(WASM)).is_err());
    }

    #[test]
    fn world_must_be_0_1_x_and_errors_name_both_versions() {
        assert!(check_world("0.1.7").is_ok());
        let err = check_world("1.0.0").unwrap_err();
        assert!(err.contains("1.0.0") && err.contains("0.1.1"), "{err}");
        assert!(check_world("0.2.0").is_err());
        assert!(check_world("x").is_err());
    }

    #[test]
    fn limits_capabilities_and_schema_are_checked() {
        assert!(parse_and_validate(&manifest("[limits]\nmemory_mb = 0\n"), Some(WASM)).is_err());
        assert!(parse_and_validate(&manifest("[limits]\ntimeout_ms = 999999999\n"), Some(WASM)).is_err());
        let bad_host = "[capabilities]\nallowed_outbound_hosts = [\"ftp://x\"]\n";
        assert!(parse_and_validate(&manifest(bad_host), Some(WASM)).is_err());
        let bad_schema = "[config.schema]\ntype = 12\n";
        assert!(parse_and_validate(&manifest(bad_schema), Some(WASM)).unwrap_err().contains("JSON Schema"));
        let schema = "[config.schema]\ntype = \"object\"\n[config.schema.properties.port]\ntype = \"integer\"\n\
                      [config.schema.properties.token]\ntype = \"string\"\nx-secret = true\n\
                      [config.default]\nport = \"eighty\"\n";
        assert!(parse_and_validate(&manifest(schema), Some(WASM)).unwrap_err().contains("config.default"));
        let smtp_collector = "[capabilities]\nsmtp = true\n";
        assert!(parse_and_validate(&manifest(smtp_collector), Some(WASM)).unwrap_err().contains("notifiers"));
        let smtp_notifier = manifest(smtp_collector).replace("collector", "notifier");
        let v = parse_and_validate(&smtp_notifier, Some(WASM)).unwrap();
        assert_eq!(secret_paths(&v.schema), vec![vec!["smtp_password".to_string()]]);
        let ok = schema.replace("\"eighty\"", "80");
        let v = parse_and_validate(&manifest(&ok), Some(WASM)).unwrap();
        assert_eq!(secret_paths(&v.schema), vec![vec!["token".to_string()]]);
    }

    #[test]
    fn secrets_bind_to_declared_destinations_and_smtp_password_always_does() {
        let bound = |binding: &str| {
            let schema = format!(
                "[config.schema]\ntype = \"object\"\n[config.schema.properties.url]\ntype = \"string\"\n\
                 [config.schema.properties.token]\ntype = \"string\"\nx-secret = true\n{binding}"
            );
            parse_and_validate(&manifest(&schema), Some(WASM)).map(|v| v.bindings)
        };
        let url =
            |secret: &str| config::Binding { secret: vec![secret.into()], destinations: vec![vec!["url".into()]] };
        assert_eq!(bound("x-bound-to = [\"url\"]\n").unwrap(), [url("token")]);
        assert_eq!(bound("").unwrap(), []);
        assert!(bound("x-bound-to = [\"host\"]\n").unwrap_err().contains("names \"host\""));
        assert!(bound("x-bound-to = [\"token\"]\n").unwrap_err().contains("non-secret"));
        assert!(bound("x-bound-to = \"url\"\n").unwrap_err().contains("non-empty array"));
        let on_url = "[config.schema]\n[config.schema.properties.url]\ntype = \"string\"\nx-bound-to = [\"url\"]\n";
        assert!(parse_and_validate(&manifest(on_url), Some(WASM)).unwrap_err().contains("x-secret properties"));

        // A notifier granted smtp cannot unbind the operator's password by declaring it itself.
        let own = "[capabilities]\nsmtp = true\n[config.schema.properties.smtp_password]\ntype = \"string\"\n";
        let v = parse_and_validate(&manifest(own).replace("collector", "notifier"), Some(WASM)).unwrap();
        let smtp: Vec<Vec<String>> = SMTP_DESTINATION.iter().map(|k| vec![k.to_string()]).collect();
        assert_eq!(v.bindings, [config::Binding { secret: vec!["smtp_password".into()], destinations: smtp }]);
        assert_eq!(secret_paths(&v.schema), [["smtp_password"]]);
    }
}
