//! Sign-in (`/api/v1/auth/token`) and API token management (`/api/v1/tokens`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::audit_log::audited_sign_in;
use super::error::{or_not_found, ApiResult, AppError};
use super::extract::{basic_credentials, client_ip, parse_json, read_body, ApiJson, ApiPath, AuditTarget};
use super::{rfc3339, AppContext};
use crate::auth::{secret, Principal, Scope, ScopeSet};
use crate::store::{now_ms, NewToken, TokenKind, TokenRecord};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
    /// Tenant name; optional when the login exists in only one tenant.
    #[serde(default)]
    organization: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedUserToken {
    token: String,
    token_type: &'static str,
    expires_at: String,
}

/// Exchanges a username and password (JSON body or HTTP Basic) for a user token valid 24 h.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body(content = SignIn, description = "Or send HTTP Basic credentials and no body"),
    responses((status = 200, body = IssuedUserToken), (status = 401, description = "Invalid username or password"),
        (status = 429, description = "Login locked after failed sign-ins, sign-in rate limit, or too many sign-ins in progress (`Retry-After`)")))]
pub async fn sign_in(State(ctx): State<Arc<AppContext>>, req: Request) -> ApiResult<Json<IssuedUserToken>> {
    let basic = basic_credentials(req.headers());
    let source_ip = client_ip(req.extensions());
    let body = read_body(req, &()).await?;
    let (organization, username, password, via) = match basic {
        Some((user, pass)) if body.iter().all(u8::is_ascii_whitespace) => (None, user, pass, "basic"),
        _ => {
            let s: SignIn = parse_json(&body)?;
            (s.organization, s.username, s.password, "password")
        }
    };
    let (token, expires_at) =
        audited_sign_in(&ctx, source_ip, organization.as_deref(), &username, &password, via, StatusCode::OK).await?;
    Ok(Json(IssuedUserToken { token, token_type: "Bearer", expires_at: rfc3339(expires_at) }))
}

/// A scope's name (for the document: the handler parses names itself, to say which is unknown).
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = "^(read:status|write:incidents|write:maintenance|monitoring:read|monitoring:write|settings:read|settings:write|plugins:manage|users:manage|audit:read|admin)$"
)]
pub struct ScopeName(#[allow(dead_code)] String);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, e.g. "CI pipeline".
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Scope names; you can only grant scopes you hold.
    #[schema(inline, value_type = Vec<ScopeName>)]
    scopes: Vec<String>,
    /// RFC 3339 expiry; omit for the longest allowed (`[auth] max_token_lifetime_days`, 365 days
    /// by default). Never later than that, nor than the expiry of the API token minting it: the
    /// answer's `expires_at` is the effective one.
    #[serde(default)]
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Your password again, when minting with a sign-in older than `[auth] sudo_after_minutes` (15).
    #[serde(default)]
    password: Option<String>,
}

/// What kind of token a listed token is.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKindView {
    /// Issued by a password sign-in (`vgu_…`), for a person's session.
    SignIn,
    /// Minted for automation (`vg_…`).
    Api,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: i64,
    kind: TokenKindView,
    name: String,
    prefix: String,
    user_id: i64,
    scopes: Vec<&'static str>,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        let (kind, marker) = match t.kind {
            TokenKind::User => (TokenKindView::SignIn, secret::USER_TOKEN_MARKER),
            TokenKind::Api => (TokenKindView::Api, secret::API_TOKEN_MARKER),
        };
        TokenView {
            id: t.id,
            kind,
            name: t.name.clone(),
            prefix: format!("{marker}{}", t.prefix),
            user_id: t.user_id,
            scopes: ScopeSet::from_stored(&t.scopes).names(),
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once: only its hash is stored.
    token: String,
    #[serde(flatten)]
    view: TokenView,
}

/// Mints an API token (`vg_…`) for the caller, with at most the caller's scopes and lifetime.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, description = "Bad name, scope or expiry"),
        (status = 401, description = "Wrong password confirming an old sign-in"),
        (status = 403, description = "A requested scope is not held by the caller, or an old sign-in without password")))]
