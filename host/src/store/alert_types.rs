//! The alert vocabulary: `Severity`, `AlertState`, `EventKind`, the outbox's `DeliveryState` and
//! what a notification channel carries (`ChannelEvent`, a set of them: `ChannelEvents`), each
//! stored as its lowercase name. They live at the bottom (storage) so rows carry them typed: a stored value is parsed once,
//! when the row is read, and an unknown one is `StoreError::Unreadable`, never a default. Every
//! layer above (alerting, notifiers through `plugins::Severity`, the API) uses these types.

use serde::{Deserialize, Serialize};

/// A stored text that names no variant of the vocabulary it should belong to.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// `a, b or c`: the choices of an error message.
pub(super) fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A type stored as a text column on both backends (its `Decode` parses the text).
macro_rules! stored_as_text {
    ($name:ident) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }
    };
}
pub(super) use stored_as_text;

/// Declares a vocabulary enum: its variants and their names, `as_str` (the one way it is
/// written, also in JSON and the OpenAPI document), `parse` (errors list the names), and the sqlx
/// decoding of a text column into it. Used here and by `status_types`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        // `snake_case`, not a per-variant `rename = $text`: utoipa does not see a rename whose
        // value comes from a macro argument, and the document must name what serde accepts.
        // `as_str` must therefore be the variant's snake_case name (tests check both agree).
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(s: &str) -> Result<$name, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?}: use {}", $what, $crate::store::alert_types::one_of(&names))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::store::alert_types::stored_as_text!($name);

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                $name::parse(text)
                    .map_err(|_| $crate::store::UnknownValue { what: $what, value: text.to_string() }.into())
            }
        }
    };
}
pub(super) use vocabulary;

vocabulary! {
    /// How bad an alert is; ordered (`Info < Warning < Critical`), as the rules compare them.
    /// Notifiers see it as `plugins::Severity`.
    Severity, "severity" {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

vocabulary! {
    /// Where an alert is in its lifecycle: `pending → firing → (acknowledged) → resolved`.
    AlertState, "state" {
        Pending = "pending",
        Firing = "firing",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

vocabulary! {
    /// What an alert event records. A change without an event (a pending alert counting one more
    /// occurrence, a refreshed value) has no kind at all (`Option<EventKind>` is `None`).
    EventKind, "event kind" {
        /// A new alert waits for its occurrences.
        Pending = "pending",
        /// The alert fires (new, or its occurrences reached).
        Firing = "firing",
        /// A firing or acknowledged alert changed severity.
        Severity = "severity",
        Acknowledged = "acknowledged",
        Unacknowledged = "unacknowledged",
        /// The condition ended (or its rule no longer covers the series, or a custom alert's time
        /// was up).
        Resolved = "resolved",
        /// Resolved by hand.
        Cleared = "cleared",
        /// A pending alert resolved by hand: it was never notified, so its end is not either.
        Dropped = "dropped",
        /// A maintenance pause ended while the alert was firing: notified once again.
        Resumed = "resumed",
    }
}

vocabulary! {
    /// Where a notification (an outbox row) is: `pending → sending → delivered`, or back to
    /// `pending` for a retry, or `dead` (the dead-letter queue).
    DeliveryState, "delivery state" {
        Pending = "pending",
        Sending = "sending",
        Delivered = "delivered",
        Dead = "dead",
    }
}

vocabulary! {
    /// What a notification channel carries (its `events` option): alert notifications, incident
    /// events (created, updated, resolved), maintenance events (started, completed, cancelled).
    ChannelEvent, "event" {
        Alerts = "alerts",
        Incidents = "incidents",
        Maintenance = "maintenance",
    }
}

/// The events a channel carries: a non-empty set, stored comma-separated in vocabulary order
/// (migration 0016; `alerts` for channels made before it). An unknown stored name is
/// `StoreError::Unreadable`, as for every vocabulary column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEvents(Vec<ChannelEvent>);

impl ChannelEvents {
    /// `events` without repeats, in vocabulary order; `None` when empty.
    pub fn new(events: &[ChannelEvent]) -> Option<ChannelEvents> {
        let set: Vec<ChannelEvent> = ChannelEvent::ALL.iter().copied().filter(|e| events.contains(e)).collect();
        (!set.is_empty()).then_some(ChannelEvents(set))
    }

    pub fn contains(&self, e: ChannelEvent) -> bool {
        self.0.contains(&e)
    }

    pub fn as_slice(&self) -> &[ChannelEvent] {
        &self.0
    }

    /// The stored form: names joined by `,`.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
    }
}

impl Default for ChannelEvents {
    /// What a channel carries unless told otherwise: alerts, as before channels had the option.
    fn default() -> ChannelEvents {
        ChannelEvents(vec![ChannelEvent::Alerts])
    }
}

stored_as_text!(ChannelEvents);

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for ChannelEvents
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        let unknown = || UnknownValue { what: "channel events", value: text.to_string() };
        let events = text.split(',').map(ChannelEvent::parse).collect::<Result<Vec<_>, _>>().map_err(|_| unknown())?;
        ChannelEvents::new(&events).ok_or_else(|| unknown().into())
    }
}

impl EventKind {
    /// Whether the event notifies the channels routing the alert.
    pub fn notifies(self) -> bool {
        matches!(
            self,
            EventKind::Firing | EventKind::Severity | EventKind::Resolved | EventKind::Cleared | EventKind::Resumed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_errors_list_the_choices() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in AlertState::ALL {
            assert_eq!(AlertState::parse(s.as_str()), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Ok(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for d in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(d.as_str()), Ok(*d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
        // The API answers these messages to clients: they must not change.
        assert_eq!(Severity::parse("fatal").unwrap_err(), "unknown severity \"fatal\": use info, warning or critical");
        assert_eq!(
            AlertState::parse("burning").unwrap_err(),
            "unknown state \"burning\": use pending, firing, acknowledged or resolved"
        );
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
    }

    #[test]
    fn channel_events_are_a_non_empty_ordered_set() {
        use ChannelEvent::{Alerts, Incidents, Maintenance};
        let set = ChannelEvents::new(&[Maintenance, Alerts, Maintenance]).expect("not empty");
        assert_eq!((set.as_slice(), set.to_text().as_str()), (&[Alerts, Maintenance][..], "alerts,maintenance"));
        assert!(set.contains(Alerts) && !set.contains(Incidents));
        assert_eq!(ChannelEvents::new(&[]), None);
        assert_eq!(ChannelEvents::default().to_text(), "alerts");
        assert_eq!(
            ChannelEvent::parse("pages").unwrap_err(),
            "unknown event \"pages\": use alerts, incidents or maintenance"
        );
    }
}
