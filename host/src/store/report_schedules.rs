//! Report schedules and their runs (migration 0017). A schedule's definition is opaque JSON here
//! (`spec`, typed by `reports::scheduled`); the store keeps what the runner queries: when the
//! next slot is and which slot ran last. Runs follow the outbox's discipline: `queue_run` writes
//! one row per slot (never two: the slot is UNIQUE per schedule) while moving the schedule on,
//! `claim_due_runs` moves due rows to `sending` atomically, `finish_run` records an attempt, and
//! `reset_sending_runs` returns rows a crash left in flight to `pending` at start.

use super::{claim_due_sql, now_ms, on_pool, DeliveryState, Store, StoreError, StoreResult};

/// How many runs of a schedule are kept (the newest): the history the API shows.
const KEPT_RUNS: i64 = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: i64,
    pub tenant_id: i64,
    /// The user whose roles and profile every run reads with.
    pub owner_id: i64,
    pub name: String,
    /// The definition as JSON (`reports::scheduled::Spec`).
    pub spec: String,
    pub enabled: bool,
    pub next_run_at: Option<i64>,
    pub last_run_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A schedule's fields as written.
pub struct ScheduleWrite<'a> {
    pub name: &'a str,
    pub spec: &'a str,
    pub enabled: bool,
    pub next_run_at: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub tenant_id: i64,
    pub schedule_id: i64,
    /// The slot this run is for (a run at 07:00 reporting on the previous day has it at 07:00).
    pub scheduled_for: i64,
    /// The window reported on, both ends inclusive.
    pub from_ms: i64,
    pub to_ms: i64,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

/// A slot to queue: the run's window, and where the schedule goes next.
pub struct SlotWrite {
    pub schedule_id: i64,
    /// The `next_run_at` the slot was computed from: a schedule changed meanwhile is left alone.
    pub seen_next_run_at: i64,
    pub slot: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    pub next_run_at: Option<i64>,
}

/// A rendered report kept between attempts.
pub struct RunDocument {
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

const SCHEDULE_COLUMNS: &str =
    "id, tenant_id, owner_id, name, spec, enabled, next_run_at, last_run_at, created_at, updated_at";
const RUN_COLUMNS: &str = "id, tenant_id, schedule_id, scheduled_for, from_ms, to_ms, state, attempts, \
    next_attempt_at, last_error, filename, content_type, size_bytes, created_at, updated_at, delivered_at";

fn name_taken(name: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::conflict_on_unique(e, format!("report schedule {name:?} already exists"))
}

impl Store {
    pub async fn create_schedule(
        &self,
        tenant_id: i64,
        owner_id: i64,
        s: &ScheduleWrite<'_>,
    ) -> StoreResult<ScheduleRow> {
        let sql = format!(
            "INSERT INTO report_schedules (tenant_id, owner_id, name, spec, enabled, next_run_at, last_run_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7) RETURNING {SCHEDULE_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql)
            .bind(tenant_id).bind(owner_id).bind(s.name).bind(s.spec).bind(s.enabled).bind(s.next_run_at)
            .bind(now_ms()).fetch_one(pool).await)
        .map_err(name_taken(s.name))
    }

    /// Replaces a schedule's definition (its run history stays). `owner` narrows to one user's
    /// schedules: another's is `NotFound`, as a missing one.
    pub async fn update_schedule(
        &self,
        tenant_id: i64,
        owner: Option<i64>,
        id: i64,
        s: &ScheduleWrite<'_>,
    ) -> StoreResult<ScheduleRow> {
        let sql = format!(
            "UPDATE report_schedules SET name = $4, spec = $5, enabled = $6, next_run_at = $7, updated_at = $8 \
             WHERE tenant_id = $1 AND ($2 IS NULL OR owner_id = $2) AND id = $3 RETURNING {SCHEDULE_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql)
            .bind(tenant_id).bind(owner).bind(id).bind(s.name).bind(s.spec).bind(s.enabled).bind(s.next_run_at)
            .bind(now_ms()).fetch_optional(pool).await)
        .map_err(name_taken(s.name))?
        .ok_or(StoreError::NotFound)
    }

    pub async fn delete_schedule(&self, tenant_id: i64, owner: Option<i64>, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM report_schedules WHERE tenant_id = $1 AND ($2 IS NULL OR owner_id = $2) AND id = $3";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(owner).bind(id).execute(pool).await
            .map(|r| r.rows_affected()))?;
        match n {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn schedule(&self, tenant_id: i64, owner: Option<i64>, id: i64) -> StoreResult<ScheduleRow> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM report_schedules \
             WHERE tenant_id = $1 AND ($2 IS NULL OR owner_id = $2) AND id = $3"
        );
        on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(tenant_id).bind(owner).bind(id)
            .fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
    }

