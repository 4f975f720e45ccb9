//! The in-process event bus behind `GET /api/v1/events`: typed changes (an alert opened, an
//! instance disconnected, a plugin reloaded…) published by the code that made them, *after* the
//! change is stored, fanned out over a `tokio::sync::broadcast` and kept in a bounded ring (the
//! last `RETENTION` and at most `RING_CAPACITY` events) so a client reconnecting with
//! `Last-Event-ID` gets what it missed. Memory is bounded twice: the ring has a fixed capacity,
//! and a subscriber lagging the broadcast loses the oldest events (and is told to reload its
//! snapshot) instead of being buffered for.
//!
//! A leaf module: it knows no store, auth or HTTP type, so `Store` can carry one `Events` for
//! every publisher (each already holds a `Store`) without an import cycle. Events are this
//! process's: hosts sharing a PostgreSQL each stream their own changes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

/// Most events the ring keeps (an event is a few hundred bytes: well under a MiB).
pub const RING_CAPACITY: usize = 4096;
/// How long the ring keeps an event (the "last few minutes" a reconnect can replay).
pub const RETENTION_MS: i64 = 5 * 60 * 1000;
/// Events a subscriber may be behind the broadcast before it lags (and gets `reload`).
pub const BROADCAST_CAPACITY: usize = 1024;

/// What changed, as the stream's `event:` field names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "alert.opened")]
    AlertOpened,
    /// Firing, a new severity, a pending alert's progress, a resumed notification.
    #[serde(rename = "alert.changed")]
    AlertChanged,
    #[serde(rename = "alert.acknowledged")]
    AlertAcknowledged,
    #[serde(rename = "alert.unacknowledged")]
    AlertUnacknowledged,
    /// Resolved by its rule, cleared by hand, dropped with its rule, or expired.
    #[serde(rename = "alert.resolved")]
    AlertResolved,
    #[serde(rename = "instance.added")]
    InstanceAdded,
    #[serde(rename = "instance.removed")]
    InstanceRemoved,
    #[serde(rename = "instance.connected")]
    InstanceConnected,
    #[serde(rename = "instance.disconnected")]
    InstanceDisconnected,
    #[serde(rename = "plugin.loaded")]
    PluginLoaded,
    #[serde(rename = "plugin.reloaded")]
    PluginReloaded,
    #[serde(rename = "plugin.failed")]
    PluginFailed,
    #[serde(rename = "notification.dead-lettered")]
    NotificationDeadLettered,
    #[serde(rename = "incident.created")]
    IncidentCreated,
    #[serde(rename = "incident.updated")]
    IncidentUpdated,
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    #[serde(rename = "maintenance.started")]
    MaintenanceStarted,
    #[serde(rename = "maintenance.completed")]
    MaintenanceCompleted,
    #[serde(rename = "maintenance.cancelled")]
    MaintenanceCancelled,
    /// Not published: sent to one subscriber whose `Last-Event-ID` is older than the ring, or
    /// that lagged the broadcast. It should read `GET /api/v1/state` again.
    #[serde(rename = "reload")]
    Reload,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AlertOpened => "alert.opened",
            EventType::AlertChanged => "alert.changed",
            EventType::AlertAcknowledged => "alert.acknowledged",
            EventType::AlertUnacknowledged => "alert.unacknowledged",
            EventType::AlertResolved => "alert.resolved",
            EventType::InstanceAdded => "instance.added",
            EventType::InstanceRemoved => "instance.removed",
            EventType::InstanceConnected => "instance.connected",
            EventType::InstanceDisconnected => "instance.disconnected",
            EventType::PluginLoaded => "plugin.loaded",
            EventType::PluginReloaded => "plugin.reloaded",
            EventType::PluginFailed => "plugin.failed",
            EventType::NotificationDeadLettered => "notification.dead-lettered",
            EventType::IncidentCreated => "incident.created",
            EventType::IncidentUpdated => "incident.updated",
            EventType::IncidentResolved => "incident.resolved",
            EventType::MaintenanceStarted => "maintenance.started",
            EventType::MaintenanceCompleted => "maintenance.completed",
            EventType::MaintenanceCancelled => "maintenance.cancelled",
            EventType::Reload => "reload",
        }
    }
}

/// Which right, beyond reading monitoring data, a caller needs to see an event: the right that
/// reads the same thing through the REST API (the stream never shows more than the API would).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Alerts and instances: `monitoring:read` (and the instance's roles).
    Monitoring,
    /// Plugins and notification delivery: `settings:read`, like their lists.
    Settings,
    /// Incidents and maintenance windows: `read:status`.
    Status,
}

/// One published change.
#[derive(Debug, Clone)]
pub struct Event {
    /// Monotonic in this process; the SSE `id:`.
    pub id: u64,
    pub at_ms: i64,
    pub kind: EventType,
    /// `None`: host-wide (plugins), every tenant may see it (given the audience's right).
    pub tenant_id: Option<i64>,
    /// The instance (connection name) it concerns, so callers outside its roles never see it.
    pub instance: Option<String>,
    pub audience: Audience,
    /// The JSON object sent as `data:`.
    pub data: serde_json::Value,
}

