//! Monitored PostgreSQL instances outside storage and HTTP: the tag syntax (`key=value,…`),
//! setting validation, TLS towards the instance (`Tls`, shared with the sampler), and the
//! connection check run on create/update/enable. The check talks to the *monitored* server, not
//! to Vigia's storage, which is why its one query lives here. Changes of an instance are announced
//! to live subscribers (`announce`, `record_status`) once stored.

use std::time::Duration;

use ipnet::IpNet;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection};

use crate::events::{Audience, EventType};
pub use crate::store::SslMode;
use crate::store::{Instance, Store, StoreResult};

/// How long a connection check may take before the server counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Ordered `key=value` pairs. Order is kept because users read it back as they wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub Vec<(String, String)>);

impl Tags {
    /// Parses `key=value,key=value`; the empty string is no tags. Errors name the bad part so a
    /// script author can see which tag to fix.
    pub fn parse(text: &str) -> Result<Tags, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if text.trim().is_empty() {
            return Ok(Tags(pairs));
        }
        for (i, part) in text.split(',').enumerate() {
            let bad = |why: &str| format!("malformed tag {:?} (position {}) in {text:?}: {why}", part.trim(), i + 1);
            let Some((key, value)) = part.split_once('=') else {
                return Err(bad("expected key=value"));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(bad("the key is empty"));
            }
            if value.is_empty() {
                return Err(bad("the value is empty"));
            }
            if value.contains('=') {
                return Err(bad("only one '=' per tag"));
            }
            if key.chars().chain(value.chars()).any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("keys and values cannot contain spaces"));
            }
            if key.chars().count() > 100 || value.chars().count() > 200 {
                return Err(bad("keys are at most 100 and values 200 characters"));
            }
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(bad("the key appears twice"));
            }
            pairs.push((key.to_string(), value.to_string()));
        }
        Ok(Tags(pairs))
    }

    /// The canonical text stored and shown: `key=value,key=value`, trimmed, in the given order.
    pub fn canonical(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }

    /// Whether every pair of `wanted` is among these tags (filters are ANDed).
    pub fn contains_all(&self, wanted: &Tags) -> bool {
        wanted.0.iter().all(|w| self.0.contains(w))
    }
}

/// Connection names are URL path segments and appear in `<server>@<name>` identifiers, so they
/// are kept to characters that need no escaping anywhere.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name == "test-connection" {
        // The native API routes `POST /api/v1/instances/test-connection` to the connection test.
        Err("\"test-connection\" is reserved; choose another connection name".into())
    } else if ok {
        Ok(())
    } else {
        Err(format!("invalid connection name {name:?}: use 1 to 100 letters, digits, '-', '_' or '.'"))
    }
}

pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() || host.chars().count() > 255 || host.contains(char::is_whitespace) {
        return Err(format!("invalid host {host:?}: expected a host name or IP address"));
    }
    Ok(())
}

pub fn check_port(port: i64) -> Result<(), String> {
    if !(1..=65535).contains(&port) {
        return Err(format!("invalid port {port}: expected 1 to 65535"));
    }
    Ok(())
}

pub fn check_user(user: &str) -> Result<(), String> {
    if user.trim().is_empty() || user.chars().count() > 63 {
        return Err("invalid user: expected a PostgreSQL role name of 1 to 63 characters".into());
    }
    Ok(())
}

/// `low` samples activity every 10 s, `high` every second.
pub fn check_collection_rate(rate: &str) -> Result<(), String> {
    match rate {
        "low" | "high" => Ok(()),
        other => Err(format!("invalid collection-rate {other:?}: expected low or high")),
    }
}

/// Seconds a lock wait must last before it is reported; bounded so a typo cannot disable it.
pub fn check_lock_delay(seconds: i64) -> Result<(), String> {
    if !(1..=86_400).contains(&seconds) {
        return Err(format!("invalid lock-monitoring-delay {seconds}: expected 1 to 86400 seconds"));
    }
    Ok(())
}

pub fn check_non_negative(what: &str, n: i64) -> Result<(), String> {
    if n < 0 {
        return Err(format!("invalid {what} {n}: expected 0 or more"));
    }
    Ok(())
}

/// A CA bundle path: absolute (the server's working directory is nobody's business), or empty
/// to go back to the built-in roots.
pub fn check_sslrootcert(path: &str) -> Result<(), String> {
    let ok =
        path.is_empty() || (path.starts_with('/') && path.chars().count() <= 4096 && !path.contains(char::is_control));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid sslrootcert {path:?}: expected an absolute path to a CA bundle (PEM)"))
    }
}

/// How a connection to a monitored server uses TLS: libpq's `sslmode` and, for `verify-ca` and
/// `verify-full`, the CA bundle to trust (`None`: the built-in web PKI roots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    pub root_cert: Option<String>,
}

impl Tls {
    pub fn of(instance: &Instance) -> Tls {
        let root_cert = Some(instance.sslrootcert.clone()).filter(|p| !p.is_empty());
        Tls { mode: instance.sslmode, root_cert }
    }

    /// `options` connecting with this TLS setting (the connection check and the sampler both
    /// build their connections through here, so they cannot disagree).
    pub fn apply(&self, options: PgConnectOptions) -> PgConnectOptions {
        let mode = match self.mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        };
        let options = options.ssl_mode(mode);
        match &self.root_cert {
            Some(path) => options.ssl_root_cert(path),
            None => options,
        }
    }
}

/// Where and as whom to connect.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: i64,
    pub user: &'a str,
    pub password: &'a str,
    pub tls: &'a Tls,
    /// The operator's `[sampler] target_networks` (empty: anywhere).
    pub networks: &'a [IpNet],
}

