//! Native PATCH toggles of an instance's collection settings (`/api/v1/instances/{name}/…`), one
//! route each so scripts and the OpenAPI document name exactly what they change. A macro writes
//! the handlers because they differ only in path and in the field they set; all go through
//! `instances::update`, the same code the PUT forms use.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::error::{ApiResult, AppError};
use super::extract::ApiPath;
use super::instances::{self, InstanceView};
use super::AppContext;
use crate::auth::Principal;
use crate::instances as inst;
use crate::store::InstanceUpdate;

/// A toggle without a value: `$field` becomes `$value`.
macro_rules! switch {
    ($handler:ident, $path:literal, $field:ident = $value:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(patch, path = $path, tag = "instances", security(("bearer" = [])),
            params(("name" = String, Path)),
            responses((status = 200, body = InstanceView), (status = 404, description = "No such instance in your tenant")))]
        pub async fn $handler(
            State(ctx): State<Arc<AppContext>>,
            caller: Principal,
            ApiPath(name): ApiPath<String>,
        ) -> ApiResult<Json<InstanceView>> {
            let change = InstanceUpdate { $field: Some($value), ..Default::default() };
            Ok(Json(instances::update(&ctx, &caller, &name, &change, None, false).await?.into()))
        }
    };
}

/// A setting with a value from the path, validated by `$check`.
macro_rules! setting {
    ($handler:ident, $path:literal, ($param:literal = $ty:ty, $($bound:tt)*), $field:ident, $check:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(patch, path = $path, tag = "instances", security(("bearer" = [])),
                    params(("name" = String, Path), ($param = $ty, Path, $($bound)*)),
                    responses((status = 200, body = InstanceView), (status = 400, description = "Invalid value"),
                        (status = 404, description = "No such instance in your tenant")))]
        pub async fn $handler(
            State(ctx): State<Arc<AppContext>>,
            caller: Principal,
            ApiPath((name, value)): ApiPath<(String, $ty)>,
        ) -> ApiResult<Json<InstanceView>> {
            let check: fn(&$ty) -> Result<(), String> = $check;
            check(&value).map_err(AppError::BadRequest)?;
            let change = InstanceUpdate { $field: Some(value.into()), ..Default::default() };
            Ok(Json(instances::update(&ctx, &caller, &name, &change, None, false).await?.into()))
        }
    };
}

/// Enables an instance and checks its connection.
#[utoipa::path(patch, path = "/api/v1/instances/{name}/enable", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, description = "No such instance in your tenant")))]
pub async fn enable(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(instances::set_enabled(&ctx, &caller, &name, true).await?.into()))
}

/// Disables an instance (monitoring stops); disabling twice is fine.
#[utoipa::path(patch, path = "/api/v1/instances/{name}/disable", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, description = "No such instance in your tenant")))]
pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(instances::set_enabled(&ctx, &caller, &name, false).await?.into()))
}

switch!(enable_samples, "/api/v1/instances/{name}/enable-samples", samples = true, "Collects query samples.");
switch!(disable_samples, "/api/v1/instances/{name}/disable-samples", samples = false, "Stops collecting samples.");
switch!(
    enable_lock_monitoring,
    "/api/v1/instances/{name}/enable-lock-monitoring",
    lock_monitoring = true,
    "Reports lock waits (blocking trees)."
);
switch!(
    disable_lock_monitoring,
    "/api/v1/instances/{name}/disable-lock-monitoring",
    lock_monitoring = false,
    "Stops reporting lock waits."
);
switch!(
    enable_table_monitoring,
    "/api/v1/instances/{name}/enable-table-monitoring",
    table_monitoring = true,
    "Collects table and index activity."
);
switch!(
    disable_table_monitoring,
    "/api/v1/instances/{name}/disable-table-monitoring",
    table_monitoring = false,
    "Stops collecting table and index activity."
);
switch!(
    enable_query_monitoring,
    "/api/v1/instances/{name}/enable-query-monitoring",
    query_monitoring = true,
    "Collects statement statistics (pg_stat_statements)."
);
switch!(
    disable_query_monitoring,
    "/api/v1/instances/{name}/disable-query-monitoring",
    query_monitoring = false,
    "Stops collecting statement statistics."
);
switch!(
    enable_query_monitoring_optimize,
    "/api/v1/instances/{name}/enable-query-monitoring-optimize",
    query_monitoring_optimize = true,
    "Applies the min-calls / min-time filters to statement collection."
);
switch!(
    disable_query_monitoring_optimize,
    "/api/v1/instances/{name}/disable-query-monitoring-optimize",
    query_monitoring_optimize = false,
    "Collects every statement regardless of calls and time."
);

setting!(
    lock_monitoring_delay,
    "/api/v1/instances/{name}/lock-monitoring-delay/{seconds}",
    ("seconds" = i64, minimum = 1, maximum = 86400),
    lock_monitoring_delay,
    |s| inst::check_lock_delay(*s),
    "Seconds a lock wait must last before it is reported (1 to 86400)."
);
setting!(
    query_monitoring_min_calls,
    "/api/v1/instances/{name}/query-monitoring-min-calls/{n}",
    ("n" = i64, minimum = 0),
    query_monitoring_min_calls,
    |n| inst::check_non_negative("query-monitoring-min-calls", *n),
    "Statements with fewer calls per interval are not collected (when optimizing)."
);
setting!(
    query_monitoring_min_time,
    "/api/v1/instances/{name}/query-monitoring-min-time/{s}",
    ("s" = i64, minimum = 0),
    query_monitoring_min_time,
    |s| inst::check_non_negative("query-monitoring-min-time", *s),
    "Statements with less total time (seconds) per interval are not collected (when optimizing)."
);
setting!(
    collection_rate,
    "/api/v1/instances/{name}/collection-rate/{rate}",
    ("rate" = String, pattern = "^(low|high)$"),
    collection_rate,
    |r| inst::check_collection_rate(r),
    "Activity sampling rate: `low` (every 10 s) or `high` (every second)."
);
