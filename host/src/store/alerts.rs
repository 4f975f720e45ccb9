//! Alerting storage (migration 0007): rules (definition as JSON), alerts with their events,
//! maintenance pauses. An alert change, its event and its outbox rows are written in one
//! transaction (`save_alert`), so a transition is never stored without its notifications.

use sqlx::QueryBuilder;

use super::{on_pool, AlertState, EventKind, Grouping, NamedPoint, Severity, Store, StoreError, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub metric: String,
    /// `alerting::rules::RuleSpec` as JSON.
    pub spec: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored alert; `state` and `severity` are parsed when the row is read (unknown: `Unreadable`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub tenant_id: i64,
    pub dedup_key: String,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub resource: String,
    pub metric: Option<String>,
    pub labels: String,
    pub state: AlertState,
    pub severity: Severity,
    pub summary: String,
    pub value: Option<f64>,
    pub occurrences: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub auto_resolve_at: Option<i64>,
}

#[cfg(test)]
impl AlertRow {
    /// A firing warning alert (id 7) of rule 1 on `db1`, for unit tests of alert transitions.
    pub(crate) fn example() -> AlertRow {
        AlertRow {
            id: 7,
            tenant_id: 1,
            dedup_key: "rule:1:db1:{}".into(),
            rule_id: Some(1),
            rule_name: "connections".into(),
            resource: "db1".into(),
            metric: Some("pg.connections_pct".into()),
            labels: "{}".into(),
            state: AlertState::Firing,
            severity: Severity::Warning,
            summary: String::new(),
            value: None,
            occurrences: 1,
            started_at: 0,
            updated_at: 0,
            acknowledged_at: None,
            resolved_at: None,
            auto_resolve_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertEvent {
    pub id: i64,
    pub alert_id: i64,
    pub ts: i64,
    pub kind: EventKind,
    pub severity: Severity,
    pub value: Option<f64>,
}

/// Filters of the alert history; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub state: Option<AlertState>,
    pub severity: Option<Severity>,
    pub resource: Option<String>,
    pub open_only: bool,
    pub limit: i64,
    pub offset: i64,
}

/// An event to record with an alert change and the notifications it sends.
pub struct EventWrite<'a> {
    pub kind: EventKind,
    /// Channels to notify at once (one outbox row each).
    pub channels: &'a [i64],
    /// Grouping channels: the alert joins (or updates) the channel's group, sent at its next
    /// flush (`Store::flush_group`).
    pub grouped: &'a [(i64, Grouping)],
    /// The payload of the outbox rows, from the saved alert and the event kind.
    pub payload: &'a (dyn Fn(&AlertRow, EventKind) -> String + Sync),
}

const ALERT_COLUMNS: &str = "id, tenant_id, dedup_key, rule_id, rule_name, resource, metric, labels, state, severity, \
    summary, value, occurrences, started_at, updated_at, acknowledged_at, resolved_at, auto_resolve_at";

/// The idempotency key of the delivery of event `event_id` to `channel_id`: stable across retries.
pub fn idempotency_key(alert_id: i64, event_id: i64, channel_id: i64) -> String {
    format!("vigia-alert-{alert_id}-event-{event_id}-channel-{channel_id}")
}

impl Store {
    pub async fn create_rule(&self, tenant_id: i64, name: &str, metric: &str, spec: &str) -> StoreResult<RuleRow> {
        let sql = "INSERT INTO alert_rules (tenant_id, name, metric, spec, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, tenant_id, name, metric, spec, created_at, updated_at";
        on_pool!(self, pool => sqlx::query_as::<_, RuleRow>(sql)
            .bind(tenant_id).bind(name).bind(metric).bind(spec).bind(super::now_ms()).fetch_one(pool).await)
        .map_err(|e| StoreError::conflict_on_unique(e, format!("rule {name:?} already exists")))
    }

    pub async fn update_rule(
        &self,
        tenant_id: i64,
        id: i64,
        name: &str,
        metric: &str,
        spec: &str,
    ) -> StoreResult<RuleRow> {
        let sql = "UPDATE alert_rules SET name = $3, metric = $4, spec = $5, updated_at = $6 \
                   WHERE tenant_id = $1 AND id = $2 RETURNING id, tenant_id, name, metric, spec, created_at, updated_at";
        on_pool!(self, pool => sqlx::query_as::<_, RuleRow>(sql)
            .bind(tenant_id).bind(id).bind(name).bind(metric).bind(spec).bind(super::now_ms()).fetch_optional(pool).await)
        .map_err(|e| StoreError::conflict_on_unique(e, format!("rule {name:?} already exists")))?
        .ok_or(StoreError::NotFound)
    }

    /// Rules of a tenant, or of every tenant (`None`, for the evaluator), by id.
    pub async fn list_rules(&self, tenant_id: Option<i64>) -> StoreResult<Vec<RuleRow>> {
        let sql = "SELECT id, tenant_id, name, metric, spec, created_at, updated_at FROM alert_rules \
                   WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RuleRow>(sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    pub async fn rule(&self, tenant_id: i64, id: i64) -> StoreResult<RuleRow> {
        let sql = "SELECT id, tenant_id, name, metric, spec, created_at, updated_at FROM alert_rules \
                   WHERE tenant_id = $1 AND id = $2";
        on_pool!(self, pool => sqlx::query_as::<_, RuleRow>(sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    pub async fn delete_rule(&self, tenant_id: i64, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM alert_rules WHERE tenant_id = $1 AND id = $2";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Open (not resolved) alerts of a tenant, or of every tenant.
    pub async fn open_alerts(&self, tenant_id: Option<i64>) -> StoreResult<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE resolved_at IS NULL AND ($1 IS NULL OR tenant_id = $1) ORDER BY id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    pub async fn open_alert_by_key(&self, tenant_id: i64, dedup_key: &str) -> StoreResult<Option<AlertRow>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = $1 AND dedup_key = $2 AND resolved_at IS NULL"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(tenant_id).bind(dedup_key).fetch_optional(pool).await)?,
        )
    }

    pub async fn alert(&self, tenant_id: i64, id: i64) -> StoreResult<AlertRow> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, pool => sqlx::query_as::<_, AlertRow>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// Alerts newest first, filtered and paginated.
    pub async fn list_alerts(&self, tenant_id: i64, f: &AlertFilter) -> StoreResult<Vec<AlertRow>> {
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(s) = &f.state {
                q.push(" AND state = ").push_bind(s.as_str());
            }
            if let Some(s) = &f.severity {
                q.push(" AND severity = ").push_bind(s.as_str());
            }
            if let Some(r) = &f.resource {
                q.push(" AND resource = ").push_bind(r.as_str());
            }
            if f.open_only {
                q.push(" AND resolved_at IS NULL");
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit).push(" OFFSET ").push_bind(f.offset);
            q.build_query_as::<AlertRow>().fetch_all(pool).await
        })?)
    }

    pub async fn alert_events(&self, tenant_id: i64, alert_id: i64) -> StoreResult<Vec<AlertEvent>> {
        let sql = "SELECT id, alert_id, ts, kind, severity, value FROM alert_events \
                   WHERE tenant_id = $1 AND alert_id = $2 ORDER BY id";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, AlertEvent>(sql).bind(tenant_id).bind(alert_id).fetch_all(pool).await)?,
        )
    }

    /// Inserts (`before` is `None`) or updates an alert, with its event and one outbox row per
    /// channel, in one transaction. An update applies only if the stored alert is still `before`
    /// (same state, severity and `updated_at`), so a concurrent change (an acknowledgement during
    /// an evaluation) is never overwritten: `Conflict` then, as when another open alert has the
    /// dedup key.
    pub async fn save_alert(
        &self,
        before: Option<&AlertRow>,
        alert: &AlertRow,
        event: Option<EventWrite<'_>>,
        now: i64,
    ) -> StoreResult<AlertRow> {
        let insert = format!(
            "INSERT INTO alerts (tenant_id, dedup_key, rule_id, rule_name, resource, metric, labels, state, severity, \
             summary, value, occurrences, started_at, updated_at, acknowledged_at, resolved_at, auto_resolve_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING {ALERT_COLUMNS}"
        );
        let update = format!(
            "UPDATE alerts SET state = $3, severity = $4, summary = $5, value = $6, occurrences = $7, \
             updated_at = $8, acknowledged_at = $9, resolved_at = $10, auto_resolve_at = $11 \
             WHERE tenant_id = $1 AND id = $2 AND state = $12 AND severity = $13 AND updated_at = $14 \
             RETURNING {ALERT_COLUMNS}"
        );
        let a = alert;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let saved = if let Some(b) = before {
                sqlx::query_as::<_, AlertRow>(&update)
                    .bind(a.tenant_id).bind(b.id).bind(a.state.as_str()).bind(a.severity.as_str()).bind(&a.summary).bind(a.value)
                    .bind(a.occurrences).bind(a.updated_at).bind(a.acknowledged_at).bind(a.resolved_at)
                    .bind(a.auto_resolve_at).bind(b.state.as_str()).bind(b.severity.as_str()).bind(b.updated_at)
                    .fetch_optional(&mut *tx).await
            } else {
                sqlx::query_as::<_, AlertRow>(&insert)
                    .bind(a.tenant_id).bind(&a.dedup_key).bind(a.rule_id).bind(&a.rule_name).bind(&a.resource)
                    .bind(&a.metric).bind(&a.labels).bind(a.state.as_str()).bind(a.severity.as_str()).bind(&a.summary).bind(a.value)
                    .bind(a.occurrences).bind(a.started_at).bind(a.updated_at).bind(a.acknowledged_at)
                    .bind(a.resolved_at).bind(a.auto_resolve_at)
                    .fetch_optional(&mut *tx).await
            }
            .map_err(|e| StoreError::conflict_on_unique(e, format!("alert {:?} is already open", a.dedup_key)))?
            .ok_or_else(|| StoreError::Conflict(format!("alert {} changed meanwhile; try again", a.id)))?;
            if let Some(ev) = &event {
                let event_id: i64 = sqlx::query_scalar(
                    "INSERT INTO alert_events (tenant_id, alert_id, ts, kind, severity, value) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                    .bind(saved.tenant_id).bind(saved.id).bind(now).bind(ev.kind.as_str()).bind(saved.severity.as_str()).bind(saved.value)
                    .fetch_one(&mut *tx).await?;
                if !ev.channels.is_empty() {
                    let payload = (ev.payload)(&saved, ev.kind);
                    let mut q = QueryBuilder::new(
                        "INSERT INTO notification_outbox (tenant_id, channel_id, event_id, idempotency_key, payload, \
                         state, attempts, next_attempt_at, created_at, updated_at) ");
                    q.push_values(ev.channels, |mut row, channel| {
                        row.push_bind(saved.tenant_id).push_bind(*channel).push_bind(event_id)
                            .push_bind(idempotency_key(saved.id, event_id, *channel)).push_bind(payload.clone())
                            .push_bind("pending").push_bind(0i64).push_bind(now).push_bind(now).push_bind(now);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let payload = (ev.payload)(&saved, ev.kind);
                for (channel, g) in ev.grouped {
                    // The group first (its row lock orders this against a concurrent flush).
                    sqlx::query(super::groups::UPSERT_GROUP)
                        .bind(*channel).bind(saved.tenant_id).bind(now + g.wait_ms).bind(g.interval_ms)
                        .execute(&mut *tx).await?;
                    sqlx::query(super::groups::UPSERT_MEMBER)
                        .bind(*channel).bind(saved.id).bind(&payload).bind(saved.resolved_at.is_none()).bind(now)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(saved)
        })
    }

    /// The latest point in `[from, to]` of every series of these metrics in a tenant, whatever
    /// its resource (instances and collectors' resources alike).
    pub async fn latest_points(
        &self,
        tenant_id: i64,
        metrics: &[&str],
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<NamedPoint>> {
        if metrics.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut q = QueryBuilder::new(
                "SELECT s.resource, s.metric, s.labels, p.ts, p.value FROM metric_series s \
                 JOIN metric_points p ON p.series_id = s.id WHERE s.tenant_id = ",
            );
            q.push_bind(tenant_id).push(" AND s.metric IN (");
            let mut list = q.separated(", ");
            for m in metrics {
                list.push_bind(*m);
            }
            q.push(") AND p.ts = (SELECT MAX(ts) FROM metric_points WHERE series_id = s.id AND ts >= ");
            q.push_bind(from).push(" AND ts <= ").push_bind(to).push(") ORDER BY s.resource, s.metric, s.labels");
            q.build_query_as::<NamedPoint>().fetch_all(pool).await
        })?)
    }

    /// Pauses notifications of `resource` (until `until`, or until resumed).
    pub async fn set_pause(&self, tenant_id: i64, resource: &str, until: Option<i64>) -> StoreResult<()> {
        let sql = "INSERT INTO alert_pauses (tenant_id, resource, until, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (tenant_id, resource) DO UPDATE SET until = excluded.until";
        on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(resource).bind(until).bind(super::now_ms())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes a pause; whether there was one.
    pub async fn delete_pause(&self, tenant_id: i64, resource: &str) -> StoreResult<bool> {
        let sql = "DELETE FROM alert_pauses WHERE tenant_id = $1 AND resource = $2";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(resource).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// (tenant, resource, until) of every pause, expired or not.
    pub async fn list_pauses(&self, tenant_id: Option<i64>) -> StoreResult<Vec<(i64, String, Option<i64>)>> {
        let sql = "SELECT tenant_id, resource, until FROM alert_pauses WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY resource";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (i64, String, Option<i64>)>(sql).bind(tenant_id).fetch_all(pool).await)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real (in-memory SQLite) store with one alert whose stored `column` is then overwritten
    /// with `text`, as an older or foreign writer could have left it.
    async fn stored_with(column: &str, text: &str) -> (Store, i64) {
        let store = Store::connect("sqlite::memory:", 1).await.expect("in-memory sqlite");
        store.migrate().await.expect("migrations");
        let tenant = store.create_tenant("t").await.expect("tenant").id;
        let alert = AlertRow { tenant_id: tenant, ..AlertRow::example() };
        let saved = store.save_alert(None, &alert, None, 0).await.expect("saved");
        let sql = format!("UPDATE alerts SET {column} = $1 WHERE id = $2");
        on_pool!(store, pool => sqlx::query(&sql).bind(text).bind(saved.id).execute(pool).await.map(|_| ()))
            .expect("updated");
        (store, tenant)
    }

    #[tokio::test]
    async fn an_unknown_stored_value_is_unreadable_not_a_default() {
        for (column, text) in [("state", "burning"), ("severity", "fatal")] {
            let (store, tenant) = stored_with(column, text).await;
            match store.open_alerts(Some(tenant)).await {
                Err(StoreError::Unreadable { column: c, value }) => {
                    assert_eq!((c.as_str(), value.as_str()), (column, text))
                }
                other => panic!("{column} = {text:?} read as {other:?}"),
            }
        }
        let (store, tenant) = stored_with("state", "acknowledged").await;
        let read = store.open_alerts(Some(tenant)).await.expect("a known state reads");
        assert_eq!((read[0].state, read[0].severity), (AlertState::Acknowledged, Severity::Warning));
    }
}
