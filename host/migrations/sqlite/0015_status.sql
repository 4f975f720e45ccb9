-- The status side (issue 9): services and what makes them up, incidents with their timeline,
-- maintenance windows, and every change of a service's derived status. Same tables as the
-- PostgreSQL twin (only the id columns differ). Enumerations are stored as their lowercase names
-- (`store::status_types`); timestamps are epoch milliseconds.

-- A service people depend on. `tags` is a JSON array of strings; `current_status` is derived
-- (components' alerts, incidents, maintenance), never typed in, and each change of it is a row of
-- `service_status_transitions`.
CREATE TABLE services (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    visibility      TEXT    NOT NULL,
    tags            TEXT    NOT NULL DEFAULT '[]',
    current_status  TEXT    NOT NULL DEFAULT 'operational',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (tenant_id, slug)
);

-- What a service's health is made of: an instance by connection name, the instances carrying a
-- tag selector (`key=value,…`), or a plugin resource (the `resource` of its alerts).
CREATE TABLE service_components (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  BIGINT  NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    UNIQUE (service_id, kind, target)
);

-- Every change of a service's `current_status`, with its cause: uptime is computed from these.
CREATE TABLE service_status_transitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id  BIGINT  NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    status      TEXT    NOT NULL,
    cause       TEXT    NOT NULL
);
CREATE INDEX service_status_transitions_service_at ON service_status_transitions (service_id, at);

-- severity: informational, degraded, partial_outage, major_outage, critical;
-- status: investigating, identified, monitoring, resolved.
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    severity     TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    visibility   TEXT    NOT NULL,
    root_cause   TEXT,
    postmortem   TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    resolved_at  BIGINT
);
CREATE INDEX incidents_tenant ON incidents (tenant_id, id);

-- The incident's timeline: each update's status is the incident's after it.
CREATE TABLE incident_updates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  BIGINT  NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    status       TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    is_public    BOOLEAN NOT NULL,
    at           BIGINT  NOT NULL
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, id);

CREATE TABLE incident_services (
    incident_id  BIGINT  NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    service_id   BIGINT  NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, service_id)
);
CREATE INDEX incident_services_service ON incident_services (service_id);

-- status: scheduled, active, completed, cancelled. `actual_*` are when it really started/ended.
CREATE TABLE maintenance_windows (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         BIGINT  NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    scheduled_start   BIGINT  NOT NULL,
    scheduled_end     BIGINT  NOT NULL,
    actual_start      BIGINT,
    actual_end        BIGINT,
    status            TEXT    NOT NULL,
    visibility        TEXT    NOT NULL,
    exclude_from_sla  BOOLEAN NOT NULL,
    suppress_alerts   BOOLEAN NOT NULL,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX maintenance_windows_tenant ON maintenance_windows (tenant_id, id);
CREATE INDEX maintenance_windows_due ON maintenance_windows (status, scheduled_start);

CREATE TABLE maintenance_services (
    window_id   BIGINT  NOT NULL REFERENCES maintenance_windows(id) ON DELETE CASCADE,
    service_id  BIGINT  NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    PRIMARY KEY (window_id, service_id)
);
CREATE INDEX maintenance_services_service ON maintenance_services (service_id);
