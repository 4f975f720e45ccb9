//! Users of the caller's tenant (`users:manage`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{ApiJson, ApiPath};
use super::{rfc3339, AppContext};
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
    created_at: String,
    updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            login: u.login,
            email: u.email,
            privilege: u.privilege,
            profile: u.profile,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

/// Lists the tenant's users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), responses((status = 200, body = UserList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<UserList>> {
    let users = ctx.store.list_users(caller.tenant_id).await?;
    Ok(Json(UserList { users: users.into_iter().map(UserView::from).collect() }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Sign-in name; an email address is fine.
    login: String,
    #[serde(default)]
    email: Option<String>,
    password: String,
    /// Default `read`.
    #[serde(default)]
    privilege: Option<String>,
    /// Default `data admin`.
    #[serde(default)]
    profile: Option<String>,
}

/// Creates a user in the caller's tenant.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, description = "Login taken")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let login = body.login.trim();
    if login.is_empty() || login.len() > 200 || login.contains(char::is_whitespace) {
        return Err(AppError::BadRequest("login must be 1 to 200 characters without spaces".into()));
    }
    let privilege = Privilege::parse(body.privilege.as_deref().unwrap_or("read")).map_err(AppError::BadRequest)?;
    let profile = Profile::parse(body.profile.as_deref().unwrap_or("data admin")).map_err(AppError::BadRequest)?;
    let hash = hash_password(body.password).await?;
    let email = body.email.as_deref().or(login.contains('@').then_some(login));
    let user = ctx
        .store
        .create_user(
            caller.tenant_id,
            &NewUser { login, email, password_hash: &hash, privilege: privilege.as_str(), profile: profile.as_str() },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Fetches one user of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, description = "No such user in your tenant")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<UserView>> {
    let user = ctx.store.user_by_id(caller.tenant_id, id).await?.ok_or_else(|| AppError::not_found("user"))?;
    Ok(Json(user.into()))
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
}

/// Changes a user's email, password, privilege or profile; their tokens follow at once.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body = UpdateUser, responses((status = 200, body = UserView), (status = 404, description = "No such user in your tenant")))]
pub async fn update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    let privilege = body.privilege.as_deref().map(Privilege::parse).transpose().map_err(AppError::BadRequest)?;
    let profile = body.profile.as_deref().map(Profile::parse).transpose().map_err(AppError::BadRequest)?;
    let hash = match body.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let update = UserUpdate {
        email: body.email.as_deref(),
        password_hash: hash.as_deref(),
        privilege: privilege.map(Privilege::as_str),
        profile: profile.map(Profile::as_str),
    };
    let user = ctx.store.update_user(caller.tenant_id, id, &update).await.map_err(or_not_found("user"))?;
    // Cached principals carry the old scopes.
    ctx.auth.forget_all();
    Ok(Json(user.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: i64,
}

/// Deletes a user and every token they own.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, body = Deleted), (status = 404, description = "No such user in your tenant"), (status = 409, description = "Deleting yourself")))]
pub async fn delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Deleted>> {
    if id == caller.user_id {
        return Err(AppError::Conflict("you cannot delete your own user".into()));
    }
    ctx.store.delete_user(caller.tenant_id, id).await.map_err(or_not_found("user"))?;
    ctx.auth.forget_all();
    Ok(Json(Deleted { deleted: id }))
}

/// Checks strength, then hashes off the async runtime (argon2 takes tens of milliseconds).
async fn hash_password(password: String) -> ApiResult<String> {
    password::check_strength(&password).map_err(AppError::BadRequest)?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing task failed: {e}")))?
        .map_err(AppError::Internal)
}