    /// A tenant's schedules (or one owner's), by name.
    pub async fn list_schedules(&self, tenant_id: i64, owner: Option<i64>) -> StoreResult<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM report_schedules \
             WHERE tenant_id = $1 AND ($2 IS NULL OR owner_id = $2) ORDER BY name, id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(tenant_id).bind(owner)
            .fetch_all(pool).await)?)
    }

    /// Enabled schedules of every tenant whose next slot is at or before `now`.
    pub async fn due_schedules(&self, now: i64) -> StoreResult<Vec<ScheduleRow>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at, id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(now).fetch_all(pool).await)?)
    }

    /// Moves a schedule to its next slot and queues the run of `slot`, in one transaction; only
    /// if the schedule still has the `next_run_at` the slot was computed from (another pass or an
    /// edit moved it otherwise). Returns whether a run was queued.
    pub async fn queue_run(&self, w: &SlotWrite, now: i64) -> StoreResult<bool> {
        let advance = "UPDATE report_schedules SET next_run_at = $2, last_run_at = $3 \
                       WHERE id = $1 AND enabled AND next_run_at = $4";
        let insert =
            "INSERT INTO report_runs (tenant_id, schedule_id, scheduled_for, from_ms, to_ms, state, attempts, \
                      next_attempt_at, created_at, updated_at) \
                      SELECT tenant_id, id, $2, $3, $4, 'pending', 0, $5, $5, $5 FROM report_schedules WHERE id = $1 \
                      ON CONFLICT (schedule_id, scheduled_for) DO NOTHING";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let moved = sqlx::query(advance).bind(w.schedule_id).bind(w.next_run_at).bind(w.slot)
                .bind(w.seen_next_run_at).execute(&mut *tx).await?.rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            let queued = sqlx::query(insert).bind(w.schedule_id).bind(w.slot).bind(w.from_ms).bind(w.to_ms)
                .bind(now).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(queued > 0)
        })
    }

    /// Moves up to `limit` due pending runs to `sending` and returns them, oldest first.
    pub async fn claim_due_runs(&self, now: i64, limit: i64, claimer: Option<&str>) -> StoreResult<Vec<RunRow>> {
        let sql = claim_due_sql(self.backend(), "report_runs", RUN_COLUMNS);
        let mut rows = on_pool!(self, pool => sqlx::query_as::<_, RunRow>(&sql).bind(now).bind(limit).bind(claimer)
            .fetch_all(pool).await)?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// The rendered file of a run, if one was kept from an earlier attempt.
    pub async fn run_document(&self, id: i64) -> StoreResult<Option<RunDocument>> {
        let sql = "SELECT filename, content_type, document FROM report_runs WHERE id = $1 AND document IS NOT NULL";
        let row: Option<(String, String, Vec<u8>)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(|(filename, content_type, bytes)| RunDocument { filename, content_type, bytes }))
    }

    /// Keeps a run's rendered file for its retries.
    pub async fn save_run_document(&self, id: i64, doc: &RunDocument) -> StoreResult<()> {
        let sql = "UPDATE report_runs SET filename = $2, content_type = $3, size_bytes = $4, document = $5, \
                   updated_at = $6 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(&doc.filename).bind(&doc.content_type)
            .bind(doc.bytes.len() as i64).bind(&doc.bytes).bind(now_ms()).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Records an attempt: `delivered`, `pending` again at `next_attempt_at`, or `dead`. An
    /// ended run drops its file, and a schedule keeps its newest `KEPT_RUNS` runs.
    pub async fn finish_run(
        &self,
        run: &RunRow,
        state: DeliveryState,
        attempts: i64,
        next_attempt_at: i64,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let finish = "UPDATE report_runs SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, \
                      updated_at = $6, delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE delivered_at END, \
                      document = CASE WHEN $2 = 'pending' THEN document ELSE NULL END WHERE id = $1";
        let prune = "DELETE FROM report_runs WHERE schedule_id = $1 AND id NOT IN \
                     (SELECT id FROM report_runs WHERE schedule_id = $1 ORDER BY id DESC LIMIT $2)";
        let now = now_ms();
        on_pool!(self, pool => {
            sqlx::query(finish).bind(run.id).bind(state.as_str()).bind(attempts).bind(next_attempt_at).bind(error)
                .bind(now).execute(pool).await?;
            sqlx::query(prune).bind(run.schedule_id).bind(KEPT_RUNS).execute(pool).await.map(|_| ())
        })?;
        Ok(())
    }

    /// Runs a crash left `sending` go back to `pending` (all on a single host, `claimer`'s own in
    /// a cluster). Returns how many.
    pub async fn reset_sending_runs(&self, claimer: Option<&str>) -> StoreResult<u64> {
        self.reset_sending_of("report_runs", claimer).await
    }

    /// A schedule's runs, newest first.
    pub async fn list_runs(&self, schedule_id: i64, limit: i64) -> StoreResult<Vec<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM report_runs WHERE schedule_id = $1 ORDER BY scheduled_for DESC, id DESC LIMIT $2");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, RunRow>(&sql).bind(schedule_id).bind(limit).fetch_all(pool).await)?,
        )
    }
}
