//! Reports over HTTP: Datasentinel's `POST /ds-api/activity/{kind}-report` (the PDF in the
//! answer, or mailed with `report_type: email`), the native `POST /api/v1/reports` (any kind,
//! any format a reporter plugin renders) and `GET /api/v1/reports/renderers`. A report body is
//! the workload API's body plus the report fields below; the logic lives in `reports`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ApiResult, AppError};
use super::extract::LenientJson;
use super::AppContext;
use crate::auth::{Principal, Scope};
use crate::plugins::{MailError, PluginHost, Renderer};
use crate::reports::{self, mail::Delivery, Made, Order, Reader, ReportClock, ReportError, ReportKind, Workshop};
use crate::store::now_ms;
use crate::workload::WorkloadBody;

impl From<ReportError> for AppError {
    fn from(e: ReportError) -> AppError {
        match e {
            ReportError::Invalid(m) => AppError::BadRequest(m),
            ReportError::Forbidden => AppError::MissingScope(Scope::SettingsRead),
            ReportError::NoRenderer(m) => AppError::BadRequest(m),
            ReportError::Unavailable => AppError::Unavailable(e.to_string()),
            ReportError::Render { .. } => AppError::BadGateway(e.to_string()),
            ReportError::Store(s) => s.into(),
        }
    }
}

/// The fields a report body adds to the workload body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// `POST /api/v1/reports` only: `full`, `workload`, `session-history`, `top-queries`,
    /// `table`, `instance`, `server`, `query`, `data-size`.
    pub kind: Option<String>,
    /// `pdf` (default), `html`, `csv`, or any format a loaded reporter lists; `json` is the
    /// document model itself (sections, typed tables, chart series), written by the host.
    pub format: Option<String>,
    /// The reporter plugin to render with (default: the one named like the format).
    pub renderer: Option<String>,
    /// Datasentinel's chapters: `pg_instance`, `top_queries`, `top_segments`, `data_size`,
    /// `sessions_workload`, `parameters` (default: all the kind has).
    pub sections: Option<Vec<String>>,
    /// `email`: mail the report instead of answering it.
    pub report_type: Option<String>,
    /// The mail's subject (with `report_type: email`).
    pub subject: Option<String>,
    /// Addresses (an array, or one comma-separated string) the report is mailed to.
    #[schema(value_type = Option<Vec<String>>)]
    pub recipients: Option<Recipients>,
}

/// Recipients as an array or as a comma-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Recipients {
    List(Vec<String>),
    Text(String),
}

impl Recipients {
    fn addresses(&self) -> Vec<String> {
        match self {
            Recipients::List(l) => l.clone(),
            Recipients::Text(t) => t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        }
    }
}

/// Splits a report body into its report fields and the workload body (each refusing unknown
/// fields by name).
pub fn split_body(body: Value) -> ApiResult<(ReportOptions, WorkloadBody)> {
    let Value::Object(mut all) = body else {
        return Err(AppError::BadRequest("the request body must be a JSON object".into()));
    };
    let mut options = Map::new();
    for key in ["kind", "format", "renderer", "sections", "report_type", "subject", "recipients"] {
        if let Some(v) = all.remove(key) {
            options.insert(key.into(), v);
        }
    }
    let options = serde_json::from_value(Value::Object(options)).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let workload = serde_json::from_value(Value::Object(all)).map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok((options, workload))
}

fn plugins(ctx: &AppContext) -> ApiResult<&Arc<PluginHost>> {
    ctx.plugins.as_ref().ok_or_else(|| AppError::Unavailable("the plugin runtime is not running".into()))
}

/// The kind named by a path or a body, or a 404 naming the known ones.
pub fn kind(name: &str) -> ApiResult<ReportKind> {
    ReportKind::parse(name)
        .ok_or_else(|| AppError::NotFound(format!("unknown report {name:?}; known: {}", ReportKind::NAMES.join(", "))))
}

/// What a report is made with, from the application's context.
pub fn workshop(ctx: &AppContext) -> Workshop<'_> {
    Workshop { store: &ctx.store, fresh: &ctx.fresh_ash, plugins: ctx.plugins.as_deref() }
}

