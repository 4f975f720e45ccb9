//! Rate limiting (`[server.rate_limit]`): GCRA token buckets from `governor`, one budget per
//! valid token and, for requests without one, per source address (IPv6 per /64), with its own
//! tighter budget on the sign-in endpoints. Probes are exempt. `X-Forwarded-For` is believed only
//! from a configured trusted proxy. Memory stays bounded: idle clients are forgotten every
//! minute (`sweep`), and past `max_tracked_clients` newcomers share one budget.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::nanos::Nanos;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::state::StateStore;
use governor::{NotUntil, Quota, RateLimiter};
use ipnet::IpNet;

use super::error::AppError;
use super::extract::caller_token;
use super::AppContext;
use crate::config::RateLimitConfig;

/// Never limited: load balancers and Prometheus must always get through.
const EXEMPT: [&str; 4] = ["/health", "/health/live", "/health/ready", "/metrics"];

/// Whether requests to `path` are never rate limited.
pub fn is_exempt(path: &str) -> bool {
    EXEMPT.contains(&path)
}

/// Whom a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// A valid token, by its id (no token material is kept).
    Token(i64),
    /// A source address; IPv6 reduced to its /64 (one host usually owns a whole /64).
    Ip(IpAddr),
    /// No peer address known (in-process callers): one shared budget.
    Unknown,
    /// The shared budget of newcomers while the table is full.
    Overflow,
}

impl ClientKey {
    pub fn ip(ip: Option<IpAddr>) -> ClientKey {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                ClientKey::Ip(IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0]))
            }
            Some(v4) => ClientKey::Ip(v4),
            None => ClientKey::Unknown,
        }
    }
}

/// `governor`'s DashMap store with a cap: a key not yet tracked while `cap` keys are is counted
/// against `ClientKey::Overflow` instead of growing the map.
pub struct CappedStore {
    map: DashMapStateStore<ClientKey>,
    cap: usize,
}

impl StateStore for CappedStore {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if self.map.len() >= self.cap && !self.map.contains_key(key) {
            return self.map.measure_and_replace(&ClientKey::Overflow, f);
        }
        self.map.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<ClientKey> for CappedStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.map.retain_recent(drop_below)
    }
    fn shrink_to_fit(&self) {
        self.map.shrink_to_fit()
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

type Limiter = RateLimiter<ClientKey, CappedStore, DefaultClock, StateInformationMiddleware>;

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    General,
    SignIn,
}

/// The outcome of one check, with what the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the budget is whole again.
    pub reset: u64,
    /// Seconds until the next request is allowed (0 when allowed).
    pub retry_after: u64,
}

/// Both budgets and the trusted proxies.
pub struct RateLimits {
    general: Limiter,
    sign_in: Limiter,
    trusted: Vec<IpNet>,
    refusal_delay: Duration,
    /// One permit per refusal held waiting (`max_delayed_refusals`).
    delayed: tokio::sync::Semaphore,
}

fn limiter(per_minute: u32, cap: usize) -> Limiter {
    let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
    RateLimiter::new(quota, CappedStore { map: DashMapStateStore::default(), cap }, DefaultClock::default())
}

fn seconds(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
}

impl RateLimits {
    /// `None` when rate limiting is off.
    pub fn new(config: &RateLimitConfig, trusted: Vec<IpNet>) -> Option<RateLimits> {
        config.enabled.then(|| RateLimits {
            general: limiter(config.requests_per_minute, config.max_tracked_clients),
            sign_in: limiter(config.sign_in_per_minute, config.max_tracked_clients),
            trusted,
            refusal_delay: Duration::from_millis(config.refusal_delay_ms),
            delayed: tokio::sync::Semaphore::new(config.max_delayed_refusals),
        })
    }

