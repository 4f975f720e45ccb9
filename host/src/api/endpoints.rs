//! The one table of endpoints, the access each requires and the audit action each records. The
//! authorization middleware denies any route missing here, a test checks this table against the
//! OpenAPI document, and another that every route that can change something names its audit
//! action, so a new route cannot ship without an explicit access rule nor skip the audit log.

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

/// How calls of an endpoint reach the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Not recorded: the default, for reads (GET). A test refuses it on any other method.
    No,
    /// A POST that changes nothing (a query with a body): explicitly not recorded.
    ReadOnly,
    /// Recorded by the audit middleware once the handler answered, under this action.
    Route(&'static str),
    /// Recorded by the handler under this action, because only it knows what to record (the
    /// login a sign-in attempted, also when it fails; never the password).
    Handler(&'static str),
}

pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub audit: Audit,
}

const fn ep(method: Method, path: &'static str, access: Access) -> Endpoint {
    Endpoint { method, path, access, audit: Audit::No }
}

impl Endpoint {
    const fn audit(self, action: &'static str) -> Endpoint {
        self.with(Audit::Route(action))
    }

    const fn audited_by_handler(self, action: &'static str) -> Endpoint {
        self.with(Audit::Handler(action))
    }

    const fn read_only(self) -> Endpoint {
        self.with(Audit::ReadOnly)
    }

    /// Sets the field in place (a `..self` update would drop what is left of `self`, which
    /// const code cannot do with a `Method` inside).
    const fn with(mut self, audit: Audit) -> Endpoint {
        self.audit = audit;
        self
    }
}