/// What a subscriber gets first, before the live events.
#[derive(Debug)]
pub enum Replay {
    /// The events after the subscriber's last id, oldest first (empty for a fresh stream).
    Events(Vec<Arc<Event>>),
    /// Its last id is older than the ring (or unknown to this process): reload the snapshot.
    /// `newest` is the last id given so far, the id to resume after once reloaded.
    Reload { newest: u64 },
}

struct Ring {
    next_id: u64,
    events: VecDeque<Arc<Event>>,
}

struct Inner {
    tx: broadcast::Sender<Arc<Event>>,
    ring: Mutex<Ring>,
}

/// The bus; cheap to clone (one shared ring and sender).
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

impl Default for Events {
    fn default() -> Events {
        Events::starting_at(first_id(now_ms()))
    }
}

/// Ids start at the process's start time in microseconds-ish (ms × 1000), so an id from an
/// earlier process is always older than this one's ring: a client reconnecting across a
/// restart is told to reload instead of being sent events under ids it already used. (Stays
/// below 2^53, so JavaScript reads it exactly.)
fn first_id(now_ms: i64) -> u64 {
    u64::try_from(now_ms).unwrap_or_default().saturating_mul(1000).max(1)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Events {
    pub fn starting_at(first: u64) -> Events {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let ring = Mutex::new(Ring { next_id: first, events: VecDeque::with_capacity(64) });
        Events { inner: Arc::new(Inner { tx, ring }) }
    }

    /// Publishes a change that has been stored. Never blocks on subscribers.
    pub fn publish(
        &self,
        kind: EventType,
        tenant_id: Option<i64>,
        instance: Option<&str>,
        audience: Audience,
        data: serde_json::Value,
    ) {
        let at_ms = now_ms();
        // The ring lock is held across the send so ids reach subscribers in order, and a
        // subscriber (which takes the lock to subscribe and read the ring) sees each event
        // either in its replay or on its receiver, never both, never neither.
        let mut ring = self.inner.ring.lock().unwrap_or_else(|e| e.into_inner());
        let event = Arc::new(Event {
            id: ring.next_id,
            at_ms,
            kind,
            tenant_id,
            instance: instance.map(str::to_string),
            audience,
            data,
        });
        ring.next_id += 1;
        ring.events.push_back(event.clone());
        while ring.events.len() > RING_CAPACITY || ring.events.front().is_some_and(|e| e.at_ms < at_ms - RETENTION_MS) {
            ring.events.pop_front();
        }
        // No subscriber is not an error: the event is in the ring for a later reconnect.
        let _ = self.inner.tx.send(event);
    }

    /// A new subscriber: what to replay after `last_id` (`None`: nothing, a fresh stream) and the
    /// receiver of everything published from now on.
    pub fn subscribe(&self, last_id: Option<u64>) -> (Replay, broadcast::Receiver<Arc<Event>>) {
        let ring = self.inner.ring.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.inner.tx.subscribe();
        let newest = ring.next_id - 1;
        let Some(last) = last_id else { return (Replay::Events(Vec::new()), rx) };
        // The oldest id the ring can still replay from: everything after `oldest - 1`.
        let oldest = ring.events.front().map_or(ring.next_id, |e| e.id);
        if last > newest || last + 1 < oldest {
            return (Replay::Reload { newest }, rx);
        }
        let missed = ring.events.iter().filter(|e| e.id > last).cloned().collect();
        (Replay::Events(missed), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(bus: &Events, n: usize) {
        for _ in 0..n {
            bus.publish(EventType::AlertOpened, Some(1), None, Audience::Monitoring, serde_json::json!({}));
        }
    }

    #[test]
    fn replays_what_followed_the_last_id_and_reloads_beyond_the_ring() {
        let bus = Events::starting_at(100);
        publish(&bus, 3); // ids 100, 101, 102
        let ids = |r: Replay| match r {
            Replay::Events(e) => e.iter().map(|e| e.id).collect::<Vec<_>>(),
            Replay::Reload { newest } => vec![0, newest],
        };
        assert_eq!(ids(bus.subscribe(Some(100)).0), vec![101, 102]);
        assert_eq!(ids(bus.subscribe(Some(102)).0), Vec::<u64>::new());
        assert_eq!(ids(bus.subscribe(Some(99)).0), vec![100, 101, 102], "just before the first");
        assert_eq!(ids(bus.subscribe(Some(98)).0), vec![0, 102], "older than the ring");
        assert_eq!(ids(bus.subscribe(Some(500)).0), vec![0, 102], "an id this process never gave");
        assert_eq!(ids(bus.subscribe(None).0), Vec::<u64>::new());
        publish(&bus, RING_CAPACITY);
        let newest = 102 + RING_CAPACITY as u64;
        assert_eq!(ids(bus.subscribe(Some(101)).0), vec![0, newest], "fell out of the bounded ring");
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_it_lagged() {
        let bus = Events::starting_at(1);
        let (_, mut rx) = bus.subscribe(None);
        publish(&bus, BROADCAST_CAPACITY + 5);
        assert!(matches!(rx.recv().await, Err(broadcast::error::RecvError::Lagged(5))));
    }

    #[test]
    fn ids_of_a_later_process_are_larger() {
        assert!(first_id(1_700_000_000_000) > first_id(1_699_999_999_999) + 999);
        assert!(first_id(4_102_444_800_000) < 1 << 53, "year 2100 still exact in JavaScript");
    }
}
