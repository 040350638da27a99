//! `spec.services`: one type for every tool that reads a service. svc-up runs
//! it, alb-up routes it (`port`, `route`, `health_check`,
//! `deregistration_delay`, a blue/green `deployment`), scale-up scales it
//! (`scaling`), ecr-up makes its repository unless it has an `image`.
//!
//! [`check`] runs every rule of every service, for every env of its `sizes`,
//! and the references out of it: `callers` to other services, `secrets` to
//! `spec.secrets` (or `.secrets`, made by an earlier run). The routing rules that
//! need all routed services at once are `alb::plan`'s.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::alb::{AlbSpec, HealthCheckSpec, RouteSpec};
use super::deployment::{self, DeploymentSetting};
use super::discovery::DiscoverySetting;
use super::scaling::ScalingSpec;
use super::secrets::{is_env_name, SecretsSpec};
use super::{check_env_keys, describe, one_of, within};
use crate::error::shown;
use crate::{naming, Error, Result};
pub use containers::{Condition, CpuArchitecture, Sidecar};

/// `spec.services`: service name (`api`) to its spec.
pub type ServicesSpec = BTreeMap<String, ServiceSpec>;

pub const DEFAULT_CPU: i64 = 256;
pub const DEFAULT_MEMORY: i64 = 512;
pub const DEFAULT_DESIRED_COUNT: i64 = 1;
pub const DEFAULT_LOG_RETENTION_DAYS: i32 = 30;
/// ECS runs at most this many tasks per service.
pub const MAX_DESIRED_COUNT: i64 = 1000;

/// One entry of `spec.services`. Unknown fields are an error at every depth.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSpec {
    /// An explicit image (`nginx:alpine`); else the service's ECR repository.
    pub image: Option<String>,
    /// The tag of the service's ECR image. Without `image` or `image_tag` a
    /// running service keeps the image it runs (a re-run never rolls a deploy
    /// back) and a new one gets the newest image in its repository.
    pub image_tag: Option<String>,
    /// Fargate CPU units [256]; signed, so `-1` gets our message, not serde's.
    pub cpu: Option<i64>,
    /// MiB [512].
    pub memory: Option<i64>,
    /// The container port (and the target group's).
    pub port: Option<i64>,
    /// [1].
    pub desired_count: Option<i64>,
    /// Env (`prod`) to sizes overriding the above in that env.
    pub sizes: BTreeMap<String, Size>,
    /// Env (`prod`) to a merge patch of this service's fields in that env
    /// (see `envs`); resolved by `Spec::load`, so a tool sees its env's values.
    pub envs: BTreeMap<String, Value>,
    /// Plain values only: strings, numbers, booleans.
    pub environment: BTreeMap<String, Value>,
    /// Env var to a Secrets Manager reference (never a value).
    pub secrets: BTreeMap<String, SecretRef>,
    pub container_health_check: Option<ContainerHealthCheck>,
    pub stop_timeout: Option<i32>,
    pub read_only_root_filesystem: Option<bool>,
    pub exec: Option<bool>,
    pub discovery: Option<DiscoverySetting>,
    /// Services whose security group may reach this one's port.
    pub callers: Vec<String>,
    /// The task role's statements.
    pub permissions: Vec<Permission>,
    pub log_retention_days: Option<i32>,
    /// `"rolling"` (default: ECS rolling update with the circuit breaker) or
    /// `"blue-green"` (CodeDeploy); see docs/document.md.
    pub deployment: Option<DeploymentSetting>,
    /// scale-up's; svc-up leaves a scaled service's desired count to it.
    pub scaling: Option<ScalingSpec>,
    /// alb-up's: the listener rule; without it the service is not behind the ALB.
    pub route: Option<RouteSpec>,
    /// alb-up's: the target group's health check.
    pub health_check: Option<HealthCheckSpec>,
    /// alb-up's: seconds a draining target keeps its connections.
    pub deregistration_delay: Option<i64>,
    /// The container's command (the image's `CMD`), instead of the image's.
    pub command: Option<Vec<String>>,
    /// The container's entrypoint, instead of the image's.
    pub entrypoint: Option<Vec<String>>,
    /// Paths the container may write, each an ephemeral task volume mounted
    /// read-write; the root filesystem stays read-only.
    pub writable_paths: Vec<String>,
    /// [x86_64] or arm64 (Graviton).
    pub cpu_architecture: Option<CpuArchitecture>,
    /// More containers of the task, by container name.
    pub sidecars: BTreeMap<String, Sidecar>,
    /// Containers of the task the main one waits for, and for what.
    pub depends_on: BTreeMap<String, Condition>,
}

/// A service's size in one env; what it leaves out comes from the service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Size {
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub desired_count: Option<i64>,
}

