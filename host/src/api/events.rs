//! `GET /api/v1/events`: the live changes of `crate::events` as Server-Sent Events (axum's
//! `sse`), each `event: <type>`, `id: <n>` and a JSON `data:`. A subscriber sees only what the
//! REST API would show it: its tenant's events and host-wide ones, those its scopes read
//! (`settings:read` for plugins and dead letters, `read:status` for incidents and windows), and
//! nothing about an instance outside its roles. `Last-Event-ID` replays what followed from the
//! bus's ring; an id older than the ring, or a subscriber lagging the broadcast, gets `reload`
//! (read `/api/v1/state` again). A comment every `HEARTBEAT` keeps proxies from closing the
//! connection; at the same pace, and before each event, the token is checked again, so a
//! revoked or expired token (or a lost `monitoring:read`) ends the stream, and so does the server
//! stopping (`AppContext::stopping`).

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::time::{interval_at, Instant, Interval};

use super::error::ApiResult;
use super::extract::caller_token;
use super::{rfc3339, AppContext, AppError};
use crate::auth::{Principal, Scope};
use crate::events::{Audience, Event, EventType, Replay};
use crate::rbac::InstanceScope;
use crate::store::StoreResult;

/// How often a comment is sent and the token checked again.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The instances a restricted caller may and may not see, by name, as of the last look.
struct Sight {
    scope: InstanceScope,
    allowed: HashSet<String>,
    hidden: HashSet<String>,
    /// Names asked about that are no instance (a custom alert's resource): visible, and not
    /// worth a query each time until the next refresh.
    others: HashSet<String>,
}

impl Sight {
    async fn of(ctx: &AppContext, caller: &Principal) -> StoreResult<Sight> {
        let scope = InstanceScope::for_principal(&ctx.store, caller).await?;
        let mut sight = Sight { scope, allowed: HashSet::new(), hidden: HashSet::new(), others: HashSet::new() };
        sight.refresh(ctx, caller.tenant_id).await?;
        Ok(sight)
    }

    async fn refresh(&mut self, ctx: &AppContext, tenant_id: i64) -> StoreResult<()> {
        if self.scope.unrestricted() {
            return Ok(());
        }
        let instances = ctx.store.list_instances(tenant_id).await?;
        let (allowed, hidden): (Vec<_>, Vec<_>) = instances.iter().partition(|i| self.scope.allows(i));
        self.allowed = allowed.into_iter().map(|i| i.name.clone()).collect();
        self.hidden = hidden.into_iter().map(|i| i.name.clone()).collect();
        self.others.clear();
        Ok(())
    }

    /// Whether the caller may hear about `name` (`kind` being the event's).
    async fn sees(&mut self, ctx: &AppContext, tenant_id: i64, kind: EventType, name: &str) -> StoreResult<bool> {
        if self.scope.unrestricted() {
            return Ok(true);
        }
        if kind == EventType::InstanceRemoved {
            // Gone from storage: judged by what was known of it; never seen, never told (fail closed).
            return Ok(self.allowed.contains(name));
        }
        if self.allowed.contains(name) || self.others.contains(name) {
            return Ok(true);
        }
        if self.hidden.contains(name) {
            return Ok(false);
        }
        // A name not seen yet (an instance added since the last look): look again.
        self.refresh(ctx, tenant_id).await?;
        if self.allowed.contains(name) {
            return Ok(true);
        }
        if self.hidden.contains(name) {
            return Ok(false);
        }
        self.others.insert(name.to_string());
        Ok(true)
    }
}

