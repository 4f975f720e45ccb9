//! The status side without HTTP or SQL (issue 9): the incident and maintenance state machines
//! (pure functions over stored rows, table-tested like `alerting::machine`) and the scheduler
//! pass that starts and completes maintenance windows at their times. Dependencies point down:
//! `api` → `status` → `store`.

pub mod incident;
pub mod maintenance;
pub mod schedule;
