//! Alerting without HTTP: threshold rules (`rules`), the pure state machine (`machine`: every
//! transition of an alert, threshold-driven or manual), the evaluator task reading the metric
//! store (`evaluator`), storing transitions and routing them to notification channels
//! (`notify`), grouping windows per channel (`grouping`), and the delivery worker draining the
//! durable outbox (`delivery`). Dependencies point down: `machine` imports none of its siblings.
//!
//! Lifecycle: `pending → firing → (acknowledged) → resolved`. A transition records at most one
//! event (`EventKind`: `pending`, `firing`, `severity`, `acknowledged`, `unacknowledged`,
//! `resolved`, `cleared`, `dropped`, `resumed`); those that notify (`firing`, `severity`,
//! `resolved`, `cleared`, `resumed`) write their outbox rows in the same transaction as the alert. Instances paused for maintenance
//! are still evaluated, but their transitions write no outbox rows; resuming notifies each
//! still-open firing alert once (`resumed`).

pub mod delivery;
pub mod evaluator;
pub mod grouping;
pub mod machine;
pub mod notify;
pub mod rules;

pub use delivery::{channel_config, Delivery, OutboxCheck};
pub use evaluator::Evaluator;
pub use machine::{AlertState, EventKind, Severity};
