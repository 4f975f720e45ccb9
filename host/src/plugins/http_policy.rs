//! Outbound `wasi:http` policy: a `WasiHttpHooks` implementation that lets a request through only
//! when its scheme, host and port match the manifest's `allowed_outbound_hosts`, bounds its time,
//! and caps the response body so a plugin cannot pull unbounded data into the host.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::addresses::AddressPolicy;

/// Responses larger than this fail with `HTTP-response-body-size` (the plugin sees an error).
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;

/// One `scheme://host[:port|:*]` entry of `allowed_outbound_hosts`. The host `*` is any host: for
/// plugins whose destinations are configured (a webhook's URL), bounded by the operator's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    https: bool,
    /// Lowercase host; a leading `*.` matches any subdomain (not the apex); `*` any host.
    host: String,
    /// `None` means any port (`:*`).
    port: Option<u16>,
}

impl OutboundRule {
    pub fn parse(rule: &str) -> Result<OutboundRule, String> {
        let bad = |why: &str| format!("allowed_outbound_hosts entry {rule:?}: {why}");
        let (scheme, rest) = rule.split_once("://").ok_or_else(|| bad("expected scheme://host[:port]"))?;
        let https = match scheme {
            "http" => false,
            "https" => true,
            _ => return Err(bad("scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(bad("only scheme, host and port are allowed (no path, query or credentials)"));
        }
        // `[::1]:8080`, `host:*`, `host:443`, `host`.
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed [ in IPv6 host"))?;
            (h.to_string(), tail.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() || (host.contains('*') && host != "*" && !host.starts_with("*.")) {
            return Err(bad("a host is required (wildcards only as * or a leading *.)"));
        }
        let port = match port {
            None => Some(if https { 443 } else { 80 }),
            Some("*") => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| bad("port must be a number or *"))?),
        };
        Ok(OutboundRule { https, host: host.to_ascii_lowercase(), port })
    }

    /// The lowercase host, with its leading `*.` when it has one.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn matches(&self, https: bool, host: &str, port: u16) -> bool {
        if self.https != https || self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.host == "*" {
            return true;
        }
        match self.host.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1 && host.ends_with(suffix) && {
                    host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
            }
            None => self.host == host,
        }
    }
}

/// The host and port a request goes to (the scheme's default port when none is given).
pub fn host_and_port(uri: &http::Uri) -> (String, u16) {
    let default = if uri.scheme_str() == Some("https") { 443 } else { 80 };
    (uri.host().unwrap_or_default().to_string(), uri.port_u16().unwrap_or(default))
}

/// Whether `uri` is allowed by any of `rules`.
pub fn allows(rules: &[OutboundRule], uri: &http::Uri) -> bool {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return false,
    };
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    rules.iter().any(|r| r.matches(https, &host, port))
}

/// The per-call hooks: the plugin id (for logs), its rules, and the call's time budget.
pub struct OutboundPolicy {
    pub plugin_id: Arc<str>,
    pub rules: Arc<[OutboundRule]>,
    /// Names are resolved and judged by their addresses (loopback, metadata, private networks).
    pub addresses: AddressPolicy,
    /// No single request may outlive the call that made it.
    pub timeout: Duration,
    pub max_response_bytes: u64,
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>),
                    HttpError,
                >,
            > + Send,
    > {
        drop(fut);
        let allowed = allows(&self.rules, request.uri());
        let plugin = self.plugin_id.clone();
        let timeout = self.timeout;
        let cap = self.max_response_bytes;
        let addresses = self.addresses.clone();
        Box::new(async move {
            if !allowed {
                tracing::warn!(plugin = %plugin, uri = %request.uri(), "plugin HTTP request denied by allowed_outbound_hosts");
                return Err(HttpError::HttpRequestDenied);
            }
            // Allowed by name; now by address. (The connection resolves the name again: a DNS
            // answer changing between the two is a window this check does not close.)
            let (host, port) = host_and_port(request.uri());
            if let Err(why) = addresses.check_destination(&host, port).await {
                tracing::warn!(plugin = %plugin, uri = %request.uri(), reason = %why, "plugin HTTP request denied");
                return Err(HttpError::HttpRequestDenied);
            }
            let clamp = |d: Option<Duration>| Some(d.map_or(timeout, |d| d.min(timeout)));
            let options = options.unwrap_or_default();
            let options = RequestOptions {
                connect_timeout: clamp(options.connect_timeout),
                first_byte_timeout: clamp(options.first_byte_timeout),
                between_bytes_timeout: clamp(options.between_bytes_timeout),
            };
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let response = response.map(|body| CappedBody { inner: body.boxed_unsync(), seen: 0, cap }.boxed_unsync());
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// A response body that fails once more than `cap` bytes went through it.
struct CappedBody {
    inner: WasiBody,
    seen: u64,
    cap: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.cap {
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(this.cap)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `ip:port` (IPv6 as `[::1]:port`). Names are refused: plugins cannot resolve them anyway.
pub fn parse_tcp_rule(rule: &str) -> Result<SocketAddr, String> {
    rule.parse::<SocketAddr>()
        .map_err(|_| format!("allowed_tcp entry {rule:?} must be ip:port, e.g. 127.0.0.1:6379 or [::1]:6379"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rules: &[&str], uri: &str) -> bool {
        let rules: Vec<_> = rules.iter().map(|r| OutboundRule::parse(r).unwrap()).collect();
        allows(&rules, &uri.parse().unwrap())
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        assert!(ok(&["http://127.0.0.1:*"], "http://127.0.0.1:8080/x"));
        assert!(!ok(&["http://127.0.0.1:*"], "https://127.0.0.1:8080/x"));
        assert!(!ok(&["http://127.0.0.1:*"], "http://127.0.0.2/x"));
        assert!(ok(&["https://api.example.com"], "https://API.example.com/v1"));
        assert!(!ok(&["https://api.example.com"], "https://api.example.com:8443/v1"));
        assert!(ok(&["http://localhost:9000"], "http://localhost:9000/"));
        assert!(!ok(&["http://localhost:9000"], "http://localhost:9001/"));
        assert!(ok(&["https://*.example.com"], "https://a.b.example.com/"));
        assert!(!ok(&["https://*.example.com"], "https://example.com/"));
        assert!(!ok(&["https://*.example.com"], "https://badexample.com/"));
        assert!(ok(&["http://[::1]:*"], "http://[::1]:81/"));
        assert!(!ok(&[], "http://127.0.0.1/"));
    }

    #[tokio::test]
    async fn response_bodies_are_capped() {
        use http_body_util::Full;
        let body = |n: usize| Full::new(Bytes::from(vec![b'x'; n])).map_err(|never| match never {}).boxed_unsync();
        let small = CappedBody { inner: body(10), seen: 0, cap: 10 }.collect().await.unwrap();
        assert_eq!(small.to_bytes().len(), 10);
        let big = CappedBody { inner: body(11), seen: 0, cap: 10 }.collect().await;
        assert!(matches!(big, Err(HttpError::HttpResponseBodySize(Some(10)))));
    }

    #[test]
    fn malformed_rules_are_rejected() {
        assert!(ok(&["https://*:*"], "https://anything.example:8443/"));
        assert!(!ok(&["https://*"], "http://anything.example/"));
        for bad in ["127.0.0.1", "ftp://x", "http://", "http://a*b", "http://h:port", "http://h/path", "http://u@h"] {
            assert!(OutboundRule::parse(bad).is_err(), "{bad}");
        }
    }
}
