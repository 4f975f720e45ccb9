//! Token authentication with a short-lived cache (a hash lookup per request, no argon2), and
//! password sign-in that issues user tokens: guarded by the lockout and with a bounded number of
//! argon2 checks at a time (each takes ~19 MiB), so a flood of sign-ins queues instead of
//! exhausting memory.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::sync::Cache;
use tokio::sync::Semaphore;

use super::hash_pool::HashPool;
use super::lifetimes::Lifetimes;
use super::lockout::{LockKey, Lockout, LockoutPolicy};
use super::scopes::{stored_user_scopes, ScopeSet};
use super::settings::AuthConfig;
use super::{password, secret};
use crate::store::{now_ms, NewToken, Store, StoreError, Tenant, TokenKind, User};

/// Who is calling, resolved from a token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: i64,
    pub tenant_name: String,
    pub user_id: i64,
    pub login: String,
    pub email: Option<String>,
    pub token_id: i64,
    pub token_prefix: String,
    pub token_kind: TokenKind,
    /// When the token was issued (a sign-in's age decides whether minting needs the password).
    pub token_created_at: i64,
    /// Effective scopes: for API tokens, those granted at creation that the owner still holds.
    pub scopes: ScopeSet,
    pub expires_at: Option<i64>,
}

/// Why authentication failed; the API maps all but `Store` to 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown token")]
    UnknownToken,
    #[error("token expired")]
    Expired,
    #[error("token revoked")]
    Revoked,
    /// Also for a login that several organizations share, asked without one: a different answer
    /// would tell a stranger that the login exists.
    #[error("invalid username or password")]
    BadCredentials,
    /// Too many failed sign-ins of this login lately; the same for a login that does not exist.
    #[error("too many failed sign-ins for this login: try again in {} minutes", .retry_after.as_secs().div_ceil(60).max(1))]
    LockedOut { retry_after: Duration },
    /// Every password-check slot stayed busy for the whole queue timeout.
    #[error("too many sign-ins in progress: try again in a moment")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

struct CachedToken {
    principal: Principal,
    revoked: bool,
    /// When `last_used_at` was last written, so busy tokens cost one write per minute, not per call.
    last_touch: AtomicI64,
}

/// How long a token lookup stays cached. Revocation through this process is immediate (the entry
/// is invalidated); another host sharing a PostgreSQL store sees it at its next
/// `sync_revocations` (every second under `vigia serve`), and within this bound at worst.
const CACHE_TTL: Duration = Duration::from_secs(30);
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    /// `None` caches "no such token" too, so floods of bad tokens don't each reach the database.
    cache: Cache<String, Option<Arc<CachedToken>>>,
    lifetimes: Lifetimes,
    /// The revocation epoch this cache reflects (see `sync_revocations`).
    seen_epoch: Arc<AtomicI64>,
    lockout: Arc<Lockout>,
    /// One permit per argon2 check allowed at the same time.
    hashing: Arc<Semaphore>,
    /// Where argon2 runs: one thread per permit (see `hash_pool`).
    pool: HashPool,
    queue_timeout: Duration,
}

