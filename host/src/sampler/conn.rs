//! Connections to monitored servers: who we are (`application_name = 'vigia-sampler'`, so other
//! tools and our own ASH query can tell our backends apart), a server-side `statement_timeout` on
//! every query, a bound on connecting, and the reconnect backoff.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::ConnectOptions;

use crate::instances::Tls;

/// `application_name` of every sampler connection; the ASH query excludes it.
pub const APPLICATION_NAME: &str = "vigia-sampler";

/// How long connecting may take before the attempt counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and as whom the sampler connects (the password already opened from its sealed form).
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The instance's `sslmode` and CA bundle.
    pub tls: Tls,
    /// `statement_timeout` of every query, in milliseconds (0 disables it, as in PostgreSQL).
    pub statement_timeout_ms: u64,
    /// The operator's `[sampler] target_networks`: checked at every connection (a name may
    /// resolve elsewhere later).
    pub networks: std::sync::Arc<[ipnet::IpNet]>,
}

impl std::fmt::Debug for Target {
    // Hand-written so the password can never end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Connects to `database`. The timeout is a startup parameter rather than a `SET`, which saves a
/// round trip per connection and cannot be forgotten on a code path.
pub async fn connect(target: &Target, database: &str) -> Result<PgConnection, String> {
    crate::instances::check_network(&target.host, target.port, &target.networks).await?;
    let options = target
        .tls
        .apply(PgConnectOptions::new())
        .host(&target.host)
        .port(target.port)
        .username(&target.user)
        .password(&target.password)
        .database(database)
        .application_name(APPLICATION_NAME)
        .options([("statement_timeout", target.statement_timeout_ms.to_string())])
        // Statement logging formats every query at 1 s × 1000 instances: not on the hot path.
        .disable_statement_logging();
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer from {target:?} within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Whether an error leaves the connection usable. A server-side error (permission, timeout of one
/// statement, missing object) does; I/O or protocol trouble means reconnecting.
pub fn connection_broken(e: &sqlx::Error) -> bool {
    !matches!(e, sqlx::Error::Database(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_))
}

/// Exponential reconnect delay: `min`, doubled per failure up to `max`, back to `min` on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let min = min.min(max);
        Backoff { min, max, current: min }
    }

    /// The delay to wait now; the next one is twice as long (bounded).
    pub fn next_delay(&mut self) -> Duration {
        let now = self.current;
        self.current = (self.current * 2).min(self.max);
        now
    }

    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let got: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}
