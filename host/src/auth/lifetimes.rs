//! How long tokens live, so a stolen short-lived token cannot become a permanent key: sign-in
//! tokens last `[auth] user_token_ttl_hours`; an API token at most `[auth]
//! max_token_lifetime_days` and never longer than the API token that minted it; and minting from
//! a sign-in older than `[auth] sudo_after_minutes` (15) takes the password again (GitHub's
//! "sudo mode").

use std::time::Duration;

use super::settings::AuthConfig;
use crate::store::TokenKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Lifetime of a sign-in token, in ms.
    pub sign_in_ms: i64,
    /// Longest lifetime of an API token, in ms; `None` when the operator allows unlimited ones.
    pub max_api_token_ms: Option<i64>,
    /// A sign-in at least this old must confirm the password to mint an API token.
    pub sudo_after_ms: i64,
}

impl Lifetimes {
    /// The lifetimes `[auth]` sets.
    pub fn of(config: &AuthConfig) -> Lifetimes {
        let sign_in = Duration::from_secs(config.user_token_ttl_hours * 3600);
        Lifetimes::new(sign_in, config.max_token_lifetime_days, Duration::from_secs(config.sudo_after_minutes * 60))
    }

    /// `max_api_token_days` 0 means unlimited (the operator's explicit choice).
    pub fn new(sign_in: Duration, max_api_token_days: u64, sudo_after: Duration) -> Lifetimes {
        let max_api_token_ms = (max_api_token_days > 0).then(|| max_api_token_days as i64 * 86_400_000);
        Lifetimes {
            sign_in_ms: sign_in.as_millis() as i64,
            max_api_token_ms,
            sudo_after_ms: sudo_after.as_millis() as i64,
        }
    }

    /// The expiry of a new API token: what was `requested` (`None`: as long as allowed), capped
    /// by the maximum lifetime and by `minted_by`, the minting token's kind and expiry.
    pub fn api_token_expiry(
        &self,
        requested: Option<i64>,
        minted_by: Option<(TokenKind, Option<i64>)>,
        now: i64,
    ) -> Option<i64> {
        let by_parent = match minted_by {
            Some((TokenKind::Api, parent_expiry)) => parent_expiry,
            // A sign-in token is the user proving who they are: what it mints is not tied to it.
            Some((TokenKind::User, _)) | None => None,
        };
        [requested, self.max_api_token_ms.map(|max| now.saturating_add(max)), by_parent].into_iter().flatten().min()
    }

    /// Whether a token of `kind` created at `created_at` must confirm the password to mint.
    pub fn needs_password(&self, kind: TokenKind, created_at: i64, now: i64) -> bool {
        kind == TokenKind::User && now - created_at >= self.sudo_after_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn api_token_expiry_by_table() {
        let now = 1_000 * DAY;
        let sudo = Duration::from_secs(900);
        let limited = Lifetimes::new(Duration::from_secs(24 * 3600), 365, sudo);
        let unlimited = Lifetimes::new(Duration::from_secs(24 * 3600), 0, sudo);
        let parent = |expiry| Some((TokenKind::Api, expiry));
        let sign_in = Some((TokenKind::User, Some(now + DAY)));
        // (policy, requested, minted by, expected)
        let cases = [
            (limited, None, sign_in, Some(now + 365 * DAY)),
            (limited, Some(now + 7 * DAY), sign_in, Some(now + 7 * DAY)),
            (limited, Some(now + 900 * DAY), sign_in, Some(now + 365 * DAY)),
            (limited, None, parent(Some(now + DAY)), Some(now + DAY)),
            (limited, Some(now + 30 * DAY), parent(Some(now + DAY)), Some(now + DAY)),
            (limited, None, parent(None), Some(now + 365 * DAY)),
            (limited, None, None, Some(now + 365 * DAY)),
            (unlimited, None, sign_in, None),
            (unlimited, None, parent(Some(now + DAY)), Some(now + DAY)),
            (unlimited, Some(now + 2 * DAY), None, Some(now + 2 * DAY)),
        ];
        for (i, (policy, requested, minted_by, expected)) in cases.into_iter().enumerate() {
            assert_eq!(policy.api_token_expiry(requested, minted_by, now), expected, "case {i}");
        }
    }

    #[test]
    fn only_old_sign_ins_need_the_password() {
        let l = Lifetimes::new(Duration::from_secs(3600), 365, Duration::from_secs(900));
        let now = 10 * l.sudo_after_ms;
        assert!(!l.needs_password(TokenKind::User, now - l.sudo_after_ms + 1, now));
        assert!(l.needs_password(TokenKind::User, now - l.sudo_after_ms, now));
        assert!(!l.needs_password(TokenKind::Api, 0, now), "API tokens are capped by expiry instead");
    }
}
