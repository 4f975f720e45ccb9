//! Monitored PostgreSQL instances over HTTP in two forms that share this module's logic: the
//! Datasentinel-compatible `/ds-api/pool/pg-instances/{connection_name}` (seed 001; answers
//! `{"status": …}` so its toolkit works unchanged) and the native `/api/v1/instances` (answers the
//! instance). Passwords are sealed before storage and never returned; every query takes the
//! caller's tenant, so another tenant's instance is the same 404 as a missing one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{ApiResult, AppError};
use super::extract::{ApiJson, ApiPath, ApiQuery, LenientJson};
use super::instance_body::{check_password_follows, port_number, DsInstanceCreate, InstanceCreate};
pub use super::instance_body::{InstanceBody, PASSWORD_MASK};
use super::{rfc3339, AppContext};
use crate::auth::Principal;
use crate::events::EventType;
use crate::instances::{self as inst, SslMode, Tags, Target, Tls};
use crate::rbac::InstanceScope;
use crate::secrets::SealedFor;
use crate::store::{Instance, InstanceUpdate, NewInstance, StoreError};

pub(super) fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("connection {name:?} not found"))
}

fn instance_not_found(name: &str) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |e| match e {
        StoreError::NotFound => not_found(name),
        other => other.into(),
    }
}

/// The instance if it exists and the caller's roles let it see it; otherwise the same 404, so a
/// restricted user cannot tell an instance outside its scope from a missing one.
async fn find(ctx: &AppContext, caller: &Principal, name: &str) -> ApiResult<Instance> {
    let instance = ctx.store.instance_by_name(caller.tenant_id, name).await?.ok_or_else(|| not_found(name))?;
    if InstanceScope::for_principal(&ctx.store, caller).await?.allows(&instance) {
        Ok(instance)
    } else {
        Err(not_found(name))
    }
}

/// Creates an instance, then checks the connection; an unreachable server is still stored.
pub(super) async fn create(
    ctx: &AppContext,
    caller: &Principal,
    name: &str,
    body: &InstanceBody,
    tags_required: bool,
) -> ApiResult<Instance> {
    inst::check_name(name).map_err(AppError::BadRequest)?;
    let missing = body.missing_on_create(tags_required);
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!("missing required field(s): {}", missing.join(", "))));
    }
    let update = body.to_update()?;
    let new = NewInstance {
        name,
        host: update.host.as_deref().unwrap_or_default(),
        port: update.port.unwrap_or_default(),
        username: update.username.as_deref().unwrap_or_default(),
        tags: update.tags.as_deref().unwrap_or_default(),
    };
    let password = body.new_password().unwrap_or_default();
    let tenant_id = caller.tenant_id;
    let seal = |instance_id| ctx.secrets.seal(password, &SealedFor::InstancePassword { tenant_id, instance_id });
    let mut created = ctx.store.create_instance(tenant_id, &new, seal).await?;
    if body.has_settings() {
        created = ctx.store.update_instance(caller.tenant_id, name, &update).await?;
    }
    inst::announce(&ctx.store, EventType::InstanceAdded, &created);
    refresh_status(ctx, created).await
}

/// Applies a body or toggle, with a new `password` when one is given; re-checks the connection
/// when the instance is enabled and the change could alter whether it connects (always on a full
/// update, which is how operators fix one).
pub(super) async fn update(
    ctx: &AppContext,
    caller: &Principal,
    name: &str,
    update: &InstanceUpdate,
    password: Option<&str>,
    recheck: bool,
) -> ApiResult<Instance> {
    let stored = find(ctx, caller, name).await?;
    // Sealed for the row just found. Should the name be deleted and created again before the
    // store's update, the new row gets a password it cannot open, never another row's.
    let owner = SealedFor::InstancePassword { tenant_id: stored.tenant_id, instance_id: stored.id };
    let update = InstanceUpdate { password_sealed: password.map(|p| ctx.secrets.seal(p, &owner)), ..update.clone() };
    check_password_follows(&stored, &update)?;
    let updated = ctx.store.update_instance(caller.tenant_id, name, &update).await.map_err(instance_not_found(name))?;
    if recheck {
        refresh_status(ctx, updated).await
    } else {
        Ok(updated)
    }
}

