//! First-start setup: the `default` tenant and its `admin` user.

use crate::auth::{password, secret, Privilege, Profile};
use crate::store::{NewUser, Store};

pub const DEFAULT_TENANT: &str = "default";
pub const ADMIN_LOGIN: &str = "admin";
pub const ADMIN_PASSWORD_ENV: &str = "VIGIA_ADMIN_PASSWORD";

/// The admin created on first start. `password` is `Some` only when it was generated and so must
/// be shown once; a password taken from `VIGIA_ADMIN_PASSWORD` is never printed.
pub struct FirstAdmin {
    pub login: String,
    pub generated_password: Option<String>,
}

/// Creates the default tenant and, if that tenant has no user yet, the admin user. Idempotent.
pub async fn ensure_defaults(store: &Store) -> anyhow::Result<Option<FirstAdmin>> {
    let tenant = store.ensure_tenant(DEFAULT_TENANT).await?;
    if store.count_users(tenant.id).await? > 0 {
        return Ok(None);
    }
    let (pass, generated) = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => {
            password::check_strength(&p).map_err(|e| anyhow::anyhow!("{ADMIN_PASSWORD_ENV}: {e}"))?;
            (p, false)
        }
        _ => (secret::random_password(), true),
    };
    let hash = {
        let pass = pass.clone();
        tokio::task::spawn_blocking(move || password::hash(&pass)).await??
    };
    let user = NewUser {
        login: ADMIN_LOGIN,
        email: None,
        password_hash: &hash,
        privilege: Privilege::Admin.as_str(),
        profile: Profile::DataAdmin.as_str(),
        // The first admin of the first tenant is the host's operator (plugins, host-wide settings).
        operator: true,
    };
    match store.create_user(tenant.id, &user).await {
        Ok(_) => Ok(Some(FirstAdmin { login: ADMIN_LOGIN.into(), generated_password: generated.then_some(pass) })),
        // Another process (a second host on the same PostgreSQL) won the race: fine.
        Err(crate::store::StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Tells the operator about a freshly created admin, once.
pub fn announce(first: &FirstAdmin) {
    match &first.generated_password {
        Some(p) => println!(
            "First start: created user \"{}\" in tenant \"{DEFAULT_TENANT}\" with password: {p}\n\
             (shown once; set {ADMIN_PASSWORD_ENV} before the first start to choose it)",
            first.login
        ),
        None => println!(
            "First start: created user \"{}\" in tenant \"{DEFAULT_TENANT}\" with the password from {ADMIN_PASSWORD_ENV}",
            first.login
        ),
    }
}
