//! Abuse resistance that needs a person: `POST /api/v1/security/reset-lockout` lifts the sign-in
//! lockout of a user of the caller's tenant (`users:manage`, and never of a user with more rights
//! than the caller: that would let a narrow token keep guessing the admin's password).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiResult, AppError};
use super::extract::ApiJson;
use super::AppContext;
use crate::auth::scopes::stored_user_scopes;
use crate::auth::Principal;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetLockout {
    /// Login of a user of your tenant.
    login: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LockoutReset {
    login: String,
    /// Whether the login was locked (false: nothing to lift; failed attempts are forgotten
    /// either way).
    was_locked: bool,
}

/// Lifts the sign-in lockout of a user of your tenant and forgets its failed attempts.
#[utoipa::path(post, path = "/api/v1/security/reset-lockout", tag = "security", security(("bearer" = [])),
    request_body = ResetLockout,
    responses((status = 200, body = LockoutReset), (status = 400, description = "Bad body"),
        (status = 403, description = "Missing users:manage, or the user has rights you lack"),
        (status = 404, description = "No such user in your tenant (the same for another tenant's user)"),
        (status = 429, description = "Rate limit exceeded (`Retry-After`)")))]
pub async fn reset_lockout(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<ResetLockout>,
) -> ApiResult<Json<LockoutReset>> {
    let user = ctx
        .store
        .user_by_login(caller.tenant_id, body.login.trim())
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    let rights = stored_user_scopes(&user.privilege, &user.profile, user.operator);
    if let Some(scope) = rights.first_not_granted_by(caller.scopes) {
        return Err(AppError::Forbidden(format!("user {:?} has rights you lack ({scope})", user.login)));
    }
    let was_locked = ctx.auth.reset_lockout(&caller.tenant_name, &user.login);
    tracing::info!(login = %user.login, tenant_id = user.tenant_id, by = %caller.login, was_locked, "sign-in lockout reset");
    Ok(Json(LockoutReset { login: user.login, was_locked }))
}
