//! Alerting without HTTP: threshold rules (`rules`), the pure state machine (`machine`), the
//! evaluator task reading the metric store (`evaluator`), alert transitions and their routing to
//! notification channels (`notify`), grouping windows per channel (`grouping`), and the delivery
//! worker draining the durable outbox (`delivery`).
//!
//! Lifecycle: `pending → firing → (acknowledged) → resolved`. Every transition is an event
//! (`pending`, `firing`, `severity`, `acknowledged`, `unacknowledged`, `resolved`, `cleared`,
//! `resumed`); those that notify (`firing`, `severity`, `resolved`, `cleared`, `resumed`) write
//! their outbox rows in the same transaction as the alert. Instances paused for maintenance
//! are still evaluated, but their transitions write no outbox rows; resuming notifies each
//! still-open firing alert once (`resumed`).

pub mod delivery;
pub mod evaluator;
pub mod grouping;
pub mod machine;
pub mod notify;
pub mod rules;

pub use delivery::{Delivery, OutboxCheck};
pub use evaluator::Evaluator;
pub use machine::{AlertState, Severity};
