//! Roles of a tenant (name + canonical JSON `access`, see `rbac`) and which users hold them.
//! Deleting a role someone holds is refused, atomically, so no user silently loses a role and
//! falls back to the unrestricted "no roles" view.

use std::collections::HashMap;

use super::{now_ms, on_pool, Store, StoreError, StoreResult};

/// A stored role; `access` is the canonical JSON of its filter sets (`rbac::RoleAccess`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Role {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub access: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Outcome of `delete_role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    /// Not deleted: this many users hold the role.
    HeldBy(i64),
}

const ROLE_COLUMNS: &str = "id, tenant_id, name, access, created_at, updated_at";

/// Replaces the roles of user `$user_id` by the tenant's roles named in `$names`, inside the
/// open transaction `$tx` (a macro because the transaction types differ per backend). A name the
/// tenant has no role for is `Conflict`: callers validate first, so only a concurrent deletion
/// gets there, and the transaction is then dropped (rolled back).
macro_rules! replace_user_roles {
    ($tx:ident, $tenant_id:expr, $user_id:expr, $names:expr) => {{
        let names: std::collections::BTreeSet<&str> = $names.iter().map(|n| n.as_str()).collect();
        let result: StoreResult<()> = async {
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind($user_id).execute(&mut *$tx).await?;
            for name in names {
                let added = sqlx::query(
                    "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE tenant_id = $2 AND name = $3",
                )
                .bind($user_id)
                .bind($tenant_id)
                .bind(name)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
                if added == 0 {
                    return Err(StoreError::Conflict(format!("role {name:?} does not exist")));
                }
            }
            Ok(())
        }
        .await;
        result
    }};
}
pub(super) use replace_user_roles;

impl Store {
    /// `Conflict` when the tenant already has a role of this name.
    pub async fn create_role(&self, tenant_id: i64, name: &str, access: &str) -> StoreResult<Role> {
        let sql = format!(
            "INSERT INTO roles (tenant_id, name, access, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             RETURNING {ROLE_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, Role>(&sql)
            .bind(tenant_id).bind(name).bind(access).bind(now_ms()).fetch_one(pool).await)
        .map_err(|e| StoreError::conflict_on_unique(e, format!("role {name:?} already exists")))
    }

    pub async fn list_roles(&self, tenant_id: i64) -> StoreResult<Vec<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant_id = $1 ORDER BY name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Role>(&sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    pub async fn role_by_name(&self, tenant_id: i64, name: &str) -> StoreResult<Option<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE tenant_id = $1 AND name = $2");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Role>(&sql)
            .bind(tenant_id).bind(name).fetch_optional(pool).await)?)
    }

    /// Replaces a role's access; `NotFound` when the tenant has no such role.
    pub async fn update_role_access(&self, tenant_id: i64, name: &str, access: &str) -> StoreResult<Role> {
        let sql = format!(
            "UPDATE roles SET access = $3, updated_at = $4 WHERE tenant_id = $1 AND name = $2 RETURNING {ROLE_COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, Role>(&sql)
            .bind(tenant_id).bind(name).bind(access).bind(now_ms()).fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
    }

    /// Deletes a role nobody holds, in one statement so a concurrent grant cannot slip between a
    /// check and the delete; otherwise says how many hold it. `NotFound` when there is no role.
    pub async fn delete_role(&self, tenant_id: i64, name: &str) -> StoreResult<RoleDeletion> {
        let sql = "DELETE FROM roles WHERE tenant_id = $1 AND name = $2 \
                   AND NOT EXISTS (SELECT 1 FROM user_roles WHERE user_roles.role_id = roles.id)";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
        if done > 0 {
            return Ok(RoleDeletion::Deleted);
        }
        let holders = "SELECT COUNT(ur.user_id) FROM roles r LEFT JOIN user_roles ur ON ur.role_id = r.id \
                       WHERE r.tenant_id = $1 AND r.name = $2 GROUP BY r.id";
        let count = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(holders)
            .bind(tenant_id).bind(name).fetch_optional(pool).await)?;
        match count {
            None => Err(StoreError::NotFound),
            Some(n) => Ok(RoleDeletion::HeldBy(n)),
        }
    }

    /// The stored `access` of every role a user holds (empty: the user holds none).
    pub async fn role_access_of_user(&self, tenant_id: i64, user_id: i64) -> StoreResult<Vec<String>> {
        let sql = "SELECT r.access FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                   WHERE r.tenant_id = $1 AND ur.user_id = $2 ORDER BY r.name";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(sql)
            .bind(tenant_id).bind(user_id).fetch_all(pool).await)?)
    }

    /// Role names per user id, for the tenant's user listings (users without roles are absent).
    pub async fn role_names_by_user(&self, tenant_id: i64) -> StoreResult<HashMap<i64, Vec<String>>> {
        let sql = "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                   WHERE r.tenant_id = $1 ORDER BY r.name";
        let rows =
            on_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(sql).bind(tenant_id).fetch_all(pool).await)?;
        let mut by_user: HashMap<i64, Vec<String>> = HashMap::new();
        for (user_id, name) in rows {
            by_user.entry(user_id).or_default().push(name);
        }
        Ok(by_user)
    }

    /// Gives a user of the tenant exactly these roles (by name). `NotFound` for an unknown user,
    /// `Conflict` for an unknown role (nothing changes then).
    pub async fn set_user_roles(&self, tenant_id: i64, user_id: i64, names: &[String]) -> StoreResult<()> {
        let exists = "SELECT id FROM users WHERE tenant_id = $1 AND id = $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query_scalar::<_, i64>(exists)
                .bind(tenant_id).bind(user_id).fetch_optional(&mut *tx).await?
                .ok_or(StoreError::NotFound)?;
            replace_user_roles!(tx, tenant_id, user_id, names)?;
            tx.commit().await?;
        });
        Ok(())
    }
}
