//! Notification channels (`/api/v1/notifications/channels[/{id}]`, a notifier plugin + its
//! per-channel configuration + what it carries (`events`: alerts, incidents, maintenance) +
//! routing filters of alerts; the configuration is sealed at rest and shown with secrets
//! masked), a test delivery, and the outbox: history, queue stats and the dead-letter queue
//! (list, retry, delete). Deliveries show each alert's labels as an object, as the webhook body
//! does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuditTarget, LenientJson};
use super::{rfc3339, AppContext};
use crate::alerting::{channel_config, AlertState, Severity};
use crate::instances::Tags;
use crate::plugins::{Alert, InvokeError, Notification, PluginError, PluginHost, MASK};
use crate::secrets::SealedFor;
use crate::store::{now_ms, ChannelEvent, ChannelEvents, ChannelRow, ChannelWrite, DeliveryState, Grouping, OutboxRow};

/// Body of a channel creation or replacement.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    /// Not blank, no `/` or control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^/\x00-\x1f\x7f-\x9f]*[^/\s\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Id of an installed notifier plugin (`webhook`, …).
    pub plugin: String,
    /// Merged over the plugin's configuration for this channel's deliveries; must satisfy the
    /// plugin's schema. On replacement, absent keeps the stored configuration.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Severities routed here (empty: all).
    #[serde(default)]
    #[schema(value_type = Vec<Severity>)]
    pub severities: Vec<String>,
    /// Tags (`key=value,…`) the alert's instance must all carry (empty: any).
    #[serde(default)]
    #[schema(
        pattern = r"^\s*$|^\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*(,\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*)*$"
    )]
    pub tags: String,
    /// Only alerts of this instance (connection name).
    pub instance: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Grouping windows (Alertmanager's); absent: grouping off, each alert event delivered at once.
    pub grouping: Option<GroupingBody>,
    /// What the channel carries: `alerts` (alert notifications, filtered by `severities`, `tags`
    /// and `instance`), `incidents` (incident created, updated, resolved) and `maintenance`
    /// (window started, completed, cancelled), the last two delivered at once, never grouped.
    /// Absent: `["alerts"]`. An empty list is refused (turn a channel off with `enabled`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<ChannelEvent>>, min_items = 1)]
    pub events: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// A channel's grouping windows: its alerts are sent together, as one notification of several
/// alerts, `group_wait_seconds` after the first, then at most every `group_interval_seconds` when
/// alerts are new, changed or resolved, and again every `repeat_interval_seconds` while any is
/// still firing (0: no repeat). Absent fields take Alertmanager's defaults; all three 0 turns
/// grouping off.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct GroupingBody {
    #[serde(default = "group_wait")]
    #[schema(maximum = 604800)]
    pub group_wait_seconds: u64,
    #[serde(default = "group_interval")]
    #[schema(maximum = 604800)]
    pub group_interval_seconds: u64,
    #[serde(default = "repeat_interval")]
    #[schema(maximum = 604800)]
    pub repeat_interval_seconds: u64,
}

fn group_wait() -> u64 {
    30
}
fn group_interval() -> u64 {
    300
}
fn repeat_interval() -> u64 {
    4 * 3600
}

/// Longest grouping window: a week.
const MAX_WINDOW_SECONDS: u64 = 7 * 24 * 3600;

impl GroupingBody {
    fn to_store(self) -> ApiResult<Grouping> {
        let windows = [self.group_wait_seconds, self.group_interval_seconds, self.repeat_interval_seconds];
        if windows.iter().any(|w| *w > MAX_WINDOW_SECONDS) {
            return Err(AppError::BadRequest(format!("grouping windows are at most {MAX_WINDOW_SECONDS} seconds")));
        }
        let ms = |s: u64| s as i64 * 1000;
        Ok(Grouping { wait_ms: ms(windows[0]), interval_ms: ms(windows[1]), repeat_ms: ms(windows[2]) })
    }

