//! Tag-based access control without HTTP or SQL: a role's `access` (filter sets of `tag=value`
//! pairs: ANDed inside a set, ORed across sets), the built-in tags every instance carries, and
//! `InstanceScope`, the instances a caller may see. Scopes (`auth::scopes`) decide what a caller
//! may *do*; this decides *which instances* it may do it on.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::instances::Tags;
use crate::store::{Instance, Store, StoreResult};

/// One condition: the instance carries `tag=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagFilter {
    #[schema(min_length = 1, pattern = r"\S")]
    pub tag: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub value: String,
}

/// Tags an instance must all carry (AND).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSet {
    pub filters: Vec<TagFilter>,
}

/// A role's access: an instance is in scope when it matches any one set (OR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleAccess(pub Vec<FilterSet>);

impl RoleAccess {
    /// Checks the shape and returns the canonical form (tags and values trimmed). Errors name the
    /// offending set and filter so a script author can find them.
    pub fn validated(sets: Vec<FilterSet>) -> Result<RoleAccess, String> {
        if sets.is_empty() {
            return Err("access must hold at least one filter set".into());
        }
        let mut canonical = Vec::with_capacity(sets.len());
        for (i, set) in sets.into_iter().enumerate() {
            if set.filters.is_empty() {
                // An empty AND would match every instance, which is surely not what was meant.
                return Err(format!("filter set {} has no filters", i + 1));
            }
            let mut filters = Vec::with_capacity(set.filters.len());
            for (j, f) in set.filters.into_iter().enumerate() {
                let (tag, value) = (f.tag.trim(), f.value.trim());
                if tag.is_empty() || value.is_empty() {
                    return Err(format!("filter {} of set {} needs a non-empty tag and value", j + 1, i + 1));
                }
                filters.push(TagFilter { tag: tag.to_string(), value: value.to_string() });
            }
            canonical.push(FilterSet { filters });
        }
        Ok(RoleAccess(canonical))
    }

    /// The canonical JSON stored in `roles.access`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("filter sets serialize")
    }

    /// Reads stored access back; unreadable text is an error the caller decides about.
    pub fn from_json(text: &str) -> Result<RoleAccess, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Whether `instance` matches any set.
    pub fn matches(&self, instance: &Instance) -> bool {
        let pairs = instance_tags(instance);
        self.0.iter().any(|set| set.filters.iter().all(|f| pairs.iter().any(|(k, v)| *k == f.tag && *v == f.value)))
    }

    /// Refuses a tag pair that no instance carries (a typo would otherwise grant nothing,
    /// silently). The first such pair is named: `tag pair application=crm matches no instance`.
    pub fn check_pairs_exist(&self, instances: &[Instance]) -> Result<(), String> {
        let known: BTreeSet<(String, String)> = instances.iter().flat_map(instance_tags).collect();
        for f in self.0.iter().flat_map(|s| &s.filters) {
            if !known.contains(&(f.tag.clone(), f.value.clone())) {
                return Err(format!("tag pair {}={} matches no instance", f.tag, f.value));
            }
        }
        Ok(())
    }
}

/// Role names are path segments of `/roles/{name}` and appear in user listings.
pub fn check_role_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && name.trim() == name
        && !name.chars().any(|c| c.is_control() || c == '/');
    if ok {
        Ok(())
    } else {
        Err(format!("invalid role name {name:?}: use 1 to 100 characters, no '/', no leading or trailing spaces"))
    }
}

/// Built-in tag values of an instance, used by role filters and workload filters alike:
/// `pg_instance` = `<host>@<name>`, `server` = its host, `name` = its connection name.
pub fn builtin_tags(instance: &Instance) -> Vec<(String, String)> {
    vec![
        ("pg_instance".to_string(), format!("{}@{}", instance.host, instance.name)),
        ("server".to_string(), instance.host.clone()),
        ("name".to_string(), instance.name.clone()),
    ]
}

/// Every tag pair of an instance: its own tags, then the built-in ones. Stored tags were
/// validated on the way in; an unparsable text contributes no pairs.
pub fn instance_tags(instance: &Instance) -> Vec<(String, String)> {
    let mut pairs = Tags::parse(&instance.tags).map(|t| t.0).unwrap_or_default();
    pairs.extend(builtin_tags(instance));
    pairs
}

/// The instances a caller may see: all of the tenant's, or those matching any of its roles.
#[derive(Debug, Clone)]
pub struct InstanceScope {
    /// `None`: unrestricted (the user holds no role). `Some`: the union of the roles' access.
    roles: Option<Vec<RoleAccess>>,
}

impl InstanceScope {
    /// The instances `principal` may see: all of the tenant's when the user has no roles.
    /// Resolved from storage on every call, so a role change applies to the next request, and
    /// an API token acts with its owner's current roles.
    pub async fn for_principal(store: &Store, principal: &Principal) -> StoreResult<InstanceScope> {
        InstanceScope::for_user(store, principal.tenant_id, principal.user_id).await
    }

