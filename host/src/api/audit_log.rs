//! The audit log over HTTP: `GET /api/v1/audit` (the caller's tenant's entries, filtered) and
//! `GET /api/v1/audit/{id}/verify` (the chain through that entry), plus `audited_sign_in`, which
//! the sign-in handlers call so attempts are recorded whatever their outcome.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::error::{ApiResult, AppError};
use super::extract::{ApiPath, ApiQuery};
use super::{rfc3339, AppContext};
use crate::auth::{secret, AuthError, Principal};
use crate::bootstrap::DEFAULT_TENANT;
use crate::store::{now_ms, AuditFilter, AuditRow, AuditWrite};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// An action (`token.create`) or a family of actions (`token`).
    pub event: Option<String>,
    /// The acting login (for sign-ins, the login attempted).
    pub user: Option<String>,
    /// Only successful (`true`) or refused/failed (`false`) calls.
    pub success: Option<bool>,
    /// RFC 3339; entries at or after.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; entries at or before.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// At most this many (default 100), newest first.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntryView {
    id: i64,
    at: String,
    /// Login of the caller (the attempted login for a sign-in).
    actor: String,
    /// Prefix of the token used (`vg_…`/`vgu_…`), or of the one a sign-in issued.
    token: Option<String>,
    source_ip: Option<String>,
    request_id: String,
    action: String,
    target: String,
    success: bool,
    /// HTTP status answered.
    status: i64,
    /// Never a secret: the keys a change sent, not their values.
    #[schema(value_type = Object)]
    details: serde_json::Value,
    /// HMAC-SHA256 chaining this entry to the previous one.
    hmac: String,
}

impl From<AuditRow> for AuditEntryView {
    fn from(r: AuditRow) -> Self {
        AuditEntryView {
            id: r.id,
            at: rfc3339(r.at),
            actor: r.actor,
            token: r.token_prefix,
            source_ip: r.source_ip,
            request_id: r.request_id,
            action: r.action,
            target: r.target,
            success: r.success,
            status: r.status,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::String(r.details)),
            hmac: r.hmac,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    entries: Vec<AuditEntryView>,
}

fn timestamp(name: &str, text: Option<&str>) -> ApiResult<Option<i64>> {
    text.map(|t| super::validate::timestamp(name, t)).transpose()
}

/// The audit log of the caller's tenant, newest first: sign-ins (failed too), token, user, role,
/// instance, plugin, channel, alert and DLQ changes.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 400, description = "Invalid filter"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Needs audit:read")))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let (limit, offset) = super::validate::page(q.limit, q.offset, 100, 1000)?;
    let filter = AuditFilter {
        action: q.event.filter(|e| !e.is_empty()),
        actor: q.user.filter(|u| !u.is_empty()),
        success: q.success,
        from: timestamp("from", q.from.as_deref())?,
        to: timestamp("to", q.to.as_deref())?,
        limit,
        offset,
    };
    let rows = ctx.store.list_audit(caller.tenant_id, &filter).await?;
    Ok(Json(AuditList { entries: rows.into_iter().map(AuditEntryView::from).collect() }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether the chain verifies from its first entry through this one.
    verified: bool,
    message: String,
}

/// Verifies the HMAC chain from its start through this entry: a row altered, removed or
/// reordered anywhere before it (in any tenant: the chain is host-wide) makes it fail.
#[utoipa::path(get, path = "/api/v1/audit/{id}/verify", tag = "audit", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Audit entry id")),
    responses((status = 200, body = Verification), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Needs audit:read"), (status = 404, description = "No such entry in your tenant")))]
pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Verification>> {
    if ctx.store.audit_entry(Some(caller.tenant_id), id).await?.is_none() {
        return Err(AppError::not_found("audit entry"));
    }
    let answer = match ctx.audit.verify(Some(id)).await? {
        Ok(count) => Verification { verified: true, message: format!("entries 1 to {id} verify ({count} checked)") },
        Err(broken) => Verification { verified: false, message: broken.to_string() },
    };
    Ok(Json(answer))
}

/// Where a sign-in attempt is filed: the user's tenant when it succeeded; else the organization
/// named, or the one tenant holding that login, or the host's `default` tenant.
async fn sign_in_tenant(ctx: &AppContext, organization: Option<&str>, login: &str) -> Option<i64> {
    let named = match organization {
        Some(org) => ctx.store.tenant_by_name(org).await.ok().flatten().map(|t| t.id),
        None => match ctx.store.users_by_login_any_tenant(login).await {
            Ok(found) if found.len() == 1 => found.first().map(|(_, t)| t.id),
            _ => None,
        },
    };
    match named {
        Some(id) => Some(id),
        None => ctx.store.tenant_by_name(DEFAULT_TENANT).await.ok().flatten().map(|t| t.id),
    }
}

/// A password sign-in that issues a user token, recorded in the audit log whatever its outcome
/// (`auth.sign-in`, the login attempted, `via` the form used, `ok_status` what a success answers;
/// never the password). Returns the token and its expiry.
pub async fn audited_sign_in(
    ctx: &AppContext,
    source_ip: Option<String>,
    organization: Option<&str>,
    login: &str,
    password: &str,
    via: &str,
    ok_status: StatusCode,
) -> ApiResult<(String, i64)> {
    let outcome = async {
        let (user, _) = ctx.auth.sign_in(organization, login, password).await?;
        let issued = ctx.auth.issue_user_token(&user).await?;
        Ok::<_, AuthError>((issued, user.tenant_id))
    }
    .await
    .map_err(AppError::from);
    let tenant_id = match &outcome {
        Ok((_, tenant_id)) => Some(*tenant_id),
        Err(_) => sign_in_tenant(ctx, organization, login).await,
    };
    if let Some(tenant_id) = tenant_id {
        let prefix_len = secret::USER_TOKEN_MARKER.len() + 8;
        let status = outcome.as_ref().map_or_else(|e| e.status(), |_| ok_status).as_u16();
        ctx.audit
            .record(AuditWrite {
                at: now_ms(),
                tenant_id,
                actor: login.chars().take(200).collect(),
                token_prefix: outcome.as_ref().ok().and_then(|((token, _), _)| token.get(..prefix_len)).map(Into::into),
                source_ip,
                request_id: super::error::current_request_id(),
                action: "auth.sign-in".into(),
                target: organization.unwrap_or_default().chars().take(200).collect(),
                success: outcome.is_ok(),
                status: i64::from(status),
                details: serde_json::json!({ "via": via }).to_string(),
            })
            .await;
    }
    outcome.map(|(issued, _)| issued)
}
