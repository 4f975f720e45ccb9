//! Users of the caller's tenant (`users:manage`) in two forms sharing this module's logic: the
//! native `/api/v1/users[/{login}]` (answers the user) and Datasentinel's `/ds-api/users/{email}`
//! (answers `{"status": …}`). Both take `roles` (names; `rbac` decides what they let a user see)
//! and the deprecated single `role`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, AuditTarget, LenientJson};
use super::instances::status;
use super::{rfc3339, AppContext};
use crate::auth::scopes::{stored_user_scopes, user_scopes};
use crate::auth::{password, Principal, Privilege, Profile};
use crate::store::{NewUser, User, UserUpdate};

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    id: i64,
    login: String,
    email: Option<String>,
    /// `read`, `read write` or `admin`.
    privilege: String,
    /// `developer` or `data admin`.
    profile: String,
    /// Names of the roles held; none means every instance of the tenant is visible.
    roles: Vec<String>,
    created_at: String,
    updated_at: String,
}

impl UserView {
    fn new(u: User, roles: Vec<String>) -> Self {
        UserView {
            id: u.id,
            login: u.login,
            email: u.email,
            privilege: u.privilege,
            profile: u.profile,
            roles,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// One user's view, roles included.
async fn view(ctx: &AppContext, user: User) -> ApiResult<UserView> {
    let roles = ctx.store.role_names_by_user(user.tenant_id).await?.remove(&user.id).unwrap_or_default();
    Ok(UserView::new(user, roles))
}

/// The user a path names: by login, or by numeric id (the earlier form of these paths) when no
/// user has that login. Another tenant's user is the same 404 as a missing one.
async fn find(ctx: &AppContext, caller: &Principal, key: &str) -> ApiResult<User> {
    if let Some(user) = ctx.store.user_by_login(caller.tenant_id, key).await? {
        return Ok(user);
    }
    let by_id = match key.parse::<i64>() {
        Ok(id) if key.bytes().all(|b| b.is_ascii_digit()) => ctx.store.user_by_id(caller.tenant_id, id).await?,
        _ => None,
    };
    by_id.ok_or_else(|| AppError::not_found("user"))
}

/// The roles a body asks for: `roles`, or the deprecated `role` mapped to a one-element list
/// (an empty `role` means none). `None` when neither is given (keep the current roles).
fn requested_roles(roles: Option<Vec<String>>, role: Option<String>) -> ApiResult<Option<Vec<String>>> {
    let names = match (roles, role) {
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest("give either `roles` or the deprecated `role`, not both".into()))
        }
        (Some(roles), None) => roles,
        (None, Some(role)) => vec![role].into_iter().filter(|r| !r.trim().is_empty()).collect(),
        (None, None) => return Ok(None),
    };
    let mut names: Vec<String> = names.into_iter().map(|n| n.trim().to_string()).collect();
    names.sort();
    names.dedup();
    Ok(Some(names))
}

/// 400 naming the first role the tenant does not have.
async fn check_roles_exist(ctx: &AppContext, caller: &Principal, names: &[String]) -> ApiResult<()> {
    if names.is_empty() {
        return Ok(());
    }
    let known = ctx.store.list_roles(caller.tenant_id).await?;
    match names.iter().find(|n| !known.iter().any(|r| &r.name == *n)) {
        Some(missing) => Err(AppError::BadRequest(format!("role {missing:?} does not exist"))),
        None => Ok(()),
    }
}

/// 403 unless the caller holds every scope `privilege` × `profile` grants: `users:manage` alone
/// must not mint an admin (or any user richer than the caller).
fn check_may_grant(caller: &Principal, privilege: Privilege, profile: Profile) -> ApiResult<()> {
    match user_scopes(privilege, profile).first_not_granted_by(caller.scopes) {
        Some(scope) => Err(AppError::Forbidden(format!(
            "cannot grant privilege {:?}: it needs scope {scope}, which you lack",
            privilege.as_str()
        ))),
        None => Ok(()),
    }
}

/// 403 when `user` holds a scope the caller lacks: nobody changes (password, privilege, roles,
/// email) or deletes a user with more rights than itself, so a narrow token cannot take the
/// admin account over.
fn check_not_above_caller(caller: &Principal, user: &User) -> ApiResult<()> {
    match stored_user_scopes(&user.privilege, &user.profile, user.operator).first_not_granted_by(caller.scopes) {
        Some(scope) => Err(AppError::Forbidden(format!("user {:?} has rights you lack ({scope})", user.login))),
        None => Ok(()),
    }
}

/// What a create asks for, from either form.
struct UserRequest<'a> {
    login: &'a str,
    email: Option<&'a str>,
    password: String,
    privilege: Option<&'a str>,
    profile: Option<&'a str>,
    roles: Option<Vec<String>>,
}

