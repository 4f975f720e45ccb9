//! The status side without HTTP or SQL (issue 9): the incident and maintenance state machines
//! (pure functions over stored rows, table-tested like `alerting::machine`), the derived status
//! of a service (`derive`) and its uptime from transitions (`uptime`), and the passes `serve`
//! runs: windows started and completed at their times (`schedule`), statuses derived again and
//! their changes recorded (`refresh`); a window's `suppress_alerts` pauses (`suppress`); incident
//! and maintenance events queued for the channels subscribed to them (`notify`); what the public
//! status page shows (`page`). Dependencies
//! point down: `api` → `status` → `store`.

pub mod derive;
pub mod incident;
pub mod maintenance;
pub mod notify;
pub mod page;
pub mod refresh;
pub mod schedule;
pub mod suppress;
pub mod uptime;
