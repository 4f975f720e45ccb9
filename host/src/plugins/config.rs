//! Plugin configuration: defaults merged under the operator's values, validated against the
//! manifest schema, secrets (`x-secret = true` properties) sealed at rest and masked on read.
//! A secret is sealed as its JSON text, so secrets of any JSON type round-trip, and for its plugin
//! and path (`SealedFor::PluginSecret`): moved to another key or plugin, it does not open.
//!
//! A secret bound to destination keys (`x-bound-to = ["url"]`) is only ever used with the
//! destination it was given with: a layer (a channel's overrides) that changes a bound
//! destination without giving the secret drops the inherited one (`drop_redirected`), and the
//! mask standing for a stored secret is refused next to a changed destination (`resolve_masks`).

use serde_json::{Map, Value};

use crate::secrets::{SealedFor, SecretBox};

/// What a secret looks like when read back; writing it back keeps the stored secret.
pub const MASK: &str = "********";

/// A secret and the destination keys (property paths) it may only be sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub secret: Vec<String>,
    pub destinations: Vec<Vec<String>>,
}

impl Binding {
    /// The first bound destination whose value differs between two configurations.
    fn changed_between(&self, from: &Value, to: &Value) -> Option<&[String]> {
        self.destinations.iter().find(|d| get_path(from, d) != get_path(to, d)).map(Vec::as_slice)
    }
}

/// Removes from `merged` (`base` with `overrides` merged over it) every secret `overrides` does
/// not give itself while changing one of its bound destinations: an inherited secret never
/// follows a channel to another server.
pub fn drop_redirected(merged: &mut Value, base: &Value, overrides: &Value, bindings: &[Binding]) {
    for binding in bindings {
        if get_path(overrides, &binding.secret).is_none() && binding.changed_between(base, merged).is_some() {
            remove_path(merged, &binding.secret);
        }
    }
}

/// `input`, a configuration merged over `base` that replaces `previous` (also merged over
/// `base`), with each secret given as the mask replaced by what it stands for: `previous`'s
/// value, else nothing (removed: `base`'s value, if any, applies). Refused when that secret is
/// bound to a destination `input` changes from where the secret was set: the mask never carries a
/// secret to another server.
pub fn resolve_masks(
    input: &Value,
    previous: &Value,
    base: &Value,
    secret_paths: &[Vec<String>],
    bindings: &[Binding],
) -> Result<Value, String> {
    let new_view = merge(base, input);
    let previous_view = merge(base, previous);
    let mut resolved = input.clone();
    for path in secret_paths {
        if get_path(input, path).and_then(Value::as_str) != Some(MASK) {
            continue;
        }
        let kept = get_path(previous, path).cloned();
        let origin = if kept.is_some() { &previous_view } else { base };
        let binding = bindings.iter().find(|b| &b.secret == path);
        if let Some(changed) =
            binding.filter(|_| get_path(origin, path).is_some()).and_then(|b| b.changed_between(origin, &new_view))
        {
            let (secret, destination) = (path.join("."), changed.join("."));
            return Err(format!(
                "{secret} is bound to {destination}, which this configuration changes: give {secret} again"
            ));
        }
        match kept {
            Some(value) => set_path(&mut resolved, path, value),
            None => remove_path(&mut resolved, path),
        }
    }
    Ok(resolved)
}

/// `base` with `over` merged in: objects merge key by key, anything else is replaced.
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |node, key| node.get(key))
}

fn get_path_mut<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, key| node.get_mut(key))
}

fn remove_path(v: &mut Value, path: &[String]) {
    if let Some((last, parent)) = path.split_last() {
        if let Some(Value::Object(map)) = get_path_mut(v, parent) {
            map.remove(last);
        }
    }
}

fn set_path(v: &mut Value, path: &[String], value: Value) {
    let Some((last, parent)) = path.split_last() else { return };
    let mut node = v;
    for key in parent {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node = node.as_object_mut().expect("object").entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = node {
        map.insert(last.clone(), value);
    }
}

/// Opens every sealed secret of plugin `plugin_id`'s stored configuration.
pub fn open_secrets(
    plugin_id: &str,
    stored: &Value,
    secret_paths: &[Vec<String>],
    secrets: &SecretBox,
) -> Result<Value, String> {
    let (open, unreadable) = open_each(plugin_id, stored, secret_paths, secrets);
    match unreadable.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(open),
    }
}

