//! Per-env overrides of a service: `spec.services.<name>.envs.<env>` is a
//! JSON Merge Patch (RFC 7386) over the service as written. Objects merge key
//! by key (so `environment` and `secrets` merge per variable, `scaling` per
//! field), `null` removes a key, and any other value (a string, a number, a
//! list) replaces the service's. The older `sizes.<env>` table is the same
//! thing for `cpu`, `memory` and `desired_count`, applied first.
//!
//! Resolution is done here, once, on the JSON as the user wrote it, so every
//! tool (ecr-up, alb-up, svc-up, scale-up) reads the same resolved service for
//! its env and no tool resolves overrides of its own. [`check_every_env`] runs
//! the whole services check on each env an override names, so an invalid
//! prod value stops a dev run; errors are reported at the override's path
//! (`spec.services.api.envs.prod.log_retention_days: ...`).
//!
//! Stack-level settings that vary by env keep their own tables
//! (`cluster.strategy_by_env`): a generic stack-level patch would be written
//! back into the document by the tools that record their flags in `spec`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::read;
use super::services::ServicesSpec;
use crate::error::shown;
use crate::{Error, Result};

/// The keys an override may not hold: an override is one env's values, not
/// another table of envs.
const NOT_OVERRIDABLE: &[&str] = &["envs", "sizes"];

/// `target` with `patch` merged in (RFC 7386).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The env names any override table of `written` (the services as written)
/// names: `envs`, `sizes` and scaling's `sizes`.
pub fn named(written: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for service in written.as_object().into_iter().flat_map(Map::values) {
        for table in [
            service.get("envs"),
            service.get("sizes"),
            service.get("scaling").and_then(|s| s.get("sizes")),
        ] {
            if let Some(Value::Object(t)) = table {
                out.extend(t.keys().cloned());
            }
        }
    }
    out
}

/// Every service of `written` as it runs in `env`: its `sizes.<env>` and
/// `envs.<env>` applied, both tables then dropped (the result is one env's).
/// A service with neither is read unchanged.
pub fn resolve(written: &Value, env: &str) -> Result<ServicesSpec> {
    let Some(services) = written.as_object() else {
        return read("spec.services", written);
    };
    let mut out = ServicesSpec::new();
    for (name, service) in services {
        let at = format!("spec.services.{}", shown(name));
        let merged = resolved_json(&at, service, env)?;
        let spec =
            read(&at, &merged).map_err(|e| blame(e, &at, env, override_keys(service, env)))?;
        out.insert(name.clone(), spec);
    }
    Ok(out)
}

/// The service's JSON in `env`; checks the override's shape on the way.
fn resolved_json(at: &str, service: &Value, env: &str) -> Result<Value> {
    let mut merged = service.clone();
    if let Some(m) = merged.as_object_mut() {
        m.remove("envs");
        m.remove("sizes");
    }
    if let Some(size) = service.get("sizes").and_then(|s| s.get(env)) {
        merge_patch(&mut merged, size);
    }
    if let Some(patch) = service.get("envs").and_then(|e| e.get(env)) {
        let at = format!("{at}.envs.{}", shown(env));
        let Value::Object(fields) = patch else {
            return Err(Error::spec(format!(
                "{at}: expected an object of the service's fields, got {}",
                super::describe(patch)
            )));
        };
        if let Some(k) = fields
            .keys()
            .find(|k| NOT_OVERRIDABLE.contains(&k.as_str()))
        {
            return Err(Error::spec(format!(
                "{at}.{}: an env's override holds the service's fields for that env; {} cannot vary by env",
                shown(k),
                shown(k)
            )));
        }
        merge_patch(&mut merged, patch);
    }
    Ok(merged)
}

/// The top-level fields `env` overrides in this service (its `sizes` row too).
fn override_keys(service: &Value, env: &str) -> BTreeSet<String> {
    ["envs", "sizes"]
        .iter()
        .filter_map(|t| service.get(*t).and_then(|e| e.get(env)))
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys().cloned())
        .collect()
}

