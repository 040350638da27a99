//! `spec.services` (svc-up owns this schema) and `spec.discovery`, checked and
//! turned into a plan before any AWS call: Fargate CPU/memory pairs, images,
//! secret references, callers, least-privilege permissions, log retention.
//!
//! alb-up reads the same map for `port`, `route`, `health_check` and
//! `deregistration_delay`; the last three are accepted here as opaque values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use common::naming;
use common::sections::{Alb, Cluster, Ecr, Secrets};
use common::{Error, Result};

/// One entry of `spec.services`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// An explicit image (`nginx:alpine`); else the service's ECR repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The tag of the ECR image [default "latest"].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<u32>,
    /// Env (`prod`) to sizes overriding the above in that env.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sizes: BTreeMap<String, Size>,
    /// Plain values only: strings, numbers, booleans.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Value>,
    /// Env var to a Secrets Manager reference (never a value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_health_check: Option<ContainerHealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoverySetting>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_retention_days: Option<i32>,
    // alb-up's fields: only whether `route` is there matters here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration_delay: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    #[serde(default)]
    pub cpu: Option<u32>,
    #[serde(default)]
    pub memory: Option<u32>,
    #[serde(default)]
    pub desired_count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The short name in `.secrets`.
    pub secret: String,
    /// A key of the secret's JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DiscoverySetting {
    On(bool),
    With(DiscoveryOptions),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryOptions {
    #[serde(default)]
    pub ttl: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// `spec.discovery`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverySpec {
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Fargate's CPU units to the memory sizes (MiB) each allows.
pub fn fargate_memory(cpu: u32) -> Option<Vec<u32>> {
    let steps = |from: u32, to: u32, step: usize| (from..=to).step_by(step).collect();
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
const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// One service, resolved against the upstream layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub name: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub port: Option<u16>,
    pub desired_count: u32,
    pub environment: Vec<(String, String)>,
    /// Env var to `valueFrom`.
    pub secrets: Vec<(String, String)>,
    pub health_check: Option<ContainerHealthCheck>,
    pub stop_timeout: Option<i32>,
    pub read_only: bool,
    pub exec: bool,
    /// DNS TTL when discovered.
    pub discovery_ttl: Option<i64>,
    pub callers: Vec<String>,
    /// The task role's inline policy; `None` when no permissions are declared.
    pub policy: Option<Value>,
    pub log_retention_days: i32,
    /// The target group when routed and the ALB exists.
    pub target_group_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub services: Vec<Planned>,
    /// The namespace name when some service is discovered.
    pub namespace: Option<String>,
}

/// The upstream sections the plan reads.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    pub cluster: &'a Cluster,
    pub ecr: Option<&'a Ecr>,
    pub secrets: Option<&'a Secrets>,
    pub alb: Option<&'a Alb>,
}

pub fn plan(
    services: &BTreeMap<String, ServiceSpec>,
    discovery: &DiscoverySpec,
    up: Upstream<'_>,
    stack: &str,
    env: &str,
) -> Result<Plan> {
    let mut out = Vec::new();
    for (name, s) in services {
        out.push(plan_one(name, s, services, up, env)?);
    }
    let namespace = if out.iter().any(|s| s.discovery_ttl.is_some()) {
        let ns = discovery
            .namespace
            .clone()
            .unwrap_or_else(|| format!("{stack}-{env}.local"));
        check_namespace(&ns)?;
        Some(ns)
    } else {
        None
    };
    Ok(Plan {
        services: out,
        namespace,
    })
}

fn check_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 253
        && ns.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "spec.discovery.namespace '{ns}' is not a DNS name (e.g. payments-dev.local)"
        )))
    }
}

