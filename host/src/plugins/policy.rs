//! The operator's bound on plugin capabilities (`[plugins.policy]`). A manifest is written by
//! whoever built the bundle; only the operator decides what any plugin on this host may reach.
//! Every capability a manifest declares must fit inside the policy, and the host's own files
//! (data directory, configuration file, TLS key, SQLite database) are never readable by a plugin,
//! whatever the policy says. Checked at install, at start and at every hot reload.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::addresses::AddressPolicy;
use super::http_policy::{parse_tcp_rule, OutboundRule};
use super::manifest::Capabilities;

/// `[plugins.policy]`: the most any plugin manifest may declare.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginPolicy {
    /// Directories a manifest's `read_only_paths` entries must lie within. Default: none. The
    /// data directory, the configuration file, the TLS key and the SQLite database are refused
    /// whatever this says (also through a parent directory).
    pub read_only_paths: Vec<PathBuf>,
    /// Networks (CIDR, e.g. `"10.0.0.0/8"`, `"127.0.0.1/32"`) a manifest's `allowed_tcp` addresses
    /// must lie within. Default: none, so no plugin opens raw TCP connections.
    pub tcp_networks: Vec<String>,
    /// Host names a manifest's `allowed_outbound_hosts` may name: exact (`hooks.slack.com`), a
    /// subdomain wildcard (`*.example.com`) or `*` for any. Default: `["*"]`.
    pub outbound_hosts: Vec<String>,
    /// Whether notifiers may send mail through the host's SMTP client (the `smtp` capability).
    pub smtp: bool,
    /// Non-public networks (CIDR) plugins may reach over HTTP. Every name is resolved first, and
    /// loopback, link-local (169.254.0.0/16: cloud metadata), private, shared and unique-local
    /// addresses are refused unless listed here (e.g. `["127.0.0.0/8"]`). Default: none.
    pub private_networks: Vec<String>,
}

impl Default for PluginPolicy {
    fn default() -> Self {
        PluginPolicy {
            read_only_paths: Vec::new(),
            tcp_networks: Vec::new(),
            outbound_hosts: vec!["*".into()],
            smtp: true,
            private_networks: Vec::new(),
        }
    }
}

/// The policy, parsed, plus the host files no plugin may read.
#[derive(Debug, Clone)]
pub struct CapabilityBounds {
    read_only_paths: Vec<PathBuf>,
    tcp_networks: Vec<IpNet>,
    outbound_hosts: Vec<String>,
    smtp: bool,
    addresses: AddressPolicy,
    /// The host's own files and directories, canonical where they exist.
    protected: Vec<PathBuf>,
}

impl CapabilityBounds {
    /// Parses `policy`; `protected` are the host's own paths (missing ones are kept as given).
    pub fn new(policy: &PluginPolicy, protected: &[&Path]) -> Result<CapabilityBounds, String> {
        let tcp_networks = networks("tcp_networks", &policy.tcp_networks)?;
        let private_networks = networks("private_networks", &policy.private_networks)?;
        for host in &policy.outbound_hosts {
            let pattern = host.strip_prefix("*.").unwrap_or(host);
            if host != "*" && (pattern.is_empty() || pattern.contains(['*', '/', ':', '@'])) {
                return Err(format!(
                    "[plugins.policy] outbound_hosts entry {host:?} must be a host name, *.domain or *"
                ));
            }
        }
        Ok(CapabilityBounds {
            read_only_paths: policy.read_only_paths.iter().map(|p| canonical(p)).collect(),
            tcp_networks,
            outbound_hosts: policy.outbound_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            smtp: policy.smtp,
            addresses: AddressPolicy::new(private_networks),
            protected: protected.iter().map(|p| canonical(p)).collect(),
        })
    }

    /// The addresses plugins may reach once names are resolved.
    pub fn addresses(&self) -> AddressPolicy {
        self.addresses.clone()
    }

    /// Refuses the first capability of `caps` the policy does not cover, naming it.
    pub fn check(&self, caps: &Capabilities) -> Result<(), String> {
        for path in &caps.read_only_paths {
            self.check_path(path)?;
        }
        for rule in &caps.allowed_tcp {
            let addr = parse_tcp_rule(rule)?;
            if !self.tcp_networks.iter().any(|net| net.contains(&addr.ip())) {
                return Err(refused("allowed_tcp", rule, "tcp_networks", &self.tcp_networks));
            }
        }
        for rule in &caps.allowed_outbound_hosts {
            let host = OutboundRule::parse(rule)?.host().to_string();
            if !self.outbound_hosts.iter().any(|pattern| host_covered(pattern, &host)) {
                return Err(refused("allowed_outbound_hosts", rule, "outbound_hosts", &self.outbound_hosts));
            }
        }
        if caps.smtp && !self.smtp {
            return Err("capability smtp is refused by the operator's policy ([plugins.policy] smtp = false)".into());
        }
        Ok(())
    }

    fn check_path(&self, path: &str) -> Result<(), String> {
        let asked = canonical(Path::new(path));
        if let Some(own) = self.protected.iter().find(|own| own.starts_with(&asked) || asked.starts_with(own)) {
            return Err(format!(
                "capability read_only_paths {path:?} is refused: it would expose the host's own {} \
                 (never readable by plugins)",
                own.display()
            ));
        }
        if !self.read_only_paths.iter().any(|allowed| asked.starts_with(allowed)) {
            let allowed: Vec<String> = self.read_only_paths.iter().map(|p| p.display().to_string()).collect();
            return Err(refused("read_only_paths", path, "read_only_paths", &allowed));
        }
        Ok(())
    }
}