/// A size with the defaults applied, as it runs in one env.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub cpu: i64,
    pub memory: i64,
    pub desired_count: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The short name in `spec.secrets` (and `.secrets`).
    pub secret: String,
    /// A key of the secret's JSON value.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerHealthCheck {
    pub command: Vec<String>,
    #[serde(default)]
    pub interval: Option<i32>,
    #[serde(default)]
    pub timeout: Option<i32>,
    #[serde(default)]
    pub retries: Option<i32>,
    #[serde(default)]
    pub start_period: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// Fargate's CPU units to the memory sizes (MiB) each allows.
pub fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let steps = |from: i64, to: i64, step: usize| (from..=to).step_by(step).collect();
    Some(match cpu {
        256 => vec![512, 1024, 2048],
        512 => steps(1024, 4096, 1024),
        1024 => steps(2048, 8192, 1024),
        2048 => steps(4096, 16384, 1024),
        4096 => steps(8192, 30720, 1024),
        8192 => steps(16384, 61440, 4096),
        16384 => steps(32768, 122880, 8192),
        _ => return None,
    })
}

/// The retention periods CloudWatch Logs accepts.
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl ServiceSpec {
    /// The size this service runs with in `env`, defaults applied.
    pub fn size(&self, env: &str) -> Resolved {
        let base = Size {
            cpu: self.cpu,
            memory: self.memory,
            desired_count: self.desired_count,
        };
        resolve(&self.sizes.get(env).copied().unwrap_or_default(), &base)
    }

    /// Behind the ALB: a route of its own, or the ALB's default service.
    pub fn is_routed(&self, name: &str, alb: &AlbSpec) -> bool {
        self.route.is_some() || alb.default_service.as_deref() == Some(name)
    }

    /// ECS Exec, and whether the root filesystem is read-only (by default it is,
    /// unless Exec's agent needs to write).
    pub fn exec_and_read_only(&self) -> (bool, bool) {
        let exec = self.exec.unwrap_or(false);
        (exec, self.read_only_root_filesystem.unwrap_or(!exec))
    }
}

fn resolve(scope: &Size, base: &Size) -> Resolved {
    Resolved {
        cpu: scope.cpu.or(base.cpu).unwrap_or(DEFAULT_CPU),
        memory: scope.memory.or(base.memory).unwrap_or(DEFAULT_MEMORY),
        desired_count: scope
            .desired_count
            .or(base.desired_count)
            .unwrap_or(DEFAULT_DESIRED_COUNT),
    }
}

/// What a service's references are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub services: &'a ServicesSpec,
    pub secrets: &'a SecretsSpec,
    /// The short names of the document's `.secrets`.
    pub deployed_secrets: &'a BTreeSet<String>,
    pub alb: &'a AlbSpec,
}

/// Every rule of every service.
pub fn check(known: &Known<'_>) -> Result<()> {
    known
        .services
        .iter()
        .try_for_each(|(name, s)| check_service(name, s, known))
}

/// A well-formed `image` or `image_tag`, never both: `image_tag` is the tag of
/// the service's own ECR repository, which `image` replaces.
fn check_image(at: &str, s: &ServiceSpec) -> Result<()> {
    match (&s.image, &s.image_tag) {
        (Some(_), Some(_)) => Err(Error::spec(format!(
            "{at}: both image and image_tag are set: image_tag is the tag of the service's ECR repository, \
             which image replaces; keep one (svc-up --image {}=... sets the right one)",
            at.rsplit('.').next().unwrap_or_default()
        ))),
        (Some(i), None) => super::image::check(&format!("{at}.image"), i),
        (None, Some(t)) => super::image::check_tag(&format!("{at}.image_tag"), t),
        (None, None) => Ok(()),
    }
}

fn check_service(name: &str, s: &ServiceSpec, known: &Known<'_>) -> Result<()> {
    let at = format!("spec.services.{}", shown(name));
    naming::check_service_name(name).map_err(|e| within(&at, e))?;
    check_sizes(&at, s)?;
    check_image(&at, s)?;
    if let Some(p) = s.port {
        check_port(&format!("{at}.port"), p)?;
    }
    check_environment(&at, s)?;
    check_secret_refs(&at, s, known)?;
    containers::check(&at, name, s, known)?;
    if let Some(h) = &s.container_health_check {
        h.checked(&format!("{at}.container_health_check"))?;
    }
    if let Some(t) = s.stop_timeout.filter(|t| !(2..=120).contains(t)) {
        return Err(Error::spec(format!(
            "{at}.stop_timeout: {t} is not between 2 and 120 seconds"
        )));
    }
    if let Some(d) = &s.discovery {
        d.ttl(&format!("{at}.discovery"))?;
    }
    check_callers(&at, s, known.services)?;
    check_permissions(&format!("{at}.permissions"), &s.permissions)?;
    check_log_retention(&at, s)?;
    if s.exec_and_read_only() == (true, true) {
        // ECS Exec runs the SSM agent inside the container, which writes to its filesystem.
        return Err(Error::spec(format!(
            "{at}: ECS Exec needs a writable root filesystem: drop read_only_root_filesystem or exec"
        )));
    }
    deployment::blue_green(&format!("{at}.deployment"), s.deployment.as_ref())?;
    check_scaling(&at, name, s, known.alb)
}

