-- Scheduled reports (issue 10). A schedule is owned by the user who made it: each run reads with
-- that user's roles and profile as they are at run time, so a schedule never reads more than its
-- owner could, and it goes when its owner goes. `spec` is the checked definition as JSON (kind,
-- selection, period, time, time zone, format, subject, recipients: `reports::scheduled::Spec`);
-- the scheduling columns beside it are what the runner queries. Same tables as the PostgreSQL twin
-- (only the id and binary columns differ); timestamps are epoch milliseconds.
CREATE TABLE report_schedules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    owner_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    enabled     BOOLEAN NOT NULL,
    -- The next slot; NULL when the schedule is disabled or never fires again.
    next_run_at BIGINT,
    -- The slot of the latest queued run.
    last_run_at BIGINT,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX report_schedules_due ON report_schedules (next_run_at);

-- Each run of a schedule, with the outbox's discipline (`pending → sending → delivered`, back to
-- `pending` with a later `next_attempt_at`, or `dead`): one row per slot (UNIQUE), so a slot
-- never runs twice. `document` holds the rendered file between a failed mail and its retry (a
-- retry mails what was rendered, not a new reading) and is dropped once the run is over.
CREATE TABLE report_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    schedule_id     BIGINT  NOT NULL REFERENCES report_schedules(id) ON DELETE CASCADE,
    scheduled_for   BIGINT  NOT NULL,
    from_ms         BIGINT  NOT NULL,
    to_ms           BIGINT  NOT NULL,
    state           TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    filename        TEXT,
    content_type    TEXT,
    size_bytes      BIGINT,
    document        BLOB,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX report_runs_due ON report_runs (state, next_attempt_at);
