//! Roles (tag-based access to instances, `users:manage`) in two forms sharing this module's logic:
//! the native `/api/v1/roles[/{name}]` (answers the role) and Datasentinel's
//! `/ds-api/roles/{role_name}` (answers `{"status": …}`, 400 on deleting a role someone holds).
//! Matching lives in `rbac`; every tag pair a role names must exist on one of the tenant's
//! instances, so a typo is refused instead of silently granting nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, LenientJson};
use super::instances::status;
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::rbac::{self, FilterSet, RoleAccess};
use crate::store::{Role, RoleDeletion, StoreError};

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("role {name:?} not found"))
}

fn role_not_found(name: &str) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |e| match e {
        StoreError::NotFound => not_found(name),
        other => other.into(),
    }
}

/// Validates the filter sets and checks each tag pair against the tenant's instances.
async fn checked_access(ctx: &AppContext, caller: &Principal, sets: Vec<FilterSet>) -> ApiResult<RoleAccess> {
    let access = RoleAccess::validated(sets).map_err(AppError::BadRequest)?;
    let instances = ctx.store.list_instances(caller.tenant_id).await?;
    access.check_pairs_exist(&instances).map_err(AppError::BadRequest)?;
    Ok(access)
}

async fn create(ctx: &AppContext, caller: &Principal, name: &str, sets: Vec<FilterSet>) -> ApiResult<Role> {
    rbac::check_role_name(name).map_err(AppError::BadRequest)?;
    let access = checked_access(ctx, caller, sets).await?;
    Ok(ctx.store.create_role(caller.tenant_id, name, &access.to_json()).await?)
}

async fn update(ctx: &AppContext, caller: &Principal, name: &str, sets: Vec<FilterSet>) -> ApiResult<Role> {
    find(ctx, caller, name).await?;
    let access = checked_access(ctx, caller, sets).await?;
    ctx.store.update_role_access(caller.tenant_id, name, &access.to_json()).await.map_err(role_not_found(name))
}

async fn find(ctx: &AppContext, caller: &Principal, name: &str) -> ApiResult<Role> {
    ctx.store.role_by_name(caller.tenant_id, name).await?.ok_or_else(|| not_found(name))
}

/// Deletes a role nobody holds; 400 naming how many users hold it otherwise.
async fn delete(ctx: &AppContext, caller: &Principal, name: &str) -> ApiResult<()> {
    match ctx.store.delete_role(caller.tenant_id, name).await.map_err(role_not_found(name))? {
        RoleDeletion::Deleted => Ok(()),
        RoleDeletion::HeldBy(n) => Err(AppError::BadRequest(format!(
            "role {name:?} is held by {n} user(s); take it from them before deleting it"
        ))),
    }
}

/// Stored access is written only through `RoleAccess::to_json`; unreadable text shows as empty.
fn access_of(role: &Role) -> Vec<FilterSet> {
    RoleAccess::from_json(&role.access).map(|a| a.0).unwrap_or_default()
}

/// Body of role updates (both forms) and of the Datasentinel create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAccessBody {
    /// Filter sets: tags inside one set are ANDed, sets are ORed.
    access: Vec<FilterSet>,
}

// ---------------------------------------------------------------------------------------------
// Native form.

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleView {
    name: String,
    access: Vec<FilterSet>,
    created_at: String,
    updated_at: String,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        RoleView {
            access: access_of(&r),
            name: r.name,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleList {
    roles: Vec<RoleView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// No `/` or control characters, no leading or trailing spaces.
    #[schema(
        max_length = 100,
        pattern = r"^[^/\s\x00-\x1f\x7f-\x9f]([^/\x00-\x1f\x7f-\x9f]*[^/\s\x00-\x1f\x7f-\x9f])?$"
    )]
    name: String,
    /// Filter sets: tags inside one set are ANDed, sets are ORed.
    access: Vec<FilterSet>,
}

/// Lists the tenant's roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), responses((status = 200, body = RoleList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<RoleList>> {
    let roles = ctx.store.list_roles(caller.tenant_id).await?;
    Ok(Json(RoleList { roles: roles.into_iter().map(RoleView::from).collect() }))
}