async fn create_user(ctx: &AppContext, caller: &Principal, req: UserRequest<'_>) -> ApiResult<User> {
    let login = req.login.trim();
    if login.is_empty() || login.chars().count() > 200 || login.contains(char::is_whitespace) {
        return Err(AppError::BadRequest("login must be 1 to 200 characters without spaces".into()));
    }
    let privilege = Privilege::parse(req.privilege.unwrap_or("read")).map_err(AppError::BadRequest)?;
    let profile = Profile::parse(req.profile.unwrap_or("data admin")).map_err(AppError::BadRequest)?;
    check_may_grant(caller, privilege, profile)?;
    let roles = req.roles.unwrap_or_default();
    check_roles_exist(ctx, caller, &roles).await?;
    let hash = hash_password(ctx, req.password).await?;
    let email = req.email.or(login.contains('@').then_some(login));
    let new = NewUser {
        login,
        email,
        password_hash: &hash,
        privilege: privilege.as_str(),
        profile: profile.as_str(),
        operator: false,
    };
    Ok(ctx.store.create_user_with_roles(caller.tenant_id, &new, &roles).await?)
}

/// What an update asks for, from either form; `None` keeps the stored value.
#[derive(Default)]
struct UserChange<'a> {
    email: Option<&'a str>,
    password: Option<String>,
    privilege: Option<&'a str>,
    profile: Option<&'a str>,
    roles: Option<Vec<String>>,
}

async fn update_user(ctx: &AppContext, caller: &Principal, user: &User, change: UserChange<'_>) -> ApiResult<User> {
    check_not_above_caller(caller, user)?;
    let privilege = change.privilege.map(Privilege::parse).transpose().map_err(AppError::BadRequest)?;
    let profile = change.profile.map(Profile::parse).transpose().map_err(AppError::BadRequest)?;
    if privilege.is_some() || profile.is_some() {
        let stored = |e: String| AppError::Internal(anyhow::anyhow!("stored user {:?}: {e}", user.login));
        let new_privilege = match privilege {
            Some(p) => p,
            None => Privilege::parse(&user.privilege).map_err(stored)?,
        };
        let new_profile = match profile {
            Some(p) => p,
            None => Profile::parse(&user.profile).map_err(stored)?,
        };
        check_may_grant(caller, new_privilege, new_profile)?;
    }
    let id = user.id;
    if let Some(roles) = &change.roles {
        check_roles_exist(ctx, caller, roles).await?;
    }
    let hash = match change.password {
        Some(p) => Some(hash_password(ctx, p).await?),
        None => None,
    };
    let update = UserUpdate {
        email: change.email,
        password_hash: hash.as_deref(),
        privilege: privilege.map(Privilege::as_str),
        profile: profile.map(Profile::as_str),
    };
    let user = ctx.store.update_user(caller.tenant_id, id, &update).await.map_err(or_not_found("user"))?;
    if let Some(roles) = &change.roles {
        ctx.store.set_user_roles(caller.tenant_id, id, roles).await.map_err(or_not_found("user"))?;
    }
    // Cached principals carry the old scopes.
    ctx.auth.forget_all();
    Ok(user)
}

