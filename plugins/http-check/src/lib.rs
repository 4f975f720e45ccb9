//! HTTP check collector: probes each configured URL and reports `http.up`, `http.status`, `http.latency_ms`.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod plugin;

/// Whether a response counts as "up": the expected status if one is configured, else any 2xx/3xx.
fn is_up(status: u16, expect_status: Option<u16>) -> bool {
    match expect_status {
        Some(expected) => status == expected,
        None => (200..400).contains(&status),
    }
}

#[cfg(test)]
mod tests {
    use super::is_up;

    #[test]
    fn up_means_expected_status_or_any_success_or_redirect() {
        assert!(is_up(204, None) && is_up(301, None));
        assert!(!is_up(404, None) && !is_up(503, None));
        assert!(is_up(404, Some(404)) && !is_up(200, Some(404)));
    }
}
