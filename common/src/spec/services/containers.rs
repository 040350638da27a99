//! What a service's task runs besides its image and size: `command`,
//! `entrypoint`, `writable_paths`, `cpu_architecture`, `depends_on`, and
//! `sidecars` (more containers in the same task), with the rules ECS and
//! Fargate apply at registration or, worse, only when a task starts:
//! container ports are one network namespace in awsvpc mode, so no two
//! containers share one; `HEALTHY` needs the other container's health check;
//! `COMPLETE`/`SUCCESS` can't wait on an essential container; dependencies
//! may not loop; Fargate Spot runs no ARM64 task.
//!
//! The references (`${...}`) in values are checked here too, since a sidecar
//! calls with its service's name and security group.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::{
    check_env_name, check_port, check_secret_ref, ContainerHealthCheck, Known, SecretRef,
    ServiceSpec,
};
use crate::error::shown;
use crate::spec::one_of;
use crate::spec::refs::{self, Ref};
use crate::{naming, Error, Result};

/// The CPU architecture a task runs on (`runtimePlatform`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum CpuArchitecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl CpuArchitecture {
    /// ECS's name for it.
    pub fn ecs(self) -> &'static str {
        match self {
            CpuArchitecture::X86_64 => "X86_64",
            CpuArchitecture::Arm64 => "ARM64",
        }
    }
}

/// When a container may start, relative to another of its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    Start,
    Complete,
    Success,
    Healthy,
}

impl Condition {
    /// ECS's name for it.
    pub fn ecs(self) -> &'static str {
        match self {
            Condition::Start => "START",
            Condition::Complete => "COMPLETE",
            Condition::Success => "SUCCESS",
            Condition::Healthy => "HEALTHY",
        }
    }
}

/// One more container of a service's task (a log router, a proxy, an agent).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    pub image: String,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, Value>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
    #[serde(default)]
    pub port: Option<i64>,
    /// [true] The task stops when an essential container stops.
    #[serde(default)]
    pub essential: Option<bool>,
    #[serde(default)]
    pub depends_on: BTreeMap<String, Condition>,
    #[serde(default)]
    pub health_check: Option<ContainerHealthCheck>,
    #[serde(default)]
    pub writable_paths: Vec<String>,
    /// [true]
    #[serde(default)]
    pub read_only_root_filesystem: Option<bool>,
}

impl Sidecar {
    pub fn essential(&self) -> bool {
        self.essential.unwrap_or(true)
    }
}

/// The volume a writable path of `container` is mounted from: the path's
/// letters and digits, `-` for the rest, after the container's name (a
/// volume name is at most 255 letters, digits, `-` and `_`).
pub fn volume_name(container: &str, path: &str) -> String {
    let p: String = path
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{container}_{p}")
}

/// Every container rule of service `name`, and the references in its values.
pub fn check(at: &str, name: &str, s: &ServiceSpec, known: &Known<'_>) -> Result<()> {
    check_args(&format!("{at}.command"), s.command.as_deref())?;
    check_args(&format!("{at}.entrypoint"), s.entrypoint.as_deref())?;
    check_writable(&format!("{at}.writable_paths"), &s.writable_paths)?;
    let mut ports: BTreeMap<u16, String> = BTreeMap::new();
    if let Some(p) = s.port.and_then(|p| u16::try_from(p).ok()) {
        ports.insert(p, format!("{at}.port"));
    }
    for (side, c) in &s.sidecars {
        check_sidecar(
            &format!("{at}.sidecars.{}", shown(side)),
            name,
            side,
            c,
            known,
            &mut ports,
        )?;
    }
    check_depends(at, name, s)?;
    check_value_refs(at, name, s, known)
}

fn check_args(at: &str, args: Option<&[String]>) -> Result<()> {
    match args {
        Some([]) => Err(Error::spec(format!(
            "{at}: an empty list; leave the field out for the image's own"
        ))),
        _ => Ok(()),
    }
}

