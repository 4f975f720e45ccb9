//! The host's security posture at a glance (`GET /api/v1/security/status`): what an operator
//! or auditor checks first. Facts only, computed from the configuration, the plugins as loaded,
//! the key files on disk and the first admin's account; nothing here changes anything.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::plugins::{Capabilities, PluginStatus};
use crate::store::{Store, StoreResult};

/// What `context` keeps of the configuration for the posture (the rest is not the API's).
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// `off`, `self-signed` or `files`.
    pub tls: &'static str,
    /// Files whose readers can open every secret or impersonate the host.
    pub key_files: Vec<PathBuf>,
    pub rate_limiting: bool,
}

impl HostFacts {
    pub fn of(config: &Config) -> HostFacts {
        let tls = match (&config.server.tls, &config.server.tls_key) {
            (Some(_), _) => "self-signed",
            (None, Some(_)) => "files",
            (None, None) => "off",
        };
        let mut key_files = vec![config.data_dir.join(crate::secrets::KEY_FILE)];
        match (&config.server.tls, &config.server.tls_key) {
            (Some(_), _) => key_files.push(config.data_dir.join("tls").join("key.pem")),
            (None, Some(key)) => key_files.push(key.clone()),
            (None, None) => {}
        }
        HostFacts { tls, key_files, rate_limiting: config.server.rate_limit.enabled }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Posture {
    /// `off`, `self-signed` or `files` (a certificate the operator provides).
    pub tls: &'static str,
    /// Every API route but probes, metadata and sign-in needs a token (always true).
    pub authentication_required: bool,
    /// Whether the first admin still has the password set at first start (never changed).
    pub first_admin_password_unchanged: bool,
    pub rate_limiting: bool,
    /// Plugins whose manifest asks for more than a strict policy would give: files, raw TCP,
    /// any host by name, or a loopback/private address by literal.
    pub plugins_beyond_strict_policy: Vec<PluginFinding>,
    pub key_files: Vec<KeyFile>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PluginFinding {
    pub id: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyFile {
    pub path: String,
    /// Octal permission bits, e.g. `600`; `null` when the file does not exist (yet).
    pub mode: Option<String>,
    /// Readable by its owner only.
    pub private: bool,
}

/// The posture of this host; `admin_tenant` is the `default` tenant's id.
pub async fn assess(
    facts: &HostFacts,
    plugins: &[PluginStatus],
    store: &Store,
    admin_tenant: i64,
) -> StoreResult<Posture> {
    let first_admin = store.user_by_login(admin_tenant, crate::bootstrap::ADMIN_LOGIN).await?;
    Ok(Posture {
        tls: facts.tls,
        authentication_required: true,
        first_admin_password_unchanged: first_admin.is_some_and(|u| u.operator && u.updated_at == u.created_at),
        rate_limiting: facts.rate_limiting,
        plugins_beyond_strict_policy: plugins
            .iter()
            .filter_map(|p| {
                let beyond = beyond_strict(p.capabilities.as_ref()?);
                (!beyond.is_empty()).then(|| PluginFinding { id: p.id.clone(), capabilities: beyond })
            })
            .collect(),
        key_files: facts.key_files.iter().map(|p| key_file(p)).collect(),
    })
}

/// What of `caps` a strict policy (named public hosts only, SMTP through the host) would refuse.
fn beyond_strict(caps: &Capabilities) -> Vec<String> {
    let mut out: Vec<String> = caps.read_only_paths.iter().map(|p| format!("read_only_paths {p}")).collect();
    out.extend(caps.allowed_tcp.iter().map(|a| format!("allowed_tcp {a}")));
    for rule in &caps.allowed_outbound_hosts {
        let host = rule.split_once("://").map_or(rule.as_str(), |(_, rest)| rest);
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
        let private_literal = host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| !crate::plugins::is_public_address(ip));
        if host == "*" || private_literal {
            out.push(format!("allowed_outbound_hosts {rule}"));
        }
    }
    out
}

fn key_file(path: &Path) -> KeyFile {
    let mode = mode_of(path);
    KeyFile {
        path: path.display().to_string(),
        mode: mode.map(|m| format!("{m:o}")),
        private: mode.is_none_or(|m| m & 0o077 == 0),
    }
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_policy_findings_by_table() {
        let caps = |hosts: &[&str], tcp: &[&str]| Capabilities {
            allowed_outbound_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            allowed_tcp: tcp.iter().map(|h| h.to_string()).collect(),
            ..Capabilities::default()
        };
        assert!(beyond_strict(&caps(&["https://hooks.slack.com"], &[])).is_empty());
        assert_eq!(beyond_strict(&caps(&["https://*:*"], &[])), ["allowed_outbound_hosts https://*:*"]);
        assert_eq!(beyond_strict(&caps(&["http://127.0.0.1:*"], &[])), ["allowed_outbound_hosts http://127.0.0.1:*"]);
        assert_eq!(beyond_strict(&caps(&["http://localhost:9000"], &[])).len(), 1);
        assert_eq!(beyond_strict(&caps(&[], &["10.0.0.1:6379"])), ["allowed_tcp 10.0.0.1:6379"]);
    }
}