/// `stored` with each sealed secret opened, and the secrets that did not open (left out), by
/// path with why.
fn open_each<'p>(
    plugin_id: &str,
    stored: &Value,
    secret_paths: &'p [Vec<String>],
    secrets: &SecretBox,
) -> (Value, Vec<(&'p [String], String)>) {
    let mut out = stored.clone();
    let mut unreadable = Vec::new();
    for path in secret_paths {
        if let Some(Value::String(sealed)) = get_path(stored, path) {
            if SecretBox::is_sealed(sealed) {
                let owner = SealedFor::PluginSecret { plugin_id, path };
                match secrets.open(sealed, &owner) {
                    Ok(plain) => {
                        let value = serde_json::from_str(&plain).unwrap_or(Value::String(plain));
                        set_path(&mut out, path, value);
                    }
                    Err(e) => {
                        remove_path(&mut out, path);
                        unreadable.push((path.as_slice(), format!("secret {}: {e}", path.join("."))));
                    }
                }
            }
        }
    }
    (out, unreadable)
}

/// Replaces every present secret with `MASK`. Empty ones (`""`, `{}`, `[]`, `null`) hide nothing
/// and stay as they are, so a read-back of the defaults carries no mask bound to a destination.
pub fn mask(config: &Value, secret_paths: &[Vec<String>]) -> Value {
    let mut out = config.clone();
    for path in secret_paths {
        if let Some(v) = get_path_mut(&mut out, path) {
            let empty = match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Object(m) => m.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if !empty {
                *v = Value::String(MASK.into());
            }
        }
    }
    out
}

/// The configuration plugin `plugin_id` sees: defaults under the operator's values, secrets opened.
pub fn effective(
    plugin_id: &str,
    defaults: &Value,
    stored_sealed: &Value,
    secret_paths: &[Vec<String>],
    secrets: &SecretBox,
) -> Result<Value, String> {
    Ok(merge(defaults, &open_secrets(plugin_id, stored_sealed, secret_paths, secrets)?))
}

/// Validates a new operator configuration of plugin `plugin_id`. Masked secrets keep their stored
/// value. Returns (what to store, secrets sealed for their plugin and path; the effective
/// configuration).
pub fn prepare_update(
    plugin_id: &str,
    input: &Value,
    stored_sealed: &Value,
    defaults: &Value,
    schema: &Value,
    secrets_of: (&[Vec<String>], &[Binding]),
    secrets: &SecretBox,
) -> Result<(Value, Value), String> {
    let (secret_paths, bindings) = secrets_of;
    if !input.is_object() {
        return Err("configuration must be a JSON object".into());
    }
    // A stored secret that does not open (sealed for another plugin or path, say) stands for
    // nothing: giving a new value replaces it, the mask cannot keep it.
    let (stored_open, unreadable) = open_each(plugin_id, stored_sealed, secret_paths, secrets);
    if let Some((_, e)) =
        unreadable.iter().find(|(path, _)| get_path(input, path).and_then(Value::as_str) == Some(MASK))
    {
        return Err(format!("{e}: give it again"));
    }
    // A masked secret keeps the stored value (nothing stored: unset, the default applies).
    let resolved = resolve_masks(input, &stored_open, defaults, secret_paths, bindings)?;
    let effective = merge(defaults, &resolved);
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("schema: {e}"))?;
    let errors: Vec<String> =
        validator.iter_errors(&effective).take(5).map(|e| format!("{} (at {})", e, e.instance_path())).collect();
    if !errors.is_empty() {
        // Never echo secret values back in error messages.
        let masked_errors = errors.join("; ");
        let leaks = secret_paths.iter().filter_map(|p| get_path(&effective, p)).any(|v| {
            let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            text.len() >= 4 && masked_errors.contains(&text)
        });
        return Err(if leaks {
            "configuration does not satisfy the plugin schema (details hidden: they contain a secret)".into()
        } else {
            format!("configuration does not satisfy the plugin schema: {masked_errors}")
        });
    }
    let mut sealed = resolved;
    for path in secret_paths {
        if let Some(v) = get_path(&sealed, path).cloned() {
            let owner = SealedFor::PluginSecret { plugin_id, path };
            set_path(&mut sealed, path, Value::String(secrets.seal(&v.to_string(), &owner)));
        }
    }
    Ok((sealed, effective))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths() -> Vec<Vec<String>> {
        vec![vec!["token".into()], vec!["smtp".into(), "password".into()]]
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "port": {"type": "integer"},
            "token": {"type": "string", "x-secret": true},
            "smtp": {"type": "object", "properties": {"password": {"type": "string", "x-secret": true}}}
        }})
    }

    #[test]
    fn secrets_are_sealed_masked_and_kept_when_masked_on_write() {
        let sb = SecretBox::from_key(&[1; 32]);
        let defaults = json!({"port": 80});
        let input = json!({"token": "hunter2", "smtp": {"password": "pw"}});
        let (sealed, eff) =
            prepare_update("p", &input, &json!({}), &defaults, &schema(), (&paths(), &[]), &sb).unwrap();
        assert!(!sealed.to_string().contains("hunter2") && !sealed.to_string().contains("\"pw\""));
        assert_eq!(eff, json!({"port": 80, "token": "hunter2", "smtp": {"password": "pw"}}));
        assert_eq!(effective("p", &defaults, &sealed, &paths(), &sb).unwrap(), eff);
        let masked = mask(&eff, &paths());
        assert_eq!(masked["token"], MASK);
        assert_eq!(masked["smtp"]["password"], MASK);
        // Writing back the masked view with a changed port keeps both secrets.
        let mut back = masked.clone();
        back["port"] = json!(8080);
        let (sealed2, eff2) = prepare_update("p", &back, &sealed, &defaults, &schema(), (&paths(), &[]), &sb).unwrap();
        assert_eq!(eff2["token"], "hunter2");
        assert_eq!(eff2["smtp"]["password"], "pw");
        assert_eq!(effective("p", &defaults, &sealed2, &paths(), &sb).unwrap()["port"], 8080);
    }

    #[test]
    fn a_secret_moved_to_another_path_or_plugin_does_not_open() {
        let sb = SecretBox::from_key(&[1; 32]);
        let input = json!({"token": "hunter2"});
        let (sealed, _) = prepare_update("p", &input, &json!({}), &json!({}), &schema(), (&paths(), &[]), &sb).unwrap();
        assert_eq!(open_secrets("p", &sealed, &paths(), &sb).unwrap()["token"], "hunter2");
        let moved = json!({"smtp": {"password": sealed["token"].clone()}});
        let e = open_secrets("p", &moved, &paths(), &sb).unwrap_err();
        assert!(e.starts_with("secret smtp.password: ") && e.contains("sealed for another owner"), "{e}");
        let e = open_secrets("q", &sealed, &paths(), &sb).unwrap_err();
        assert!(e.contains("plugin \"q\", secret token: sealed for another owner"), "{e}");
        // The mask cannot keep what does not open; a new value replaces it.
        let masked = json!({"smtp": {"password": MASK}});
        let e = prepare_update("p", &masked, &moved, &json!({}), &schema(), (&paths(), &[]), &sb).unwrap_err();
        assert!(e.ends_with("give it again"), "{e}");
        let fresh = json!({"smtp": {"password": "new"}});
        let (resealed, eff) = prepare_update("p", &fresh, &moved, &json!({}), &schema(), (&paths(), &[]), &sb).unwrap();
        assert_eq!(eff, json!({"smtp": {"password": "new"}}));
        assert_eq!(open_secrets("p", &resealed, &paths(), &sb).unwrap(), eff);
    }

    #[test]
    fn schema_violations_are_rejected_without_leaking_secrets() {
        let sb = SecretBox::from_key(&[1; 32]);
        let err = prepare_update("p", &json!({"port": "x"}), &json!({}), &json!({}), &schema(), (&paths(), &[]), &sb)
            .unwrap_err();
        assert!(err.contains("port") || err.contains("integer"), "{err}");
        let err =
            prepare_update("p", &json!({"token": 12345}), &json!({}), &json!({}), &schema(), (&paths(), &[]), &sb)
                .unwrap_err();
        assert!(!err.contains("12345"), "{err}");
        assert!(prepare_update("p", &json!([1]), &json!({}), &json!({}), &schema(), (&paths(), &[]), &sb).is_err());
    }

    fn token_bound_to_url() -> Vec<Binding> {
        vec![Binding { secret: vec!["token".into()], destinations: vec![vec!["url".into()], vec!["port".into()]] }]
    }

    #[test]
    fn overrides_changing_a_bound_destination_drop_the_inherited_secret() {
        let base = json!({"url": "https://ops.example", "port": 443, "token": "operator"});
        let drop = |overrides: Value| {
            let mut merged = merge(&base, &overrides);
            drop_redirected(&mut merged, &base, &overrides, &token_bound_to_url());
            merged.get("token").cloned()
        };
        assert_eq!(drop(json!({})), Some(json!("operator")));
        assert_eq!(drop(json!({"url": "https://ops.example", "x": 1})), Some(json!("operator")), "restated");
        assert_eq!(drop(json!({"url": "https://evil.example"})), None);
        assert_eq!(drop(json!({"port": 8443})), None);
        assert_eq!(drop(json!({"url": "https://evil.example", "token": "own"})), Some(json!("own")));
    }

    #[test]
    fn a_mask_never_carries_a_secret_to_a_changed_destination() {
        let base = json!({"url": "https://ops.example", "token": "operator"});
        let resolve = |input: Value, previous: Value| {
            resolve_masks(&input, &previous, &base, &[vec!["token".to_string()]], &token_bound_to_url())
        };
        // Inherited: the mask is removed so the base's secret applies, with the base's url only.
        assert_eq!(resolve(json!({"token": MASK}), json!({})).unwrap(), json!({}));
        let err = resolve(json!({"url": "https://evil.example", "token": MASK}), json!({})).unwrap_err();
        assert_eq!(err, "token is bound to url, which this configuration changes: give token again");
        // Kept from `previous`, checked against where `previous` sent it.
        let own = json!({"url": "https://mine.example", "token": "own"});
        let same = json!({"url": "https://mine.example", "token": MASK});
        assert_eq!(resolve(same, own.clone()).unwrap(), own);
        assert!(resolve(json!({"token": MASK}), own).is_err(), "back to the base's url is a change too");
        // Nothing to stand for: no secret moves, the mask just goes.
        let empty = resolve_masks(
            &json!({"url": "x", "token": MASK}),
            &json!({}),
            &json!({}),
            &[vec!["token".into()]],
            &token_bound_to_url(),
        );
        assert_eq!(empty.unwrap(), json!({"url": "x"}));
    }
}