    fn from_store(g: Grouping) -> Option<GroupingBody> {
        let s = |ms: i64| (ms / 1000) as u64;
        g.is_on().then(|| GroupingBody {
            group_wait_seconds: s(g.wait_ms),
            group_interval_seconds: s(g.interval_ms),
            repeat_interval_seconds: s(g.repeat_ms),
        })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub plugin: String,
    /// The channel's configuration, secrets masked.
    #[schema(value_type = Object)]
    pub config: Value,
    pub severities: Vec<String>,
    pub tags: String,
    pub instance: Option<String>,
    pub enabled: bool,
    /// `null`: grouping off.
    pub grouping: Option<GroupingBody>,
    /// What the channel carries.
    pub events: Vec<ChannelEvent>,
    pub created_at: String,
    pub updated_at: String,
}

fn plugins(ctx: &AppContext) -> ApiResult<&Arc<PluginHost>> {
    ctx.plugins.as_ref().ok_or_else(|| AppError::Unavailable("the plugin runtime is not running".into()))
}

fn plugin_error(e: PluginError) -> AppError {
    match e {
        PluginError::NotFound(id) => AppError::BadRequest(format!("plugin {id:?} is not installed")),
        PluginError::Invalid(m) => AppError::BadRequest(m),
        other => AppError::Internal(other.into()),
    }
}

/// 409: the stored configuration does not open for this channel (`e` says why).
fn unusable(e: &str) -> AppError {
    AppError::Conflict(format!("the channel's stored configuration is unusable ({e}): replace it with a new `config`"))
}

fn view(ctx: &AppContext, c: ChannelRow) -> ChannelView {
    // An unreadable configuration shows as nothing; using the channel says why (`test`).
    let config = channel_config(&ctx.secrets, &c).unwrap_or_default();
    // Masked by the plugin's schema; a plugin that is gone masks every value.
    let masked =
        plugins(ctx).ok().and_then(|p| p.check_overrides(&c.plugin, &config).ok()).unwrap_or_else(|| match config {
            Value::Object(m) => m.into_iter().map(|(k, _)| (k, Value::from(MASK))).collect(),
            other => other,
        });
    ChannelView {
        grouping: GroupingBody::from_store(c.grouping()),
        events: c.events.as_slice().to_vec(),
        id: c.id,
        name: c.name,
        plugin: c.plugin,
        config: masked,
        severities: c.severities.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
        tags: c.tags,
        instance: c.instance,
        enabled: c.enabled,
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
    }
}

/// A validated body: the channel as written, from `checked` and the body.
fn write<'a>(b: &'a ChannelBody, checked: &'a Checked) -> ChannelWrite<'a> {
    ChannelWrite {
        name: b.name.trim(),
        plugin: &b.plugin,
        severities: &checked.1,
        tags: &checked.2,
        instance: b.instance.as_deref(),
        enabled: b.enabled,
        grouping: checked.3,
        events: &checked.4,
    }
}

/// Config as JSON text (sealed for the channel's row by the caller), severities, canonical
/// tags, grouping, events.
type Checked = (String, String, String, Grouping, ChannelEvents);

/// The channel's `events`: names of `ChannelEvent` (400 naming an unknown one), not none.
fn events(names: Option<&[String]>) -> ApiResult<ChannelEvents> {
    let Some(names) = names else { return Ok(ChannelEvents::default()) };
    let parsed = names
        .iter()
        .map(|n| ChannelEvent::parse(n).map_err(|e| AppError::BadRequest(format!("events: {e}"))))
        .collect::<ApiResult<Vec<_>>>()?;
    ChannelEvents::new(&parsed).ok_or_else(|| {
        AppError::BadRequest(
            "events must name at least one of alerts, incidents or maintenance (turn a channel off with enabled: false)"
                .into(),
        )
    })
}

fn sealed_for(tenant_id: i64, channel_id: i64) -> SealedFor<'static> {
    SealedFor::ChannelConfig { tenant_id, channel_id }
}