async fn delete_user(ctx: &AppContext, caller: &Principal, user: &User) -> ApiResult<()> {
    if user.id == caller.user_id {
        return Err(AppError::Conflict("you cannot delete your own user".into()));
    }
    check_not_above_caller(caller, user)?;
    ctx.store.delete_user(caller.tenant_id, user.id).await.map_err(or_not_found("user"))?;
    ctx.auth.forget_all();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Native form.

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

/// Lists the tenant's users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), responses((status = 200, body = UserList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<UserList>> {
    let users = ctx.store.list_users(caller.tenant_id).await?;
    let mut roles = ctx.store.role_names_by_user(caller.tenant_id).await?;
    let users = users
        .into_iter()
        .map(|u| {
            let held = roles.remove(&u.id).unwrap_or_default();
            UserView::new(u, held)
        })
        .collect();
    Ok(Json(UserList { users }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Sign-in name; an email address is fine.
    #[schema(pattern = r"^\s*\S{1,200}\s*$")]
    login: String,
    #[serde(default)]
    email: Option<String>,
    #[schema(min_length = 8)]
    password: String,
    /// Default `read`.
    #[serde(default)]
    #[schema(pattern = "^(read|read write|admin)$")]
    privilege: Option<String>,
    /// Default `data admin`.
    #[serde(default)]
    #[schema(pattern = "^(developer|data admin)$")]
    profile: Option<String>,
    /// Role names; none (the default) means every instance of the tenant is visible.
    #[serde(default)]
    roles: Option<Vec<String>>,
    /// Deprecated: one role name; use `roles`.
    #[serde(default)]
    role: Option<String>,
}

/// Creates a user in the caller's tenant.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, description = "Invalid field or unknown role"),
        (status = 409, description = "Login taken")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, AuditTarget, Json<UserView>)> {
    let request = UserRequest {
        login: &body.login,
        email: body.email.as_deref(),
        password: body.password,
        privilege: body.privilege.as_deref(),
        profile: body.profile.as_deref(),
        roles: requested_roles(body.roles, body.role)?,
    };
    let user = create_user(&ctx, &caller, request).await?;
    let target = AuditTarget(format!("login={}", user.login));
    Ok((StatusCode::CREATED, target, Json(view(&ctx, user).await?)))
}

/// Fetches one user of the caller's tenant by login (a numeric id is accepted too).
#[utoipa::path(get, path = "/api/v1/users/{login}", tag = "users", security(("bearer" = [])), params(("login" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, description = "No such user in your tenant")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    let user = find(&ctx, &caller, &key).await?;
    Ok(Json(view(&ctx, user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    privilege: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    /// Replaces the roles held (`[]`: none, so the whole tenant is visible).
    #[serde(default)]
    roles: Option<Vec<String>>,
    /// Deprecated: one role name; use `roles`.
    #[serde(default)]
    role: Option<String>,
}

/// Changes a user's email, password, privilege, profile or roles; their tokens follow at once.
#[utoipa::path(patch, path = "/api/v1/users/{login}", tag = "users", security(("bearer" = [])), params(("login" = String, Path)),
    request_body = UpdateUser, responses((status = 200, body = UserView), (status = 400, description = "Invalid field or unknown role"),
        (status = 404, description = "No such user in your tenant")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let user = find(&ctx, &caller, &key).await?;
    let change = UserChange {
        email: body.email.as_deref(),
        password: body.password,
        privilege: body.privilege.as_deref(),
        profile: body.profile.as_deref(),
        roles: requested_roles(body.roles, body.role)?,
    };
    let user = update_user(&ctx, &caller, &user, change).await?;
    Ok(Json(view(&ctx, user).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: i64,
}

/// Deletes a user and every token they own.
#[utoipa::path(delete, path = "/api/v1/users/{login}", tag = "users", security(("bearer" = [])), params(("login" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, description = "No such user in your tenant"), (status = 409, description = "Deleting yourself")))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    let user = find(&ctx, &caller, &key).await?;
    delete_user(&ctx, &caller, &user).await?;
    Ok(Json(Deleted { deleted: user.id }))
}

// ---------------------------------------------------------------------------------------------
// Datasentinel form.

/// Create and update body of `/ds-api/users/{email}`; all optional except `password` on create.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DsUserBody {
    #[schema(min_length = 8)]
    password: Option<String>,
    /// `read` (default), `read write` or `admin`.
    #[schema(pattern = "^(read|read write|admin)$")]
    privilege: Option<String>,
    /// `developer` or `data admin` (default).
    #[schema(pattern = "^(developer|data admin)$")]
    profile: Option<String>,
    roles: Option<Vec<String>>,
    /// Deprecated single role, mapped to `roles`.
    role: Option<String>,
    /// Accepted and ignored (a Datasentinel UI feature); a boolean, as the document says.
    #[allow(dead_code)]
    live_360: Option<bool>,
    /// `true` is refused: Vigia authenticates with its own passwords only.
    ldap: Option<bool>,
}

/// `DsUserBody` as a create needs it: `password` required (for the document only).
pub struct DsUserCreate;

impl utoipa::PartialSchema for DsUserCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::openapi::requiring(<DsUserBody as utoipa::PartialSchema>::schema(), &["password"])
    }
}

impl utoipa::ToSchema for DsUserCreate {}

impl DsUserBody {
    fn refuse_ldap(&self) -> ApiResult<()> {
        match self.ldap {
            Some(true) => Err(AppError::BadRequest("LDAP authentication is not supported".into())),
            _ => Ok(()),
        }
    }
}

/// Creates a user (login = the email): `{"status": "User created!"}`.
#[utoipa::path(post, path = "/ds-api/users/{email}", tag = "datasentinel", security(("bearer" = [])),
    params(("email" = String, Path)), request_body = DsUserCreate,
    responses((status = 201, description = "`{\"status\": \"User created!\"}`"),
        (status = 400, description = "Invalid field, unknown role or LDAP"), (status = 409, description = "The user exists")))]