pub async fn create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, AuditTarget, Json<CreatedToken>)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest("name must be 1 to 100 characters".into()));
    }
    let scopes = ScopeSet::parse_list(body.scopes.iter().map(String::as_str)).map_err(AppError::BadRequest)?;
    if scopes.is_empty() {
        return Err(AppError::BadRequest("scopes must name at least one scope".into()));
    }
    if let Some(scope) = scopes.first_not_granted_by(caller.scopes) {
        return Err(AppError::Forbidden(format!("cannot grant scope {scope}: the caller does not hold it")));
    }
    let now = now_ms();
    let requested = match body.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| AppError::BadRequest(format!("expires_at {text:?} is not an RFC 3339 timestamp: {e}")))?
                .timestamp_millis();
            if at <= now {
                return Err(AppError::BadRequest("expires_at is in the past".into()));
            }
            Some(at)
        }
    };
    confirm_old_sign_in(&ctx, &caller, body.password.as_deref(), now).await?;
    let lifetimes = ctx.auth.lifetimes();
    let expires_at = lifetimes.api_token_expiry(requested, Some((caller.token_kind, caller.expires_at)), now);
    let minted = secret::mint(secret::API_TOKEN_MARKER);
    let record = ctx
        .store
        .create_token(&NewToken {
            tenant_id: caller.tenant_id,
            user_id: caller.user_id,
            kind: TokenKind::Api,
            name,
            prefix: &minted.prefix,
            secret_hash: &minted.hash,
            scopes: &scopes.to_stored(),
            expires_at,
        })
        .await?;
    tracing::info!(token_id = record.id, tenant = %caller.tenant_name, by = %caller.login, "API token created");
    let target = AuditTarget(format!("id={} token={}{}", record.id, secret::API_TOKEN_MARKER, record.prefix));
    Ok((StatusCode::CREATED, target, Json(CreatedToken { token: minted.token, view: TokenView::from(&record) })))
}

/// Sudo mode: an old sign-in (15 minutes by default) mints only with the password repeated, so a stolen
/// sign-in token cannot turn itself into a long-lived key.
async fn confirm_old_sign_in(ctx: &AppContext, caller: &Principal, password: Option<&str>, now: i64) -> ApiResult<()> {
    if !ctx.auth.lifetimes().needs_password(caller.token_kind, caller.token_created_at, now) {
        return Ok(());
    }
    let Some(password) = password else {
        return Err(AppError::Forbidden(
            "this sign-in is too old to mint a token unconfirmed: repeat your password in \"password\"".into(),
        ));
    };
    Ok(ctx.auth.confirm_password(caller.tenant_id, caller.user_id, password).await?)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    tokens: Vec<TokenView>,
}

/// Lists live tokens, sign-ins (`"kind": "sign-in"`) and API tokens: the caller's own, or the
/// whole tenant's with `users:manage`. Never secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), responses((status = 200, body = TokenList)))]
pub async fn list(State(ctx): State<Arc<AppContext>>, caller: Principal) -> ApiResult<Json<TokenList>> {
    let mut tokens = Vec::new();
    for kind in [TokenKind::User, TokenKind::Api] {
        tokens.extend(ctx.store.list_tokens(caller.tenant_id, kind, owner_filter(&caller)).await?);
    }
    tokens.sort_by_key(|t| t.id);
    Ok(Json(TokenList { tokens: tokens.iter().map(TokenView::from).collect() }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: i64,
}

/// Revokes a token (a sign-in too); it stops working at once, on every host within a second.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = Revoked), (status = 404, description = "No such live token in your tenant")))]
pub async fn revoke(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Revoked>> {
    let hash =
        ctx.store.revoke_token(caller.tenant_id, id, owner_filter(&caller)).await.map_err(or_not_found("token"))?;
    ctx.auth.forget(&hash);
    tracing::info!(token_id = id, tenant = %caller.tenant_name, by = %caller.login, "API token revoked");
    Ok(Json(Revoked { revoked: id }))
}

/// Token managers see the tenant's tokens; everyone else only their own.
fn owner_filter(caller: &Principal) -> Option<i64> {
    (!caller.scopes.allows(Scope::UsersManage)).then_some(caller.user_id)
}
