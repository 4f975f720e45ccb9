//! Metric store API: history of a resource's series (the Pulse metrics-store contract, with
//! `maxPoints` downsampling) and store statistics.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiResult, AppError};
use super::extract::ApiQuery;
use super::instances;
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::rbac::InstanceScope;
use crate::store::now_ms;
use crate::timeseries::{self, HistoryQuery, HistorySeries, QueryError, DEFAULT_MAX_POINTS};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// The resource (a plugin's resource name, an instance name…). `resourceId` is accepted too.
    #[serde(alias = "resourceId")]
    #[param(required = true, min_length = 1)]
    resource: Option<String>,
    /// Accepted for Pulse compatibility; resources are named uniquely, so it is not needed.
    #[serde(rename = "resourceType")]
    #[allow(dead_code)]
    resource_type: Option<String>,
    /// One metric; omit for every metric of the resource.
    metric: Option<String>,
    /// Start (RFC 3339 or epoch milliseconds). Default: `to` minus `range`.
    from: Option<String>,
    /// End (RFC 3339 or epoch milliseconds). Default: now.
    to: Option<String>,
    /// `1h`, `6h`, `12h`, `24h`, `7d`, `30d`, `90d` or any `<n><s|m|h|d|w>`. Default `24h`.
    range: Option<String>,
    /// Downsample each series to at most this many points (bucket averages). At most 10000; a
    /// resource with many series shares 1,000,000 points among them.
    #[serde(rename = "maxPoints")]
    #[param(minimum = 1, maximum = 10000)]
    max_points: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct History {
    resource: String,
    from: String,
    to: String,
    #[schema(value_type = Vec<Object>)]
    series: Vec<HistorySeries>,
}

/// Historical series of a resource over a time range, downsampled to `maxPoints`.
#[utoipa::path(get, path = "/api/v1/metrics/history", tag = "metrics", security(("bearer" = [])), params(HistoryParams),
    responses((status = 200, body = History), (status = 400, description = "Bad range, time or maxPoints")))]
pub async fn history(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> ApiResult<Json<History>> {
    let resource =
        p.resource.filter(|r| !r.is_empty()).ok_or_else(|| AppError::BadRequest("resource is required".into()))?;
    let visible = visible_instances(&ctx, &caller, &resource).await?;
    let to = p.to.as_deref().map(|t| parse_time("to", t)).transpose()?.unwrap_or_else(now_ms);
    let from = match p.from.as_deref() {
        Some(f) => parse_time("from", f)?,
        None => {
            let range = timeseries::parse_range(p.range.as_deref().unwrap_or("24h")).map_err(invalid)?;
            to.checked_sub(range - 1).ok_or_else(|| AppError::BadRequest(format!("to {to} is too early")))?
        }
    };
    let query = HistoryQuery {
        tenant_id: caller.tenant_id,
        resource: resource.clone(),
        metric: p.metric,
        from,
        to,
        max_points: p.max_points.unwrap_or(DEFAULT_MAX_POINTS),
    };
    let mut series = timeseries::history(&ctx.store, &query).await.map_err(invalid)?;
    if let Some(visible) = visible {
        series.retain(|s| attributed_to(&resource, s, &visible));
    }
    Ok(Json(History { resource, from: rfc3339(from), to: rfc3339(to), series }))
}

/// Labels through which a series names the instance it is about.
const INSTANCE_LABELS: [&str; 2] = ["instance", "pg_instance"];

/// For a caller restricted by roles, the names of the instances it may see (`None`:
/// unrestricted). A resource naming an instance outside them is a 404, as for the instance.
async fn visible_instances(ctx: &AppContext, caller: &Principal, resource: &str) -> ApiResult<Option<HashSet<String>>> {
    let scope = InstanceScope::for_principal(&ctx.store, caller).await?;
    if scope.unrestricted() {
        return Ok(None);
    }
    let instances = ctx.store.list_instances(caller.tenant_id).await?;
    if instances.iter().any(|i| i.name == resource && !scope.allows(i)) {
        return Err(instances::not_found(resource));
    }
    Ok(Some(instances.into_iter().filter(|i| scope.allows(i)).map(|i| i.name).collect()))
}

/// Whether a restricted caller may read `series`: only what is about one of its instances, by
/// resource or by an instance label. Roles bound every series, not only instance-named ones (a
/// collector may report on any instance under its own resource name).
fn attributed_to(resource: &str, series: &HistorySeries, visible: &HashSet<String>) -> bool {
    let labelled: Vec<&str> = INSTANCE_LABELS.iter().filter_map(|k| series.labels.get(*k)?.as_str()).collect();
    match labelled.is_empty() {
        true => visible.contains(resource),
        false => labelled.iter().all(|name| visible.contains(*name)),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StoreStats {
    series: i64,
    points: i64,
    oldest: Option<String>,
    newest: Option<String>,
    backend: &'static str,
}

/// Size of the caller's part of the metric store.
#[utoipa::path(get, path = "/api/v1/metrics/stats", tag = "metrics", security(("bearer" = [])), responses((status = 200, body = StoreStats)))]
pub async fn stats(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<StoreStats>> {
    let s = ctx.store.metric_store_stats(caller.tenant_id).await?;
    Ok(Json(StoreStats {
        series: s.series,
        points: s.points,
        oldest: s.oldest.map(rfc3339),
        newest: s.newest.map(rfc3339),
        backend: ctx.store.backend().name(),
    }))
}

fn invalid(e: QueryError) -> AppError {
    match e {
        QueryError::Invalid(m) => AppError::BadRequest(m),
        QueryError::Store(s) => s.into(),
    }
}

/// RFC 3339 or epoch milliseconds.
fn parse_time(field: &str, text: &str) -> ApiResult<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        // A time chrono cannot show would be answered as 1970.
        return match chrono::DateTime::from_timestamp_millis(ms) {
            Some(_) => Ok(ms),
            None => Err(AppError::BadRequest(format!("{field} {text:?} is out of range for a time"))),
        };
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| AppError::BadRequest(format!("{field} {text:?} is neither RFC 3339 nor epoch milliseconds: {e}")))
}
