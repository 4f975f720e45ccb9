//! The workload API over HTTP: Datasentinel's `POST /ds-api/activity/{endpoint}` (answers 201, as
//! its toolkit expects) and the native `/api/v1/activity/{endpoint}` (POST with the same body, or
//! GET with a query string; 200). `output: csv` or `Accept: text/csv` gives CSV. The logic lives
//! in `workload`; here are only parsing, access and rendering.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiResult, AppError};
use super::extract::{ApiPath, ApiQuery, LenientJson};
use super::AppContext;
use crate::auth::{Principal, Scope};
use crate::rbac::InstanceScope;
use crate::store::now_ms;
use crate::workload::{self, request::TagFilter, Endpoint, Output, Selection, WorkloadBody, WorkloadError};

/// Header carrying a note about an empty answer (e.g. no host collector for `server`).
pub const NOTICE_HEADER: &str = "x-vigia-notice";

impl From<WorkloadError> for AppError {
    fn from(e: WorkloadError) -> AppError {
        match e {
            WorkloadError::Invalid(m) => AppError::BadRequest(m),
            WorkloadError::Store(s) => s.into(),
        }
    }
}

fn endpoint(name: &str) -> ApiResult<Endpoint> {
    Endpoint::parse(name).ok_or_else(|| {
        AppError::NotFound(format!(
            "unknown activity endpoint {name:?}; known: {}, and the reports {}",
            Endpoint::NAMES.join(", "),
            crate::reports::ReportKind::NAMES.map(|k| format!("{k}-report")).join(", ")
        ))
    })
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/csv")))
}

/// Runs `name` for `caller` and renders it with `status`.
async fn answer(
    ctx: &AppContext,
    caller: &Principal,
    name: &str,
    body: WorkloadBody,
    headers: &HeaderMap,
    status: StatusCode,
) -> ApiResult<Response> {
    let endpoint = endpoint(name)?;
    // The developer profile sees sessions and queries only (it lacks settings:read).
    if !endpoint.for_developers() && !caller.scopes.allows(Scope::SettingsRead) {
        return Err(AppError::MissingScope(Scope::SettingsRead));
    }
    let mut query = body.into_query(now_ms()).map_err(AppError::BadRequest)?;
    if wants_csv(headers) {
        query.output = Output::Csv;
    }
    let scope = InstanceScope::for_principal(&ctx.store, caller).await?;
    let instances = ctx.store.list_instances(caller.tenant_id).await?;
    let selection = Selection::new(instances, &scope, &query);
    let answer = workload::run(&ctx.store, &ctx.fresh_ash, caller.tenant_id, endpoint, &selection, &query).await?;
    let (content_type, bytes) = match query.output {
        Output::Json => ("application/json", answer.to_json()),
        Output::Csv => ("text/csv; charset=utf-8", answer.table.to_csv()),
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response();
    if let Some(notice) = answer.notice.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(NOTICE_HEADER, notice);
    }
    Ok(response)
}

/// Workload data as Datasentinel's API serves it (its toolkit expects 201); `{kind}-report`
/// answers the PDF report (200), or mails it with `report_type: email` (see `/api/v1/reports`).
#[utoipa::path(post, path = "/ds-api/activity/{endpoint}", tag = "datasentinel",
    params(("endpoint" = String, Path, description = "session-history, sessions-workload, top-queries, queries-summary, query, pg-instance-infos, pg-instance, pg-background, server, data-size, tables, indexes, top-consumers, locks; or a report: full-report, workload-report, session-history-report, sessions-workload-report, top-queries-report, table-report, instance-report, server-report, query-report, data-size-report")),
    request_body = WorkloadBody, security(("bearer" = [])),
    responses((status = 201, description = "JSON array of rows (or CSV with `output: csv`)"),
        (status = 200, description = "A `*-report`: the PDF (`application/pdf`, `Content-Disposition` names the file), or `{\"status\": \"sent\"}` when mailed"),
        (status = 400, description = "Invalid body"), (status = 401, description = "Missing or bad token"),
        (status = 404, description = "Unknown endpoint"),
        (status = 502, description = "A report's renderer failed, or its mail could not be sent")))]
pub async fn ds_activity(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    LenientJson(body): LenientJson<serde_json::Value>,
) -> ApiResult<Response> {
    if let Some(kind) = name.strip_suffix("-report") {
        return super::reports::ds_report(&ctx, &caller, kind, body).await;
    }
    let body: WorkloadBody = serde_json::from_value(body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    answer(&ctx, &caller, &name, body, &headers, StatusCode::CREATED).await
}

/// Workload data (same body as the Datasentinel form); 200.
#[utoipa::path(post, path = "/api/v1/activity/{endpoint}", tag = "activity",
    params(("endpoint" = String, Path)), request_body = WorkloadBody, security(("bearer" = [])),
    responses((status = 200, description = "JSON array of rows, or CSV"), (status = 400, description = "Invalid body"),
        (status = 404, description = "Unknown endpoint")))]
pub async fn post_activity(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    LenientJson(body): LenientJson<WorkloadBody>,
) -> ApiResult<Response> {
    answer(&ctx, &caller, &name, body, &headers, StatusCode::OK).await
}

/// Query-string form of the body: the same fields, with `filters` as `tag=value,tag=value`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityParams {
    utc_time: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// `tag=value,tag=value` (ANDed).
    filters: Option<String>,
    output: Option<String>,
    compute: Option<String>,
    by: Option<String>,
    limit: Option<String>,
    database: Option<String>,
    group: Option<String>,
    sub_group: Option<String>,
    query_md5_id: Option<String>,
    queryid: Option<String>,
    bucket: Option<String>,
    /// `true`: session-history answers `{"rows": …, "gaps": …}` (JSON only).
    gaps: Option<String>,
}

impl ActivityParams {
    fn into_body(self) -> ApiResult<WorkloadBody> {
        let filters = match self.filters.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(text) => Some(
                text.split(',')
                    .map(|part| {
                        let (tag, value) = part.split_once('=').ok_or_else(|| {
                            AppError::BadRequest(format!("invalid filter {part:?} in {text:?}: expected tag=value"))
                        })?;
                        Ok(TagFilter { tag: tag.trim().into(), value: value.trim().into() })
                    })
                    .collect::<ApiResult<Vec<_>>>()?,
            ),
        };
        // Through JSON so the lenient number/boolean parsing and messages are the body's.
        let value = serde_json::json!({
            "utc_time": self.utc_time, "from": self.from, "to": self.to, "output": self.output,
            "compute": self.compute, "by": self.by, "limit": self.limit, "database": self.database,
            "group": self.group, "sub_group": self.sub_group, "query_md5_id": self.query_md5_id,
            "queryid": self.queryid, "bucket": self.bucket, "gaps": self.gaps,
        });
        let mut body: WorkloadBody = serde_json::from_value(value).map_err(|e| AppError::BadRequest(e.to_string()))?;
        body.filters = filters;
        Ok(body)
    }
}

/// Workload data with the parameters in the query string; 200.
#[utoipa::path(get, path = "/api/v1/activity/{endpoint}", tag = "activity",
    params(("endpoint" = String, Path), ActivityParams), security(("bearer" = [])),
    responses((status = 200, description = "JSON array of rows, or CSV"), (status = 400, description = "Invalid parameters"),
        (status = 404, description = "Unknown endpoint")))]
pub async fn get_activity(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ActivityParams>,
) -> ApiResult<Response> {
    answer(&ctx, &caller, &name, params.into_body()?, &headers, StatusCode::OK).await
}
