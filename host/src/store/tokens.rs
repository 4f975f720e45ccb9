//! Tokens: user (login) tokens and API tokens, stored as a SHA-256 hash plus a short clear prefix.

use super::{now_ms, on_pool, Store, StoreError, StoreResult};

/// `user` tokens come from a password sign-in and carry their user's scopes; `api` tokens are
/// minted for automation with an explicit scope set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    User,
    Api,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "user",
            TokenKind::Api => "api",
        }
    }
    fn parse(s: &str) -> TokenKind {
        if s == "user" {
            TokenKind::User
        } else {
            TokenKind::Api
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct TokenRow {
    id: i64,
    tenant_id: i64,
    user_id: i64,
    kind: String,
    name: String,
    prefix: String,
    scopes: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// A token as stored, without its secret (only the hash is ever stored).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub tenant_id: i64,
    pub user_id: i64,
    pub kind: TokenKind,
    pub name: String,
    pub prefix: String,
    /// Space-separated scope names as granted at creation.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<TokenRow> for TokenRecord {
    fn from(r: TokenRow) -> Self {
        TokenRecord {
            id: r.id,
            tenant_id: r.tenant_id,
            user_id: r.user_id,
            kind: TokenKind::parse(&r.kind),
            name: r.name,
            prefix: r.prefix,
            scopes: r.scopes,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A token found by its hash, with what authentication needs about its owner.
#[derive(Debug, Clone)]
pub struct TokenWithOwner {
    pub token: TokenRecord,
    pub tenant_name: String,
    pub login: String,
    pub email: Option<String>,
    pub privilege: String,
    pub profile: String,
    pub operator: bool,
}

pub struct NewToken<'a> {
    pub tenant_id: i64,
    pub user_id: i64,
    pub kind: TokenKind,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub expires_at: Option<i64>,
}

/// Moves the revocation epoch (see migration 0012): every process drops its token cache.
pub(super) const BUMP_AUTH_EPOCH: &str = "UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1";

const TOKEN_COLUMNS: &str =
    "id, tenant_id, user_id, kind, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct OwnerRow {
    tenant_name: String,
    login: String,
    email: Option<String>,
    privilege: String,
    profile: String,
    operator: bool,
}

impl Store {
    pub async fn create_token(&self, t: &NewToken<'_>) -> StoreResult<TokenRecord> {
        let sql = format!(
            "INSERT INTO tokens (tenant_id, user_id, kind, name, prefix, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {TOKEN_COLUMNS}"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, TokenRow>(&sql)
            .bind(t.tenant_id).bind(t.user_id).bind(t.kind.as_str()).bind(t.name).bind(t.prefix)
            .bind(t.secret_hash).bind(t.scopes).bind(now_ms()).bind(t.expires_at)
            .fetch_one(pool).await)
        .map_err(|e| StoreError::conflict_on_unique(e, "token collision"))?;
        Ok(row.into())
    }

    /// The token with this hash and its owner, whatever its state (callers check expiry/revocation).
    pub async fn token_by_hash(&self, secret_hash: &str) -> StoreResult<Option<TokenWithOwner>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE secret_hash = $1");
        let Some(row) =
            on_pool!(self, pool => sqlx::query_as::<_, TokenRow>(&sql).bind(secret_hash).fetch_optional(pool).await)?
        else {
            return Ok(None);
        };
        let owner_sql = "SELECT t.name AS tenant_name, u.login, u.email, u.privilege, u.profile, u.operator \
                         FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = $1";
        let owner = on_pool!(self, pool => sqlx::query_as::<_, OwnerRow>(owner_sql).bind(row.user_id).fetch_optional(pool).await)?;
        Ok(owner.map(|o| TokenWithOwner {
            token: row.into(),
            tenant_name: o.tenant_name,
            login: o.login,
            email: o.email,
            privilege: o.privilege,
            profile: o.profile,
            operator: o.operator,
        }))
    }

    /// Live (unrevoked, unexpired) tokens of a kind in a tenant, optionally only one user's.
    pub async fn list_tokens(
        &self,
        tenant_id: i64,
        kind: TokenKind,
        user_id: Option<i64>,
    ) -> StoreResult<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 AND kind = $2 AND revoked_at IS NULL \
             AND ($3 IS NULL OR user_id = $3) AND (expires_at IS NULL OR expires_at > $4) ORDER BY id"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, TokenRow>(&sql)
            .bind(tenant_id).bind(kind.as_str()).bind(user_id).bind(now_ms()).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Revokes a live token of this tenant (and of `user_id` when given) and moves the revocation
    /// epoch; returns its hash so the caller can drop it from caches. Missing, already revoked or
    /// foreign tokens are `NotFound`.
    pub async fn revoke_token(&self, tenant_id: i64, id: i64, user_id: Option<i64>) -> StoreResult<String> {
        let sql = "UPDATE tokens SET revoked_at = $4 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL \
                   AND ($3 IS NULL OR user_id = $3) RETURNING secret_hash";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let hash = sqlx::query_scalar::<_, String>(sql)
                .bind(tenant_id).bind(id).bind(user_id).bind(now_ms()).fetch_optional(&mut *tx).await?
                .ok_or(StoreError::NotFound)?;
            sqlx::query(BUMP_AUTH_EPOCH).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(hash)
        })
    }

    /// The revocation epoch: it moves with every revocation and change of a user's rights.
    pub async fn auth_epoch(&self) -> StoreResult<i64> {
        let sql = "SELECT epoch FROM auth_epoch WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await)?)
    }

    pub async fn touch_token(&self, id: i64, at: i64) -> StoreResult<()> {
        let sql = "UPDATE tokens SET last_used_at = $2 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes tokens that expired or were revoked more than `older_than_ms` ago.
    pub async fn purge_dead_tokens(&self, older_than_ms: i64) -> StoreResult<u64> {
        let cutoff = now_ms() - older_than_ms;
        let sql = "DELETE FROM tokens WHERE (expires_at IS NOT NULL AND expires_at < $1) OR (revoked_at IS NOT NULL AND revoked_at < $1)";
        let done =
            on_pool!(self, pool => sqlx::query(sql).bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