/// Builds, renders and answers (or mails) one report for `caller`.
pub async fn generate(
    ctx: &AppContext,
    caller: &Principal,
    kind: ReportKind,
    options: ReportOptions,
    body: WorkloadBody,
) -> ApiResult<Response> {
    let delivery = delivery(&options)?;
    let chapters = match &options.sections {
        Some(sections) => reports::chapters_of_sections(sections)?,
        None => Vec::new(),
    };
    let now = now_ms();
    let query = body.into_query(now).map_err(AppError::BadRequest)?;
    let clock = if query.utc { ReportClock::utc() } else { ReportClock::server_local(query.from) };
    let order = Order {
        kind,
        chapters,
        format: options.format.as_deref().unwrap_or("pdf").trim().to_ascii_lowercase(),
        renderer: options.renderer,
        query,
        clock,
        generated_at_ms: now,
    };
    let Made { document, rendered } = reports::make(workshop(ctx), Reader::from(caller), &order).await?;
    let Some(delivery) = delivery else {
        let disposition = format!("attachment; filename=\"{}\"", rendered.filename);
        let mut response = (StatusCode::OK, rendered.bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header_value(&rendered.content_type, "application/octet-stream"));
        headers.insert(header::CONTENT_DISPOSITION, header_value(&disposition, "attachment"));
        return Ok(response);
    };
    match reports::mail::send(plugins(ctx)?, &ctx.reports, &delivery, &rendered, &reports::summary(&document)).await {
        Ok(answer) => Ok(Json(json!({
            "status": "sent",
            "recipients": delivery.recipients,
            "filename": rendered.filename,
            "smtp": answer,
        }))
        .into_response()),
        Err(MailError::Retryable(m)) | Err(MailError::Permanent(m)) => {
            Err(AppError::BadGateway(format!("the report could not be mailed: {m}")))
        }
    }
}

fn header_value(text: &str, fallback: &'static str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(fallback))
}

/// `report_type: email` with its subject and recipients, checked; absent, the report is answered.
fn delivery(options: &ReportOptions) -> ApiResult<Option<Delivery>> {
    match options.report_type.as_deref().map(str::trim) {
        None | Some("") | Some("download") => {
            if options.recipients.is_some() {
                return Err(AppError::BadRequest("\"recipients\" needs \"report_type\": \"email\"".into()));
            }
            Ok(None)
        }
        Some("email") => {
            let recipients = options.recipients.as_ref().map(Recipients::addresses).unwrap_or_default();
            let subject = options.subject.as_deref().ok_or_else(|| {
                AppError::BadRequest("\"subject\" is required with \"report_type\": \"email\"".into())
            })?;
            Ok(Some(Delivery::new(&recipients, subject)?))
        }
        Some(other) => Err(AppError::BadRequest(format!("invalid \"report_type\" {other:?}: expected email"))),
    }
}

/// A report as Datasentinel serves it: the PDF (200, `Content-Disposition: attachment`), or
/// `{"status": "sent"}` once mailed with `report_type: email`.
pub async fn ds_report(ctx: &AppContext, caller: &Principal, name: &str, body: Value) -> ApiResult<Response> {
    let kind = ReportKind::parse(name).ok_or_else(|| {
        let known = ReportKind::NAMES.map(|k| format!("{k}-report"));
        AppError::NotFound(format!("unknown report \"{name}-report\"; known: {}", known.join(", ")))
    })?;
    let (mut options, workload) = split_body(body)?;
    if options.kind.is_some() || options.format.is_some() {
        return Err(AppError::BadRequest(
            "\"kind\" and \"format\" belong to POST /api/v1/reports; this path names its kind and answers a PDF".into(),
        ));
    }
    options.format = Some("pdf".into());
    generate(ctx, caller, kind, options, workload).await
}

/// Generates a report in any format a reporter renders: the document itself, or mailed.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports",
    request_body(content = ReportOptions, description = "The report fields, plus every field of the workload body (utc_time, from, to, filters, database, limit, …)"),
    security(("bearer" = [])),
    responses((status = 200, description = "The rendered report (Content-Disposition names the file), or {\"status\": \"sent\"} when mailed"),
        (status = 400, description = "Invalid body, bad address, or no reporter renders the format"),
        (status = 403, description = "The report needs settings:read"),
        (status = 404, description = "Unknown kind"),
        (status = 502, description = "The reporter failed, or the SMTP server refused or could not be reached")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    LenientJson(body): LenientJson<Value>,
) -> ApiResult<Response> {
    let (options, workload) = split_body(body)?;
    let name = options.kind.clone().ok_or_else(|| {
        AppError::BadRequest(format!("\"kind\" is required: one of {}", ReportKind::NAMES.join(", ")))
    })?;
    let kind = kind(&name)?;
    generate(&ctx, &caller, kind, options, workload).await
}

/// The loaded reporter plugins that render report documents, and their formats.
#[utoipa::path(get, path = "/api/v1/reports/renderers", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = [Renderer], description = "Renderers by id")))]
pub async fn renderers(State(ctx): State<Arc<AppContext>>, _caller: Principal) -> ApiResult<Json<Vec<Renderer>>> {
    Ok(Json(plugins(&ctx)?.renderers()))
}