/// What is queued for the subscriber before the live events.
enum Queued {
    Event(Arc<Event>),
    Reload { reason: &'static str, resume_after: Option<u64> },
}

struct Subscriber {
    ctx: Arc<AppContext>,
    caller: Principal,
    token: String,
    sight: Sight,
    queue: VecDeque<Queued>,
    rx: Receiver<Arc<Event>>,
    recheck: Interval,
}

impl Subscriber {
    /// The next frame to send; `None` ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            match self.queue.pop_front() {
                Some(Queued::Reload { reason, resume_after }) => return Some(reload(reason, resume_after)),
                Some(Queued::Event(e)) => match self.visible(&e).await {
                    Some(true) => return Some(frame(&e)),
                    Some(false) => continue,
                    None => return None,
                },
                None => {}
            }
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(e) => self.queue.push_back(Queued::Event(e)),
                    // Dropped rather than buffered: the client rebuilds from the snapshot.
                    Err(RecvError::Lagged(_)) => {
                        self.queue.push_back(Queued::Reload { reason: "lagged", resume_after: None })
                    }
                    Err(RecvError::Closed) => return None,
                },
                // The server stops: end here rather than hold the shutdown for the grace period.
                _ = self.ctx.stopping.cancelled() => return None,
                _ = self.recheck.tick() => {
                    if !self.still_allowed().await {
                        return None;
                    }
                    // Roles may have changed: look at the instances again.
                    let tenant_id = self.caller.tenant_id;
                    if self.sight.refresh(&self.ctx, tenant_id).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// The token still resolves (not revoked, not expired) and still reads monitoring data.
    /// A cache lookup (`Authenticator`): a revocation in this process applies at once, one in
    /// another process sharing the store within a second (`sync_revocations`).
    async fn still_allowed(&mut self) -> bool {
        match self.ctx.auth.authenticate(&self.token).await {
            Ok(p) if p.scopes.allows(Scope::MonitoringRead) => {
                self.caller = p;
                true
            }
            _ => false,
        }
    }

    /// `Some(visible)`, or `None` when the stream should end (token gone, storage failing).
    async fn visible(&mut self, e: &Event) -> Option<bool> {
        if e.tenant_id.is_some_and(|t| t != self.caller.tenant_id) {
            return Some(false);
        }
        if !self.still_allowed().await {
            return None;
        }
        let needs = match e.audience {
            Audience::Monitoring => Scope::MonitoringRead,
            Audience::Settings => Scope::SettingsRead,
            Audience::Status => Scope::ReadStatus,
        };
        if !self.caller.scopes.allows(needs) {
            return Some(false);
        }
        match &e.instance {
            None => Some(true),
            Some(name) => self.sight.sees(&self.ctx, self.caller.tenant_id, e.kind, name).await.ok(),
        }
    }
}

/// An event as sent: its JSON object with `type` and `at` added.
fn frame(e: &Event) -> SseEvent {
    let mut data = match &e.data {
        serde_json::Value::Object(map) => map.clone(),
        other => serde_json::Map::from_iter([("value".to_string(), other.clone())]),
    };
    data.insert("type".into(), e.kind.as_str().into());
    data.insert("at".into(), rfc3339(e.at_ms).into());
    SseEvent::default().event(e.kind.as_str()).id(e.id.to_string()).data(serde_json::Value::Object(data).to_string())
}

fn reload(reason: &str, resume_after: Option<u64>) -> SseEvent {
    let data = serde_json::json!({"type": EventType::Reload.as_str(), "reason": reason});
    let event = SseEvent::default().event(EventType::Reload.as_str()).data(data.to_string());
    match resume_after {
        // So a client reconnecting after it reloaded is not told to reload again.
        Some(id) => event.id(id.to_string()),
        None => event,
    }
}

fn stream(sub: Subscriber) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures::stream::unfold(sub, |mut sub| async move {
        let frame = sub.next().await?;
        Some((Ok(frame), sub))
    })
}

/// A Server-Sent Events stream of the changes the caller may see: `alert.opened`,
/// `alert.changed`, `alert.acknowledged`, `alert.unacknowledged`, `alert.resolved`,
/// `instance.added|removed|connected|disconnected`, `plugin.loaded|reloaded|failed` and
/// `notification.dead-lettered` (with `settings:read`), `incident.created|updated|resolved` and
/// `maintenance.started|completed|cancelled` (with `read:status`), and `reload` (read the
/// snapshot again). Each has an `id:`; reconnect with `Last-Event-ID` to get what followed
/// (kept for 5 minutes). A comment every 15 s; a revoked token ends the stream.
#[utoipa::path(get, path = "/api/v1/events", tag = "state", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    responses((status = 200, description = "An endless stream of `event:`, `id:`, `data:` (a JSON object with `type` and `at`)",
        content_type = "text/event-stream", body = String)))]
pub async fn events(State(ctx): State<Arc<AppContext>>, caller: Principal, headers: HeaderMap) -> ApiResult<Response> {
    let token = caller_token(&headers).ok_or_else(|| AppError::Unauthorized("missing token".into()))?.to_string();
    // An id that does not parse is one this server never gave: the client reloads.
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(|v| v.trim().parse::<u64>().ok());
    let sight = Sight::of(&ctx, &caller).await?;
    let (replay, rx) = ctx.store.events().subscribe(last_id.map(|id| id.unwrap_or(u64::MAX)));
    let queue = match replay {
        Replay::Events(events) => events.into_iter().map(Queued::Event).collect(),
        Replay::Reload { newest } => VecDeque::from([Queued::Reload { reason: "gap", resume_after: Some(newest) }]),
    };
    let recheck = interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let sub = Subscriber { ctx, caller, token, sight, queue, rx, recheck };
    let mut response = Sse::new(stream(sub)).keep_alive(KeepAlive::new().interval(HEARTBEAT)).into_response();
    // Reverse proxies (nginx) buffer responses unless told not to, which would hold events back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