/// Validates a body whose `config` replaces `previous` (`{}` for a new channel): secrets sent
/// back as `********` keep what they stand for, unless the destination they are bound to changes.
async fn checked(ctx: &AppContext, b: &ChannelBody, config: &Value, previous: &Value) -> ApiResult<Checked> {
    let name = b.name.trim();
    if name.is_empty() || b.name.chars().count() > 100 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(AppError::BadRequest(format!("invalid channel name {:?}: 1 to 100 characters, no '/'", b.name)));
    }
    for s in &b.severities {
        Severity::parse(s).map_err(AppError::BadRequest)?;
    }
    let tags = Tags::parse(&b.tags).map_err(|e| AppError::BadRequest(format!("tags: {e}")))?.canonical();
    let grouping = b.grouping.map(GroupingBody::to_store).transpose()?.unwrap_or_default();
    let events = events(b.events.as_deref())?;
    let plugins = plugins(ctx)?;
    let config = plugins.resolve_overrides(&b.plugin, config, previous).map_err(plugin_error)?;
    plugins.check_reachable(&b.plugin, &config).await.map_err(plugin_error)?;
    Ok((config.to_string(), b.severities.join(","), tags, grouping, events))
}

/// The tenant's channels.
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = [ChannelView])))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
) -> ApiResult<Json<Vec<ChannelView>>> {
    let rows = ctx.store.list_channels(caller.tenant_id).await?;
    Ok(Json(rows.into_iter().map(|c| view(&ctx, c)).collect()))
}

/// Creates a channel; its configuration must satisfy the notifier's schema (400 otherwise).
#[utoipa::path(post, path = "/api/v1/notifications/channels", tag = "notifications", security(("bearer" = [])),
    request_body = ChannelBody,
    responses((status = 201, body = ChannelView), (status = 400, description = "Invalid channel"),
        (status = 409, description = "A channel has that name")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiJson(b): ApiJson<ChannelBody>,
) -> ApiResult<(StatusCode, AuditTarget, Json<ChannelView>)> {
    let config = b.config.clone().unwrap_or_else(|| Value::Object(Default::default()));
    let checked = checked(&ctx, &b, &config, &Value::Object(Default::default())).await?;
    let tenant_id = caller.tenant_id;
    let seal = |id| ctx.secrets.seal(&checked.0, &sealed_for(tenant_id, id));
    let row = ctx.store.create_channel(tenant_id, &write(&b, &checked), seal).await?;
    let target = AuditTarget(format!("id={} name={}", row.id, row.name));
    Ok((StatusCode::CREATED, target, Json(view(&ctx, row))))
}

#[utoipa::path(get, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ChannelView), (status = 404, description = "No such channel")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ChannelView>> {
    let row = ctx.store.channel(Some(caller.tenant_id), id).await.map_err(or_not_found("channel"))?;
    Ok(Json(view(&ctx, row)))
}

/// Replaces a channel (absent `config` keeps the stored one; absent `grouping` turns it off;
/// absent `events` carries alerts only).
#[utoipa::path(put, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ChannelBody,
    responses((status = 200, body = ChannelView), (status = 400, description = "Invalid channel"),
        (status = 404, description = "No such channel"),
        (status = 409, description = "No `config` given and the stored one does not open for this channel")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ChannelBody>,
) -> ApiResult<Json<ChannelView>> {
    let stored = ctx.store.channel(Some(caller.tenant_id), id).await.map_err(or_not_found("channel"))?;
    let empty = || Value::Object(Default::default());
    // Unreadable (sealed for another row, say): nothing to keep, so a new `config` is needed.
    let stored_config = match (channel_config(&ctx.secrets, &stored), &b.config) {
        (Ok(config), _) => config,
        (Err(_), Some(_)) => empty(),
        (Err(e), None) => return Err(unusable(&e)),
    };
    // Another plugin's secrets stand for nothing here.
    let previous = if stored.plugin == b.plugin { stored_config.clone() } else { empty() };
    let config = b.config.clone().unwrap_or(stored_config);
    let checked = checked(&ctx, &b, &config, &previous).await?;
    let sealed = ctx.secrets.seal(&checked.0, &sealed_for(stored.tenant_id, stored.id));
    let row = ctx
        .store
        .update_channel(caller.tenant_id, id, &write(&b, &checked), &sealed)
        .await
        .map_err(or_not_found("channel"))?;
    Ok(Json(view(&ctx, row)))
}

