//! The schedule runner, one pass of `serve`'s background loop every few seconds (the scheduler
//! the maintenance windows and the alert evaluator use; no timer of its own). A pass first queues
//! the run of every due schedule: ONE run, for the latest slot, however many the host missed
//! while it was down (older periods would only repeat stale reports), queued with the move to
//! the next slot in one transaction, so a slot runs once even across restarts. Then it claims due
//! runs (`pending → sending`) and makes, renders and mails each with its owner's current access.
//! Failures follow the notification outbox's discipline (`alerting::delivery::retry_at`): the
//! same retry schedule, then the dead-letter state; a rendered file is kept between attempts so
//! a retry mails the same report. Runs a crash left `sending` are queued again at start.

use std::sync::Arc;
use std::time::Duration;

use super::schedule::missed_run;
use super::scheduled::{from_stored, Checked};
use super::{mail, make, Reader, ReportError, Workshop};
use crate::activity::FreshAsh;
use crate::alerting::delivery::retry_at;
use crate::auth::scopes::stored_user_scopes;
use crate::auth::Scope;
use crate::config::ReportsConfig;
use crate::plugins::{MailError, PluginHost, Rendered};
use crate::store::{DeliveryState, RunDocument, RunRow, ScheduleRow, SlotWrite, Store, StoreError, StoreResult};

/// How often `serve` runs a pass: a run starts at most this late.
pub const EVERY: Duration = Duration::from_secs(5);
/// Most runs attempted per pass (each is a report: seconds of work).
const BATCH: i64 = 4;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Runs queued for due slots.
    pub queued: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Why an attempt failed, and whether trying again can help.
struct Failure {
    retryable: bool,
    message: String,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Failure {
        Failure { retryable: false, message: message.into() }
    }

    fn retryable(message: impl Into<String>) -> Failure {
        Failure { retryable: true, message: message.into() }
    }
}

impl From<ReportError> for Failure {
    fn from(e: ReportError) -> Failure {
        // The definition or the owner's access: trying again changes nothing. A missing or failing
        // reporter, a stopped runtime, a storage error: it may (hot reload, a restart).
        let retryable = !matches!(e, ReportError::Invalid(_) | ReportError::Forbidden);
        Failure { retryable, message: e.to_string() }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::retryable(format!("storage: {e}"))
    }
}

#[derive(Clone)]
pub struct ScheduleRunner {
    store: Store,
    fresh: FreshAsh,
    plugins: Option<Arc<PluginHost>>,
    mail: ReportsConfig,
    /// Entry n is the delay before attempt n+1 (`[alerting] retry_schedule_seconds`).
    retry: Vec<Duration>,
    /// The cluster member claiming runs (`None` on a single host).
    claimer: Option<String>,
}

impl ScheduleRunner {
    pub fn new(
        store: Store,
        fresh: FreshAsh,
        plugins: Option<Arc<PluginHost>>,
        mail: ReportsConfig,
        retry: Vec<Duration>,
    ) -> ScheduleRunner {
        ScheduleRunner { store, fresh, plugins, mail, retry, claimer: None }
    }

    /// Claims runs as cluster member `host`: at its start it queues again only its own.
    pub fn with_claimer(mut self, host: Option<String>) -> ScheduleRunner {
        self.claimer = host;
        self
    }

    /// Returns runs left `sending` by a previous process to `pending` (call once, before passes).
    pub async fn requeue_in_flight(&self) -> StoreResult<()> {
        let reset = self.store.reset_sending_runs(self.claimer.as_deref()).await?;
        if reset > 0 {
            tracing::warn!(runs = reset, "scheduled report runs left in flight by the last run queued again");
        }
        Ok(())
    }

    /// Queues the runs of the schedules due at `now`, then attempts the due runs.
    pub async fn pass(&self, now: i64) -> StoreResult<PassReport> {
        let mut report = PassReport { queued: self.queue_due(now).await?, ..PassReport::default() };
        for run in self.store.claim_due_runs(now, BATCH, self.claimer.as_deref()).await? {
            match self.attempt(run, now).await? {
                DeliveryState::Delivered => report.delivered += 1,
                DeliveryState::Dead => report.dead += 1,
                DeliveryState::Pending | DeliveryState::Sending => report.retried += 1,
            }
        }
        Ok(report)
    }

