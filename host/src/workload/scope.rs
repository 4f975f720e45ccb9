//! Which instances and rows a workload request covers: the caller's tenant, narrowed by its roles
//! (`rbac::InstanceScope`) and by the request's tag filters. Instance-level tags (built-in
//! `pg_instance`, `server`, `name`, and the instance's own tags) pick instances; `database` and
//! `user_name` filter rows.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::instances::Tags;
use crate::rbac::{builtin_tags, InstanceScope};
use crate::store::Instance;

use super::request::Query;

/// An instance the request covers, with the strings every row of it repeats.
#[derive(Debug, Clone)]
pub struct Target {
    pub instance: Instance,
    pub pg_instance: Arc<str>,
    pub server: Arc<str>,
    /// The instance's own tags (`application=…`), which some answers repeat as fields.
    pub tags: Vec<(String, Arc<str>)>,
}

/// The instances and row filters of one request.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub targets: Vec<Target>,
    /// Rows must be of this database / user (`database` field or filter, `user_name` filter).
    pub databases: Vec<String>,
    pub users: Vec<String>,
    /// Position in `targets` by instance id and by name: rows are matched to their instance
    /// once per row, so the lookups must not scan the list.
    by_id: HashMap<i64, usize>,
    by_name: HashMap<String, usize>,
}

impl Selection {
    /// Selects among `instances` (the tenant's) those the scope allows and the filters match.
    pub fn new(instances: Vec<Instance>, scope: &InstanceScope, query: &Query) -> Selection {
        let mut databases: Vec<String> = query.database.iter().cloned().collect();
        let mut users = Vec::new();
        let mut instance_filters = Vec::new();
        for f in &query.filters {
            match f.tag.trim() {
                "database" => databases.push(f.value.trim().to_string()),
                "user_name" | "user" => users.push(f.value.trim().to_string()),
                tag => instance_filters.push((tag.to_string(), f.value.trim().to_string())),
            }
        }
        let targets = instances
            .into_iter()
            .filter(|i| scope.allows(i))
            .filter_map(|instance| {
                let own = Tags::parse(&instance.tags).unwrap_or_default().0;
                let builtin = builtin_tags(&instance);
                let all = |k: &str, v: &str| own.iter().chain(&builtin).any(|(tk, tv)| tk == k && tv == v);
                if !instance_filters.iter().all(|(k, v)| all(k, v)) {
                    return None;
                }
                Some(Target {
                    pg_instance: format!("{}@{}", instance.host, instance.name).into(),
                    server: instance.host.as_str().into(),
                    tags: own.into_iter().map(|(k, v)| (k, Arc::from(v))).collect(),
                    instance,
                })
            })
            .collect();
        let targets: Vec<Target> = targets;
        let by_id = targets.iter().enumerate().map(|(i, t)| (t.instance.id, i)).collect();
        let by_name = targets.iter().enumerate().map(|(i, t)| (t.instance.name.clone(), i)).collect();
        Selection { targets, databases, users, by_id, by_name }
    }

    pub fn instance_ids(&self) -> Vec<i64> {
        self.targets.iter().map(|t| t.instance.id).collect()
    }

    pub fn target(&self, instance_id: i64) -> Option<&Target> {
        self.by_id.get(&instance_id).map(|&i| &self.targets[i])
    }

    /// The target whose connection name is `name` (metric-store resources are instance names).
    pub fn target_named(&self, name: &str) -> Option<&Target> {
        self.by_name.get(name).map(|&i| &self.targets[i])
    }

    /// Union of the selected instances' own tag keys (columns of answers that repeat tags).
    pub fn tag_keys(&self) -> BTreeSet<String> {
        self.targets.iter().flat_map(|t| t.tags.iter().map(|(k, _)| k.clone())).collect()
    }

    pub fn database_ok(&self, database: &str) -> bool {
        self.databases.iter().all(|d| d == database)
    }

    pub fn user_ok(&self, user: &str) -> bool {
        self.users.iter().all(|u| u == user)
    }
}