pub async fn ds_create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(email): ApiPath<String>,
    LenientJson(body): LenientJson<DsUserBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    body.refuse_ldap()?;
    let password = body.password.ok_or_else(|| AppError::BadRequest("missing required field: password".into()))?;
    let request = UserRequest {
        login: &email,
        email: None,
        password,
        privilege: body.privilege.as_deref(),
        profile: body.profile.as_deref(),
        roles: requested_roles(body.roles, body.role)?,
    };
    create_user(&ctx, &caller, request).await?;
    Ok((StatusCode::CREATED, status("User created!")))
}

/// Displays a user (never its password).
#[utoipa::path(get, path = "/ds-api/users/{email}", tag = "datasentinel", security(("bearer" = [])),
    params(("email" = String, Path)), responses((status = 200, body = UserView), (status = 404, description = "No such user")))]
pub async fn ds_show(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(email): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    let user = find(&ctx, &caller, &email).await?;
    Ok(Json(view(&ctx, user).await?))
}

/// Changes a user (every field optional): `{"status": "User updated!"}`.
#[utoipa::path(put, path = "/ds-api/users/{email}", tag = "datasentinel", security(("bearer" = [])),
    params(("email" = String, Path)), request_body = DsUserBody,
    responses((status = 200, description = "`{\"status\": \"User updated!\"}`"),
        (status = 400, description = "Invalid field, unknown role or LDAP"), (status = 404, description = "No such user")))]
pub async fn ds_update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(email): ApiPath<String>,
    LenientJson(body): LenientJson<DsUserBody>,
) -> ApiResult<Json<Value>> {
    body.refuse_ldap()?;
    let user = find(&ctx, &caller, &email).await?;
    let change = UserChange {
        password: body.password,
        privilege: body.privilege.as_deref(),
        profile: body.profile.as_deref(),
        roles: requested_roles(body.roles, body.role)?,
        ..Default::default()
    };
    update_user(&ctx, &caller, &user, change).await?;
    Ok(status("User updated!"))
}

/// Deletes a user and its tokens: `{"status": "User deleted!"}`.
#[utoipa::path(delete, path = "/ds-api/users/{email}", tag = "datasentinel", security(("bearer" = [])),
    params(("email" = String, Path)),
    responses((status = 200, description = "`{\"status\": \"User deleted!\"}`"),
        (status = 404, description = "No such user"), (status = 409, description = "Deleting yourself")))]
pub async fn ds_delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(email): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let user = find(&ctx, &caller, &email).await?;
    delete_user(&ctx, &caller, &user).await?;
    Ok(status("User deleted!"))
}

/// Checks strength, then hashes off the async runtime, within the bound shared with sign-ins
/// (argon2 takes tens of milliseconds and ~19 MiB).
async fn hash_password(ctx: &AppContext, password: String) -> ApiResult<String> {
    password::check_strength(&password).map_err(AppError::BadRequest)?;
    Ok(ctx.auth.hash_password(password).await?)
}
