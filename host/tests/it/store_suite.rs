//! The storage suite, run against SQLite and a private PostgreSQL cluster alike.

use crate::support;

use support::{add_user, fresh_store, Backend};
use vigia::store::{now_ms, NewToken, StoreError, TokenKind, UserUpdate};

backend_tests!(
    migrations_are_idempotent,
    tenant_names_are_unique,
    logins_are_unique_per_tenant_only,
    users_are_isolated_by_tenant,
    tokens_are_found_by_hash_and_revoked_once,
    dead_tokens_are_purged,
    ping_fails_after_close,
);

fn token<'a>(tenant_id: i64, user_id: i64, hash: &'a str, expires_at: Option<i64>) -> NewToken<'a> {
    NewToken {
        tenant_id,
        user_id,
        kind: TokenKind::Api,
        name: "t",
        prefix: "abcd1234",
        secret_hash: hash,
        scopes: "read:status",
        expires_at,
    }
}

async fn migrations_are_idempotent(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn tenant_names_are_unique(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    let t = store.create_tenant("acme").await.unwrap();
    assert!(matches!(store.create_tenant("acme").await, Err(StoreError::Conflict(_))));
    assert_eq!(store.ensure_tenant("acme").await.unwrap().id, t.id, "ensure is idempotent");
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);
}

async fn logins_are_unique_per_tenant_only(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    let a = store.create_tenant("a").await.unwrap();
    let c = store.create_tenant("c").await.unwrap();
    add_user(&store, a.id, "sam", "read", "developer").await;
    add_user(&store, c.id, "sam", "admin", "data admin").await;
    let dup = store
        .create_user(
            a.id,
            &vigia::store::NewUser {
                login: "sam",
                email: None,
                password_hash: "x",
                privilege: "read",
                profile: "developer",
                operator: false,
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(m)) if m.contains("sam")));
    let both = store.users_by_login_any_tenant("sam").await.unwrap();
    assert_eq!(both.iter().map(|(_, t)| t.name.as_str()).collect::<Vec<_>>(), ["a", "c"]);
}

async fn users_are_isolated_by_tenant(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    let a = store.create_tenant("a").await.unwrap();
    let c = store.create_tenant("c").await.unwrap();
    let u = add_user(&store, a.id, "sam", "read", "developer").await;
    assert!(store.user_by_id(c.id, u.id).await.unwrap().is_none());
    let upd = UserUpdate { privilege: Some("admin"), ..Default::default() };
    assert!(matches!(store.update_user(c.id, u.id, &upd).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_user(c.id, u.id).await, Err(StoreError::NotFound)));
    let changed = store.update_user(a.id, u.id, &upd).await.unwrap();
    assert_eq!((changed.privilege.as_str(), changed.profile.as_str()), ("admin", "developer"));
    store.delete_user(a.id, u.id).await.unwrap();
    assert!(store.user_by_id(a.id, u.id).await.unwrap().is_none());
}

async fn tokens_are_found_by_hash_and_revoked_once(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    let a = store.create_tenant("a").await.unwrap();
    let c = store.create_tenant("c").await.unwrap();
    let u = add_user(&store, a.id, "sam", "read", "developer").await;
    let v = add_user(&store, a.id, "val", "read", "developer").await;
    let t = store.create_token(&token(a.id, u.id, "hash-1", None)).await.unwrap();
    let found = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!((found.token.id, found.login.as_str(), found.tenant_name.as_str()), (t.id, "sam", "a"));
    assert!(store.token_by_hash("hash-2").await.unwrap().is_none());
    assert!(matches!(store.create_token(&token(a.id, u.id, "hash-1", None)).await, Err(StoreError::Conflict(_))));

    assert!(matches!(store.revoke_token(c.id, t.id, None).await, Err(StoreError::NotFound)), "other tenant");
    assert!(matches!(store.revoke_token(a.id, t.id, Some(v.id)).await, Err(StoreError::NotFound)), "other owner");
    assert_eq!(store.list_tokens(a.id, TokenKind::Api, Some(u.id)).await.unwrap().len(), 1);
    assert_eq!(store.revoke_token(a.id, t.id, Some(u.id)).await.unwrap(), "hash-1");
    assert!(matches!(store.revoke_token(a.id, t.id, None).await, Err(StoreError::NotFound)), "only once");
    assert!(store.list_tokens(a.id, TokenKind::Api, None).await.unwrap().is_empty());
    assert!(store.token_by_hash("hash-1").await.unwrap().unwrap().token.revoked_at.is_some());

    store.delete_user(a.id, u.id).await.unwrap();
    assert!(store.token_by_hash("hash-1").await.unwrap().is_none(), "tokens die with their user");
}

async fn dead_tokens_are_purged(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    let a = store.create_tenant("a").await.unwrap();
    let u = add_user(&store, a.id, "sam", "read", "developer").await;
    store.create_token(&token(a.id, u.id, "old", Some(now_ms() - 10_000))).await.unwrap();
    store.create_token(&token(a.id, u.id, "live", Some(now_ms() + 10_000))).await.unwrap();
    store.create_token(&token(a.id, u.id, "forever", None)).await.unwrap();
    store.touch_token(1, now_ms()).await.unwrap();
    assert_eq!(store.purge_dead_tokens(5_000).await.unwrap(), 1);
    assert!(store.token_by_hash("old").await.unwrap().is_none());
    assert!(store.token_by_hash("live").await.unwrap().is_some());
    assert!(store.token_by_hash("forever").await.unwrap().is_some());
}

async fn ping_fails_after_close(b: Backend) {
    let (store, _dir) = fresh_store(b).await;
    store.ping().await.unwrap();
    store.close().await;
    assert!(store.ping().await.is_err());
}