    /// Waits before a refusal is answered: `refusal_delay`, at most the `retry_after` the answer
    /// gives, and not at all when `max_delayed_refusals` are already waiting. Answering a flood
    /// at once only invites the next request: 200 looping clients made 50,000 refusals a
    /// second, which took both cores and pushed legitimate requests' latency to 15 ms.
    pub async fn hold_refusal(&self, decision: &Decision) {
        let wait = self.refusal_delay.min(Duration::from_secs(decision.retry_after));
        if wait.is_zero() {
            return;
        }
        if let Ok(_held) = self.delayed.try_acquire() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts one request of `key` against `budget`.
    pub fn check(&self, budget: Budget, key: &ClientKey) -> Decision {
        let limiter = match budget {
            Budget::General => &self.general,
            Budget::SignIn => &self.sign_in,
        };
        match limiter.check_key(key) {
            Ok(snapshot) => allowed(&snapshot),
            Err(denied) => self::denied(&denied, limiter.clock().now()),
        }
    }

    /// Forgets clients whose budget is whole again, so idle ones take no memory.
    pub fn sweep(&self) {
        for limiter in [&self.general, &self.sign_in] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients currently tracked, both budgets together.
    pub fn tracked(&self) -> usize {
        self.general.len() + self.sign_in.len()
    }

    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted
    }
}

fn allowed(snapshot: &StateSnapshot) -> Decision {
    let quota = snapshot.quota();
    let (limit, remaining) = (quota.burst_size().get(), snapshot.remaining_burst_capacity());
    let reset = seconds(quota.replenish_interval() * limit.saturating_sub(remaining));
    Decision { allowed: true, limit, remaining, reset, retry_after: 0 }
}

fn denied(denied: &NotUntil<<DefaultClock as Clock>::Instant>, now: <DefaultClock as Clock>::Instant) -> Decision {
    let quota = denied.quota();
    let limit = quota.burst_size().get();
    let wait = denied.wait_time_from(now);
    let reset = seconds(wait + quota.replenish_interval() * (limit - 1));
    Decision { allowed: false, limit, remaining: 0, reset, retry_after: seconds(wait).max(1) }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address of
/// `X-Forwarded-For` (read right to left: each proxy appends the address it saw) that is not
/// itself trusted. A garbled entry stops the walk at the proxy that wrote it. Without a peer
/// (in-process calls) the header is never believed.
pub fn client_ip<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let mut client = peer?;
    if !is_trusted(&client) {
        return Some(client);
    }
    let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// The sign-in endpoints (matched on the raw path: this runs before routing).
fn is_sign_in(path: &str) -> bool {
    path == "/api/v1/auth/token"
        || path == "/ds-api/user-token"
        || path.strip_prefix("/ds-api/user-token/").is_some_and(|org| !org.is_empty() && !org.contains('/'))
}

fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(d.reset));
}

