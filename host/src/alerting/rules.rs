//! Threshold rules without HTTP or SQL: their definition (`RuleSpec`, stored as JSON), validation,
//! the built-in templates, per-resource overrides and which rules apply to an instance.
//!
//! **Precedence.** For one instance and one metric, only the most specific rules apply: a rule
//! scoped to that instance (by connection name or `<host>@<name>`) beats a rule scoped by tags,
//! which beats a rule for all instances. Rules of the same tier all apply (each has its own alert).
//! Series of resources that are not instances (a collector's `resource`) are covered by rules
//! naming that resource in `instance` and by rules for all; tag rules need an instance's tags.
//!
//! **Overrides.** `overrides` maps a resource (instance name) to `-1` (the rule is off for it) or
//! to `{"warning": …, "critical": …}` where each level is `{"trigger", "clear"}` or `-1` (that
//! level is off for the resource).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::machine::Thresholds;
pub use super::machine::{Direction, Level};
use crate::instances::Tags;
use crate::rbac::instance_tags;
use crate::store::Instance;

/// A level of an override: `-1` turns the level off for the resource.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LevelOverride {
    Off(f64),
    Level(Level),
}

/// Thresholds of a rule replaced for one resource; absent levels keep the rule's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<LevelOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<LevelOverride>,
}

/// A per-resource override: `-1` turns the rule off for the resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ResourceOverride {
    Off(f64),
    Levels(Levels),
}

/// A rule as stored and as answered by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// Any stored metric name (`pg.connections_pct`, a collector's metric…).
    pub metric: String,
    pub direction: Direction,
    pub warning: Option<Level>,
    pub critical: Option<Level>,
    /// Consecutive evaluations beyond a trigger before the alert fires (pending before).
    pub occurrences: u32,
    /// Only this instance (connection name or `<host>@<name>`).
    pub instance: Option<String>,
    /// Only instances carrying all these tags (`key=value,…`).
    pub tags: Option<String>,
    pub overrides: BTreeMap<String, ResourceOverride>,
    pub enabled: bool,
}

/// What a client sends to create or replace a rule: a full rule, or `template` plus whatever
/// should differ from the template's defaults.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// A built-in template (`GET /api/v1/alerts/templates`); its name is the default rule name.
    pub template: Option<String>,
    pub name: Option<String>,
    pub metric: Option<String>,
    pub direction: Option<Direction>,
    pub warning: Option<Level>,
    pub critical: Option<Level>,
    pub occurrences: Option<u32>,
    pub instance: Option<String>,
    pub tags: Option<String>,
    pub overrides: Option<BTreeMap<String, ResourceOverride>>,
    pub enabled: Option<bool>,
}

/// A built-in rule template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub name: &'static str,
    pub description: &'static str,
    pub metric: &'static str,
    pub direction: Direction,
    pub warning: Option<Level>,
    pub critical: Option<Level>,
    pub occurrences: u32,
}

const fn lv(trigger: f64, clear: f64) -> Option<Level> {
    Some(Level { trigger, clear })
}

/// The common PostgreSQL cases, on the native sampler's metrics.
pub static TEMPLATES: &[Template] = &[
    Template {
        name: "instance-unreachable",
        description: "The sampler cannot connect (pg.up below 1)",
        metric: "pg.up",
        direction: Direction::Below,
        warning: None,
        critical: lv(1.0, 1.0),
        occurrences: 2,
    },
    Template {
        name: "connections",
        description: "Connections as a percentage of max_connections",
        metric: "pg.connections_pct",
        direction: Direction::Above,
        warning: lv(80.0, 75.0),
        critical: lv(90.0, 85.0),
        occurrences: 3,
    },
    Template {
        name: "blocked-sessions",
        description: "Sessions waiting on a lock",
        metric: "pg.sessions.blocked",
        direction: Direction::Above,
        warning: lv(5.0, 2.0),
        critical: lv(20.0, 10.0),
        occurrences: 2,
    },
    Template {
        name: "sessions-on-cpu",
        description: "Average active sessions on CPU",
        metric: "pg.sessions.cpu",
        direction: Direction::Above,
        warning: lv(8.0, 6.0),
        critical: lv(16.0, 12.0),
        occurrences: 3,
    },
    Template {
        name: "replication-lag",
        description: "Replication lag of a standby, in seconds",
        metric: "pg.replication_lag_seconds",
        direction: Direction::Above,
        warning: lv(60.0, 30.0),
        critical: lv(300.0, 120.0),
        occurrences: 2,
    },
    Template {
        name: "long-transaction",
        description: "Age of the oldest open transaction, in seconds",
        metric: "pg.longest_xact_seconds",
        direction: Direction::Above,
        warning: lv(600.0, 300.0),
        critical: lv(3600.0, 1800.0),
        occurrences: 1,
    },
];