    /// The scope of a user's roles as stored now (a scheduled report reads with its owner's).
    pub async fn for_user(store: &Store, tenant_id: i64, user_id: i64) -> StoreResult<InstanceScope> {
        let stored = store.role_access_of_user(tenant_id, user_id).await?;
        Ok(InstanceScope::from_stored(&stored))
    }

    /// The scope of a user holding roles with these stored `access` texts. A text that does not
    /// parse grants nothing (fail closed) but still makes the user restricted.
    pub fn from_stored(access: &[String]) -> InstanceScope {
        if access.is_empty() {
            return InstanceScope::all();
        }
        let roles = access.iter().filter_map(|text| RoleAccess::from_json(text).ok()).collect();
        InstanceScope { roles: Some(roles) }
    }

    /// Every instance of the tenant.
    pub fn all() -> InstanceScope {
        InstanceScope { roles: None }
    }

    pub fn unrestricted(&self) -> bool {
        self.roles.is_none()
    }

    pub fn allows(&self, instance: &Instance) -> bool {
        match &self.roles {
            None => true,
            Some(roles) => roles.iter().any(|r| r.matches(instance)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, host: &str, tags: &str) -> Instance {
        Instance::example(name, host, tags)
    }

    fn access(sets: &[&[(&str, &str)]]) -> RoleAccess {
        let sets = sets
            .iter()
            .map(|s| FilterSet {
                filters: s.iter().map(|(t, v)| TagFilter { tag: t.to_string(), value: v.to_string() }).collect(),
            })
            .collect();
        RoleAccess::validated(sets).unwrap()
    }

    #[test]
    fn and_inside_a_set_or_across_sets() {
        let a = access(&[&[("env", "prod"), ("dc", "london")], &[("app", "crm")]]);
        assert!(a.matches(&instance("a", "h", "env=prod,dc=london")));
        assert!(!a.matches(&instance("b", "h", "env=prod,dc=paris")), "AND: one tag is not enough");
        assert!(a.matches(&instance("c", "h", "app=crm")), "OR: the second set alone");
        assert!(!a.matches(&instance("d", "h", "")));
    }

    #[test]
    fn builtin_tags_match_like_any_other() {
        let i = instance("sales", "db1.example", "env=prod");
        assert_eq!(
            builtin_tags(&i),
            vec![
                ("pg_instance".to_string(), "db1.example@sales".to_string()),
                ("server".to_string(), "db1.example".to_string()),
                ("name".to_string(), "sales".to_string()),
            ]
        );
        assert!(access(&[&[("pg_instance", "db1.example@sales")]]).matches(&i));
        assert!(access(&[&[("server", "db1.example"), ("env", "prod")]]).matches(&i));
        assert!(!access(&[&[("server", "db2.example")]]).matches(&i));
    }

    #[test]
    fn validation_and_existence_checks_name_the_problem() {
        assert!(RoleAccess::validated(vec![]).unwrap_err().contains("at least one"));
        let empty = RoleAccess::validated(vec![FilterSet { filters: vec![] }]).unwrap_err();
        assert_eq!(empty, "filter set 1 has no filters");
        let blank = FilterSet { filters: vec![TagFilter { tag: " ".into(), value: "x".into() }] };
        assert!(RoleAccess::validated(vec![blank]).unwrap_err().contains("filter 1 of set 1"));
        let trimmed = RoleAccess::validated(vec![FilterSet {
            filters: vec![TagFilter { tag: " env ".into(), value: "prod ".into() }],
        }])
        .unwrap();
        assert_eq!(trimmed.to_json(), r#"[{"filters":[{"tag":"env","value":"prod"}]}]"#);
        assert_eq!(RoleAccess::from_json(&trimmed.to_json()).unwrap(), trimmed);

        let fleet = [instance("a", "h1", "env=prod"), instance("b", "h2", "app=crm")];
        assert!(access(&[&[("env", "prod")], &[("server", "h2")]]).check_pairs_exist(&fleet).is_ok());
        let e = access(&[&[("env", "prod"), ("app", "sales")]]).check_pairs_exist(&fleet).unwrap_err();
        assert_eq!(e, "tag pair app=sales matches no instance");
    }

    #[test]
    fn role_names_are_checked() {
        assert!(check_role_name("london-prod").is_ok() && check_role_name("DBA team").is_ok());
        assert!(check_role_name("").is_err() && check_role_name("a/b").is_err() && check_role_name(" x").is_err());
    }

    #[test]
    fn no_roles_is_everything_and_unreadable_access_grants_nothing() {
        let i = instance("a", "h", "env=prod");
        let all = InstanceScope::from_stored(&[]);
        assert!(all.unrestricted() && all.allows(&i));
        let broken = InstanceScope::from_stored(&["not json".to_string()]);
        assert!(!broken.unrestricted() && !broken.allows(&i));
        let two = InstanceScope::from_stored(&[
            access(&[&[("env", "test")]]).to_json(),
            access(&[&[("env", "prod")]]).to_json(),
        ]);
        assert!(!two.unrestricted() && two.allows(&i), "union of the roles");
        assert!(!two.allows(&instance("b", "h", "env=dev")));
    }
}