fn networks(key: &str, entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|n| {
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("[plugins.policy] {key} entry {n:?} is not a network such as 10.0.0.0/8"))
        })
        .collect()
}

/// The canonical form of `path` where it exists (so `..` and symlinks cannot dodge a check).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether policy `pattern` admits manifest host `host` (itself possibly `*.domain`).
fn host_covered(pattern: &str, host: &str) -> bool {
    if pattern == "*" || pattern == host {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix("*.") else { return false };
    let below = |name: &str| {
        name.len() > suffix.len() && name.ends_with(suffix) && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
    };
    match host.strip_prefix("*.") {
        // A manifest wildcard is covered when its whole domain is.
        Some(domain) => domain == suffix || below(domain),
        None => below(host),
    }
}

fn refused(capability: &str, entry: &str, key: &str, allowed: &[impl ToString]) -> String {
    let allowed: Vec<String> = allowed.iter().map(|a| format!("{:?}", a.to_string())).collect();
    let allowed = if allowed.is_empty() { "nothing".to_string() } else { allowed.join(", ") };
    format!("capability {capability} {entry:?} exceeds the operator's policy: [plugins.policy] {key} allows {allowed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(policy: PluginPolicy, protected: &[&Path]) -> CapabilityBounds {
        CapabilityBounds::new(&policy, protected).unwrap()
    }

    #[test]
    fn the_default_policy_allows_named_hosts_and_smtp_but_no_files_or_tcp() {
        let b = bounds(PluginPolicy::default(), &[]);
        let caps = |f: fn(&mut Capabilities)| {
            let mut c = Capabilities::default();
            f(&mut c);
            c
        };
        assert!(b.check(&caps(|c| c.allowed_outbound_hosts = vec!["https://hooks.slack.com".into()])).is_ok());
        assert!(b.check(&caps(|c| c.smtp = true)).is_ok());
        let tcp = b.check(&caps(|c| c.allowed_tcp = vec!["10.0.0.5:6379".into()])).unwrap_err();
        assert!(tcp.contains("allowed_tcp \"10.0.0.5:6379\"") && tcp.contains("allows nothing"), "{tcp}");
        let path = b.check(&caps(|c| c.read_only_paths = vec!["/etc".into()])).unwrap_err();
        assert!(path.contains("read_only_paths \"/etc\""), "{path}");
    }

    #[test]
    fn listed_networks_hosts_and_prefixes_bound_the_manifest() {
        let policy = PluginPolicy {
            read_only_paths: vec!["/usr".into()],
            tcp_networks: vec!["127.0.0.0/8".into(), "10.1.2.3".into()],
            outbound_hosts: vec!["*.example.com".into(), "hooks.slack.com".into()],
            smtp: false,
            private_networks: Vec::new(),
        };
        let b = bounds(policy, &[]);
        let check = |f: &dyn Fn(&mut Capabilities)| {
            let mut c = Capabilities::default();
            f(&mut c);
            b.check(&c)
        };
        assert!(check(&|c| c.allowed_tcp = vec!["127.0.0.1:6379".into(), "10.1.2.3:5432".into()]).is_ok());
        assert!(check(&|c| c.allowed_tcp = vec!["10.1.2.4:5432".into()]).is_err());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://a.example.com".into()]).is_ok());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://*.b.example.com:*".into()]).is_ok());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://*.example.com".into()]).is_ok());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://example.com".into()]).is_err());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://evil-example.com".into()]).is_err());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://hooks.slack.com".into()]).is_ok());
        assert!(check(&|c| c.allowed_outbound_hosts = vec!["https://*:*".into()]).is_err(), "any host needs \"*\"");
        assert!(check(&|c| c.read_only_paths = vec!["/usr/share".into()]).is_ok());
        assert!(check(&|c| c.read_only_paths = vec!["/usr/../etc".into()]).is_err());
        let smtp = check(&|c| c.smtp = true).unwrap_err();
        assert!(smtp.contains("smtp = false"), "{smtp}");
    }

    #[test]
    fn the_hosts_own_files_are_never_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        let policy = PluginPolicy { read_only_paths: vec!["/".into()], ..PluginPolicy::default() };
        let b = bounds(policy, &[&data]);
        let check = |p: &Path| {
            b.check(&Capabilities { read_only_paths: vec![p.display().to_string()], ..Capabilities::default() })
        };
        // The directory itself, anything inside it, and any parent that would show it.
        for refused in [data.clone(), data.join("sub"), tmp.path().to_path_buf(), PathBuf::from("/")] {
            let e = check(&refused).unwrap_err();
            assert!(e.contains("never readable by plugins"), "{}: {e}", refused.display());
        }
        assert!(check(Path::new("/usr")).is_ok());
    }

    #[test]
    fn malformed_policies_are_config_errors() {
        let bad_net = PluginPolicy { tcp_networks: vec!["10.0.0.0/33".into()], ..PluginPolicy::default() };
        assert!(CapabilityBounds::new(&bad_net, &[]).unwrap_err().contains("tcp_networks"));
        let bad_host = PluginPolicy { outbound_hosts: vec!["https://x".into()], ..PluginPolicy::default() };
        assert!(CapabilityBounds::new(&bad_host, &[]).unwrap_err().contains("outbound_hosts"));
    }
}
