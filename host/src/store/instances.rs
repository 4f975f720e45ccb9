//! Monitored PostgreSQL instances of a tenant: connection (password sealed by the caller with
//! `SecretBox`, for the row's id), tags, collection settings and the outcome of the last
//! connection check.

use super::{now_ms, on_pool, Store, StoreError, StoreResult};

/// A stored instance. `tags` is canonical `key=value,key=value` text; `password_sealed` is never
/// the clear password (the API seals before calling the store and never returns it).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Instance {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub password_sealed: String,
    pub tags: String,
    pub enabled: bool,
    pub collection_rate: String,
    pub samples: bool,
    pub lock_monitoring: bool,
    pub lock_monitoring_delay: i64,
    pub table_monitoring: bool,
    pub query_monitoring: bool,
    pub query_monitoring_optimize: bool,
    pub query_monitoring_min_calls: i64,
    pub query_monitoring_min_time: i64,
    #[sqlx(try_from = "String")]
    pub sslmode: SslMode,
    /// CA bundle (absolute path) for `verify-ca`/`verify-full`; empty: the built-in roots.
    pub sslrootcert: String,
    pub connected: bool,
    pub last_error: Option<String>,
    pub checked_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[cfg(test)]
impl Instance {
    /// An instance with the default settings, for unit tests of code that reads instances.
    pub(crate) fn example(name: &str, host: &str, tags: &str) -> Instance {
        Instance {
            id: 1,
            tenant_id: 1,
            name: name.into(),
            host: host.into(),
            port: 5432,
            username: "postgres".into(),
            password_sealed: String::new(),
            tags: tags.into(),
            enabled: true,
            collection_rate: "low".into(),
            samples: false,
            lock_monitoring: true,
            lock_monitoring_delay: 30,
            table_monitoring: true,
            query_monitoring: true,
            query_monitoring_optimize: false,
            query_monitoring_min_calls: 2,
            query_monitoring_min_time: 1,
            sslmode: SslMode::Prefer,
            sslrootcert: String::new(),
            connected: true,
            last_error: None,
            checked_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }
}

pub struct NewInstance<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: i64,
    pub username: &'a str,
    pub tags: &'a str,
}

/// Fields to change; `None` keeps the stored value.
#[derive(Default, Debug, Clone)]
pub struct InstanceUpdate {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub username: Option<String>,
    pub password_sealed: Option<String>,
    pub tags: Option<String>,
    pub enabled: Option<bool>,
    pub collection_rate: Option<String>,
    pub samples: Option<bool>,
    pub lock_monitoring: Option<bool>,
    pub lock_monitoring_delay: Option<i64>,
    pub table_monitoring: Option<bool>,
    pub query_monitoring: Option<bool>,
    pub query_monitoring_optimize: Option<bool>,
    pub query_monitoring_min_calls: Option<i64>,
    pub query_monitoring_min_time: Option<i64>,
    pub sslmode: Option<SslMode>,
    /// `Some("")` clears it.
    pub sslrootcert: Option<String>,
}

impl InstanceUpdate {
    /// Whether the change touches how Vigia connects (so the connection is worth checking again).
    pub fn changes_connection(&self) -> bool {
        self.host.is_some()
            || self.port.is_some()
            || self.username.is_some()
            || self.password_sealed.is_some()
            || self.sslmode.is_some()
            || self.sslrootcert.is_some()
    }
}

/// libpq's `sslmode` towards a monitored server, weakest first (the order is how strong the
/// guarantee is: `Ord` answers "is this a downgrade?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum SslMode {
    Disable,
    /// TLS when the server offers it, without checking its certificate; else plain.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by a trusted CA.
    VerifyCa,
    /// `VerifyCa`, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 5] =
        [SslMode::Disable, SslMode::Prefer, SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Result<SslMode, String> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == text).ok_or_else(|| {
            format!("invalid sslmode {text:?}: expected disable, prefer, require, verify-ca or verify-full")
        })
    }
}

impl TryFrom<String> for SslMode {
    type Error = String;
    fn try_from(stored: String) -> Result<SslMode, String> {
        SslMode::parse(&stored)
    }
}

const COLUMNS: &str = "id, tenant_id, name, host, port, username, password_sealed, tags, enabled, collection_rate, \
    samples, lock_monitoring, lock_monitoring_delay, table_monitoring, query_monitoring, query_monitoring_optimize, \
    query_monitoring_min_calls, query_monitoring_min_time, sslmode, sslrootcert, connected, last_error, checked_at, created_at, updated_at";

