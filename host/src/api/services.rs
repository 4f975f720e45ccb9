//! Services (`/api/v1/services[/{id}]`): the seed's reads (`read:status`; the list filtered by
//! status, visibility and search, paginated `{"services", "total", "limit", "offset"}`) and what
//! an admin needs to define them (`settings:write`): slug (unique per tenant), name, visibility,
//! tags and components (instances by connection name or tag selector, plugin resources).
//! `current_status` is derived, never written here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuditTarget};
use super::validate::check_text;
use super::validate::{check_len, page, MAX_TEXT};
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::instances::{check_name, Tags};
use crate::status::refresh::uptimes;
use crate::store::{
    now_ms, ComponentKind, ComponentRow, ServiceFilter, ServiceRow, ServiceStatus, ServiceWrite, Visibility,
};

const MAX_TAGS: usize = 20;
const MAX_COMPONENTS: usize = 100;

/// A tag of a service: 1 to 50 characters, no whitespace (for the document: the handler checks
/// the same).
#[derive(utoipa::ToSchema)]
#[schema(pattern = r"^\S{1,50}$")]
pub struct ServiceTag(#[allow(dead_code)] String);

/// What a service's health is made of.
#[derive(Serialize, Deserialize, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub kind: ComponentKind,
    /// `instance`: a connection name; `selector`: tags `key=value,…` every matching instance
    /// carries; `resource`: the `resource` of a plugin's alerts (an http-check target, …).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub target: String,
}

/// Body of a service creation or replacement. A `tenant_id` is ignored: the tenant is the token's.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    /// Unique in the tenant: lowercase letters, digits and `-`, starting with a letter or digit.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[a-z0-9][a-z0-9-]*$")]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    /// `public` (the default: shown on the status page) or `internal`.
    #[serde(default = "public")]
    pub visibility: Visibility,
    #[serde(default)]
    #[schema(inline, value_type = Vec<ServiceTag>, max_items = 20)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub components: Vec<Component>,
    /// Ignored: the tenant is always the token's.
    #[serde(default)]
    #[allow(dead_code)] // Read only to be ignored, as the seed's contract says.
    pub tenant_id: Option<i64>,
}

fn public() -> Visibility {
    Visibility::Public
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Derived from the components' alerts, open incidents and active maintenance.
    pub current_status: ServiceStatus,
    pub visibility: Visibility,
    pub tags: Vec<String>,
    pub components: Vec<Component>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(s: ServiceRow, components: Vec<Component>) -> ServiceView {
    ServiceView {
        tags: serde_json::from_str(&s.tags).unwrap_or_default(),
        id: s.id,
        slug: s.slug,
        name: s.name,
        description: s.description,
        current_status: s.current_status,
        visibility: s.visibility,
        components,
        created_at: rfc3339(s.created_at),
        updated_at: rfc3339(s.updated_at),
    }
}

async fn views(ctx: &AppContext, rows: Vec<ServiceRow>) -> ApiResult<Vec<ServiceView>> {
    let ids: Vec<i64> = rows.iter().map(|s| s.id).collect();
    let mut by_service: HashMap<i64, Vec<Component>> = HashMap::new();
    for ComponentRow { service_id, kind, target } in ctx.store.components_of(&ids).await? {
        by_service.entry(service_id).or_default().push(Component { kind, target });
    }
    Ok(rows
        .into_iter()
        .map(|s| {
            let components = by_service.remove(&s.id).unwrap_or_default();
            view(s, components)
        })
        .collect())
}

/// A validated body: tags as JSON and components in their stored form.
struct Checked {
    tags: String,
    components: Vec<(ComponentKind, String)>,
}

fn checked(b: &ServiceBody) -> ApiResult<Checked> {
    let bad = |m: String| Err(AppError::BadRequest(m));
    let slug_ok = b.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if b.slug.is_empty() || b.slug.len() > 100 || b.slug.starts_with('-') || !slug_ok {
        return bad(format!("slug {:?}: 1 to 100 lowercase letters, digits or '-', not starting with '-'", b.slug));
    }
    check_text("name", &b.name, 200)?;
    check_len("description", Some(&b.description), MAX_TEXT)?;
    if b.tags.len() > MAX_TAGS {
        return bad(format!("tags: at most {MAX_TAGS}"));
    }
    let mut tags: Vec<&str> = Vec::new();
    for tag in &b.tags {
        if tag.is_empty() || tag.chars().count() > 50 || tag.chars().any(char::is_whitespace) {
            return bad(format!("tag {tag:?}: 1 to 50 characters, no whitespace"));
        }
        if !tags.contains(&tag.as_str()) {
            tags.push(tag);
        }
    }
    if b.components.len() > MAX_COMPONENTS {
        return bad(format!("components: at most {MAX_COMPONENTS}"));
    }
    let mut components = Vec::new();
    for c in &b.components {
        check_text("component target", &c.target, 200)?;
        let target = match c.kind {
            ComponentKind::Instance => {
                check_name(&c.target).map_err(|e| AppError::BadRequest(format!("instance component: {e}")))?;
                c.target.clone()
            }
            ComponentKind::Selector => {
                let tags =
                    Tags::parse(&c.target).map_err(|e| AppError::BadRequest(format!("selector component: {e}")))?;
                tags.canonical()
            }
            ComponentKind::Resource => c.target.trim().to_string(),
        };
        components.push((c.kind, target));
    }
    let tags = serde_json::to_string(&tags).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Checked { tags, components })
}