/// Creates a role; every tag pair it names must exist on at least one instance.
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = RoleView), (status = 400, description = "Invalid access or unknown tag pair"),
        (status = 409, description = "The name exists")))]
pub async fn create_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<CreateRole>,
) -> ApiResult<(StatusCode, Json<RoleView>)> {
    let role = create(&ctx, &caller, &body.name, body.access).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// One role of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/roles/{name}", tag = "roles", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = RoleView), (status = 404, description = "No such role")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(find(&ctx, &caller, &name).await?.into()))
}

/// Replaces a role's access; its holders see the new scope on their next request.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "roles", security(("bearer" = [])), params(("name" = String, Path)),
    request_body = RoleAccessBody,
    responses((status = 200, body = RoleView), (status = 400, description = "Invalid access or unknown tag pair"),
        (status = 404, description = "No such role")))]
pub async fn update_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<RoleAccessBody>,
) -> ApiResult<Json<RoleView>> {
    Ok(Json(update(&ctx, &caller, &name, body.access).await?.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletedRole {
    deleted: String,
}

/// Deletes a role nobody holds.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "roles", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = DeletedRole), (status = 400, description = "Users hold the role"),
        (status = 404, description = "No such role")))]
pub async fn delete_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedRole>> {
    delete(&ctx, &caller, &name).await?;
    Ok(Json(DeletedRole { deleted: name }))
}

// ---------------------------------------------------------------------------------------------
// Datasentinel form.

/// A role as Datasentinel shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DsRole {
    name: String,
    access: Vec<FilterSet>,
}

/// Creates a role: `{"status": "Role created!"}`.
#[utoipa::path(post, path = "/ds-api/roles/{role_name}", tag = "datasentinel", security(("bearer" = [])),
    params(("role_name" = String, Path)), request_body = RoleAccessBody,
    responses((status = 201, description = "`{\"status\": \"Role created!\"}`"),
        (status = 400, description = "Invalid access or unknown tag pair"), (status = 409, description = "The name exists")))]
pub async fn ds_create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    LenientJson(body): LenientJson<RoleAccessBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create(&ctx, &caller, &name, body.access).await?;
    Ok((StatusCode::CREATED, status("Role created!")))
}

/// Displays a role: `{"name", "access"}`.
#[utoipa::path(get, path = "/ds-api/roles/{role_name}", tag = "datasentinel", security(("bearer" = [])),
    params(("role_name" = String, Path)), responses((status = 200, body = DsRole), (status = 404, description = "No such role")))]
pub async fn ds_show(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DsRole>> {
    let role = find(&ctx, &caller, &name).await?;
    Ok(Json(DsRole { access: access_of(&role), name: role.name }))
}

/// Replaces a role's access: `{"status": "Role updated!"}`.
#[utoipa::path(put, path = "/ds-api/roles/{role_name}", tag = "datasentinel", security(("bearer" = [])),
    params(("role_name" = String, Path)), request_body = RoleAccessBody,
    responses((status = 200, description = "`{\"status\": \"Role updated!\"}`"),
        (status = 400, description = "Invalid access or unknown tag pair"), (status = 404, description = "No such role")))]
pub async fn ds_update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    LenientJson(body): LenientJson<RoleAccessBody>,
) -> ApiResult<Json<Value>> {
    update(&ctx, &caller, &name, body.access).await?;
    Ok(status("Role updated!"))
}

/// Deletes a role: `{"status": "Role deleted!"}`; 400 while users hold it.
#[utoipa::path(delete, path = "/ds-api/roles/{role_name}", tag = "datasentinel", security(("bearer" = [])),
    params(("role_name" = String, Path)),
    responses((status = 200, description = "`{\"status\": \"Role deleted!\"}`"),
        (status = 400, description = "Users hold the role"), (status = 404, description = "No such role")))]
pub async fn ds_delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    delete(&ctx, &caller, &name).await?;
    Ok(status("Role deleted!"))
}