fn plan_one(
    name: &str,
    s: &ServiceSpec,
    all: &BTreeMap<String, ServiceSpec>,
    up: Upstream<'_>,
    env: &str,
) -> Result<Planned> {
    naming::check_label("service name", name, 32)?;
    let at = |what: &str| format!("spec.services.{name}.{what}");
    let size = s.sizes.get(env).cloned().unwrap_or_default();
    let cpu = size.cpu.or(s.cpu).unwrap_or(256);
    let memory = size.memory.or(s.memory).unwrap_or(512);
    let desired_count = size.desired_count.or(s.desired_count).unwrap_or(1);
    match fargate_memory(cpu) {
        None => {
            return Err(Error::spec(format!(
                "{}: cpu {cpu} is not a Fargate size (256, 512, 1024, 2048, 4096, 8192, 16384)",
                at("cpu")
            )))
        }
        Some(allowed) if !allowed.contains(&memory) => {
            return Err(Error::spec(format!(
                "{name}: Fargate does not run cpu {cpu} with memory {memory}: with cpu {cpu} memory must be one of {}",
                allowed
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        Some(_) => {}
    }
    if desired_count > 1000 {
        return Err(Error::spec(format!(
            "{}: at most 1000",
            at("desired_count")
        )));
    }
    if s.port == Some(0) {
        return Err(Error::spec(format!("{}: 0 is not a port", at("port"))));
    }

    let image = match (&s.image, up.ecr.and_then(|e| e.repositories.get(name))) {
        (Some(i), _) if !i.trim().is_empty() => i.clone(),
        (_, Some(repo)) => format!(
            "{}:{}",
            repo.url,
            s.image_tag.as_deref().unwrap_or("latest")
        ),
        _ => {
            return Err(Error::spec(format!(
                "{name}: no image: set spec.services.{name}.image or create its repository with ecr-up (.ecr.repositories.{name})"
            )))
        }
    };

    let mut environment = Vec::new();
    for (k, v) in &s.environment {
        check_env_name(name, k)?;
        let v = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Error::spec(format!(
                    "{}: {k} must be a string, number or boolean",
                    at("environment")
                )))
            }
        };
        environment.push((k.clone(), v));
    }
    let mut secrets = Vec::new();
    for (var, r) in &s.secrets {
        check_env_name(name, var)?;
        if s.environment.contains_key(var) {
            return Err(Error::spec(format!(
                "{name}: {var} is both in environment and in secrets"
            )));
        }
        let Some(secret) = up.secrets.and_then(|all| all.get(&r.secret)) else {
            return Err(Error::spec(format!(
                "{}: {var} refers to secret '{}', which is not in .secrets (declare it in spec.secrets and run secrets-up)",
                at("secrets"),
                r.secret
            )));
        };
        let value_from = match &r.key {
            Some(key) => {
                if !secret.json_keys.is_empty() && !secret.json_keys.contains(key) {
                    return Err(Error::spec(format!(
                        "{}: secret '{}' has no key '{key}' (it has {})",
                        at("secrets"),
                        r.secret,
                        secret.json_keys.join(", ")
                    )));
                }
                format!("{}:{key}::", secret.arn)
            }
            None => secret.arn.clone(),
        };
        secrets.push((var.clone(), value_from));
    }

    let health_check = match &s.container_health_check {
        Some(h) => Some(check_health(name, h)?),
        None => None,
    };
    if let Some(t) = s.stop_timeout {
        if !(2..=120).contains(&t) {
            return Err(Error::spec(format!(
                "{}: {t} is not between 2 and 120 seconds",
                at("stop_timeout")
            )));
        }
    }

    let discovery_ttl = match &s.discovery {
        None | Some(DiscoverySetting::On(false)) => None,
        Some(DiscoverySetting::On(true)) => Some(10),
        Some(DiscoverySetting::With(o)) => {
            let ttl = o.ttl.unwrap_or(10);
            if !(0..=2_147_483_647).contains(&ttl) {
                return Err(Error::spec(format!("{}: bad ttl {ttl}", at("discovery"))));
            }
            Some(ttl)
        }
    };

    for c in &s.callers {
        if !all.contains_key(c) {
            return Err(Error::spec(format!(
                "{}: '{c}' is not a service of spec.services",
                at("callers")
            )));
        }
    }
    if !s.callers.is_empty() && s.port.is_none() {
        return Err(Error::spec(format!(
            "{name}: callers need a port to call (set spec.services.{name}.port)"
        )));
    }

    let policy = policy(name, &s.permissions)?;
    let log_retention_days = s.log_retention_days.unwrap_or(30);
    if !RETENTION_DAYS.contains(&log_retention_days) {
        return Err(Error::spec(format!(
            "{}: {log_retention_days} is not a CloudWatch retention (one of {})",
            at("log_retention_days"),
            RETENTION_DAYS
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    let target_group_arn = match (&s.route, up.alb) {
        (Some(_), Some(alb)) => match alb.target_groups.get(name) {
            Some(tg) => Some(tg.arn.clone()),
            None => {
                return Err(Error::Document(format!(
                    "{name} has a route but .alb.target_groups has no '{name}': re-run alb-up with this spec"
                )))
            }
        },
        (Some(_), None) => {
            tracing::warn!("{name} has a route but the document has no .alb: not attached to a load balancer");
            None
        }
        _ => None,
    };
    if target_group_arn.is_some() && s.port.is_none() {
        return Err(Error::spec(format!(
            "{name}: a routed service needs a port"
        )));
    }

    Ok(Planned {
        name: name.to_owned(),
        image,
        cpu,
        memory,
        port: s.port,
        desired_count,
        environment,
        secrets,
        health_check,
        stop_timeout: s.stop_timeout,
        read_only: s.read_only_root_filesystem.unwrap_or(true),
        exec: s.exec.unwrap_or(false),
        discovery_ttl,
        callers: s.callers.clone(),
        policy,
        log_retention_days,
        target_group_arn,
    })
}

fn check_env_name(service: &str, var: &str) -> Result<()> {
    let ok = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::spec(format!(
            "{service}: '{var}' is not an environment variable name"
        )))
    }
}

fn check_health(service: &str, h: &ContainerHealthCheck) -> Result<ContainerHealthCheck> {
    let bad = |what: &str, v: i32, lo: i32, hi: i32| {
        Error::spec(format!(
            "spec.services.{service}.container_health_check.{what}: {v} is not between {lo} and {hi}"
        ))
    };
    for (what, v, lo, hi) in [
        ("interval", h.interval, 5, 300),
        ("timeout", h.timeout, 2, 60),
        ("retries", h.retries, 1, 10),
        ("start_period", h.start_period, 0, 300),
    ] {
        if let Some(v) = v {
            if !(lo..=hi).contains(&v) {
                return Err(bad(what, v, lo, hi));
            }
        }
    }
    if h.command.is_empty() {
        return Err(Error::spec(format!(
            "spec.services.{service}.container_health_check.command is empty"
        )));
    }
    let mut h = h.clone();
    // ECS wants the form first; a bare command runs through the shell.
    if !matches!(h.command[0].as_str(), "CMD" | "CMD-SHELL") {
        h.command = vec!["CMD-SHELL".to_owned(), h.command.join(" ")];
    }
    Ok(h)
}

/// The task role's inline policy: exactly the declared statements. Wildcards
/// that grant everything (`*`, `s3:*`, resource `*`) are refused.
fn policy(service: &str, permissions: &[Permission]) -> Result<Option<Value>> {
    if permissions.is_empty() {
        return Ok(None);
    }
    let mut statements = Vec::new();
    for p in permissions {
        if p.actions.is_empty() || p.resources.is_empty() {
            return Err(Error::spec(format!(
                "spec.services.{service}.permissions: each entry needs actions and resources"
            )));
        }
        for a in &p.actions {
            if a == "*" || a.ends_with(":*") || !a.contains(':') {
                return Err(Error::spec(format!(
                    "spec.services.{service}.permissions: action '{a}' is a wildcard or not service:Action; name the exact actions (least privilege)"
                )));
            }
        }
        for r in &p.resources {
            if r == "*" || r.trim().is_empty() {
                return Err(Error::spec(format!(
                    "spec.services.{service}.permissions: resource '*' is not allowed; name the exact ARNs (least privilege)"
                )));
            }
        }
        statements.push(json!({
            "Effect": "Allow",
            "Action": p.actions,
            "Resource": p.resources,
        }));
    }
    Ok(Some(
        json!({"Version": "2012-10-17", "Statement": statements}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fargate_table() {
        assert_eq!(fargate_memory(256).unwrap(), [512, 1024, 2048]);
        assert_eq!(fargate_memory(512).unwrap(), [1024, 2048, 3072, 4096]);
        assert_eq!(fargate_memory(8192).unwrap().last(), Some(&61440));
        assert!(fargate_memory(16384).unwrap().contains(&122880));
        assert!(fargate_memory(300).is_none());
    }

    #[test]
    fn policies_refuse_wildcards() {
        let p = |a: &str, r: &str| {
            policy(
                "x",
                &[Permission {
                    actions: vec![a.into()],
                    resources: vec![r.into()],
                }],
            )
        };
        assert!(p("s3:GetObject", "arn:aws:s3:::b/*").unwrap().is_some());
        assert!(p("*", "arn:aws:s3:::b").is_err());
        assert!(p("s3:*", "arn:aws:s3:::b").is_err());
        assert!(p("s3:GetObject", "*").is_err());
        assert!(policy("x", &[]).unwrap().is_none());
    }

    #[test]
    fn sizes_follow_the_env() {
        let s: ServiceSpec = serde_json::from_value(json!({
            "image": "nginx", "sizes": {"prod": {"cpu": 1024, "memory": 2048, "desired_count": 3}}
        }))
        .unwrap();
        let all = BTreeMap::from([("api".to_owned(), s)]);
        let cluster = Cluster::default();
        let up = Upstream {
            cluster: &cluster,
            ecr: None,
            secrets: None,
            alb: None,
        };
        let prod = plan(&all, &DiscoverySpec::default(), up, "a", "prod").unwrap();
        assert_eq!(
            (prod.services[0].cpu, prod.services[0].desired_count),
            (1024, 3)
        );
        let dev = plan(&all, &DiscoverySpec::default(), up, "a", "dev").unwrap();
        assert_eq!((dev.services[0].cpu, dev.services[0].memory), (256, 512));
        assert!(dev.namespace.is_none());
    }
}