/// Deletes a channel and its queued deliveries.
#[utoipa::path(delete, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, description = "No such channel")))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    ctx.store.delete_channel(caller.tenant_id, id).await.map_err(or_not_found("channel"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TestResult {
    pub delivered: bool,
    /// The notifier's receipt.
    pub detail: String,
}

/// Sends a test notification through the channel now (not queued); 502 with the notifier's error.
#[utoipa::path(post, path = "/api/v1/notifications/channels/{id}/test", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = TestResult), (status = 404, description = "No such channel"),
        (status = 409, description = "The stored configuration does not open for this channel (sealed for another)"),
        (status = 502, description = "The notifier failed")))]
pub async fn test(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TestResult>> {
    let c = ctx.store.channel(Some(caller.tenant_id), id).await.map_err(or_not_found("channel"))?;
    // Never sent with a configuration it cannot open (nor with none in its place).
    let config = channel_config(&ctx.secrets, &c).map_err(|e| unusable(&e))?;
    let now = now_ms();
    let alert = Alert {
        id: "test".into(),
        rule: "test".into(),
        resource: "vigia".into(),
        severity: Severity::Info,
        state: AlertState::Firing,
        summary: format!("Test notification of channel {}", c.name),
        description: "Sent from POST /api/v1/notifications/channels/{id}/test".into(),
        labels: vec![("event".into(), "test".into())],
        value: None,
        started_at_ms: now,
        resolved_at_ms: None,
    };
    let n = Notification {
        idempotency_key: format!("vigia-test-{}-{now}", c.id),
        channel: c.name.clone(),
        attempt: 1,
        alerts: vec![alert],
    };
    match plugins(&ctx)?.deliver_with_config(&c.plugin, n, &config).await {
        Ok(r) => Ok(Json(TestResult { delivered: true, detail: r.detail })),
        Err(InvokeError::Timeout { timeout_ms }) => {
            Err(AppError::GatewayTimeout(format!("notifier exceeded its {timeout_ms} ms deadline")))
        }
        Err(e) => Err(AppError::BadGateway(e.to_string())),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub channel_id: i64,
    pub idempotency_key: String,
    /// pending, sending, delivered or dead.
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// The alert as sent to the notifier (a grouped delivery: the array of its alerts; a status
    /// event: the alert standing for it), its `labels` an object as in the webhook body.
    #[schema(value_type = Object)]
    pub alert: Value,
}

/// `labels` of an alert as stored (`[[key, value], …]`, the notifier's form) made an object, the
/// one shape the API and the webhook body give labels (a later pair wins, as in the webhook).
fn labels_as_object(alert: &mut Value) {
    let Some(fields) = alert.as_object_mut() else { return };
    if let Some(Value::Array(pairs)) = fields.get("labels") {
        let object: serde_json::Map<String, Value> = pairs
            .iter()
            .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), v]) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        fields.insert("labels".into(), Value::Object(object));
    }
}

/// A stored payload as shown: one alert or an array of them, labels as objects.
fn shown(payload: &str) -> Value {
    let mut value: Value = serde_json::from_str(payload).unwrap_or_default();
    match &mut value {
        Value::Array(alerts) => alerts.iter_mut().for_each(labels_as_object),
        alert => labels_as_object(alert),
    }
    value
}

