//! Which addresses plugins may reach over HTTP once names are resolved: public unicast ones, and
//! the non-public networks the operator lists in `[plugins.policy] private_networks`. Judging the
//! resolved address, not the name, is what keeps a plugin (or a channel's URL) off the host's
//! loopback, the cloud metadata service and the private network.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// Which resolved addresses plugins may reach over HTTP: public ones, and the operator's
/// `private_networks`. Cheap to clone (one per plugin call).
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    private_networks: Arc<[IpNet]>,
}

/// How long resolving a destination may take before the request is refused.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

impl AddressPolicy {
    pub fn new(private_networks: Vec<IpNet>) -> AddressPolicy {
        AddressPolicy { private_networks: private_networks.into() }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.private_networks.iter().any(|net| net.contains(&ip))
    }

    /// Resolves `host` and refuses it when any of its addresses is not allowed (a name with one
    /// private address among public ones is as dangerous as a private one), naming the address
    /// and the policy key that would admit it.
    pub async fn check_destination(&self, host: &str, port: u16) -> Result<(), String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                Ok(Err(e)) => return Err(format!("{host} does not resolve: {e}")),
                Err(_) => return Err(format!("{host} did not resolve within {} s", RESOLVE_TIMEOUT.as_secs())),
            },
        };
        if addresses.is_empty() {
            return Err(format!("{host} resolves to no address"));
        }
        match addresses.into_iter().find(|ip| !self.allows(*ip)) {
            Some(ip) => Err(format!(
                "{host} resolves to {ip}, a loopback, link-local or private address: plugins reach it only \
                 if the operator lists its network in [plugins.policy] private_networks (e.g. \"{ip}/32\")"
            )),
            None => Ok(()),
        }
    }
}

/// Whether `ip` is a public unicast address: not loopback, unspecified, link-local, private
/// (RFC 1918), shared (100.64.0.0/10), unique-local (fc00::/7), multicast or broadcast. An
/// IPv4-mapped IPv6 address is judged by its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_private()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_and_listed_networks_are_reachable() {
        let private =
            ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"];
        for ip in private.into_iter().chain(["::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::", "ff02::1"]) {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let addresses = AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(addresses.allows("127.0.0.1".parse().unwrap()));
        assert!(!addresses.allows("169.254.169.254".parse().unwrap()));
        assert!(!AddressPolicy::default().allows("127.0.0.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn destinations_are_judged_by_what_they_resolve_to() {
        let none = AddressPolicy::default();
        let e = none.check_destination("localhost", 80).await.unwrap_err();
        assert!(e.contains("localhost resolves to") && e.contains("private_networks"), "{e}");
        let e = none.check_destination("169.254.169.254", 80).await.unwrap_err();
        assert!(e.contains("\"169.254.169.254/32\""), "{e}");
        let loopback = AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]);
        assert!(loopback.check_destination("localhost", 80).await.is_ok());
    }
}
