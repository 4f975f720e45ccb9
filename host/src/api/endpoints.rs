//! The one table of endpoints and the access each requires. The authorization middleware denies
//! any route missing here, and a test checks this table against the OpenAPI document, so a new
//! route cannot ship without an explicit access rule.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::Method;

use crate::auth::Scope;

/// What a caller needs to use an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (probes, sign-in, public metadata).
    Public,
    /// Any valid token, no particular scope (the handler may narrow further).
    Authenticated,
    /// A valid token holding this scope (or `admin`).
    Scope(Scope),
}

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

const fn ep(method: Method, path: &'static str, access: Access) -> Endpoint {
    Endpoint { method, path, access }
}

use Access::{Authenticated, Public};
const USERS: Access = Access::Scope(Scope::UsersManage);
const SETTINGS_READ: Access = Access::Scope(Scope::SettingsRead);
const PLUGINS: Access = Access::Scope(Scope::PluginsManage);
const MONITORING_READ: Access = Access::Scope(Scope::MonitoringRead);
const SETTINGS_WRITE: Access = Access::Scope(Scope::SettingsWrite);

/// Every route the host serves.
pub static ENDPOINTS: &[Endpoint] = &[
    // Probes and metadata.
    ep(Method::GET, "/health", Public),
    ep(Method::GET, "/health/live", Public),
    ep(Method::GET, "/health/ready", Public),
    ep(Method::GET, "/metrics", Public),
    ep(Method::GET, "/api/v1/version", Public),
    ep(Method::GET, "/api/v1/openapi.json", Public),
    ep(Method::GET, "/api/v1/health", Authenticated),
    // Sign-in and tokens. Token endpoints need no scope: callers manage their own tokens and can
    // never grant more than they hold; `users:manage` widens the view to the whole tenant.
    ep(Method::POST, "/api/v1/auth/token", Public),
    ep(Method::GET, "/api/v1/tokens", Authenticated),
    ep(Method::POST, "/api/v1/tokens", Authenticated),
    ep(Method::DELETE, "/api/v1/tokens/{id}", Authenticated),
    // The host's security posture is the operator's (it tells whether the first admin's password
    // was ever changed, which a tenant has no business knowing).
    ep(Method::GET, "/api/v1/security/status", PLUGINS),
    // Lifting a sign-in lockout is user management (the handler keeps it within the tenant and
    // below the caller's rights).
    ep(Method::POST, "/api/v1/security/reset-lockout", USERS),
    // Users of the caller's tenant.
    ep(Method::GET, "/api/v1/users", USERS),
    ep(Method::POST, "/api/v1/users", USERS),
    ep(Method::GET, "/api/v1/users/{login}", USERS),
    ep(Method::PATCH, "/api/v1/users/{login}", USERS),
    ep(Method::DELETE, "/api/v1/users/{login}", USERS),
    // Roles decide which instances users see; reading them is user management too.
    ep(Method::GET, "/api/v1/roles", USERS),
    ep(Method::POST, "/api/v1/roles", USERS),
    ep(Method::GET, "/api/v1/roles/{name}", USERS),
    ep(Method::PUT, "/api/v1/roles/{name}", USERS),
    ep(Method::DELETE, "/api/v1/roles/{name}", USERS),
    // Plugins are host-wide: tenants may see which exist (to pick a notifier for a channel);
    // their configuration (the operator's SMTP server, say) and every change need the operator's
    // plugins:manage, which no tenant privilege implies.
    ep(Method::GET, "/api/v1/plugins", SETTINGS_READ),
    ep(Method::POST, "/api/v1/plugins", PLUGINS),
    ep(Method::GET, "/api/v1/plugins/{id}", SETTINGS_READ),
    ep(Method::DELETE, "/api/v1/plugins/{id}", PLUGINS),
    ep(Method::PATCH, "/api/v1/plugins/{id}/enable", PLUGINS),
    ep(Method::PATCH, "/api/v1/plugins/{id}/disable", PLUGINS),
    ep(Method::GET, "/api/v1/plugins/{id}/config", PLUGINS),
    ep(Method::PUT, "/api/v1/plugins/{id}/config", PLUGINS),
    ep(Method::POST, "/api/v1/plugins/{id}/invoke", PLUGINS),
    // Metric store.
    ep(Method::GET, "/api/v1/metrics/history", MONITORING_READ),
    ep(Method::GET, "/api/v1/metrics/stats", MONITORING_READ),
    // Monitored PostgreSQL instances. Reading one is part of looking at monitoring data
    // (`monitoring:read`, which the developer profile has); registering, changing and deleting
    // them is configuration (`settings:write`). The connection test changes nothing but makes
    // the host connect wherever the caller says with the credentials given, so it is a
    // configuration right too, not something every reader may use to probe the network.
    ep(Method::GET, "/api/v1/instances", MONITORING_READ),
    ep(Method::POST, "/api/v1/instances/test-connection", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/instances/{name}", MONITORING_READ),
    ep(Method::POST, "/api/v1/instances/{name}", SETTINGS_WRITE),
    ep(Method::PUT, "/api/v1/instances/{name}", SETTINGS_WRITE),
    ep(Method::DELETE, "/api/v1/instances/{name}", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-samples", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-samples", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-lock-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-lock-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/lock-monitoring-delay/{seconds}", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-table-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-table-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-query-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-query-monitoring", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-query-monitoring-optimize", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-query-monitoring-optimize", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/query-monitoring-min-calls/{n}", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/query-monitoring-min-time/{s}", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/collection-rate/{rate}", SETTINGS_WRITE),
    // Workload data of the instances the caller's roles cover; endpoints beyond sessions and
    // queries also need settings:read (checked by the handler: the developer profile lacks it).
    ep(Method::GET, "/api/v1/activity/{endpoint}", MONITORING_READ),
    ep(Method::POST, "/api/v1/activity/{endpoint}", MONITORING_READ),
    ep(Method::POST, "/ds-api/activity/{endpoint}", MONITORING_READ),
    // Alerting: reading alerts and rules is monitoring; changing them (and acknowledging,
    // clearing, raising custom alerts, pausing an instance) is configuration.
    ep(Method::GET, "/api/v1/alerts/rules", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts/rules", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/alerts/rules/{id}", MONITORING_READ),
    ep(Method::PUT, "/api/v1/alerts/rules/{id}", SETTINGS_WRITE),
    ep(Method::DELETE, "/api/v1/alerts/rules/{id}", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/alerts/templates", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/alerts/active", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/history", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/status", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/{id}", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts/{id}/acknowledge", SETTINGS_WRITE),
    ep(Method::POST, "/api/v1/alerts/{id}/unacknowledge", SETTINGS_WRITE),
    ep(Method::POST, "/api/v1/alerts/{id}/clear", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/alerting/pause", SETTINGS_WRITE),
    ep(Method::PATCH, "/api/v1/instances/{name}/alerting/resume", SETTINGS_WRITE),
    // Notification channels hold notifier configuration: settings rights, like plugins.
    ep(Method::GET, "/api/v1/notifications/channels", SETTINGS_READ),
    ep(Method::POST, "/api/v1/notifications/channels", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/notifications/channels/{id}", SETTINGS_READ),
    ep(Method::PUT, "/api/v1/notifications/channels/{id}", SETTINGS_WRITE),
    ep(Method::DELETE, "/api/v1/notifications/channels/{id}", SETTINGS_WRITE),
    ep(Method::POST, "/api/v1/notifications/channels/{id}/test", SETTINGS_WRITE),
    ep(Method::GET, "/api/v1/notifications/history", SETTINGS_READ),
    ep(Method::GET, "/api/v1/notifications/queue/stats", SETTINGS_READ),
    ep(Method::GET, "/api/v1/notifications/dlq", SETTINGS_READ),
    ep(Method::POST, "/api/v1/notifications/dlq/retry", SETTINGS_WRITE),
    ep(Method::POST, "/api/v1/notifications/dlq/delete", SETTINGS_WRITE),
    // Datasentinel-compatible forms, for its toolkit scripts.
    ep(Method::GET, "/ds-api/", Public),
    ep(Method::GET, "/ds-api/user-token", Public),
    ep(Method::POST, "/ds-api/user-token", Public),
    ep(Method::POST, "/ds-api/user-token/{organization}", Public),
    // Its connections API: the same rules as the native instances above.
    ep(Method::POST, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE),
    ep(Method::GET, "/ds-api/pool/pg-instances/{connection_name}", MONITORING_READ),
    ep(Method::PUT, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE),
    ep(Method::DELETE, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE),
    ep(Method::PATCH, "/ds-api/pool/pg-instances/{connection_name}/disable", SETTINGS_WRITE),
    ep(Method::PATCH, "/ds-api/pool/pg-instances/{connection_name}/enable", SETTINGS_WRITE),
    // Its roles and users APIs: user management, like the native ones.
    ep(Method::POST, "/ds-api/roles/{role_name}", USERS),
    ep(Method::GET, "/ds-api/roles/{role_name}", USERS),
    ep(Method::PUT, "/ds-api/roles/{role_name}", USERS),
    ep(Method::DELETE, "/ds-api/roles/{role_name}", USERS),
    ep(Method::POST, "/ds-api/users/{email}", USERS),
    ep(Method::GET, "/ds-api/users/{email}", USERS),
    ep(Method::PUT, "/ds-api/users/{email}", USERS),
    ep(Method::DELETE, "/ds-api/users/{email}", USERS),
];

/// Access rule of a matched route, if it has one.
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    static INDEX: OnceLock<HashMap<(Method, &'static str), Access>> = OnceLock::new();
    let index = INDEX.get_or_init(|| ENDPOINTS.iter().map(|e| ((e.method.clone(), e.path), e.access)).collect());
    // HEAD is served by GET routes and needs what GET needs.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    index.get(&(method.clone(), path)).copied()
}