impl RuleInput {
    /// The complete, validated rule (template defaults filled in). Errors name the field.
    pub fn resolve(self) -> Result<RuleSpec, String> {
        let template = match &self.template {
            Some(name) => Some(TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
                let names: Vec<_> = TEMPLATES.iter().map(|t| t.name).collect();
                format!("unknown template {name:?}; templates: {}", names.join(", "))
            })?),
            None => None,
        };
        let levels_given = self.warning.is_some() || self.critical.is_some();
        let spec = RuleSpec {
            name: self.name.or(template.map(|t| t.name.to_string())).ok_or("name is required")?,
            metric: self.metric.or(template.map(|t| t.metric.to_string())).ok_or("metric is required")?,
            direction: self.direction.or(template.map(|t| t.direction)).unwrap_or_default(),
            // Levels given replace the template's pair, so a rule can drop one of them.
            warning: if levels_given { self.warning } else { template.and_then(|t| t.warning) },
            critical: if levels_given { self.critical } else { template.and_then(|t| t.critical) },
            occurrences: self.occurrences.or(template.map(|t| t.occurrences)).unwrap_or(1),
            instance: self.instance.filter(|s| !s.trim().is_empty()),
            tags: self.tags.filter(|s| !s.trim().is_empty()),
            overrides: self.overrides.unwrap_or_default(),
            enabled: self.enabled.unwrap_or(true),
        };
        spec.validated()
    }
}

fn check_level(direction: Direction, what: &str, l: &Level) -> Result<(), String> {
    if !(l.trigger.is_finite() && l.clear.is_finite()) {
        return Err(format!("{what}: trigger and clear must be numbers"));
    }
    match direction {
        Direction::Above if l.clear > l.trigger => {
            Err(format!("{what}: clear ({}) must not be above trigger ({}) for direction above", l.clear, l.trigger))
        }
        Direction::Below if l.clear < l.trigger => {
            Err(format!("{what}: clear ({}) must not be below trigger ({}) for direction below", l.clear, l.trigger))
        }
        _ => Ok(()),
    }
}

fn check_override_level(direction: Direction, what: &str, l: &Option<LevelOverride>) -> Result<(), String> {
    match l {
        Some(LevelOverride::Off(x)) if *x != -1.0 => Err(format!("{what}: use -1 to disable, or {{trigger, clear}}")),
        Some(LevelOverride::Level(l)) => check_level(direction, what, l),
        _ => Ok(()),
    }
}

