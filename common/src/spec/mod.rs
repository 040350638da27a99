//! The whole `spec` object: one schema for every tool, read once and checked
//! whole before any tool makes its first AWS call.
//!
//! Each section has its own file with its types and every rule that needs only
//! the spec: `network`, `ecr`, `secrets`, `cluster`, `alb`, and `services` with
//! a service's `scaling`, `deployment` and `discovery`. [`Spec::check`] runs them
//! all, the rules that cross sections (routes and callers to unknown services,
//! references to undeclared secrets), and every env of the per-env tables, so a
//! typo anywhere, or an invalid prod size, stops the first tool of a dev run.
//!
//! What needs AWS or another layer's output (AZ names, images from `.ecr`, ARNs
//! from `.secrets`, target groups from `.alb`) is not here: each tool resolves
//! its own plan from these types and the upstream sections.
//!
//! Errors name the JSON path in the user's words: `spec.services.api.cpu:
//! expected a number, got the string "512"`, `spec.servces: unknown key; did you
//! mean services?`. The path comes from serde_path_to_error, the suggestion from
//! strsim, and the wording from `de`, our deserializer of the parsed JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::document::Document;
use crate::error::{shown, Error, Result};

pub mod alb;
pub mod cluster;
mod de;
pub mod deployment;
pub mod discovery;
pub mod ecr;
pub mod envs;
pub mod image;
pub mod network;
pub mod refs;
pub mod scaling;
pub mod secrets;
pub mod services;

pub use alb::AlbSpec;
pub use cluster::ClusterSpec;
pub use de::describe;
pub use deployment::DeploymentSetting;
pub use discovery::DiscoverySpec;
pub use ecr::EcrSpec;
pub use network::NetworkSpec;
pub use scaling::ScalingSpec;
pub use secrets::{SecretSpec, SecretsSpec};
pub use services::{ServiceSpec, ServicesSpec};

/// The document's `spec`. An absent (or `null`) section is its defaults;
/// anything else of the wrong type, or an unknown section, is an error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default, deserialize_with = "null_is_default")]
    pub network: NetworkSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub ecr: EcrSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub secrets: SecretsSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub cluster: ClusterSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub alb: AlbSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub services: ServicesSpec,
    #[serde(default, deserialize_with = "null_is_default")]
    pub discovery: DiscoverySpec,
    /// The envs that are protected: teardown removes them only with `--confirm
    /// STACK/ENV`, and their load balancer keeps deletion protection on.
    /// [default `["prod"]`; `[]` protects none]
    #[serde(default)]
    pub protected: Option<Vec<String>>,
    /// `spec.services` as written, before any env's overrides: `check` checks
    /// it and every env it names. `None` when the spec was not read by `load`.
    #[serde(skip)]
    pub written_services: Option<Value>,
}

/// The envs protected when the spec says nothing.
pub const DEFAULT_PROTECTED: &[&str] = &["prod"];

/// Whether `env` is protected by `spec.protected` (read leniently: teardown
/// reads no other part of the spec, and must not be stopped by a typo
/// elsewhere in it). Unreadable means the default.
pub fn is_protected(doc: &Document, env: &str) -> bool {
    let listed = doc
        .get("spec")
        .and_then(|s| s.get("protected"))
        .and_then(Value::as_array)
        .map(|envs| envs.iter().filter_map(Value::as_str).any(|e| e == env));
    listed.unwrap_or_else(|| DEFAULT_PROTECTED.contains(&env))
}

/// `"network": null` reads like an absent section (jq writes nulls freely).
fn null_is_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

impl Spec {
    /// The document's spec, read into its types: unknown keys and values of the
    /// wrong type are errors (exit 5) naming their path. Absent means defaults.
    pub fn load(doc: &Document) -> Result<Spec> {
        match doc.get("spec") {
            None | Some(Value::Null) => Ok(Spec::default()),
            Some(v) => {
                let mut spec: Spec = read("spec", v)?;
                spec.written_services = v.get("services").filter(|s| !s.is_null()).cloned();
                // Every tool sees the services as they run in this document's env.
                if let (Some(written), Some(env)) = (&spec.written_services, doc.get_str("env")) {
                    spec.services = envs::resolve(written, env)?;
                }
                Ok(spec)
            }
        }
    }

    /// What the runner does before any tool runs: load and check the whole spec.
    pub fn validate(doc: &Document) -> Result<Spec> {
        let spec = Spec::load(doc)?;
        spec.check(doc)?;
        Ok(spec)
    }

    /// Every rule of every section, the references between sections, and every
    /// env's values of the per-env tables. `doc` is read only for the names in
    /// `.secrets`: a service may reference a secret made by an earlier run.
    pub fn check(&self, doc: &Document) -> Result<()> {
        for (i, env) in self.protected.iter().flatten().enumerate() {
            crate::naming::check_env(env)
                .map_err(|e| Error::Spec(format!("spec.protected[{i}]: {e}")))?;
        }
        self.network.shape()?;
        self.ecr.check()?;
        secrets::check(&self.secrets)?;
        self.cluster.check()?;
        let deployed = deployed_secrets(doc);
        let services_of_one_env = |services: &ServicesSpec| {
            services::check(&services::Known {
                services,
                secrets: &self.secrets,
                deployed_secrets: &deployed,
                alb: &self.alb,
            })?;
            alb::check(&self.alb, services)
        };
        match &self.written_services {
            Some(written) => {
                services_of_one_env(&read("spec.services", written)?)?;
                envs::check_every_env(written, services_of_one_env)?;
            }
            None => services_of_one_env(&self.services)?,
        }
        self.check_arm_on_spot()?;
        self.discovery.check()
    }