/// The service's own size and every env's, each as that env would run it.
fn check_sizes(at: &str, s: &ServiceSpec) -> Result<()> {
    check_env_keys(&format!("{at}.sizes"), &s.sizes)?;
    check_env_keys(&format!("{at}.envs"), &s.envs)?;
    let base = Size {
        cpu: s.cpu,
        memory: s.memory,
        desired_count: s.desired_count,
    };
    check_size(at, &base, &Size::default())?;
    for (env, size) in &s.sizes {
        check_size(&format!("{at}.sizes.{}", shown(env)), size, &base)?;
    }
    Ok(())
}

/// `scope` holds what is set at `at`, `base` the rest. The service's own size is
/// checked first, so a bad pair in an env's scope comes from a field set there.
fn check_size(at: &str, scope: &Size, base: &Size) -> Result<()> {
    let r = resolve(scope, base);
    let Some(allowed) = fargate_memory(r.cpu) else {
        return Err(Error::spec(format!(
            "{at}.cpu: cpu {} is not a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384)",
            r.cpu
        )));
    };
    if !allowed.contains(&r.memory) {
        let field = if scope.memory.is_some() {
            "memory"
        } else {
            "cpu"
        };
        let allowed: Vec<String> = allowed.iter().map(i64::to_string).collect();
        return Err(Error::spec(format!(
            "{at}.{field}: Fargate does not run cpu {} with memory {}: with cpu {} memory must be one of {}",
            r.cpu,
            r.memory,
            r.cpu,
            allowed.join(", ")
        )));
    }
    if !(0..=MAX_DESIRED_COUNT).contains(&r.desired_count) {
        return Err(Error::spec(format!(
            "{at}.desired_count: {} is not between 0 and {MAX_DESIRED_COUNT}",
            r.desired_count
        )));
    }
    Ok(())
}

/// A TCP port, 1 to 65535.
pub fn check_port(at: &str, p: i64) -> Result<u16> {
    match u16::try_from(p) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(Error::spec(format!(
            "{at}: port {p} is not a port (1 to 65535)"
        ))),
    }
}

pub(crate) fn check_env_name(at: &str, var: &str) -> Result<()> {
    if is_env_name(var) {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "{at}: '{}' is not an environment variable name (letters, digits, '_')",
            shown(var)
        )))
    }
}

/// Variables that hold credentials: a plain environment value would be in the
/// task definition for anyone who can describe it (FSBP ECS.8).
const CREDENTIAL_VARIABLES: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "ECS_ENGINE_AUTH_DATA",
];

fn check_environment(at: &str, s: &ServiceSpec) -> Result<()> {
    for (k, v) in &s.environment {
        let at = format!("{at}.environment.{}", shown(k));
        check_env_name(&at, k)?;
        if CREDENTIAL_VARIABLES.contains(&k.as_str()) {
            return Err(Error::spec(format!(
                "{at}: credentials never go in plain environment values (the task definition shows them): \
                 put it in a secret and reference it under secrets, or use the task role"
            )));
        }
        check_plain(&at, v)?;
    }
    Ok(())
}

/// An environment value: a string, number or boolean.
pub(crate) fn check_plain(at: &str, v: &Value) -> Result<()> {
    if matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "{at}: expected a string, number or boolean, got {}",
            describe(v)
        )))
    }
}

/// Each reference names a declared secret (and one of its JSON keys, when the
/// secret lists them); `.secrets` counts as declared, as svc-up resolves from it.
fn check_secret_refs(at: &str, s: &ServiceSpec, known: &Known<'_>) -> Result<()> {
    for (var, r) in &s.secrets {
        let at = format!("{at}.secrets.{}", shown(var));
        check_secret_ref(&at, var, r, &s.environment, known)?;
    }
    Ok(())
}

/// One secret variable of a container whose plain variables are `environment`.
pub(crate) fn check_secret_ref(
    at: &str,
    var: &str,
    r: &SecretRef,
    environment: &BTreeMap<String, Value>,
    known: &Known<'_>,
) -> Result<()> {
    check_env_name(at, var)?;
    if environment.contains_key(var) {
        return Err(Error::spec(format!(
            "{at}: {} is both in environment and in secrets",
            shown(var)
        )));
    }
    match known.secrets.get(&r.secret) {
        Some(declared) => check_secret_key(at, r, declared.json_keys.as_deref()),
        None if known.deployed_secrets.contains(&r.secret) => Ok(()),
        None => Err(unknown_secret(&format!("{at}.secret"), &r.secret, known)),
    }
}