fn write<'a>(b: &'a ServiceBody, c: &'a Checked) -> ServiceWrite<'a> {
    ServiceWrite {
        slug: &b.slug,
        name: b.name.trim(),
        description: &b.description,
        visibility: b.visibility,
        tags: &c.tags,
        components: &c.components,
    }
}

/// Filters of the service list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ServiceQuery {
    pub status: Option<ServiceStatus>,
    pub visibility: Option<Visibility>,
    /// Case-insensitive part of the name, slug or description.
    #[param(max_length = 200)]
    pub search: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceView>,
    /// How many services match the filters in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The tenant's services by name.
#[utoipa::path(get, path = "/api/v1/services", tag = "status", security(("bearer" = [])), params(ServiceQuery),
    responses((status = 200, body = ServiceList)))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<ServiceQuery>,
) -> ApiResult<Json<ServiceList>> {
    let (limit, offset) = page(q.limit, q.offset, 100, 200)?;
    if q.search.as_deref().is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::BadRequest("search is longer than 200 characters".into()));
    }
    let search = q.search.filter(|s| !s.is_empty());
    let filter = ServiceFilter { status: q.status, visibility: q.visibility, search, limit, offset };
    let (rows, total) = ctx.store.list_services(caller.tenant_id, &filter).await?;
    Ok(Json(ServiceList { services: views(&ctx, rows).await?, total, limit, offset }))
}

/// Creates a service (its status starts `operational`).
#[utoipa::path(post, path = "/api/v1/services", tag = "status", security(("bearer" = [])), request_body = ServiceBody,
    responses((status = 201, body = ServiceView), (status = 409, description = "The slug is taken")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<ServiceBody>,
) -> ApiResult<(StatusCode, AuditTarget, Json<ServiceView>)> {
    let checked = checked(&body)?;
    let row = ctx.store.create_service(caller.tenant_id, &write(&body, &checked)).await?;
    let target = AuditTarget(format!("id={} slug={}", row.id, row.slug));
    let view = views(&ctx, vec![row]).await?.remove(0);
    Ok((StatusCode::CREATED, target, Json(view)))
}

/// One service with its components.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ServiceView)))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ServiceView>> {
    let row = ctx.store.service(caller.tenant_id, id).await.map_err(or_not_found("service"))?;
    Ok(Json(views(&ctx, vec![row]).await?.remove(0)))
}

/// Replaces a service and its components (same body as the creation).
#[utoipa::path(put, path = "/api/v1/services/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ServiceBody,
    responses((status = 200, body = ServiceView), (status = 409, description = "The slug is taken")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ServiceBody>,
) -> ApiResult<Json<ServiceView>> {
    let checked = checked(&body)?;
    let row = ctx.store.update_service(caller.tenant_id, id, &write(&body, &checked)).await;
    let row = row.map_err(or_not_found("service"))?;
    Ok(Json(views(&ctx, vec![row]).await?.remove(0)))
}

/// Deletes a service; incidents and windows no longer list it.
#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204)))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    ctx.store.delete_service(caller.tenant_id, id).await.map_err(or_not_found("service"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Uptime percentages of a service (the seed's shape).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UptimeView {
    pub service_id: i64,
    /// Percent of the last 24 hours up (`operational` or `degraded_performance`), maintenance
    /// excluded from the SLA left out; `null` where no recorded status covers the period.
    pub uptime_24h: Option<f64>,
    pub uptime_7d: Option<f64>,
    pub uptime_30d: Option<f64>,
}

/// 24 h / 7 d / 30 d uptime, exact: computed from the service's recorded status transitions.
#[utoipa::path(get, path = "/api/v1/services/{id}/uptime", tag = "status", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = UptimeView)))]
pub async fn uptime(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UptimeView>> {
    let service = ctx.store.service(caller.tenant_id, id).await.map_err(or_not_found("service"))?;
    // Three decimals: exact to well under a second a day, without float noise in the answer.
    let rounded = |p: Option<f64>| p.map(|p| (p * 1000.0).round() / 1000.0);
    let [day, week, month] = uptimes(&ctx.store, service.id, now_ms()).await?;
    Ok(Json(UptimeView {
        service_id: service.id,
        uptime_24h: rounded(day),
        uptime_7d: rounded(week),
        uptime_30d: rounded(month),
    }))
}