/// Enables (and checks) or disables an instance. Idempotent: the toolkit disables twice.
pub(super) async fn set_enabled(
    ctx: &AppContext,
    caller: &Principal,
    name: &str,
    enabled: bool,
) -> ApiResult<Instance> {
    let change = InstanceUpdate { enabled: Some(enabled), ..Default::default() };
    update(ctx, caller, name, &change, None, true).await
}

/// Checks the connection of an enabled instance and records the outcome. A disabled instance is
/// not monitored, so it is recorded as not connected without trying.
async fn refresh_status(ctx: &AppContext, instance: Instance) -> ApiResult<Instance> {
    let (connected, error) = if !instance.enabled {
        (false, None)
    } else {
        let owner = SealedFor::InstancePassword { tenant_id: instance.tenant_id, instance_id: instance.id };
        match ctx.secrets.open(&instance.password_sealed, &owner) {
            Err(e) => (false, Some(format!("stored password unusable ({e}); set it again"))),
            Ok(password) => {
                let tls = Tls::of(&instance);
                let target = Target {
                    host: &instance.host,
                    port: instance.port,
                    user: &instance.username,
                    password: &password,
                    tls: &tls,
                    networks: &ctx.target_networks,
                };
                match inst::check_connection(&target).await {
                    Ok(_) => (true, None),
                    Err(reason) => (false, Some(reason)),
                }
            }
        }
    };
    let stored = inst::record_status(&ctx.store, &instance, connected, error.as_deref()).await?;
    // Deleted meanwhile: answer what we had, with the outcome we saw.
    Ok(stored.unwrap_or(Instance { connected, last_error: error, ..instance }))
}

/// `"<what>!"` when connected (or deliberately disabled), else why it is not connected.
fn status_line(done: &str, instance: &Instance) -> String {
    match (&instance.last_error, instance.connected || !instance.enabled) {
        (_, true) => format!("Connection {done}!"),
        (Some(reason), false) => format!("Connection {done} but not connected: {reason}"),
        (None, false) => format!("Connection {done} but not connected"),
    }
}

/// The `{"status": …}` answer of every Datasentinel-form write.
pub(super) fn status(text: impl Into<String>) -> Json<Value> {
    Json(json!({ "status": text.into() }))
}

// ---------------------------------------------------------------------------------------------
// Datasentinel form.

/// A connection as Datasentinel displays it (its field names); the password is masked.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub struct DsConnection {
    name: String,
    host: String,
    port: i64,
    user: String,
    /// Always `********`: Vigia never returns a stored password.
    password: &'static str,
    tags: String,
    enabled: bool,
    connected: bool,
    collection_rate: String,
    samples: bool,
    lock_monitoring: bool,
    lock_monitoring_delay: i64,
    table_monitoring: bool,
    query_monitoring: bool,
    query_monitoring_optimize: bool,
    query_monitoring_min_calls: i64,
    query_monitoring_min_time: i64,
}

impl From<Instance> for DsConnection {
    fn from(i: Instance) -> Self {
        DsConnection {
            name: i.name,
            host: i.host,
            port: i.port,
            user: i.username,
            password: PASSWORD_MASK,
            tags: i.tags,
            enabled: i.enabled,
            connected: i.connected,
            collection_rate: i.collection_rate,
            samples: i.samples,
            lock_monitoring: i.lock_monitoring,
            lock_monitoring_delay: i.lock_monitoring_delay,
            table_monitoring: i.table_monitoring,
            query_monitoring: i.query_monitoring,
            query_monitoring_optimize: i.query_monitoring_optimize,
            query_monitoring_min_calls: i.query_monitoring_min_calls,
            query_monitoring_min_time: i.query_monitoring_min_time,
        }
    }
}