impl Authenticator {
    pub fn new(store: Store, config: &AuthConfig) -> Authenticator {
        let cache = Cache::builder().max_capacity(100_000).time_to_live(CACHE_TTL).build();
        let permits = match config.max_concurrent_sign_ins {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let lockout = Lockout::new(LockoutPolicy {
            failures: config.lockout_failures,
            window: Duration::from_secs(config.lockout_window_seconds),
            lock: Duration::from_secs(config.lockout_seconds),
        });
        Authenticator {
            store,
            cache,
            lifetimes: Lifetimes::of(config),
            seen_epoch: Arc::new(AtomicI64::new(i64::MIN)),
            lockout: Arc::new(lockout),
            hashing: Arc::new(Semaphore::new(permits)),
            pool: HashPool::new(permits),
            queue_timeout: Duration::from_millis(config.sign_in_queue_timeout_ms),
        }
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// Drops the whole cache when the store's revocation epoch moved since the last call, i.e.
    /// when any process revoked a token or changed a user's rights. True when it dropped it.
    pub async fn sync_revocations(&self) -> Result<bool, AuthError> {
        let epoch = self.store.auth_epoch().await?;
        let seen = self.seen_epoch.swap(epoch, Ordering::Relaxed);
        if seen == epoch {
            return Ok(false);
        }
        self.cache.invalidate_all();
        Ok(true)
    }

    /// Checks the password of an already authenticated user again (sudo mode): the same answer
    /// and bounded argon2 work as a sign-in.
    pub async fn confirm_password(&self, tenant_id: i64, user_id: i64, pass: &str) -> Result<(), AuthError> {
        let stored = self.store.user_by_id(tenant_id, user_id).await?.map(|u| u.password_hash);
        let known = stored.is_some();
        let stored_hash = stored.unwrap_or_else(|| dummy_hash().to_string());
        let pass = pass.to_string();
        let permit = self.hashing_permit().await?;
        let ok = self
            .pool
            .run(move || {
                let _permit = permit;
                password::verify(&pass, &stored_hash)
            })
            .await
            .map_err(|e| anyhow::anyhow!("password check failed: {e}"))?;
        match known && ok {
            true => Ok(()),
            false => Err(AuthError::BadCredentials),
        }
    }

    /// Resolves a presented token to its principal.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let hash = secret::hash(token);
        let cached = match self.cache.get(&hash) {
            Some(hit) => hit,
            None => {
                let loaded = self.load(&hash).await?;
                self.cache.insert(hash, loaded.clone());
                loaded
            }
        };
        let entry = cached.ok_or(AuthError::UnknownToken)?;
        if entry.revoked {
            return Err(AuthError::Revoked);
        }
        let now = now_ms();
        if entry.principal.expires_at.is_some_and(|exp| now >= exp) {
            return Err(AuthError::Expired);
        }
        self.touch(&entry, now);
        Ok(entry.principal.clone())
    }

    async fn load(&self, hash: &str) -> Result<Option<Arc<CachedToken>>, AuthError> {
        let Some(found) = self.store.token_by_hash(hash).await? else {
            return Ok(None);
        };
        let owner_scopes = stored_user_scopes(&found.privilege, &found.profile, found.operator);
        let scopes = match found.token.kind {
            TokenKind::User => owner_scopes,
            TokenKind::Api => ScopeSet::from_stored(&found.token.scopes).intersect(owner_scopes),
        };
        let t = found.token;
        Ok(Some(Arc::new(CachedToken {
            revoked: t.revoked_at.is_some(),
            last_touch: AtomicI64::new(t.last_used_at.unwrap_or(0)),
            principal: Principal {
                tenant_id: t.tenant_id,
                tenant_name: found.tenant_name,
                user_id: t.user_id,
                login: found.login,
                email: found.email,
                token_id: t.id,
                token_prefix: t.prefix,
                token_kind: t.kind,
                token_created_at: t.created_at,
                scopes,
                expires_at: t.expires_at,
            },
        })))
    }

    fn touch(&self, entry: &CachedToken, now: i64) {
        let last = entry.last_touch.load(Ordering::Relaxed);
        if now - last < TOUCH_EVERY_MS
            || entry.last_touch.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let (store, id) = (self.store.clone(), entry.principal.token_id);
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(id, now).await {
                tracing::warn!(token_id = id, error = %e, "could not record token use");
            }
        });
    }

    /// Drops one token from the cache (after revocation).
    pub fn forget(&self, hash: &str) {
        self.cache.invalidate(hash);
    }

    /// Drops every cached token (after a user's rights change or a user is deleted).
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }

    /// Checks a password. With `organization`, the login is looked up in that tenant; without,
    /// it must exist in exactly one tenant. Unknown and ambiguous logins cost as much as wrong
    /// passwords and get the same answer, lockout included: a locked login is refused before its
    /// password is checked, even the right one.
    pub async fn sign_in(
        &self,
        organization: Option<&str>,
        login: &str,
        pass: &str,
    ) -> Result<(User, Tenant), AuthError> {
        // A locked login is refused at once, before any lookup: the answer cannot depend on
        // whether it exists.
        let keys = LockKey::for_attempt(organization, login);
        self.lockout.begin(&keys, now_ms()).map_err(|retry_after| AuthError::LockedOut { retry_after })?;
        let candidate = match self.candidate(organization, login).await {
            Ok(found) => found,
            Err(e) => {
                self.lockout.abandoned(&keys);
                return Err(e);
            }
        };
        let permit = match self.hashing_permit().await {
            Ok(permit) => permit,
            Err(e) => {
                // Nothing was checked: the attempt costs the login nothing.
                self.lockout.abandoned(&keys);
                return Err(e);
            }
        };
        let stored_hash = candidate.as_ref().map(|(u, _)| u.password_hash.clone());
        let pass = pass.to_string();
        let checked = self
            .pool
            .run(move || {
                let _permit = permit;
                let stored = match &stored_hash {
                    Some(hash) => hash.as_str(),
                    None => dummy_hash(),
                };
                password::verify(&pass, stored)
            })
            .await;
        match (candidate, checked) {
            (Some(found), Ok(true)) => {
                self.lockout.succeeded(&keys);
                Ok(found)
            }
            (_, Ok(_)) => {
                self.lockout.failed(&keys, now_ms());
                Err(AuthError::BadCredentials)
            }
            (_, Err(e)) => {
                self.lockout.failed(&keys, now_ms());
                Err(anyhow::anyhow!("password check task failed: {e}").into())
            }
        }
    }

    /// The user a sign-in names: in `organization`, or the only one with that login.
    async fn candidate(&self, organization: Option<&str>, login: &str) -> Result<Option<(User, Tenant)>, AuthError> {
        Ok(match organization {
            Some(org) => match self.store.tenant_by_name(org).await? {
                Some(tenant) => self.store.user_by_login(tenant.id, login).await?.map(|u| (u, tenant)),
                None => None,
            },
            None => {
                let mut all = self.store.users_by_login_any_tenant(login).await?;
                match all.len() {
                    1 => all.pop(),
                    _ => None,
                }
            }
        })
    }

    /// Lifts the lockout of `login` in organization `tenant` and of the login alone (never of the
    /// login in another organization); answers whether one of them was locked.
    pub fn reset_lockout(&self, tenant: &str, login: &str) -> bool {
        self.lockout.reset(&LockKey::for_attempt(Some(tenant), login), now_ms())
    }

    /// Runs `password::hash` off the runtime within the same bound as sign-in checks (argon2
    /// takes ~19 MiB and tens of milliseconds).
    pub async fn hash_password(&self, pass: String) -> Result<String, AuthError> {
        let permit = self.hashing_permit().await?;
        self.pool
            .run(move || {
                let _permit = permit;
                password::hash(&pass)
            })
            .await
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
            .map_err(AuthError::Internal)
    }

    /// A slot for one argon2 computation, waited for at most the queue timeout.
    async fn hashing_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AuthError> {
        tokio::time::timeout(self.queue_timeout, self.hashing.clone().acquire_owned())
            .await
            .map_err(|_| AuthError::Busy)?
            .map_err(|e| AuthError::Internal(anyhow::anyhow!("password check slots closed: {e}")))
    }

    /// Issues a user token valid for the configured lifetime (24 h by default).
    pub async fn issue_user_token(&self, user: &User) -> Result<(String, i64), AuthError> {
        let minted = secret::mint(secret::USER_TOKEN_MARKER);
        let expires_at = now_ms() + self.lifetimes.sign_in_ms;
        self.store
            .create_token(&NewToken {
                tenant_id: user.tenant_id,
                user_id: user.id,
                kind: TokenKind::User,
                name: "sign-in",
                prefix: &minted.prefix,
                secret_hash: &minted.hash,
                scopes: "",
                expires_at: Some(expires_at),
            })
            .await?;
        Ok((minted.token, expires_at))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// A valid argon2id hash of a random password, verified against when a login does not exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| password::hash(&secret::random_password()).expect("argon2 with default parameters"))
}
