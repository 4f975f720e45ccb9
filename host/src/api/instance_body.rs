//! The body both forms of the instances API take on create and update, its validation into a
//! store `InstanceUpdate`, and the rule that keeps the sealed password with its destination.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::error::{ApiResult, AppError};
use crate::instances::{self as inst, SslMode, Tags};
use crate::store::{Instance, InstanceUpdate};

/// What stands in for the password in every answer.
pub const PASSWORD_MASK: &str = "********";

/// Create and update body of both forms. On create `host`, `port`, `user` and `password` are
/// required (and `tags` on the Datasentinel form, where it may be empty); on update all are
/// optional. Settings accept Datasentinel's kebab-case names as well as snake_case.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceBody {
    /// A host name or IP address.
    #[schema(max_length = 255, pattern = r"^\S+$")]
    host: Option<String>,
    /// A number; a numeric string is accepted too (Ansible templating often yields one).
    #[serde(default, deserialize_with = "port_number")]
    #[schema(minimum = 1, maximum = 65535)]
    port: Option<i64>,
    /// A PostgreSQL role name.
    #[schema(max_length = 63, pattern = r"\S")]
    user: Option<String>,
    /// Sealed at rest, never returned; `********` (what reads show) keeps the stored one. Required
    /// again by an update that changes `host`, `port`, `user` or `sslrootcert`, or weakens `sslmode`.
    password: Option<String>,
    /// `key=value,key=value`, may be empty.
    #[schema(
        pattern = r"^\s*$|^\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*(,\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*=\s*[^=,\s\x00-\x1f\x7f-\x9f]+\s*)*$"
    )]
    tags: Option<String>,
    enabled: Option<bool>,
    /// `low` (activity every 10 s) or `high` (every second).
    #[serde(alias = "collection-rate")]
    #[schema(pattern = "^(low|high)$")]
    collection_rate: Option<String>,
    samples: Option<bool>,
    #[serde(alias = "lock-monitoring")]
    lock_monitoring: Option<bool>,
    /// Seconds a lock wait must last before it is reported.
    #[serde(alias = "lock-monitoring-delay")]
    #[schema(minimum = 1, maximum = 86400)]
    lock_monitoring_delay: Option<i64>,
    #[serde(alias = "table-monitoring")]
    table_monitoring: Option<bool>,
    #[serde(alias = "query-monitoring")]
    query_monitoring: Option<bool>,
    #[serde(alias = "query-monitoring-optimize")]
    query_monitoring_optimize: Option<bool>,
    #[serde(alias = "query-monitoring-min-calls")]
    #[schema(minimum = 0)]
    query_monitoring_min_calls: Option<i64>,
    /// Seconds of total execution time below which a statement is not collected.
    #[serde(alias = "query-monitoring-min-time")]
    #[schema(minimum = 0)]
    query_monitoring_min_time: Option<i64>,
    /// TLS towards the instance: `disable`, `prefer` (default), `require`, `verify-ca` or
    /// `verify-full` (libpq's meanings).
    #[schema(pattern = "^(disable|prefer|require|verify-ca|verify-full)$")]
    sslmode: Option<String>,
    /// Absolute path of the CA bundle (PEM) `verify-ca`/`verify-full` trust; `""` goes back to
    /// the built-in web PKI roots.
    #[schema(max_length = 4096, pattern = r"^(/[^\x00-\x1f\x7f-\x9f]*)?$")]
    sslrootcert: Option<String>,
}

/// The native create body: `InstanceBody` with `host`, `port`, `user` and `password` required
/// (a schema for the document only; the handler reads `InstanceBody` and says what is missing).
pub struct InstanceCreate;

impl utoipa::PartialSchema for InstanceCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        create_schema(&CREATE_REQUIRES[..4])
    }
}

impl utoipa::ToSchema for InstanceCreate {}

/// The Datasentinel create body, which requires `tags` too (it may be empty).
pub struct DsInstanceCreate;

impl utoipa::PartialSchema for DsInstanceCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        create_schema(&CREATE_REQUIRES)
    }
}

impl utoipa::ToSchema for DsInstanceCreate {}

/// `InstanceBody` with `required` required, and a password that is not the mask (which stands
/// for a stored password, and a create has none).
fn create_schema(required: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::{schema::Schema, RefOr};
    let mut schema = super::openapi::requiring(<InstanceBody as utoipa::PartialSchema>::schema(), required);
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        if let Some(RefOr::T(Schema::Object(password))) = object.properties.get_mut("password") {
            password.pattern = Some(r"^(?!\*{8}$)".into());
        }
    }
    schema
}

/// What a create needs, the Datasentinel form's `tags` last.
const CREATE_REQUIRES: [&str; 5] = ["host", "port", "user", "password", "tags"];