/// Adds a connection: `{"status": "Connection created and connected!"}`, or, when the server
/// cannot be reached, still 201 with a status saying it is stored but not connected and why.
#[utoipa::path(post, path = "/ds-api/pool/pg-instances/{connection_name}", tag = "datasentinel",
    params(("connection_name" = String, Path, description = "Connection identifier", pattern = "^[A-Za-z0-9._-]{1,100}$")),
    request_body = DsInstanceCreate,
    security(("bearer" = [])),
    responses((status = 201, description = "`{\"status\": …}`"), (status = 400, description = "Invalid body"),
        (status = 401, description = "Missing or bad token"), (status = 409, description = "The name exists")))]
pub async fn ds_create(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    LenientJson(body): LenientJson<InstanceBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let created = create(&ctx, &caller, &name, &body, true).await?;
    let line = if created.connected {
        "Connection created and connected!".to_string()
    } else {
        status_line("created", &created)
    };
    Ok((StatusCode::CREATED, status(line)))
}

/// Displays a connection with Datasentinel's field names (password masked).
#[utoipa::path(get, path = "/ds-api/pool/pg-instances/{connection_name}", tag = "datasentinel",
    params(("connection_name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DsConnection), (status = 401, description = "Missing or bad token"),
        (status = 404, description = "No such connection")))]
pub async fn ds_show(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DsConnection>> {
    Ok(Json(find(&ctx, &caller, &name).await?.into()))
}

/// Updates a connection (every field optional): `{"status": "Connection updated!"}`.
#[utoipa::path(put, path = "/ds-api/pool/pg-instances/{connection_name}", tag = "datasentinel",
    params(("connection_name" = String, Path)), request_body = Option<InstanceBody>, security(("bearer" = [])),
    responses((status = 200, description = "`{\"status\": \"Connection updated!\"}`"),
        (status = 401, description = "Missing or bad token"), (status = 404, description = "No such connection")))]
pub async fn ds_update(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    LenientJson(body): LenientJson<InstanceBody>,
) -> ApiResult<Json<Value>> {
    let change = body.to_update()?;
    let updated = update(&ctx, &caller, &name, &change, body.new_password(), true).await?;
    Ok(status(status_line("updated", &updated)))
}

/// Disables a connection (monitoring stops); disabling twice is fine.
#[utoipa::path(patch, path = "/ds-api/pool/pg-instances/{connection_name}/disable", tag = "datasentinel",
    params(("connection_name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "`{\"status\": \"Connection disabled!\"}`"),
        (status = 401, description = "Missing or bad token"), (status = 404, description = "No such connection")))]
pub async fn ds_disable(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    set_enabled(&ctx, &caller, &name, false).await?;
    Ok(status("Connection disabled!"))
}

/// Enables a connection and checks it.
#[utoipa::path(patch, path = "/ds-api/pool/pg-instances/{connection_name}/enable", tag = "datasentinel",
    params(("connection_name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "`{\"status\": \"Connection enabled!\"}`"),
        (status = 401, description = "Missing or bad token"), (status = 404, description = "No such connection")))]
pub async fn ds_enable(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let enabled = set_enabled(&ctx, &caller, &name, true).await?;
    Ok(status(status_line("enabled", &enabled)))
}

/// Deletes a connection: `{"status": "Connection deleted!"}` (a JSON body, as the toolkit expects).
#[utoipa::path(delete, path = "/ds-api/pool/pg-instances/{connection_name}", tag = "datasentinel",
    params(("connection_name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "`{\"status\": \"Connection deleted!\"}`"),
        (status = 401, description = "Missing or bad token"), (status = 404, description = "No such connection")))]
pub async fn ds_delete(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let gone = find(&ctx, &caller, &name).await?;
    ctx.store.delete_instance(caller.tenant_id, &name).await.map_err(instance_not_found(&name))?;
    inst::announce(&ctx.store, EventType::InstanceRemoved, &gone);
    Ok(status("Connection deleted!"))
}

