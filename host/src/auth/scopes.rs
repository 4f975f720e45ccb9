//! The one mapping of who may do what: scope names, and privilege/profile → scopes.
//! (Which endpoint needs which scope is the table in `api::endpoints`.)

use std::fmt;

/// A permission a token can hold. `Admin` implies every other scope but `PluginsManage`, the
/// host operator's: plugins are host-wide, so no tenant privilege may reach them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    ReadStatus,
    WriteIncidents,
    WriteMaintenance,
    MonitoringRead,
    MonitoringWrite,
    SettingsRead,
    SettingsWrite,
    PluginsManage,
    UsersManage,
    AuditRead,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 11] = [
        Scope::ReadStatus,
        Scope::WriteIncidents,
        Scope::WriteMaintenance,
        Scope::MonitoringRead,
        Scope::MonitoringWrite,
        Scope::SettingsRead,
        Scope::SettingsWrite,
        Scope::PluginsManage,
        Scope::UsersManage,
        Scope::AuditRead,
        Scope::Admin,
    ];

    /// Wire names; the first three are Opsentry's, the next three Pulse's.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadStatus => "read:status",
            Scope::WriteIncidents => "write:incidents",
            Scope::WriteMaintenance => "write:maintenance",
            Scope::MonitoringRead => "monitoring:read",
            Scope::MonitoringWrite => "monitoring:write",
            Scope::SettingsRead => "settings:read",
            Scope::SettingsWrite => "settings:write",
            Scope::PluginsManage => "plugins:manage",
            Scope::UsersManage => "users:manage",
            Scope::AuditRead => "audit:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, as a bit set so checks on the request path cost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn of(scopes: &[Scope]) -> ScopeSet {
        ScopeSet(scopes.iter().fold(0, |acc, s| acc | s.bit()))
    }

    /// Parses space- or comma-separated names; the error names the first unknown one.
    pub fn parse_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<ScopeSet, String> {
        let mut set = ScopeSet::EMPTY;
        for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::parse(name).ok_or_else(|| format!("unknown scope: {name}"))?;
            set.0 |= scope.bit();
        }
        Ok(set)
    }

    /// Parses the stored form (space separated). Unknown names are skipped, not fatal: a scope
    /// removed in a later version must not lock tokens out of the scopes they still hold.
    pub fn from_stored(stored: &str) -> ScopeSet {
        let mut set = ScopeSet::EMPTY;
        for scope in stored.split_whitespace().filter_map(Scope::parse) {
            set.0 |= scope.bit();
        }
        set
    }

    pub fn to_stored(self) -> String {
        self.names().join(" ")
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.0 & s.bit() != 0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether a holder of this set may use `scope` (`admin` implies everything but the
    /// operator's `plugins:manage`).
    pub fn allows(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0 || (scope != Scope::PluginsManage && self.0 & Scope::Admin.bit() != 0)
    }

    /// Every scope this set grants, with `admin` expanded to all tenant scopes.
    fn expanded(self) -> u16 {
        if self.0 & Scope::Admin.bit() != 0 {
            self.0 | (ScopeSet::of(&Scope::ALL).0 & !Scope::PluginsManage.bit())
        } else {
            self.0
        }
    }

    /// What a token may do when its owner's own rights are `owner`: never more than either.
    pub fn intersect(self, owner: ScopeSet) -> ScopeSet {
        ScopeSet(self.expanded() & owner.expanded())
    }

    /// The first scope of `self` that `holder` does not grant, if any.
    pub fn first_not_granted_by(self, holder: ScopeSet) -> Option<Scope> {
        self.iter().find(|s| !holder.allows(*s))
    }
}

/// Datasentinel's privileges: what a user may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    Read,
    ReadWrite,
    Admin,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Read => "read",
            Privilege::ReadWrite => "read write",
            Privilege::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Result<Privilege, String> {
        match s.trim().to_ascii_lowercase().replace(['_', '-'], " ").as_str() {
            "read" => Ok(Privilege::Read),
            "read write" => Ok(Privilege::ReadWrite),
            "admin" => Ok(Privilege::Admin),
            _ => Err(format!("unknown privilege {s:?}: expected \"read\", \"read write\" or \"admin\"")),
        }
    }
}

