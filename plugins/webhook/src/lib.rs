//! Webhook notifier: POSTs each notification as JSON (or a template), signed with HMAC-SHA256 when a secret is set.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod plugin;
mod signing;
mod template;

/// How a receiver's status code is handled.
#[derive(Debug, PartialEq)]
enum Outcome {
    Delivered,
    /// 5xx, 408, 429: the receiver may accept a later attempt.
    Retry,
    /// Other 4xx and anything unexpected: resending the same request will fail again.
    Reject,
}

fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry,
        _ => Outcome::Reject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_retried_client_errors_are_not() {
        assert_eq!(classify(204), Outcome::Delivered);
        assert_eq!(classify(503), Outcome::Retry);
        assert_eq!(classify(429), Outcome::Retry);
        assert_eq!(classify(400), Outcome::Reject);
        assert_eq!(classify(302), Outcome::Reject);
    }
}