pub(super) fn port_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_i64().map(Some).ok_or_else(|| serde::de::Error::custom("port must be an integer"))
        }
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("port {s:?} is not a number")))
        }
        Some(other) => Err(serde::de::Error::custom(format!("port must be a number, not {other}"))),
    }
}

impl InstanceBody {
    /// The validated change this body asks for (tags canonical), without the password: that is
    /// sealed for the instance's row once it is known (`new_password`, `instances::update`).
    pub(super) fn to_update(&self) -> ApiResult<InstanceUpdate> {
        let bad = AppError::BadRequest;
        if let Some(h) = &self.host {
            inst::check_host(h).map_err(bad)?;
        }
        if let Some(p) = self.port {
            inst::check_port(p).map_err(bad)?;
        }
        if let Some(u) = &self.user {
            inst::check_user(u).map_err(bad)?;
        }
        let tags = self.tags.as_deref().map(Tags::parse).transpose().map_err(bad)?;
        if let Some(r) = &self.collection_rate {
            inst::check_collection_rate(r).map_err(bad)?;
        }
        if let Some(d) = self.lock_monitoring_delay {
            inst::check_lock_delay(d).map_err(bad)?;
        }
        if let Some(n) = self.query_monitoring_min_calls {
            inst::check_non_negative("query-monitoring-min-calls", n).map_err(bad)?;
        }
        if let Some(n) = self.query_monitoring_min_time {
            inst::check_non_negative("query-monitoring-min-time", n).map_err(bad)?;
        }
        let sslmode = self.sslmode.as_deref().map(SslMode::parse).transpose().map_err(bad)?;
        if let Some(path) = &self.sslrootcert {
            inst::check_sslrootcert(path).map_err(bad)?;
        }
        Ok(InstanceUpdate {
            host: self.host.as_ref().map(|h| h.trim().to_string()),
            port: self.port,
            username: self.user.clone(),
            password_sealed: None,
            tags: tags.map(|t| t.canonical()),
            enabled: self.enabled,
            collection_rate: self.collection_rate.clone(),
            samples: self.samples,
            lock_monitoring: self.lock_monitoring,
            lock_monitoring_delay: self.lock_monitoring_delay,
            table_monitoring: self.table_monitoring,
            query_monitoring: self.query_monitoring,
            query_monitoring_optimize: self.query_monitoring_optimize,
            query_monitoring_min_calls: self.query_monitoring_min_calls,
            query_monitoring_min_time: self.query_monitoring_min_time,
            sslmode,
            sslrootcert: self.sslrootcert.clone(),
        })
    }

    /// The password this body gives, in clear: the mask a read shows stands for "unchanged",
    /// never for a new password.
    pub(super) fn new_password(&self) -> Option<&str> {
        self.password.as_deref().filter(|p| *p != PASSWORD_MASK)
    }

    /// The fields a create needs that this body lacks (the mask is no password).
    pub(super) fn missing_on_create(&self, tags_required: bool) -> Vec<&'static str> {
        let absent = [
            self.host.is_none(),
            self.port.is_none(),
            self.user.is_none(),
            self.new_password().is_none(),
            tags_required && self.tags.is_none(),
        ];
        CREATE_REQUIRES.into_iter().zip(absent).filter_map(|(field, absent)| absent.then_some(field)).collect()
    }

    pub(super) fn has_settings(&self) -> bool {
        self.enabled.is_some()
            || self.collection_rate.is_some()
            || self.samples.is_some()
            || self.lock_monitoring.is_some()
            || self.lock_monitoring_delay.is_some()
            || self.table_monitoring.is_some()
            || self.query_monitoring.is_some()
            || self.query_monitoring_optimize.is_some()
            || self.query_monitoring_min_calls.is_some()
            || self.query_monitoring_min_time.is_some()
            || self.sslmode.is_some()
            || self.sslrootcert.is_some()
    }
}

/// 400 when `change` would send the stored password somewhere it was not given for: another
/// host, port or user, a weaker `sslmode` or another CA bundle (which would let a man in the
/// middle answer). Restating a stored value is no change.
pub(super) fn check_password_follows(stored: &Instance, change: &InstanceUpdate) -> ApiResult<()> {
    if change.password_sealed.is_some() {
        return Ok(());
    }
    let differs = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
    let changed = [
        ("host", differs(&change.host, &stored.host)),
        ("port", change.port.is_some_and(|p| p != stored.port)),
        ("user", differs(&change.username, &stored.username)),
        ("sslmode", change.sslmode.is_some_and(|m| m < stored.sslmode)),
        ("sslrootcert", differs(&change.sslrootcert, &stored.sslrootcert)),
    ];
    match changed.into_iter().find(|(_, changed)| *changed) {
        Some((field, _)) => Err(AppError::BadRequest(format!(
            "changing {field} needs the password again: the stored one is only sent where it was given for"
        ))),
        None => Ok(()),
    }
}