use Access::{Authenticated, Public};
const USERS: Access = Access::Scope(Scope::UsersManage);
const SETTINGS_READ: Access = Access::Scope(Scope::SettingsRead);
const PLUGINS: Access = Access::Scope(Scope::PluginsManage);
const MONITORING_READ: Access = Access::Scope(Scope::MonitoringRead);
const SETTINGS_WRITE: Access = Access::Scope(Scope::SettingsWrite);
const AUDIT_READ: Access = Access::Scope(Scope::AuditRead);
const STATUS_READ: Access = Access::Scope(Scope::ReadStatus);
const INCIDENTS: Access = Access::Scope(Scope::WriteIncidents);
const MAINTENANCE: Access = Access::Scope(Scope::WriteMaintenance);

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
    ep(Method::POST, "/api/v1/auth/token", Public).audited_by_handler("auth.sign-in"),
    ep(Method::GET, "/api/v1/tokens", Authenticated),
    ep(Method::POST, "/api/v1/tokens", Authenticated).audit("token.create"),
    ep(Method::DELETE, "/api/v1/tokens/{id}", Authenticated).audit("token.revoke"),
    // The host's security posture is the operator's (it tells whether the first admin's password
    // was ever changed, which a tenant has no business knowing).
    ep(Method::GET, "/api/v1/security/status", PLUGINS),
    // Lifting a sign-in lockout is user management (the handler keeps it within the tenant and
    // below the caller's rights).
    ep(Method::POST, "/api/v1/security/reset-lockout", USERS).audit("auth.lockout-reset"),
    // Users of the caller's tenant.
    ep(Method::GET, "/api/v1/users", USERS),
    ep(Method::POST, "/api/v1/users", USERS).audit("user.create"),
    ep(Method::GET, "/api/v1/users/{login}", USERS),
    ep(Method::PATCH, "/api/v1/users/{login}", USERS).audit("user.update"),
    ep(Method::DELETE, "/api/v1/users/{login}", USERS).audit("user.delete"),
    // Roles decide which instances users see; reading them is user management too.
    ep(Method::GET, "/api/v1/roles", USERS),
    ep(Method::POST, "/api/v1/roles", USERS).audit("role.create"),
    ep(Method::GET, "/api/v1/roles/{name}", USERS),
    ep(Method::PUT, "/api/v1/roles/{name}", USERS).audit("role.update"),
    ep(Method::DELETE, "/api/v1/roles/{name}", USERS).audit("role.delete"),
    // Plugins are host-wide: tenants may see which exist (to pick a notifier for a channel);
    // their configuration (the operator's SMTP server, say) and every change need the operator's
    // plugins:manage, which no tenant privilege implies.
    ep(Method::GET, "/api/v1/plugins", SETTINGS_READ),
    ep(Method::POST, "/api/v1/plugins", PLUGINS).audit("plugin.install"),
    ep(Method::GET, "/api/v1/plugins/{id}", SETTINGS_READ),
    ep(Method::DELETE, "/api/v1/plugins/{id}", PLUGINS).audit("plugin.remove"),
    ep(Method::PATCH, "/api/v1/plugins/{id}/enable", PLUGINS).audit("plugin.enable"),
    ep(Method::PATCH, "/api/v1/plugins/{id}/disable", PLUGINS).audit("plugin.disable"),
    ep(Method::GET, "/api/v1/plugins/{id}/config", PLUGINS),
    // A schema is the plugin's, not the operator's settings: whoever configures channels reads it.
    ep(Method::GET, "/api/v1/plugins/{id}/schema", SETTINGS_READ),
    ep(Method::PUT, "/api/v1/plugins/{id}/config", PLUGINS).audit("plugin.config"),
    ep(Method::POST, "/api/v1/plugins/{id}/invoke", PLUGINS).audit("plugin.invoke"),
    // Metric store.
    ep(Method::GET, "/api/v1/metrics/history", MONITORING_READ),
    ep(Method::GET, "/api/v1/metrics/stats", MONITORING_READ),
    // Monitored PostgreSQL instances. Reading one is part of looking at monitoring data
    // (`monitoring:read`, which the developer profile has); registering, changing and deleting
    // them is configuration (`settings:write`). The connection test changes nothing but makes
    // the host connect wherever the caller says with the credentials given, so it is a
    // configuration right too, not something every reader may use to probe the network.
    ep(Method::GET, "/api/v1/instances", MONITORING_READ),
    ep(Method::POST, "/api/v1/instances/test-connection", SETTINGS_WRITE).audit("instance.test-connection"),
    ep(Method::GET, "/api/v1/instances/{name}", MONITORING_READ),
    ep(Method::POST, "/api/v1/instances/{name}", SETTINGS_WRITE).audit("instance.create"),
    ep(Method::PUT, "/api/v1/instances/{name}", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::DELETE, "/api/v1/instances/{name}", SETTINGS_WRITE).audit("instance.delete"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable", SETTINGS_WRITE).audit("instance.enable"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable", SETTINGS_WRITE).audit("instance.disable"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-samples", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-samples", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-lock-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-lock-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/lock-monitoring-delay/{seconds}", SETTINGS_WRITE)
        .audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-table-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-table-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-query-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-query-monitoring", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/enable-query-monitoring-optimize", SETTINGS_WRITE)
        .audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/disable-query-monitoring-optimize", SETTINGS_WRITE)
        .audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/query-monitoring-min-calls/{n}", SETTINGS_WRITE)
        .audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/query-monitoring-min-time/{s}", SETTINGS_WRITE)
        .audit("instance.update"),
    ep(Method::PATCH, "/api/v1/instances/{name}/collection-rate/{rate}", SETTINGS_WRITE).audit("instance.update"),
    // Workload data of the instances the caller's roles cover; endpoints beyond sessions and
    // queries also need settings:read (checked by the handler: the developer profile lacks it).
    ep(Method::GET, "/api/v1/activity/{endpoint}", MONITORING_READ),
    ep(Method::POST, "/api/v1/activity/{endpoint}", MONITORING_READ).read_only(),
    ep(Method::POST, "/ds-api/activity/{endpoint}", MONITORING_READ).read_only(),
    // A report is a read (of monitoring data), rendered or mailed to the caller's recipients:
    // recorded, as every export that can leave the host is.
    ep(Method::POST, "/api/v1/reports", MONITORING_READ).audit("report.create"),
    ep(Method::GET, "/api/v1/reports/renderers", MONITORING_READ),
    // A schedule mails reports on its owner's behalf, with the owner's access at run time: anyone
    // who may make a report may schedule one (the handlers narrow to the caller's own schedules).
    ep(Method::GET, "/api/v1/reports/schedules", MONITORING_READ),
    ep(Method::POST, "/api/v1/reports/schedules", MONITORING_READ).audit("report-schedule.create"),
    ep(Method::GET, "/api/v1/reports/schedules/{id}", MONITORING_READ),
    ep(Method::PUT, "/api/v1/reports/schedules/{id}", MONITORING_READ).audit("report-schedule.update"),
    ep(Method::DELETE, "/api/v1/reports/schedules/{id}", MONITORING_READ).audit("report-schedule.delete"),
    ep(Method::GET, "/api/v1/reports/schedules/{id}/runs", MONITORING_READ),
    // The hosts sharing the database are host-wide: the operator's, like plugins.
    ep(Method::GET, "/api/v1/cluster", PLUGINS),
    // Alerting: reading alerts and rules is monitoring; changing them (and acknowledging,
    // clearing, raising custom alerts, pausing an instance) is configuration.
    ep(Method::GET, "/api/v1/alerts/rules", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts/rules", SETTINGS_WRITE).audit("alert-rule.create"),
    ep(Method::GET, "/api/v1/alerts/rules/{id}", MONITORING_READ),
    ep(Method::PUT, "/api/v1/alerts/rules/{id}", SETTINGS_WRITE).audit("alert-rule.update"),
    ep(Method::DELETE, "/api/v1/alerts/rules/{id}", SETTINGS_WRITE).audit("alert-rule.delete"),
    ep(Method::GET, "/api/v1/alerts/templates", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts", SETTINGS_WRITE).audit("alert.raise"),
    ep(Method::GET, "/api/v1/alerts/active", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/history", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/status", MONITORING_READ),
    ep(Method::GET, "/api/v1/alerts/{id}", MONITORING_READ),
    ep(Method::POST, "/api/v1/alerts/{id}/acknowledge", SETTINGS_WRITE).audit("alert.acknowledge"),
    ep(Method::POST, "/api/v1/alerts/{id}/unacknowledge", SETTINGS_WRITE).audit("alert.unacknowledge"),
    ep(Method::POST, "/api/v1/alerts/{id}/clear", SETTINGS_WRITE).audit("alert.clear"),
    ep(Method::PATCH, "/api/v1/instances/{name}/alerting/pause", SETTINGS_WRITE).audit("instance.alerting-pause"),
    ep(Method::PATCH, "/api/v1/instances/{name}/alerting/resume", SETTINGS_WRITE).audit("instance.alerting-resume"),
    // Notification channels hold notifier configuration: settings rights, like plugins.
    ep(Method::GET, "/api/v1/notifications/channels", SETTINGS_READ),
    ep(Method::POST, "/api/v1/notifications/channels", SETTINGS_WRITE).audit("channel.create"),
    ep(Method::GET, "/api/v1/notifications/channels/{id}", SETTINGS_READ),
    ep(Method::PUT, "/api/v1/notifications/channels/{id}", SETTINGS_WRITE).audit("channel.update"),
    ep(Method::DELETE, "/api/v1/notifications/channels/{id}", SETTINGS_WRITE).audit("channel.delete"),
    ep(Method::POST, "/api/v1/notifications/channels/{id}/test", SETTINGS_WRITE).audit("channel.test"),
    ep(Method::GET, "/api/v1/notifications/history", SETTINGS_READ),
    ep(Method::GET, "/api/v1/notifications/queue/stats", SETTINGS_READ),
    ep(Method::GET, "/api/v1/notifications/dlq", SETTINGS_READ),
    ep(Method::POST, "/api/v1/notifications/dlq/retry", SETTINGS_WRITE).audit("dlq.retry"),
    ep(Method::POST, "/api/v1/notifications/dlq/delete", SETTINGS_WRITE).audit("dlq.delete"),
    // The status side (the Opsentry seed's scopes): reading services, incidents and windows is
    // `read:status`; incidents and windows have a write scope each, so a CI pipeline declaring
    // failed deploys holds `write:incidents` alone; defining services is configuration.
    ep(Method::GET, "/api/v1/services", STATUS_READ),
    ep(Method::POST, "/api/v1/services", SETTINGS_WRITE).audit("service.create"),
    ep(Method::GET, "/api/v1/services/{id}", STATUS_READ),
    ep(Method::PUT, "/api/v1/services/{id}", SETTINGS_WRITE).audit("service.update"),
    ep(Method::DELETE, "/api/v1/services/{id}", SETTINGS_WRITE).audit("service.delete"),
    ep(Method::GET, "/api/v1/services/{id}/uptime", STATUS_READ),
    // The public status page is public by design: it shows only what a tenant marked public.
    ep(Method::GET, "/status/{page}", Public),
    ep(Method::GET, "/api/v1/incidents", STATUS_READ),
    ep(Method::POST, "/api/v1/incidents", INCIDENTS).audit("incident.create"),
    ep(Method::GET, "/api/v1/incidents/active", STATUS_READ),
    ep(Method::GET, "/api/v1/incidents/{id}", STATUS_READ),
    ep(Method::PATCH, "/api/v1/incidents/{id}", INCIDENTS).audit("incident.update"),
    ep(Method::POST, "/api/v1/incidents/{id}/updates", INCIDENTS).audit("incident.add-update"),
    ep(Method::POST, "/api/v1/incidents/{id}/resolve", INCIDENTS).audit("incident.resolve"),
    ep(Method::GET, "/api/v1/maintenance", STATUS_READ),
    ep(Method::POST, "/api/v1/maintenance", MAINTENANCE).audit("maintenance.create"),
    ep(Method::GET, "/api/v1/maintenance/upcoming", STATUS_READ),
    ep(Method::GET, "/api/v1/maintenance/{id}", STATUS_READ),
    ep(Method::POST, "/api/v1/maintenance/{id}/start", MAINTENANCE).audit("maintenance.start"),
    ep(Method::POST, "/api/v1/maintenance/{id}/complete", MAINTENANCE).audit("maintenance.complete"),
    ep(Method::POST, "/api/v1/maintenance/{id}/cancel", MAINTENANCE).audit("maintenance.cancel"),
    // The dashboard's snapshot and live stream: monitoring data, narrowed by roles; the parts
    // that other lists guard with more (plugins, services) are in them only with those scopes.
    ep(Method::GET, "/api/v1/state", MONITORING_READ),
    ep(Method::GET, "/api/v1/events", MONITORING_READ),
    // The signed audit log of the caller's tenant.
    ep(Method::GET, "/api/v1/audit", AUDIT_READ),
    ep(Method::GET, "/api/v1/audit/{id}/verify", AUDIT_READ),
    // Datasentinel-compatible forms, for its toolkit scripts.
    ep(Method::GET, "/ds-api/", Public),
    ep(Method::GET, "/ds-api/user-token", Public).audited_by_handler("auth.sign-in"),
    ep(Method::POST, "/ds-api/user-token", Public).audited_by_handler("auth.sign-in"),
    ep(Method::POST, "/ds-api/user-token/{organization}", Public).audited_by_handler("auth.sign-in"),
    // Its connections API: the same rules as the native instances above.
    ep(Method::POST, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE).audit("instance.create"),
    ep(Method::GET, "/ds-api/pool/pg-instances/{connection_name}", MONITORING_READ),
    ep(Method::PUT, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE).audit("instance.update"),
    ep(Method::DELETE, "/ds-api/pool/pg-instances/{connection_name}", SETTINGS_WRITE).audit("instance.delete"),
    ep(Method::PATCH, "/ds-api/pool/pg-instances/{connection_name}/disable", SETTINGS_WRITE).audit("instance.disable"),
    ep(Method::PATCH, "/ds-api/pool/pg-instances/{connection_name}/enable", SETTINGS_WRITE).audit("instance.enable"),
    // Its roles and users APIs: user management, like the native ones.
    ep(Method::POST, "/ds-api/roles/{role_name}", USERS).audit("role.create"),
    ep(Method::GET, "/ds-api/roles/{role_name}", USERS),
    ep(Method::PUT, "/ds-api/roles/{role_name}", USERS).audit("role.update"),
    ep(Method::DELETE, "/ds-api/roles/{role_name}", USERS).audit("role.delete"),
    ep(Method::POST, "/ds-api/users/{email}", USERS).audit("user.create"),
    ep(Method::GET, "/ds-api/users/{email}", USERS),
    ep(Method::PUT, "/ds-api/users/{email}", USERS).audit("user.update"),
    ep(Method::DELETE, "/ds-api/users/{email}", USERS).audit("user.delete"),
];

fn endpoint(method: &Method, path: &str) -> Option<&'static Endpoint> {
    static INDEX: OnceLock<HashMap<(Method, &'static str), &'static Endpoint>> = OnceLock::new();
    let index = INDEX.get_or_init(|| ENDPOINTS.iter().map(|e| ((e.method.clone(), e.path), e)).collect());
    // HEAD is served by GET routes and needs what GET needs.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    index.get(&(method.clone(), path)).copied()
}

/// Access rule of a matched route, if it has one.
pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    endpoint(method, path).map(|e| e.access)
}

/// Audit rule of a matched route (`No` for a route missing from the table, which is denied anyway).
pub fn audit_for(method: &Method, path: &str) -> Audit {
    endpoint(method, path).map_or(Audit::No, |e| e.audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// So a new route cannot skip the audit log: whatever is not a GET names its action (or says
    /// explicitly that it only reads), and actions are `family.verb` names.
    #[test]
    fn every_route_that_can_change_something_is_audited() {
        for e in ENDPOINTS {
            match e.audit {
                Audit::No => assert_eq!(e.method, Method::GET, "{} {} has no audit action", e.method, e.path),
                Audit::ReadOnly => assert_eq!(e.method, Method::POST, "{} {}", e.method, e.path),
                Audit::Route(action) | Audit::Handler(action) => {
                    let (family, verb) = action.split_once('.').unwrap_or_default();
                    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                    assert!(word(family) && word(verb), "{} {}: bad action {action:?}", e.method, e.path);
                }
            }
        }
        assert_eq!(audit_for(&Method::DELETE, "/api/v1/tokens/{id}"), Audit::Route("token.revoke"));
        assert_eq!(audit_for(&Method::POST, "/api/v1/auth/token"), Audit::Handler("auth.sign-in"));
    }
}