impl Store {
    /// Inserts an instance with default settings and the password `seal(id)` returns for its id;
    /// `Conflict` when the tenant already has the name.
    ///
    /// The password is sealed for its row, and the row's id is only known once the INSERT has
    /// assigned it (SQLite has no sequence to draw from first): so the row is inserted with an
    /// empty password and given the sealed one in the same transaction. No other connection
    /// ever sees it without its password.
    pub async fn create_instance(
        &self,
        tenant_id: i64,
        new: &NewInstance<'_>,
        seal: impl FnOnce(i64) -> String,
    ) -> StoreResult<Instance> {
        let insert =
            "INSERT INTO instances (tenant_id, name, host, port, username, password_sealed, tags, created_at, \
                      updated_at) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $7) RETURNING id";
        let set_password = format!("UPDATE instances SET password_sealed = $1 WHERE id = $2 RETURNING {COLUMNS}");
        let conflict = |e| StoreError::conflict_on_unique(e, format!("connection {:?} already exists", new.name));
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(insert)
                .bind(tenant_id).bind(new.name).bind(new.host).bind(new.port).bind(new.username)
                .bind(new.tags).bind(now_ms())
                .fetch_one(&mut *tx).await.map_err(conflict)?;
            let created = sqlx::query_as::<_, Instance>(&set_password)
                .bind(seal(id)).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(created)
        })
    }

    /// The tenant's instances by name (another tenant's are simply not there).
    pub async fn list_instances(&self, tenant_id: i64) -> StoreResult<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE tenant_id = $1 ORDER BY name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Instance>(&sql).bind(tenant_id).fetch_all(pool).await)?)
    }

    /// Enabled instances of every tenant, for the sampler (which serves all tenants).
    pub async fn list_enabled_instances(&self) -> StoreResult<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE enabled = $1 ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Instance>(&sql).bind(true).fetch_all(pool).await)?)
    }

    pub async fn instance_by_name(&self, tenant_id: i64, name: &str) -> StoreResult<Option<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE tenant_id = $1 AND name = $2");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Instance>(&sql)
            .bind(tenant_id).bind(name).fetch_optional(pool).await)?)
    }

    /// Applies `update`; `NotFound` when the tenant has no such instance.
    pub async fn update_instance(&self, tenant_id: i64, name: &str, u: &InstanceUpdate) -> StoreResult<Instance> {
        let sql = format!(
            "UPDATE instances SET host = COALESCE($3, host), port = COALESCE($4, port), \
             username = COALESCE($5, username), password_sealed = COALESCE($6, password_sealed), \
             tags = COALESCE($7, tags), enabled = COALESCE($8, enabled), \
             collection_rate = COALESCE($9, collection_rate), samples = COALESCE($10, samples), \
             lock_monitoring = COALESCE($11, lock_monitoring), \
             lock_monitoring_delay = COALESCE($12, lock_monitoring_delay), \
             table_monitoring = COALESCE($13, table_monitoring), query_monitoring = COALESCE($14, query_monitoring), \
             query_monitoring_optimize = COALESCE($15, query_monitoring_optimize), \
             query_monitoring_min_calls = COALESCE($16, query_monitoring_min_calls), \
             query_monitoring_min_time = COALESCE($17, query_monitoring_min_time), updated_at = $18, \
             sslmode = COALESCE($19, sslmode), sslrootcert = COALESCE($20, sslrootcert) \
             WHERE tenant_id = $1 AND name = $2 RETURNING {COLUMNS}"
        );
        on_pool!(self, pool => sqlx::query_as::<_, Instance>(&sql)
            .bind(tenant_id).bind(name).bind(&u.host).bind(u.port).bind(&u.username).bind(&u.password_sealed)
            .bind(&u.tags).bind(u.enabled).bind(&u.collection_rate).bind(u.samples).bind(u.lock_monitoring)
            .bind(u.lock_monitoring_delay).bind(u.table_monitoring).bind(u.query_monitoring)
            .bind(u.query_monitoring_optimize).bind(u.query_monitoring_min_calls).bind(u.query_monitoring_min_time)
            .bind(now_ms()).bind(u.sslmode.map(SslMode::as_str)).bind(&u.sslrootcert)
            .fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
    }

    /// Whether instance `id` was connected at its last check (`None`: no such instance).
    pub async fn instance_connected(&self, tenant_id: i64, id: i64) -> StoreResult<Option<bool>> {
        let sql = "SELECT connected FROM instances WHERE tenant_id = $1 AND id = $2";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, bool>(sql).bind(tenant_id).bind(id).fetch_optional(pool).await)?,
        )
    }

    /// Records the outcome of a connection check. Keyed by id so a concurrent rename or
    /// delete-and-recreate under the same name cannot receive another instance's result.
    pub async fn set_instance_status(
        &self,
        tenant_id: i64,
        id: i64,
        connected: bool,
        last_error: Option<&str>,
    ) -> StoreResult<Option<Instance>> {
        let sql = format!(
            "UPDATE instances SET connected = $3, last_error = $4, checked_at = $5 \
             WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Instance>(&sql)
            .bind(tenant_id).bind(id).bind(connected).bind(last_error).bind(now_ms())
            .fetch_optional(pool).await)?)
    }

    pub async fn delete_instance(&self, tenant_id: i64, name: &str) -> StoreResult<()> {
        let sql = "DELETE FROM instances WHERE tenant_id = $1 AND name = $2";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(tenant_id).bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