/// Refuses `host` when any address it resolves to lies outside `networks` (empty: anywhere),
/// naming the address and the configuration key.
pub async fn check_network(host: &str, port: u16, networks: &[IpNet]) -> Result<(), String> {
    if networks.is_empty() {
        return Ok(());
    }
    let addresses: Vec<std::net::IpAddr> = match host.parse() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
            Ok(Err(e)) => return Err(format!("{host} does not resolve: {e}")),
            Err(_) => return Err(format!("{host} did not resolve within {} s", CONNECT_TIMEOUT.as_secs())),
        },
    };
    match addresses.iter().find(|ip| !networks.iter().any(|n| n.contains(*ip))) {
        Some(ip) => Err(format!(
            "{host} resolves to {ip}, outside the networks the operator allows ([sampler] target_networks)"
        )),
        None if addresses.is_empty() => Err(format!("{host} resolves to no address")),
        None => Ok(()),
    }
}

/// Connects once (to the `postgres` database, as the sampler will) and returns the server
/// version, or a reason fit to show the operator. Bounded by `CONNECT_TIMEOUT`.
pub async fn check_connection(target: &Target<'_>) -> Result<String, String> {
    let port = u16::try_from(target.port).map_err(|_| format!("invalid port {}", target.port))?;
    check_network(target.host, port, target.networks).await?;
    let options = target
        .tls
        .apply(PgConnectOptions::new())
        .host(target.host)
        .port(port)
        .username(target.user)
        .password(target.password)
        .database("postgres")
        .application_name("vigia");
    let attempt = async {
        let mut conn = options.connect().await.map_err(|e| e.to_string())?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("connected, but SHOW server_version failed: {e}"))?;
        let _ = conn.close().await;
        Ok(version)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer from {}:{} within {} s", target.host, port, CONNECT_TIMEOUT.as_secs())),
    }
}

/// Tells live subscribers (`crate::events`) about a stored change of `instance`.
pub fn announce(store: &Store, kind: EventType, instance: &Instance) {
    let data = serde_json::json!({
        "name": instance.name,
        "pg_instance": format!("{}@{}", instance.host, instance.name),
        "enabled": instance.enabled,
        "connected": instance.connected,
        "last_error": instance.last_error,
    });
    store.events().publish(kind, Some(instance.tenant_id), Some(&instance.name), Audience::Monitoring, data);
}

/// Records the outcome of a connection check (`Store::set_instance_status`) and, when it
/// changed whether the instance is connected, announces it. `None`: the instance is gone.
pub async fn record_status(
    store: &Store,
    instance: &Instance,
    connected: bool,
    error: Option<&str>,
) -> StoreResult<Option<Instance>> {
    // Read before the write: the sampler task's copy of the row is as old as the task. One
    // task per instance writes its status, so the two statements do not race each other.
    let was = store.instance_connected(instance.tenant_id, instance.id).await?;
    let stored = store.set_instance_status(instance.tenant_id, instance.id, connected, error).await?;
    if let Some(now) = &stored {
        if was.is_some_and(|was| was != now.connected) {
            let kind = if now.connected { EventType::InstanceConnected } else { EventType::InstanceDisconnected };
            announce(store, kind, now);
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_keep_order_and_name_the_bad_part() {
        let t = Tags::parse(" application=sales, environment=production ,provider=amazon").unwrap();
        assert_eq!(t.canonical(), "application=sales,environment=production,provider=amazon");
        assert_eq!(Tags::parse("").unwrap(), Tags::default());
        assert_eq!(Tags::parse("  ").unwrap().canonical(), "");
        let e = Tags::parse("a=b,oops,c=d").unwrap_err();
        assert!(e.contains("\"oops\" (position 2)") && e.contains("key=value"), "{e}");
        assert!(Tags::parse("a=b,,c=d").unwrap_err().contains("position 2"));
        assert!(Tags::parse("=x").unwrap_err().contains("key is empty"));
        assert!(Tags::parse("k=").unwrap_err().contains("value is empty"));
        assert!(Tags::parse("k=a=b").unwrap_err().contains("one '='"));
        assert!(Tags::parse("k=1,k=2").unwrap_err().contains("twice"));
        assert!(Tags::parse("k=a b").unwrap_err().contains("spaces"));
        let all = Tags::parse("a=1,b=2").unwrap();
        assert!(all.contains_all(&Tags::parse("b=2").unwrap()));
        assert!(!all.contains_all(&Tags::parse("b=2,c=3").unwrap()));
        assert!(all.contains_all(&Tags::default()));
    }

    #[test]
    fn names_and_settings_are_validated() {
        assert!(check_name("sales-production").is_ok());
        assert!(check_name("a/b").is_err() && check_name("").is_err());
        assert!(check_port(0).is_err() && check_port(5432).is_ok() && check_port(70000).is_err());
        assert!(check_collection_rate("high").is_ok() && check_collection_rate("fast").is_err());
        assert!(check_lock_delay(0).is_err() && check_lock_delay(30).is_ok());
        assert!(check_sslrootcert("").is_ok() && check_sslrootcert("/etc/ssl/ca.pem").is_ok());
        assert!(check_sslrootcert("ca.pem").is_err());
    }

    #[test]
    fn sslmodes_parse_and_order_by_strength() {
        for mode in SslMode::ALL {
            assert_eq!(SslMode::parse(mode.as_str()), Ok(mode));
        }
        assert!(SslMode::parse("allow").unwrap_err().contains("verify-full"));
        assert!(SslMode::Disable < SslMode::Prefer && SslMode::VerifyCa < SslMode::VerifyFull);
        assert_eq!(SslMode::default(), SslMode::Prefer);
    }
}