    /// Fargate Spot runs no ARM64 task: each env's services against that env's
    /// capacity strategy (an env named nowhere runs the services as written on
    /// the default strategy).
    fn check_arm_on_spot(&self) -> Result<()> {
        let spot = |env: &str| -> Result<bool> {
            Ok(self
                .cluster
                .strategy_for(env)?
                .iter()
                .any(|s| s.provider == "FARGATE_SPOT" && (s.weight > 0 || s.base > 0)))
        };
        let base = match &self.written_services {
            Some(w) => read("spec.services", w)?,
            None => self.services.clone(),
        };
        let mut named: BTreeSet<String> = self.cluster.strategy_by_env.keys().cloned().collect();
        if let Some(w) = &self.written_services {
            named.extend(envs::named(w));
        }
        services::containers::check_arm_on_spot(
            &base,
            "(any env without its own strategy)",
            spot("")?,
        )?;
        for env in named {
            let services = match &self.written_services {
                Some(w) => envs::resolve(w, &env)?,
                None => self.services.clone(),
            };
            services::containers::check_arm_on_spot(&services, &env, spot(&env)?)?;
        }
        Ok(())
    }
}

/// Whether the document states `spec.<section>` explicitly and non-empty: only
/// then may a tool prune what that section no longer asks for. An absent,
/// `null` or empty section is no statement of what is wanted, so it never
/// causes a deletion (a typo'd or emptied spec must not tear a stack down;
/// teardown does that on request).
pub fn stated(doc: &Document, section: &str) -> bool {
    match doc.get("spec").and_then(|s| s.get(section)) {
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    }
}

/// The short names in the document's `.secrets`, if it has that section.
fn deployed_secrets(doc: &Document) -> BTreeSet<String> {
    doc.get("secrets")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Reads `value`, found at `path` (`spec`, `spec.network`), as a `T`, or the
/// one-line error naming the exact path of what is wrong.
pub fn read<T: DeserializeOwned>(path: &str, value: &Value) -> Result<T> {
    serde_path_to_error::deserialize(de::SpecDe(value)).map_err(|e| {
        let path = join(path, e.path());
        Error::Spec(wording(&path, &e.inner().0))
    })
}

/// `spec` and serde_path_to_error's segments as a jq-like path:
/// `spec.services.api.permissions[0].actions`.
fn join(root: &str, path: &serde_path_to_error::Path) -> String {
    let mut out = root.to_owned();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                out.push('.');
                out.push_str(&shown(key));
            }
            Segment::Enum { variant } => {
                out.push('.');
                out.push_str(&shown(variant));
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

fn wording(path: &str, problem: &de::Problem) -> String {
    use de::Problem;
    match problem {
        Problem::UnknownKey { key, known } => {
            // serde_path_to_error's path already ends with the key it was reading.
            let path = if path.ends_with(&format!(".{}", shown(key))) {
                path.to_owned()
            } else {
                format!("{path}.{}", shown(key))
            };
            format!("{path}: unknown key; {}", one_of(key, known))
        }
        Problem::UnknownValue { value, known } => {
            format!(
                "{path}: unknown value \"{}\"; {}",
                shown(value),
                one_of(value, known)
            )
        }
        Problem::Expected { expected, got } => format!("{path}: expected {expected}, got {got}"),
        Problem::Missing { key } => format!("{path}.{key}: missing, and it is required"),
        Problem::Other(msg) => format!("{path}: {}", shown_message(msg)),
    }
}

/// A type's own message may quote the input at any length; keep the line readable.
fn shown_message(msg: &str) -> String {
    const MAX: usize = 300;
    if msg.chars().count() > MAX {
        format!("{}…", msg.chars().take(MAX).collect::<String>())
    } else {
        msg.to_owned()
    }
}

/// `did you mean services?` when one of `known` is close to `given`, else the
/// whole list: `expected one of a, b, c`.
pub fn one_of(given: &str, known: &[&str]) -> String {
    match closest(given, known) {
        Some(best) => format!("did you mean {best}?"),
        None if known.is_empty() => "nothing is allowed here".to_owned(),
        None => format!("expected one of {}", known.join(", ")),
    }
}

/// The known word a typo most likely meant: close in Jaro-Winkler similarity
/// (transposed and dropped letters: `imgae`, `servces`), or one edit away from a
/// short word (`mx` for `max`).
pub fn closest<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    // Both metrics take time in proportion to the lengths' product: a huge key
    // is no typo of ours, and must not make the error slow.
    if given.len() > 2 * known.iter().map(|k| k.len()).max().unwrap_or(0) + 8 {
        return None;
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), *k))
        .filter(|(score, k)| *score >= 0.8 || strsim::damerau_levenshtein(given, k) <= 1)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Prefixes a spec error made by a shared helper (a CIDR, a name) with the path
/// of the value it was about; other errors pass unchanged.
pub fn within(path: &str, e: Error) -> Error {
    match e {
        Error::Spec(msg) => Error::Spec(format!("{path}: {msg}")),
        other => other,
    }
}

/// A per-env table's keys are env names, checked like `--env`, or an entry
/// could never apply.
fn check_env_keys<T>(path: &str, table: &BTreeMap<String, T>) -> Result<()> {
    for env in table.keys() {
        crate::naming::check_label("env", env, 12)
            .map_err(|e| within(&format!("{path}.{}", shown(env)), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