impl RuleSpec {
    /// Checks every field; the canonical form has tags in canonical text.
    pub fn validated(mut self) -> Result<RuleSpec, String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(|c| c.is_control() || c == '/') {
            return Err(format!("invalid rule name {:?}: use 1 to 100 characters, no '/'", self.name));
        }
        self.name = name.to_string();
        if self.metric.trim().is_empty() || self.metric.len() > 200 {
            return Err("metric must be a metric name of 1 to 200 characters".into());
        }
        if self.warning.is_none() && self.critical.is_none() {
            return Err("a rule needs a warning or a critical level (or both)".into());
        }
        for (what, l) in [("warning", &self.warning), ("critical", &self.critical)] {
            if let Some(l) = l {
                check_level(self.direction, what, l)?;
            }
        }
        if !(1..=1000).contains(&self.occurrences) {
            return Err("occurrences must be 1 to 1000".into());
        }
        if self.instance.is_some() && self.tags.is_some() {
            return Err("scope a rule by instance or by tags, not both".into());
        }
        if let Some(tags) = &self.tags {
            self.tags = Some(Tags::parse(tags).map_err(|e| format!("tags: {e}"))?.canonical());
        }
        for (resource, o) in &self.overrides {
            let what = |l: &str| format!("overrides.{resource}.{l}");
            match o {
                ResourceOverride::Off(x) if *x != -1.0 => {
                    return Err(format!("overrides.{resource}: use -1 to disable, or {{warning, critical}}"))
                }
                ResourceOverride::Levels(l) => {
                    check_override_level(self.direction, &what("warning"), &l.warning)?;
                    check_override_level(self.direction, &what("critical"), &l.critical)?;
                }
                _ => {}
            }
        }
        Ok(self)
    }

    /// How specifically the rule targets `resource` (an instance's name, or a collector's
    /// resource when `instance` is `None`): 3 by instance, 2 by tags (instances only), 1 for all,
    /// `None` when it does not apply.
    pub fn tier(&self, resource: &str, instance: Option<&Instance>) -> Option<u8> {
        if !self.enabled {
            return None;
        }
        if let Some(target) = &self.instance {
            let id = instance.map(|i| format!("{}@{}", i.host, i.name));
            return (*target == resource || id.as_ref() == Some(target)).then_some(3);
        }
        if let Some(tags) = &self.tags {
            let wanted = Tags::parse(tags).unwrap_or_default();
            return instance.filter(|i| Tags(instance_tags(i)).contains_all(&wanted)).map(|_| 2);
        }
        Some(1)
    }

    /// The thresholds for `resource` with its override applied; `None` when it is turned off.
    pub fn thresholds_for(&self, resource: &str) -> Option<Thresholds> {
        let pick = |base: Option<Level>, o: Option<LevelOverride>| match o {
            None => base,
            Some(LevelOverride::Off(_)) => None,
            Some(LevelOverride::Level(l)) => Some(l),
        };
        let (warning, critical) = match self.overrides.get(resource) {
            None => (self.warning, self.critical),
            Some(ResourceOverride::Off(_)) => return None,
            Some(ResourceOverride::Levels(l)) => (pick(self.warning, l.warning), pick(self.critical, l.critical)),
        };
        if warning.is_none() && critical.is_none() {
            return None;
        }
        Some(Thresholds { direction: self.direction, warning, critical, occurrences: self.occurrences })
    }
}

