//! Users of a tenant: login, optional email, argon2id password hash, privilege and profile.

use super::roles::replace_user_roles;
use super::tokens::BUMP_AUTH_EPOCH;
use super::{now_ms, on_pool, Store, StoreError, StoreResult, Tenant};

/// A stored user. `privilege` and `profile` hold the names defined in `auth::scopes`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub tenant_id: i64,
    pub login: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub privilege: String,
    pub profile: String,
    /// The host's operator (plugins, host-wide settings): a right beyond any tenant privilege.
    pub operator: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct NewUser<'a> {
    pub login: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub privilege: &'a str,
    pub profile: &'a str,
    pub operator: bool,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Default)]
pub struct UserUpdate<'a> {
    pub email: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub privilege: Option<&'a str>,
    pub profile: Option<&'a str>,
}

const USER_COLUMNS: &str =
    "id, tenant_id, login, email, password_hash, privilege, profile, operator, created_at, updated_at";

impl Store {
    pub async fn create_user(&self, tenant_id: i64, user: &NewUser<'_>) -> StoreResult<User> {
        self.create_user_with_roles(tenant_id, user, &[]).await
    }

    /// Creates a user holding these roles (by name) in one transaction, so a user meant to be
    /// restricted never exists, even briefly, without its roles (which would mean unrestricted).
    /// `Conflict` when the login is taken or a role does not exist.
    pub async fn create_user_with_roles(
        &self,
        tenant_id: i64,
        user: &NewUser<'_>,
        roles: &[String],
    ) -> StoreResult<User> {
        let now = now_ms();
        let sql = format!(
            "INSERT INTO users (tenant_id, login, email, password_hash, privilege, profile, operator, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) RETURNING {USER_COLUMNS}"
        );
        let created = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let created = sqlx::query_as::<_, User>(&sql)
                .bind(tenant_id).bind(user.login).bind(user.email).bind(user.password_hash)
                .bind(user.privilege).bind(user.profile).bind(now).bind(user.operator)
                .fetch_one(&mut *tx).await
                .map_err(|e| StoreError::conflict_on_unique(e, format!("user {:?} already exists", user.login)))?;
            replace_user_roles!(tx, tenant_id, created.id, roles)?;
            tx.commit().await?;
            created
        });
        Ok(created)
    }

    pub async fn list_users(&self, tenant_id: i64) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    pub async fn count_users(&self, tenant_id: i64) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM users WHERE tenant_id = $1";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql).bind(tenant_id).fetch_one(pool).await)?)
    }

    /// A user of this tenant by id; another tenant's user is `None` like a missing one.
    pub async fn user_by_id(&self, tenant_id: i64, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?)
    }

    pub async fn user_by_login(&self, tenant_id: i64, login: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND login = $2");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(tenant_id).bind(login).fetch_optional(pool).await)?,
        )
    }

    /// Every tenant's user with this login, for sign-ins that name no organization.
    pub async fn users_by_login_any_tenant(&self, login: &str) -> StoreResult<Vec<(User, Tenant)>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE login = $1 ORDER BY tenant_id");
        let users = on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).bind(login).fetch_all(pool).await)?;
        let tenants = self.list_tenants().await?;
        Ok(users
            .into_iter()
            .filter_map(|u| tenants.iter().find(|t| t.id == u.tenant_id).cloned().map(|t| (u, t)))
            .collect())
    }

    /// Applies `update` in one transaction: a new password also revokes the user's sign-in
    /// tokens (whoever knew the old one is signed out), and any change of password, privilege or
    /// profile moves the revocation epoch so every process re-reads the user's tokens.
    pub async fn update_user(&self, tenant_id: i64, id: i64, update: &UserUpdate<'_>) -> StoreResult<User> {
        let sql = format!(
            "UPDATE users SET email = COALESCE($3, email), password_hash = COALESCE($4, password_hash), \
             privilege = COALESCE($5, privilege), profile = COALESCE($6, profile), updated_at = $7 \
             WHERE tenant_id = $1 AND id = $2 RETURNING {USER_COLUMNS}"
        );
        let revoke_sign_ins =
            "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND kind = 'user' AND revoked_at IS NULL";
        let rights_changed = update.password_hash.is_some() || update.privilege.is_some() || update.profile.is_some();
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let user = sqlx::query_as::<_, User>(&sql)
                .bind(tenant_id).bind(id).bind(update.email).bind(update.password_hash)
                .bind(update.privilege).bind(update.profile).bind(now)
                .fetch_optional(&mut *tx).await?
                .ok_or(StoreError::NotFound)?;
            if update.password_hash.is_some() {
                sqlx::query(revoke_sign_ins).bind(id).bind(now).execute(&mut *tx).await?;
            }
            if rights_changed {
                sqlx::query(BUMP_AUTH_EPOCH).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(user)
        })
    }

    pub async fn delete_user(&self, tenant_id: i64, id: i64) -> StoreResult<()> {
        let sql = "DELETE FROM users WHERE tenant_id = $1 AND id = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql).bind(tenant_id).bind(id).execute(&mut *tx).await?.rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(BUMP_AUTH_EPOCH).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