    async fn queue_due(&self, now: i64) -> StoreResult<usize> {
        let mut queued = 0;
        for row in self.store.due_schedules(now).await? {
            let (Some(seen), Ok(checked)) = (row.next_run_at, from_stored(&row.spec)) else {
                tracing::warn!(schedule = row.id, "a due report schedule is unreadable; it does not run");
                continue;
            };
            let d = &checked.definition;
            let slot = missed_run(row.last_run_at, row.created_at, &d.when, checked.tz, now).unwrap_or(seen);
            let (from_ms, to_ms) = checked.window(slot);
            let next_run_at = checked.next_run_after(now);
            let write = SlotWrite { schedule_id: row.id, seen_next_run_at: seen, slot, from_ms, to_ms, next_run_at };
            if self.store.queue_run(&write, now).await? {
                tracing::info!(schedule = row.id, tenant = row.tenant_id, slot, "scheduled report run queued");
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// One attempt of a claimed run; returns the state it was left in.
    async fn attempt(&self, run: RunRow, now: i64) -> StoreResult<DeliveryState> {
        let attempts = run.attempts + 1;
        let (state, next_at, error) = match self.deliver(&run, now).await {
            Ok(()) => (DeliveryState::Delivered, run.next_attempt_at, None),
            Err(f) => match retry_at(&self.retry, attempts, f.retryable, now) {
                Some(at) => (DeliveryState::Pending, at, Some(f.message)),
                None => (DeliveryState::Dead, run.next_attempt_at, Some(f.message)),
            },
        };
        if let Some(e) = &error {
            tracing::warn!(run = run.id, schedule = run.schedule_id, attempt = attempts, error = %e,
                dead = state == DeliveryState::Dead, "scheduled report run failed");
        }
        self.store.finish_run(&run, state, attempts, next_at, error.as_deref()).await?;
        Ok(state)
    }

    async fn deliver(&self, run: &RunRow, now: i64) -> Result<(), Failure> {
        let schedule = match self.store.schedule(run.tenant_id, None, run.schedule_id).await {
            Err(StoreError::NotFound) => return Err(Failure::permanent("the schedule was deleted")),
            other => other?,
        };
        let checked = from_stored(&schedule.spec)?;
        let window = (run.from_ms, run.to_ms);
        let rendered = match self.store.run_document(run.id).await? {
            Some(kept) => Rendered { content_type: kept.content_type, filename: kept.filename, bytes: kept.bytes },
            None => self.render(run, &schedule, &checked, window, now).await?,
        };
        let plugins = self.plugins.as_deref().ok_or_else(|| Failure::retryable("the plugin runtime is not running"))?;
        match mail::send(plugins, &self.mail, &checked.delivery, &rendered, &checked.summary(window)).await {
            Ok(_) => Ok(()),
            Err(MailError::Retryable(m)) => Err(Failure::retryable(m)),
            Err(MailError::Permanent(m)) => Err(Failure::permanent(m)),
        }
    }

    /// Makes the run's report with its owner's access as it is now, and keeps the file.
    async fn render(
        &self,
        run: &RunRow,
        schedule: &ScheduleRow,
        checked: &Checked,
        window: (i64, i64),
        now: i64,
    ) -> Result<Rendered, Failure> {
        let owner = self.store.user_by_id(schedule.tenant_id, schedule.owner_id).await?;
        let owner = owner.ok_or_else(|| Failure::permanent("the schedule's owner no longer exists"))?;
        let scopes = stored_user_scopes(&owner.privilege, &owner.profile, owner.operator);
        if !scopes.allows(Scope::MonitoringRead) {
            return Err(Failure::permanent("the schedule's owner may no longer read monitoring data"));
        }
        let workshop = Workshop { store: &self.store, fresh: &self.fresh, plugins: self.plugins.as_deref() };
        let made =
            make(workshop, Reader::new(schedule.tenant_id, owner.id, scopes), &checked.order(window, now)?).await?;
        let kept = RunDocument {
            filename: made.rendered.filename.clone(),
            content_type: made.rendered.content_type.clone(),
            bytes: made.rendered.bytes,
        };
        self.store.save_run_document(run.id, &kept).await?;
        Ok(Rendered { content_type: kept.content_type, filename: kept.filename, bytes: kept.bytes })
    }
}