/// The rules of `metric` that apply to `resource` (with its instance, if it is one): those of
/// the most specific tier only.
pub fn applicable<'a, R>(
    rules: &'a [R],
    spec: impl Fn(&R) -> &RuleSpec,
    resource: &str,
    instance: Option<&Instance>,
    metric: &str,
) -> Vec<&'a R> {
    let tiered: Vec<(u8, &R)> = rules
        .iter()
        .filter(|r| spec(r).metric == metric)
        .filter_map(|r| spec(r).tier(resource, instance).map(|t| (t, r)))
        .collect();
    let best = tiered.iter().map(|(t, _)| *t).max();
    tiered.into_iter().filter(|(t, _)| Some(*t) == best).map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, tags: &str) -> Instance {
        Instance::example(name, "db1", tags)
    }

    fn rule(json: serde_json::Value) -> RuleSpec {
        serde_json::from_value::<RuleInput>(json).unwrap().resolve().unwrap()
    }

    #[test]
    fn templates_fill_defaults_and_inputs_win() {
        let r = rule(serde_json::json!({"template": "connections", "occurrences": 1, "instance": "main"}));
        assert_eq!((r.name.as_str(), r.metric.as_str()), ("connections", "pg.connections_pct"));
        assert_eq!(r.warning, Some(Level { trigger: 80.0, clear: 75.0 }));
        assert_eq!(r.occurrences, 1);
        let r = rule(serde_json::json!({"template": "instance-unreachable", "name": "down"}));
        assert_eq!((r.direction, r.critical, r.warning), (Direction::Below, lv(1.0, 1.0), None));
        for t in TEMPLATES {
            assert!(rule(serde_json::json!({"template": t.name})).validated().is_ok(), "{}", t.name);
        }
        let err = serde_json::from_value::<RuleInput>(serde_json::json!({"template": "nope"})).unwrap().resolve();
        assert!(err.unwrap_err().contains("instance-unreachable"));
    }

    #[test]
    fn validation_names_the_problem() {
        let bad = |j: serde_json::Value| serde_json::from_value::<RuleInput>(j).unwrap().resolve().unwrap_err();
        assert!(bad(serde_json::json!({"name": "x", "metric": "m"})).contains("warning or a critical"));
        let e = bad(serde_json::json!({"name": "x", "metric": "m", "warning": {"trigger": 5, "clear": 6}}));
        assert!(e.contains("warning: clear"), "{e}");
        let e = bad(serde_json::json!({"name": "x", "metric": "m", "direction": "below",
            "critical": {"trigger": 5, "clear": 4}}));
        assert!(e.contains("critical: clear"), "{e}");
        let e = bad(serde_json::json!({"template": "connections", "instance": "a", "tags": "env=prod"}));
        assert!(e.contains("not both"), "{e}");
        let e = bad(serde_json::json!({"template": "connections", "overrides": {"a": 3}}));
        assert!(e.contains("overrides.a"), "{e}");
        let e = bad(serde_json::json!({"template": "connections", "tags": "env"}));
        assert!(e.contains("tags"), "{e}");
    }

    #[test]
    fn instance_rule_beats_tag_rule_beats_global_rule() {
        let global = rule(serde_json::json!({"template": "connections", "name": "all"}));
        let tagged = rule(serde_json::json!({"template": "connections", "name": "prod", "tags": "env=prod"}));
        let one = rule(serde_json::json!({"template": "connections", "name": "one", "instance": "db1@main"}));
        let other_metric = rule(serde_json::json!({"template": "replication-lag", "instance": "main"}));
        let rules = vec![global, tagged, one, other_metric];
        let names = |i: &Instance| -> Vec<String> {
            applicable(&rules, |r| r, &i.name, Some(i), "pg.connections_pct").iter().map(|r| r.name.clone()).collect()
        };
        assert_eq!(names(&instance("main", "env=prod")), ["one"]);
        assert_eq!(names(&instance("other", "env=prod")), ["prod"]);
        assert_eq!(names(&instance("third", "env=dev")), ["all"]);
        let main = instance("main", "");
        let lag: Vec<_> = applicable(&rules, |r| r, "main", Some(&main), "pg.replication_lag_seconds");
        assert_eq!(lag.len(), 1);
        // A resource that is no instance (a collector's): instance-named and global rules only.
        let collector: Vec<_> = applicable(&rules, |r| r, "main", None, "pg.connections_pct");
        assert_eq!(
            collector.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["all"],
            "db1@main is an instance id"
        );
        let named = rule(serde_json::json!({"template": "connections", "name": "redis", "instance": "redis-1"}));
        assert_eq!(named.tier("redis-1", None), Some(3));
    }

    #[test]
    fn overrides_replace_or_disable_levels() {
        let r = rule(serde_json::json!({"template": "connections", "overrides": {
            "off": -1, "nowarn": {"warning": -1}, "custom": {"critical": {"trigger": 99, "clear": 95}}}}));
        assert_eq!(r.thresholds_for("off"), None);
        let t = r.thresholds_for("nowarn").unwrap();
        assert_eq!((t.warning, t.critical), (None, lv(90.0, 85.0)));
        let t = r.thresholds_for("custom").unwrap();
        assert_eq!((t.warning, t.critical), (lv(80.0, 75.0), lv(99.0, 95.0)));
        assert_eq!(r.thresholds_for("plain").unwrap().critical, lv(90.0, 85.0));
        let only_warning = rule(serde_json::json!({"name": "w", "metric": "m", "warning": {"trigger": 1, "clear": 0},
            "overrides": {"x": {"warning": -1}}}));
        assert_eq!(only_warning.thresholds_for("x"), None, "no level left: off");
    }
}