// ---------------------------------------------------------------------------------------------
// Native form.

/// An instance as the native API shows it; the password is masked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    name: String,
    host: String,
    port: i64,
    user: String,
    /// Always `********`.
    password: &'static str,
    /// `key=value,key=value`.
    tags: String,
    enabled: bool,
    connected: bool,
    /// Why the last connection check failed.
    last_error: Option<String>,
    checked_at: Option<String>,
    collection_rate: String,
    samples: bool,
    lock_monitoring: bool,
    lock_monitoring_delay: i64,
    table_monitoring: bool,
    query_monitoring: bool,
    query_monitoring_optimize: bool,
    query_monitoring_min_calls: i64,
    query_monitoring_min_time: i64,
    /// `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    sslmode: &'static str,
    /// CA bundle trusted by `verify-ca`/`verify-full`; `null`: the built-in roots.
    sslrootcert: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Instance> for InstanceView {
    fn from(i: Instance) -> Self {
        InstanceView {
            name: i.name,
            host: i.host,
            port: i.port,
            user: i.username,
            password: PASSWORD_MASK,
            tags: i.tags,
            enabled: i.enabled,
            connected: i.connected,
            last_error: i.last_error,
            checked_at: i.checked_at.map(rfc3339),
            collection_rate: i.collection_rate,
            samples: i.samples,
            lock_monitoring: i.lock_monitoring,
            lock_monitoring_delay: i.lock_monitoring_delay,
            table_monitoring: i.table_monitoring,
            query_monitoring: i.query_monitoring,
            query_monitoring_optimize: i.query_monitoring_optimize,
            query_monitoring_min_calls: i.query_monitoring_min_calls,
            query_monitoring_min_time: i.query_monitoring_min_time,
            sslmode: i.sslmode.as_str(),
            sslrootcert: Some(i.sslrootcert).filter(|p| !p.is_empty()),
            created_at: rfc3339(i.created_at),
            updated_at: rfc3339(i.updated_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstanceList {
    instances: Vec<InstanceView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `key=value,key=value`: only instances carrying every one of these tags.
    #[param(
        pattern = r"^\s*$|^\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*(,\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*)*$"
    )]
    tags: Option<String>,
}

/// Lists the tenant's instances the caller's roles let it see, optionally only those carrying
/// all the given tags.
#[utoipa::path(get, path = "/api/v1/instances", tag = "instances", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = InstanceList), (status = 400, description = "Malformed tags")))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<InstanceList>> {
    let wanted = Tags::parse(query.tags.as_deref().unwrap_or_default()).map_err(AppError::BadRequest)?;
    let instances = ctx.store.list_instances(caller.tenant_id).await?;
    let scope = InstanceScope::for_principal(&ctx.store, &caller).await?;
    let instances = instances
        .into_iter()
        .filter(|i| scope.allows(i))
        // Stored tags were validated on the way in; an unparsable row matches no filter.
        .filter(|i| wanted.0.is_empty() || Tags::parse(&i.tags).is_ok_and(|t| t.contains_all(&wanted)))
        .map(InstanceView::from)
        .collect();
    Ok(Json(InstanceList { instances }))
}

/// Registers an instance and checks its connection; an unreachable server is stored anyway and
/// shows `connected: false` with the reason in `last_error`.
#[utoipa::path(post, path = "/api/v1/instances/{name}", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path, pattern = "^[A-Za-z0-9._-]{1,100}$")), request_body = InstanceCreate,
    responses((status = 201, body = InstanceView), (status = 400, description = "Invalid body"),
        (status = 409, description = "The name exists")))]
pub async fn create_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<InstanceBody>,
) -> ApiResult<(StatusCode, Json<InstanceView>)> {
    let created = create(&ctx, &caller, &name, &body, false).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One instance of the caller's tenant.
#[utoipa::path(get, path = "/api/v1/instances/{name}", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, description = "No such instance in your tenant")))]
pub async fn get(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(find(&ctx, &caller, &name).await?.into()))
}