/// Absolute, normalised, distinct paths (each becomes its own volume).
fn check_writable(at: &str, paths: &[String]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for (i, p) in paths.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let ok = p.starts_with('/')
            && p.len() > 1
            && p.len() <= 200
            && !p.ends_with('/')
            && p.split('/')
                .skip(1)
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !ok {
            return Err(Error::spec(format!(
                "{at}: '{}' is not an absolute path like /var/cache/nginx (no '..', '//', trailing '/', or / itself)",
                shown(p)
            )));
        }
        if !seen.insert(volume_name("", p)) {
            return Err(Error::spec(format!(
                "{at}: '{}' is listed twice (or names the same volume as another path: letters and digits are kept, the rest becomes '-')",
                shown(p)
            )));
        }
    }
    Ok(())
}

fn check_sidecar(
    at: &str,
    service: &str,
    name: &str,
    c: &Sidecar,
    known: &Known<'_>,
    ports: &mut BTreeMap<u16, String>,
) -> Result<()> {
    naming::check_label("container", name, 64).map_err(|e| crate::spec::within(at, e))?;
    if name == service {
        return Err(Error::spec(format!(
            "{at}: a sidecar may not be named like its service (the main container is '{}')",
            shown(service)
        )));
    }
    if c.image.trim().is_empty() {
        return Err(Error::spec(format!("{at}.image: empty")));
    }
    check_args(&format!("{at}.command"), c.command.as_deref())?;
    check_args(&format!("{at}.entrypoint"), c.entrypoint.as_deref())?;
    check_writable(&format!("{at}.writable_paths"), &c.writable_paths)?;
    if let Some(p) = c.port {
        let port = check_port(&format!("{at}.port"), p)?;
        if let Some(other) = ports.insert(port, format!("{at}.port")) {
            return Err(Error::spec(format!(
                "{at}.port: {port} is already {other}: a task's containers share one network namespace (awsvpc)"
            )));
        }
    }
    for (k, v) in &c.environment {
        let at = format!("{at}.environment.{}", shown(k));
        check_env_name(&at, k)?;
        super::check_plain(&at, v)?;
    }
    for (var, r) in &c.secrets {
        check_secret_ref(
            &format!("{at}.secrets.{}", shown(var)),
            var,
            r,
            &c.environment,
            known,
        )?;
    }
    if let Some(h) = &c.health_check {
        h.checked(&format!("{at}.health_check"))?;
    }
    Ok(())
}

/// Each `depends_on` names another container of the task with a condition it
/// can meet, and the dependencies do not loop.
fn check_depends(at: &str, name: &str, s: &ServiceSpec) -> Result<()> {
    // Container name to (essential, has a health check, depends_on).
    let mut task = BTreeMap::new();
    task.insert(
        name,
        (
            true,
            s.container_health_check.is_some(),
            &s.depends_on,
            at.to_owned(),
        ),
    );
    for (side, c) in &s.sidecars {
        let path = format!("{at}.sidecars.{}", shown(side));
        task.insert(
            side.as_str(),
            (c.essential(), c.health_check.is_some(), &c.depends_on, path),
        );
    }
    let names: Vec<&str> = task.keys().copied().collect();
    for (container, (_, _, deps, path)) in &task {
        for (target, condition) in *deps {
            let at = format!("{path}.depends_on.{}", shown(target));
            let Some((essential, health, _, _)) = task.get(target.as_str()) else {
                return Err(Error::spec(format!(
                    "{at}: '{}' is not a container of this task; {}",
                    shown(target),
                    one_of(target, &names)
                )));
            };
            if target == container {
                return Err(Error::spec(format!(
                    "{at}: a container cannot wait for itself"
                )));
            }
            match condition {
                Condition::Healthy if !health => {
                    return Err(Error::spec(format!(
                        "{at}: HEALTHY needs a health check on '{}'",
                        shown(target)
                    )))
                }
                Condition::Complete | Condition::Success if *essential => {
                    return Err(Error::spec(format!(
                        "{at}: ECS cannot wait for an essential container to {}: make '{}' essential: false, or wait for start or healthy",
                        condition.ecs().to_lowercase(),
                        shown(target)
                    )))
                }
                _ => {}
            }
        }
    }
    let edges: BTreeMap<&str, Vec<&str>> = task
        .iter()
        .map(|(k, (_, _, d, _))| (*k, d.keys().map(String::as_str).collect()))
        .collect();
    if let Some(c) = cycle(&edges) {
        return Err(Error::spec(format!(
            "{at}: the containers' depends_on loop ({}): no container of the task could start",
            c.join(" -> ")
        )));
    }
    Ok(())
}