/// Datasentinel's profiles: which features a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Limited to sessions workload and top queries (monitoring data only).
    Developer,
    /// Unlimited.
    DataAdmin,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Developer => "developer",
            Profile::DataAdmin => "data admin",
        }
    }
    pub fn parse(s: &str) -> Result<Profile, String> {
        match s.trim().to_ascii_lowercase().replace(['_', '-'], " ").as_str() {
            "developer" => Ok(Profile::Developer),
            "data admin" => Ok(Profile::DataAdmin),
            _ => Err(format!("unknown profile {s:?}: expected \"developer\" or \"data admin\"")),
        }
    }
}

/// The scopes a user holds. Privilege says what they may change; a `developer` profile narrows
/// any non-admin privilege to monitoring data (Datasentinel: "access limited to sessions
/// workload and top queries").
pub fn user_scopes(privilege: Privilege, profile: Profile) -> ScopeSet {
    use Scope::*;
    let by_privilege = match privilege {
        Privilege::Admin => return ScopeSet::of(&[Admin]),
        Privilege::Read => ScopeSet::of(&[ReadStatus, MonitoringRead, SettingsRead]),
        Privilege::ReadWrite => {
            ScopeSet::of(&[ReadStatus, MonitoringRead, SettingsRead, MonitoringWrite, WriteIncidents, WriteMaintenance])
        }
    };
    match profile {
        Profile::DataAdmin => by_privilege,
        Profile::Developer => by_privilege.intersect(ScopeSet::of(&[ReadStatus, MonitoringRead, MonitoringWrite])),
    }
}

/// Scopes of a stored user; unparsable stored values grant nothing (fail closed). The host's
/// operator also holds `plugins:manage`, which no privilege implies.
pub fn stored_user_scopes(privilege: &str, profile: &str, operator: bool) -> ScopeSet {
    let scopes = match (Privilege::parse(privilege), Profile::parse(profile)) {
        (Ok(p), Ok(f)) => user_scopes(p, f),
        _ => return ScopeSet::EMPTY,
    };
    match operator {
        true => ScopeSet(scopes.0 | Scope::PluginsManage.bit()),
        false => scopes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        let set = ScopeSet::parse_list(["read:status", "audit:read"]).unwrap();
        assert_eq!(ScopeSet::from_stored(&set.to_stored()), set);
        assert_eq!(ScopeSet::parse_list(["nope"]).unwrap_err(), "unknown scope: nope");
    }

    #[test]
    fn admin_implies_all_but_the_operators_scope_and_intersection_never_widens() {
        let admin = ScopeSet::of(&[Scope::Admin]);
        assert!(Scope::ALL.iter().filter(|s| **s != Scope::PluginsManage).all(|s| admin.allows(*s)));
        assert!(!admin.allows(Scope::PluginsManage));
        let operator = stored_user_scopes("admin", "data admin", true);
        assert!(operator.allows(Scope::PluginsManage) && operator.allows(Scope::UsersManage));
        assert!(!admin.intersect(operator).allows(Scope::PluginsManage), "an admin token of the operator");
        let asked = ScopeSet::of(&[Scope::Admin, Scope::PluginsManage]);
        assert!(asked.intersect(operator).allows(Scope::PluginsManage));
        assert!(!asked.intersect(stored_user_scopes("admin", "data admin", false)).allows(Scope::PluginsManage));
        let read = user_scopes(Privilege::Read, Profile::DataAdmin);
        assert!(!read.allows(Scope::MonitoringWrite));
        assert_eq!(admin.intersect(read), read);
        assert!(!admin.intersect(read).allows(Scope::Admin));
    }

    #[test]
    fn developer_profile_narrows_to_monitoring() {
        let dev = user_scopes(Privilege::ReadWrite, Profile::Developer);
        assert!(dev.allows(Scope::MonitoringRead) && dev.allows(Scope::MonitoringWrite));
        assert!(!dev.allows(Scope::SettingsRead) && !dev.allows(Scope::WriteIncidents));
        assert!(user_scopes(Privilege::Admin, Profile::Developer).allows(Scope::UsersManage));
        assert_eq!(Privilege::parse("read_write").unwrap(), Privilege::ReadWrite);
        assert!(stored_user_scopes("root", "developer", true).is_empty());
    }
}