/// Changes any of the fields (all optional) and checks the connection again.
#[utoipa::path(put, path = "/api/v1/instances/{name}", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = InstanceBody,
    responses((status = 200, body = InstanceView), (status = 404, description = "No such instance in your tenant")))]
pub async fn update_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<InstanceBody>,
) -> ApiResult<Json<InstanceView>> {
    let change = body.to_update()?;
    Ok(Json(update(&ctx, &caller, &name, &change, body.new_password(), true).await?.into()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletedInstance {
    deleted: String,
}

/// Deletes an instance.
#[utoipa::path(delete, path = "/api/v1/instances/{name}", tag = "instances", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = DeletedInstance), (status = 404, description = "No such instance in your tenant")))]
pub async fn delete_native(
    State(ctx): State<Arc<AppContext>>,
    caller: Principal,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DeletedInstance>> {
    let gone = find(&ctx, &caller, &name).await?;
    ctx.store.delete_instance(caller.tenant_id, &name).await.map_err(instance_not_found(&name))?;
    inst::announce(&ctx.store, EventType::InstanceRemoved, &gone);
    Ok(Json(DeletedInstance { deleted: name }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnection {
    #[schema(max_length = 255, pattern = r"^\S+$")]
    host: String,
    #[serde(deserialize_with = "port_number")]
    #[schema(value_type = i64, minimum = 1, maximum = 65535)]
    port: Option<i64>,
    #[schema(max_length = 63, pattern = r"\S")]
    user: String,
    password: String,
    /// Default `prefer`.
    #[serde(default)]
    #[schema(pattern = "^(disable|prefer|require|verify-ca|verify-full)$")]
    sslmode: Option<String>,
    /// Absolute path of a CA bundle (PEM); empty: the built-in roots.
    #[serde(default)]
    #[schema(max_length = 4096, pattern = r"^(/[^\x00-\x1f\x7f-\x9f]*)?$")]
    sslrootcert: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    ok: bool,
    /// `server_version` of the server, when it answered.
    server_version: Option<String>,
    /// Why it could not connect.
    error: Option<String>,
}

/// Tries to connect with these settings (nothing is stored) and says whether it worked.
#[utoipa::path(post, path = "/api/v1/instances/test-connection", tag = "instances", security(("bearer" = [])),
    request_body = TestConnection, responses((status = 200, body = ConnectionTest), (status = 400, description = "Invalid body")))]
pub async fn test_connection(
    State(ctx): State<Arc<AppContext>>,
    ApiJson(body): ApiJson<TestConnection>,
) -> ApiResult<Json<ConnectionTest>> {
    let port = body.port.ok_or_else(|| AppError::BadRequest("missing field `port`".into()))?;
    inst::check_host(&body.host).map_err(AppError::BadRequest)?;
    inst::check_port(port).map_err(AppError::BadRequest)?;
    inst::check_user(&body.user).map_err(AppError::BadRequest)?;
    let mode = body.sslmode.as_deref().map(SslMode::parse).transpose().map_err(AppError::BadRequest)?;
    let root_cert = body.sslrootcert.filter(|p| !p.is_empty());
    if let Some(path) = &root_cert {
        inst::check_sslrootcert(path).map_err(AppError::BadRequest)?;
    }
    let tls = Tls { mode: mode.unwrap_or_default(), root_cert };
    let (host, networks) = (body.host.trim(), &ctx.target_networks);
    let target = Target { host, port, user: &body.user, password: &body.password, tls: &tls, networks };
    Ok(Json(match inst::check_connection(&target).await {
        Ok(version) => ConnectionTest { ok: true, server_version: Some(version), error: None },
        Err(reason) => ConnectionTest { ok: false, server_version: None, error: Some(reason) },
    }))
}