/// A dependency loop, if there is one.
fn cycle<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    fn walk<'a>(
        n: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c = path[i..].to_vec();
            c.push(n);
            return Some(c);
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = walk(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| walk(n, edges, &mut Vec::new(), &mut done))
}

/// Every text a reference may sit in: environment strings, command and
/// entrypoint elements, of the service and of each sidecar, with its path.
pub fn texts(at: &str, s: &ServiceSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |at: &str,
                   env: &BTreeMap<String, Value>,
                   cmd: Option<&Vec<String>>,
                   ep: Option<&Vec<String>>| {
        for (k, v) in env {
            if let Value::String(t) = v {
                out.push((format!("{at}.environment.{}", shown(k)), t.clone()));
            }
        }
        for (field, list) in [("command", cmd), ("entrypoint", ep)] {
            for (i, t) in list.into_iter().flatten().enumerate() {
                out.push((format!("{at}.{field}[{i}]"), t.clone()));
            }
        }
    };
    add(
        at,
        &s.environment,
        s.command.as_ref(),
        s.entrypoint.as_ref(),
    );
    for (side, c) in &s.sidecars {
        let at = format!("{at}.sidecars.{}", shown(side));
        add(
            &at,
            &c.environment,
            c.command.as_ref(),
            c.entrypoint.as_ref(),
        );
    }
    out
}

fn check_value_refs(at: &str, caller: &str, s: &ServiceSpec, known: &Known<'_>) -> Result<()> {
    for (path, text) in texts(at, s) {
        for r in refs::refs_in(&path, &text)? {
            check_ref(&path, caller, &r, known)?;
        }
    }
    Ok(())
}

fn check_ref(at: &str, caller: &str, r: &Ref, known: &Known<'_>) -> Result<()> {
    match r {
        Ref::Service { name, .. } => {
            let Some(callee) = known.services.get(name) else {
                let names: Vec<&str> = known.services.keys().map(String::as_str).collect();
                return Err(Error::spec(format!(
                    "{at}: ${{service.{}...}}: '{}' is not a service of spec.services; {}",
                    shown(name),
                    shown(name),
                    one_of(name, &names)
                )));
            };
            let callee_at = format!("spec.services.{}", shown(name));
            if !callee.callers.iter().any(|c| c == caller) {
                return Err(Error::spec(format!(
                    "{at}: '{}' does not list '{}' in its callers, so its security group would drop the call: add \"{}\" to {callee_at}.callers",
                    shown(name), shown(caller), shown(caller)
                )));
            }
            if callee.discovery.is_none() {
                return Err(Error::spec(format!(
                    "{at}: '{}' has no Cloud Map name: set {callee_at}.discovery to true",
                    shown(name)
                )));
            }
            Ok(())
        }
        Ref::SecretArn(name) => {
            if known.secrets.contains_key(name) || known.deployed_secrets.contains(name) {
                Ok(())
            } else {
                Err(super::unknown_secret(at, name, known))
            }
        }
        _ => Ok(()),
    }
}

/// Fargate Spot runs no ARM64 task: an arm64 service in an env whose
/// capacity strategy uses FARGATE_SPOT would never place a task there.
pub fn check_arm_on_spot(services: &super::ServicesSpec, env: &str, spot: bool) -> Result<()> {
    if !spot {
        return Ok(());
    }
    match services
        .iter()
        .find(|(_, s)| s.cpu_architecture == Some(CpuArchitecture::Arm64))
    {
        Some((name, _)) => Err(Error::spec(format!(
            "spec.services.{}.cpu_architecture: Fargate Spot runs no arm64 task, and env {} uses FARGATE_SPOT (spec.cluster): run it on x86_64 there (envs.{}.cpu_architecture), or give that env a strategy without Spot",
            shown(name),
            shown(env),
            shown(env)
        ))),
        None => Ok(()),
    }
}