fn check_secret_key(at: &str, r: &SecretRef, keys: Option<&[String]>) -> Result<()> {
    match (&r.key, keys) {
        (Some(key), Some(keys)) if !keys.is_empty() && !keys.contains(key) => {
            Err(Error::spec(format!(
                "{at}.key: secret '{}' has no key '{}' (its json_keys are {})",
                shown(&r.secret),
                shown(key),
                keys.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn unknown_secret(at: &str, secret: &str, known: &Known<'_>) -> Error {
    let names: BTreeSet<&str> = known
        .secrets
        .keys()
        .chain(known.deployed_secrets)
        .map(String::as_str)
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    let hint = if names.is_empty() {
        "the spec declares no secret".to_owned()
    } else {
        one_of(secret, &names)
    };
    Error::spec(format!(
        "{at}: secret '{}' is neither in spec.secrets nor in .secrets \
         (declare it in spec.secrets and run secrets-up); {hint}",
        shown(secret)
    ))
}

fn check_callers(at: &str, s: &ServiceSpec, services: &ServicesSpec) -> Result<()> {
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    for (i, c) in s.callers.iter().enumerate() {
        if !services.contains_key(c) {
            return Err(Error::spec(format!(
                "{at}.callers[{i}]: '{}' is not a service of spec.services; {}",
                shown(c),
                one_of(c, &names)
            )));
        }
    }
    if !s.callers.is_empty() && s.port.is_none() {
        return Err(Error::spec(format!(
            "{at}.callers: callers need a port to call (set {at}.port)"
        )));
    }
    Ok(())
}

/// Exactly the declared statements, each action and ARN parsed and checked
/// (see `permissions`): no wildcard across services, regions, accounts or
/// resource types, no IAM or KMS administration, nothing malformed.
pub fn check_permissions(at: &str, permissions: &[Permission]) -> Result<()> {
    permissions::check(at, permissions)?;
    if let Some(policy) = task_policy_of(permissions) {
        permissions::check_size(at, &policy)?;
    }
    Ok(())
}

/// The task role's inline policy of the declared statements alone (svc-up adds
/// ECS Exec's grants to it); `None` when nothing is declared.
pub fn task_policy_of(permissions: &[Permission]) -> Option<Value> {
    if permissions.is_empty() {
        return None;
    }
    let statements: Vec<Value> = permissions
        .iter()
        .map(|p| {
            serde_json::json!({
                "Effect": "Allow",
                "Action": p.actions,
                "Resource": p.resources,
            })
        })
        .collect();
    Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
}

fn check_log_retention(at: &str, s: &ServiceSpec) -> Result<()> {
    let days = s.log_retention_days.unwrap_or(DEFAULT_LOG_RETENTION_DAYS);
    if RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let all: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
    Err(Error::spec(format!(
        "{at}.log_retention_days: {days} is not a CloudWatch retention (one of {})",
        all.join(", ")
    )))
}

fn check_scaling(at: &str, name: &str, s: &ServiceSpec, alb: &AlbSpec) -> Result<()> {
    let Some(scaling) = &s.scaling else {
        return Ok(());
    };
    let at = format!("{at}.scaling");
    scaling.check(&at)?;
    if scaling.requests.is_some() && !s.is_routed(name, alb) {
        return Err(Error::spec(format!(
            "{at}.requests: request-count scaling needs the service behind the ALB \
             (a route, or spec.alb.default_service), whose target group it counts requests of"
        )));
    }
    Ok(())
}

impl ContainerHealthCheck {
    /// Checked, with a bare command turned into ECS's `CMD-SHELL` form.
    pub fn checked(&self, at: &str) -> Result<ContainerHealthCheck> {
        for (what, v, lo, hi) in [
            ("interval", self.interval, 5, 300),
            ("timeout", self.timeout, 2, 60),
            ("retries", self.retries, 1, 10),
            ("start_period", self.start_period, 0, 300),
        ] {
            if let Some(v) = v.filter(|v| !(lo..=hi).contains(v)) {
                return Err(Error::spec(format!(
                    "{at}.{what}: {v} is not between {lo} and {hi}"
                )));
            }
        }
        if self.command.is_empty() {
            return Err(Error::spec(format!("{at}.command is empty")));
        }
        let mut h = self.clone();
        // ECS wants the form first; a bare command runs through the shell.
        if !matches!(h.command[0].as_str(), "CMD" | "CMD-SHELL") {
            h.command = vec!["CMD-SHELL".to_owned(), h.command.join(" ")];
        }
        Ok(h)
    }
}

pub mod containers;
pub mod permissions;

#[cfg(test)]
mod tests;