/// An error found in a service as resolved for `env`, told at the override
/// that caused it: `spec.services.api.cpu: ...` becomes
/// `spec.services.api.envs.prod.cpu: ...` when prod overrides `cpu`. An
/// error in a field the env does not override (the override changed
/// something it depends on) keeps its path and names the env.
pub fn blame(e: Error, at: &str, env: &str, overridden: BTreeSet<String>) -> Error {
    let Error::Spec(msg) = e else { return e };
    let prefix = format!("{at}.");
    let field = msg
        .strip_prefix(&prefix)
        .map(|rest| rest.split(['.', ':', '[']).next().unwrap_or_default());
    match field {
        Some(f) if overridden.contains(f) => {
            Error::Spec(format!("{at}.envs.{}.{}", shown(env), &msg[prefix.len()..]))
        }
        _ => Error::Spec(format!("{msg} (in env {}, with its overrides)", shown(env))),
    }
}

/// Every env an override names, checked as that env runs: `check` is the
/// services check of one env's services. The services as written are checked
/// by the caller first, so what fails here fails because of an override.
pub fn check_every_env(
    written: &Value,
    mut check: impl FnMut(&ServicesSpec) -> Result<()>,
) -> Result<()> {
    for env in named(written) {
        let services = resolve(written, &env)?;
        check(&services).map_err(|e| attribute(e, written, &env))?;
    }
    Ok(())
}

/// [`blame`] for an error of any service: the service is read from the path.
fn attribute(e: Error, written: &Value, env: &str) -> Error {
    let Error::Spec(msg) = &e else { return e };
    let service = msg
        .strip_prefix("spec.services.")
        .and_then(|rest| rest.split(['.', ':']).next())
        .and_then(|name| written.get(name).map(|s| (name.to_owned(), s)));
    match service {
        Some((name, s)) => blame(
            e,
            &format!("spec.services.{}", shown(&name)),
            env,
            override_keys(s, env),
        ),
        None => Error::Spec(format!("{msg} (in env {}, with its overrides)", shown(env))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_merges_objects_removes_nulls_and_replaces_the_rest() {
        let mut v = json!({"a": 1, "env": {"X": "1", "Y": "2"}, "l": [1, 2], "d": "rolling"});
        merge_patch(
            &mut v,
            &json!({"a": 2, "env": {"Y": null, "Z": "3"}, "l": [3], "d": {"type": "blue-green"}}),
        );
        assert_eq!(
            v,
            json!({"a": 2, "env": {"X": "1", "Z": "3"}, "l": [3], "d": {"type": "blue-green"}})
        );
    }

    #[test]
    fn sizes_then_envs_resolve_one_env() {
        let written = json!({"api": {
            "cpu": 256, "memory": 512, "environment": {"A": "1", "B": "2"},
            "sizes": {"prod": {"cpu": 1024, "memory": 2048}},
            "envs": {"prod": {"memory": 4096, "environment": {"B": "p"}, "log_retention_days": 7}}
        }});
        let prod = resolve(&written, "prod").unwrap();
        let api = &prod["api"];
        assert_eq!((api.cpu, api.memory), (Some(1024), Some(4096)));
        assert_eq!(api.environment["A"], "1");
        assert_eq!(api.environment["B"], "p");
        assert_eq!(api.log_retention_days, Some(7));
        assert!(api.sizes.is_empty() && api.envs.is_empty());
        let dev = resolve(&written, "dev").unwrap();
        assert_eq!(dev["api"].cpu, Some(256));
        assert_eq!(
            named(&written).into_iter().collect::<Vec<_>>(),
            ["prod".to_owned()]
        );
    }

    #[test]
    fn an_override_of_the_wrong_type_is_told_at_its_path() {
        let written = json!({"api": {"envs": {"prod": {"cpu": "big"}}}});
        let e = resolve(&written, "prod").unwrap_err().to_string();
        assert!(
            e.starts_with("spec.services.api.envs.prod.cpu: expected a number"),
            "{e}"
        );
        let e = resolve(&json!({"api": {"envs": {"prod": {"envs": {}}}}}), "prod")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("spec.services.api.envs.prod.envs: "), "{e}");
        let e = resolve(&json!({"api": {"envs": {"prod": 3}}}), "prod")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("spec.services.api.envs.prod: expected an object"),
            "{e}"
        );
    }
}