impl From<OutboxRow> for DeliveryView {
    fn from(r: OutboxRow) -> DeliveryView {
        DeliveryView {
            id: r.id,
            channel_id: r.channel_id,
            alert: shown(&r.payload),
            idempotency_key: r.idempotency_key,
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: rfc3339(r.next_attempt_at),
            last_error: r.last_error,
            created_at: rfc3339(r.created_at),
            delivered_at: r.delivered_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    #[param(value_type = Option<DeliveryState>)]
    pub state: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A page of a list without filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

async fn deliveries(
    ctx: &AppContext,
    tenant: i64,
    state: Option<DeliveryState>,
    page: &PageQuery,
) -> ApiResult<Vec<DeliveryView>> {
    let (limit, offset) = super::validate::page(page.limit, page.offset, 100, 1000)?;
    let rows = ctx.store.list_outbox(tenant, state, limit, offset).await?;
    Ok(rows.into_iter().map(DeliveryView::from).collect())
}

/// Deliveries newest first, in any state.
#[utoipa::path(get, path = "/api/v1/notifications/history", tag = "notifications", security(("bearer" = [])),
    params(HistoryQuery), responses((status = 200, body = [DeliveryView]), (status = 400, description = "Invalid filter")))]
pub async fn history(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let state = q
        .state
        .as_deref()
        .map(DeliveryState::parse)
        .transpose()
        .map_err(|_| AppError::BadRequest("state must be pending, sending, delivered or dead".into()))?;
    Ok(Json(deliveries(&ctx, caller.tenant_id, state, &PageQuery { limit: q.limit, offset: q.offset }).await?))
}

/// The dead-letter queue: deliveries that ran out of attempts or failed permanently.
#[utoipa::path(get, path = "/api/v1/notifications/dlq", tag = "notifications", security(("bearer" = [])),
    params(PageQuery), responses((status = 200, body = [DeliveryView])))]
pub async fn dlq(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    Ok(Json(deliveries(&ctx, caller.tenant_id, Some(DeliveryState::Dead), &q).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueueStats {
    pub pending: i64,
    pub sending: i64,
    pub delivered: i64,
    pub dead: i64,
    /// Age of the oldest pending delivery, in seconds.
    pub oldest_pending_seconds: Option<f64>,
}

/// The tenant's outbox by state.
#[utoipa::path(get, path = "/api/v1/notifications/queue/stats", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = QueueStats)))]
pub async fn stats(State(ctx): State<Arc<AppContext>>, caller: crate::auth::Principal) -> ApiResult<Json<QueueStats>> {
    let s = ctx.store.outbox_stats(Some(caller.tenant_id)).await?;
    let now = now_ms();
    Ok(Json(QueueStats {
        pending: s.pending,
        sending: s.sending,
        delivered: s.delivered,
        dead: s.dead,
        oldest_pending_seconds: s.oldest_pending_at.map(|t| (now - t).max(0) as f64 / 1000.0),
    }))
}

/// Which dead deliveries: `ids`, or all when absent.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DlqSelection {
    pub ids: Option<Vec<i64>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DlqOutcome {
    /// How many deliveries were affected.
    pub count: u64,
}

/// Queues dead deliveries again (attempts start over).
#[utoipa::path(post, path = "/api/v1/notifications/dlq/retry", tag = "notifications", security(("bearer" = [])),
    request_body = Option<DlqSelection>, responses((status = 200, body = DlqOutcome)))]
pub async fn dlq_retry(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    LenientJson(sel): LenientJson<DlqSelection>,
) -> ApiResult<Json<DlqOutcome>> {
    Ok(Json(DlqOutcome { count: ctx.store.retry_dead(caller.tenant_id, sel.ids.as_deref()).await? }))
}

/// Deletes dead deliveries.
#[utoipa::path(post, path = "/api/v1/notifications/dlq/delete", tag = "notifications", security(("bearer" = [])),
    request_body = Option<DlqSelection>, responses((status = 200, body = DlqOutcome)))]
pub async fn dlq_delete(
    State(ctx): State<Arc<AppContext>>,
    caller: crate::auth::Principal,
    LenientJson(sel): LenientJson<DlqSelection>,
) -> ApiResult<Json<DlqOutcome>> {
    Ok(Json(DlqOutcome { count: ctx.store.delete_dead(caller.tenant_id, sel.ids.as_deref()).await? }))
}
