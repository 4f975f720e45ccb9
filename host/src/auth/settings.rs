//! `[auth]`: sign-in, token lifetimes and the sign-in lockout. Owned by `auth`, which is what
//! reads it; the field doc comments are the configuration docs.

use serde::{Deserialize, Serialize};

/// `[auth]`: sign-in and tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of user tokens issued by a password sign-in, in hours.
    pub user_token_ttl_hours: u64,
    /// Longest lifetime of an API token, in days: a token asked for without an expiry (or a
    /// later one) gets this. 0 allows tokens that never expire.
    pub max_token_lifetime_days: u64,
    /// Minting an API token with a sign-in at least this old (in minutes) takes the password
    /// again (`"password"` in the request), so a stolen sign-in cannot mint itself a lasting key.
    pub sudo_after_minutes: u64,
    /// Failed sign-ins of one login within `lockout_window_seconds` that lock it. A locked login
    /// is refused (429) even with the right password, and an unknown login answers the same.
    /// `POST /api/v1/security/reset-lockout` lifts a lock early.
    pub lockout_failures: u32,
    /// Window in which failed sign-ins are counted, in seconds.
    pub lockout_window_seconds: u64,
    /// How long a locked login stays locked, in seconds.
    pub lockout_seconds: u64,
    /// Password checks (argon2, ~19 MiB each) run at the same time; 0 means twice the CPU cores.
    /// Further sign-ins wait for a free slot.
    pub max_concurrent_sign_ins: usize,
    /// Milliseconds a sign-in waits for a free slot before it is answered 429 (busy).
    pub sign_in_queue_timeout_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            user_token_ttl_hours: 24,
            max_token_lifetime_days: 365,
            sudo_after_minutes: 15,
            lockout_failures: 5,
            lockout_window_seconds: 900,
            lockout_seconds: 900,
            max_concurrent_sign_ins: 0,
            sign_in_queue_timeout_ms: 5000,
        }
    }
}