/// The middleware: picks the budget and the client, answers 429 past the budget, and puts the
/// `X-RateLimit-*` headers on every answer of a limited route.
pub async fn limit(State(ctx): State<Arc<AppContext>>, req: Request, next: Next) -> Response {
    let Some(limits) = ctx.limits.as_deref() else {
        return next.run(req).await;
    };
    if is_exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
    let ip = client_ip(peer, forwarded, limits.trusted_proxies());
    // Owned: nothing borrowed from the request may live across the token lookup's await.
    let token = caller_token(req.headers()).map(str::to_owned);
    let browser_sign_in = req.method() == axum::http::Method::POST && req.uri().path() == "/sign-in";
    let (budget, key) = if is_sign_in(req.uri().path()) || browser_sign_in {
        (Budget::SignIn, ClientKey::ip(ip))
    } else {
        // Only a valid token has its own budget: made-up tokens would otherwise each get one.
        let token_id = match token {
            Some(token) => ctx.auth.authenticate(&token).await.ok().map(|p| p.token_id),
            None => None,
        };
        (Budget::General, token_id.map_or_else(|| ClientKey::ip(ip), ClientKey::Token))
    };
    let decision = limits.check(budget, &key);
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        let bucket = match budget {
            Budget::General => "general",
            Budget::SignIn => "sign-in",
        };
        metrics::counter!("vigia_http_rate_limited_total", "budget" => bucket).increment(1);
        limits.hold_refusal(&decision).await;
        AppError::TooManyRequests {
            message: format!(
                "rate limit exceeded: at most {} requests per minute{}; retry in {} s",
                decision.limit,
                if budget == Budget::SignIn { " on sign-in" } else { "" },
                decision.retry_after
            ),
            retry_after: Duration::from_secs(decision.retry_after),
        }
        .into_response()
    };
    set_headers(response.headers_mut(), &decision);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let trusted = nets(&["10.0.0.0/8"]);
        let xff = ["203.0.113.9, 10.0.0.5"];
        assert_eq!(client_ip(Some(ip("198.51.100.1")), xff, &trusted), Some(ip("198.51.100.1")), "untrusted peer");
        assert_eq!(client_ip(Some(ip("10.0.0.1")), xff, &trusted), Some(ip("203.0.113.9")), "behind two proxies");
        assert_eq!(client_ip(Some(ip("10.0.0.1")), [], &trusted), Some(ip("10.0.0.1")), "no header");
        assert_eq!(client_ip(None, xff, &trusted), None, "no peer: never believed");
        assert_eq!(client_ip(Some(ip("10.0.0.1")), xff, &[]), Some(ip("10.0.0.1")), "nothing trusted");
    }

    #[test]
    fn a_spoofed_leftmost_entry_does_not_win() {
        // The client sent `X-Forwarded-For: 1.1.1.1` itself; the proxy appended the real address.
        let trusted = nets(&["10.0.0.0/8"]);
        let got = client_ip(Some(ip("10.0.0.1")), ["1.1.1.1", "203.0.113.9"], &trusted);
        assert_eq!(got, Some(ip("203.0.113.9")));
        let got = client_ip(Some(ip("10.0.0.1")), ["1.1.1.1, garbage, 10.0.0.7"], &trusted);
        assert_eq!(got, Some(ip("10.0.0.7")), "a garbled hop stops at the proxy that wrote it");
        let got = client_ip(Some(ip("::ffff:10.0.0.1")), ["[2001:db8::1]:443"], &trusted);
        assert_eq!(got, Some(ip("2001:db8::1")), "mapped peers and bracketed hops");
        let got = client_ip(Some(ip("10.0.0.1")), ["10.0.0.9, 10.0.0.8"], &trusted);
        assert_eq!(got, Some(ip("10.0.0.9")), "all trusted: the farthest");
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(ClientKey::ip(Some(ip("2001:db8:1:2:3:4:5:6"))), ClientKey::ip(Some(ip("2001:db8:1:2::9"))));
        assert_ne!(ClientKey::ip(Some(ip("2001:db8:1:2::1"))), ClientKey::ip(Some(ip("2001:db8:1:3::1"))));
        assert_eq!(ClientKey::ip(Some(ip("::ffff:192.0.2.1"))), ClientKey::Ip(ip("192.0.2.1")));
    }

    #[test]
    fn sign_in_paths() {
        for p in ["/api/v1/auth/token", "/ds-api/user-token", "/ds-api/user-token/acme"] {
            assert!(is_sign_in(p), "{p}");
        }
        for p in ["/api/v1/tokens", "/ds-api/user-token/", "/ds-api/user-token/a/b", "/ds-api/users/x"] {
            assert!(!is_sign_in(p), "{p}");
        }
    }

    fn config(per_minute: u32, cap: usize) -> RateLimitConfig {
        RateLimitConfig {
            requests_per_minute: per_minute,
            sign_in_per_minute: 2,
            max_tracked_clients: cap,
            ..RateLimitConfig::default()
        }
    }

    #[test]
    fn budgets_count_down_then_refuse() {
        let limits = RateLimits::new(&config(3, 100), Vec::new()).unwrap();
        let a = ClientKey::ip(Some(ip("192.0.2.1")));
        let remaining: Vec<u32> = (0..3).map(|_| limits.check(Budget::General, &a).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limits.check(Budget::General, &a);
        assert!(!refused.allowed);
        assert_eq!((refused.limit, refused.remaining, refused.retry_after), (3, 0, 20));
        assert!(refused.reset > 40 && refused.reset <= 60, "{refused:?}");
        assert!(limits.check(Budget::General, &ClientKey::Token(1)).allowed, "another client");
        assert!(limits.check(Budget::SignIn, &a).allowed, "another budget");
        assert!(RateLimits::new(&RateLimitConfig { enabled: false, ..config(3, 100) }, Vec::new()).is_none());
    }

    #[test]
    fn a_full_table_sends_newcomers_to_one_shared_budget() {
        let limits = RateLimits::new(&config(2, 3), Vec::new()).unwrap();
        for i in 0..3 {
            assert!(limits.check(Budget::General, &ClientKey::Token(i)).allowed);
        }
        assert!(limits.check(Budget::General, &ClientKey::Token(100)).allowed);
        assert!(limits.check(Budget::General, &ClientKey::Token(101)).allowed);
        assert!(!limits.check(Budget::General, &ClientKey::Token(102)).allowed, "the overflow budget is spent");
        assert!(limits.check(Budget::General, &ClientKey::Token(0)).allowed, "tracked clients keep theirs");
        assert!(limits.tracked() <= 4, "{}", limits.tracked());
        limits.sweep();
        assert!(limits.tracked() <= 4);
    }
}
