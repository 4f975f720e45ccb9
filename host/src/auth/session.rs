//! Browser sessions: a signed-in person's user token travels in an `HttpOnly` cookie instead of a
//! header, and every state-changing request made with it carries the session's CSRF token, which
//! only pages served to that session know. The CSRF token is derived from the session token, so
//! nothing more is stored and it dies with the session.

use sha2::{Digest, Sha256};

/// The cookie that carries a browser session's user token.
pub const SESSION_COOKIE: &str = "vigia_session";
/// The header (API calls) and form field (HTML forms) that carry the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";

/// The CSRF token of a session: a domain-separated hash of its secret token. A cross-site page
/// cannot read the cookie (`HttpOnly`, `SameSite=Strict`), so it cannot compute this either.
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"vigia csrf v1\0");
    hasher.update(session_token.as_bytes());
    hex::encode(&hasher.finalize()[..20])
}

/// Whether `presented` is the CSRF token of `session_token`, compared in constant time.
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.len() == presented.len()
        && expected.bytes().zip(presented.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A fresh random value for the sign-in form's double-submit cookie (there is no session yet to
/// derive one from).
pub fn pre_session_token() -> String {
    super::secret::random_password()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let a = csrf_token("vgu_aaaa");
        assert_eq!(a.len(), 40);
        assert!(csrf_matches("vgu_aaaa", &a));
        assert!(!csrf_matches("vgu_bbbb", &a), "another session's token is refused");
        assert!(!csrf_matches("vgu_aaaa", &a[..39]));
        assert!(!csrf_matches("vgu_aaaa", ""));
    }
}
