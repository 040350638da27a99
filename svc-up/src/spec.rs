//! `spec.services` (svc-up owns this schema) and `spec.discovery`, checked and
//! turned into a plan before any AWS call: Fargate CPU/memory pairs, images,
//! secret references, callers, least-privilege permissions, log retention,
//! blue/green deployments.
//!
//! alb-up reads the same map for `port`, `route`, `health_check`,
//! `deregistration_delay` and a blue/green service's `test_port`; the route,
//! health check and delay are accepted here as opaque values. `scaling` is
//! scale-up's: only whether it is there, and which alarms it asks for, matter here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use common::naming;
use common::sections::{alarm_name, AlarmMetric, Alb, Cluster, Ecr, Secrets};
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
    /// `"rolling"` (default: ECS rolling update with the circuit breaker) or
    /// `"blue-green"` (CodeDeploy); see docs/document.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSetting>,
    /// scale-up's field: svc-up only asks whether it is there (a scaled
    /// service's desired count belongs to Application Auto Scaling once created)
    /// and which alarms it asks for (a blue/green deployment rolls back on them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Value>,
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

/// `spec.services.<name>.deployment`: `"rolling"`, `"blue-green"`, or the
/// object form with the blue/green options.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DeploymentSetting {
    Named(String),
    BlueGreen(BlueGreenOptions),
}

/// Read by hand so a typo in the object form is named (serde's untagged enums
/// only say that nothing matched).
impl<'de> Deserialize<'de> for DeploymentSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::String(s) => Ok(DeploymentSetting::Named(s)),
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(DeploymentSetting::BlueGreen)
                .map_err(|e| D::Error::custom(format!("deployment: {e}"))),
            other => Err(D::Error::custom(format!(
                "deployment must be \"rolling\", \"blue-green\" or {{\"type\": \"blue-green\", ...}}, not {other}"
            ))),
        }
    }
}

/// `{"type": "blue-green", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenOptions {
    #[serde(rename = "type")]
    pub kind: String,
    /// The test listener's port on the ALB (alb-up picks 8080, 8081... otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_port: Option<i64>,
    /// `all-at-once`, `canary-10-5`... or a `CodeDeployDefault.ECS...` name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_wait_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_on_alarms: Option<bool>,
}

/// The traffic shifts CodeDeploy predefines for ECS: our short name and its own.
pub const TRAFFIC: &[(&str, &str)] = &[
    ("all-at-once", "CodeDeployDefault.ECSAllAtOnce"),
    (
        "canary-10-5",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
    ),
    (
        "canary-10-15",
        "CodeDeployDefault.ECSCanary10Percent15Minutes",
    ),
    (
        "linear-10-1",
        "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    ),
    (
        "linear-10-3",
        "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    ),
];
const DEFAULT_TERMINATION_WAIT_MINUTES: i64 = 5;
/// CodeDeploy's limit for keeping the old (blue) tasks: two days.
const MAX_TERMINATION_WAIT_MINUTES: i64 = 2880;

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
    /// The target group when routed and the ALB exists (the blue one of a
    /// blue/green service).
    pub target_group_arn: Option<String>,
    /// `scaling` is set: Application Auto Scaling owns the desired count once
    /// the service exists.
    pub scaled: bool,
    /// Deployed by CodeDeploy instead of ECS rolling updates.
    pub blue_green: Option<BlueGreen>,
}

/// A blue/green service's deployment group, resolved against `.alb`.
#[derive(Debug, Clone, PartialEq)]
pub struct BlueGreen {
    /// The CodeDeploy deployment configuration (`CodeDeployDefault.ECSAllAtOnce`).
    pub config: String,
    pub termination_wait_minutes: i32,
    /// The alarms whose firing rolls a deployment back (scale-up's, by name).
    pub alarms: Vec<String>,
    /// Target group names, blue then green.
    pub target_groups: [String; 2],
    /// HTTPS when the ALB has it, else HTTP.
    pub prod_listener_arn: String,
    pub test_listener_arn: String,
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
    check_test_ports(services)?;
    let mut out = Vec::new();
    for (name, s) in services {
        out.push(plan_one(name, s, services, up, stack, env)?);
    }
    let namespace = if out.iter().any(|s| s.discovery_ttl.is_some()) {
        let ns = discovery
            .namespace
            .clone()
            .unwrap_or_else(|| format!("{env}.{stack}.local"));
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
    stack: &str,
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

    // ECS Exec runs the SSM agent inside the container, which writes to its
    // filesystem: with Exec the root filesystem is writable unless the spec says
    // otherwise, and saying so is an error.
    let exec = s.exec.unwrap_or(false);
    let read_only = s.read_only_root_filesystem.unwrap_or(!exec);
    if exec && read_only {
        return Err(Error::spec(format!(
            "{name}: ECS Exec needs a writable root filesystem: drop read_only_root_filesystem or exec"
        )));
    }

    let options = deployment_options(name, s.deployment.as_ref())?;
    // Routed: a route of its own, or the ALB's default service.
    let routed =
        s.route.is_some() || up.alb.and_then(|a| a.default_service.as_deref()) == Some(name);
    if options.is_some() && !routed {
        return Err(Error::spec(format!(
            "{name}: a blue/green deployment needs the service behind the ALB: give it a route \
             (or make it the ALB's default service), or deploy it \"rolling\""
        )));
    }
    if routed && s.port.is_none() {
        return Err(Error::spec(format!(
            "{name}: a routed service needs a port"
        )));
    }
    let target_group = match (routed, up.alb) {
        (true, Some(alb)) => match alb.target_groups.get(name) {
            Some(tg) => Some(tg),
            None => {
                return Err(Error::Document(format!(
                    "{name} has a route but .alb.target_groups has no '{name}': re-run alb-up with this spec"
                )))
            }
        },
        (true, None) if options.is_some() => {
            return Err(Error::MissingLayer {
                section: "alb".into(),
                tool: "alb-up",
            })
        }
        (true, None) => {
            tracing::warn!("{name} has a route but the document has no .alb: not attached to a load balancer");
            None
        }
        (false, _) => None,
    };
    let blue_green = match (options, up.alb, target_group) {
        (Some(o), Some(alb), Some(tg)) => {
            Some(resolve_blue_green(name, &o, s, alb, tg, stack, env)?)
        }
        _ => None,
    };

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
        read_only,
        exec,
        discovery_ttl,
        callers: s.callers.clone(),
        policy,
        log_retention_days,
        target_group_arn: target_group.map(|t| t.arn.clone()),
        scaled: s.scaling.is_some(),
        blue_green,
    })
}

/// A blue/green service's options, checked, with the defaults applied.
struct Checked {
    test_port: Option<i64>,
    config: &'static str,
    termination_wait_minutes: i32,
    rollback_on_alarms: bool,
}

/// The blue/green options of a service (`None` for a rolling one), checked.
fn deployment_options(name: &str, d: Option<&DeploymentSetting>) -> Result<Option<Checked>> {
    let at = format!("spec.services.{name}.deployment");
    let options = match d {
        None => return Ok(None),
        Some(DeploymentSetting::Named(n)) if n == "rolling" => return Ok(None),
        Some(DeploymentSetting::Named(n)) if n == "blue-green" => BlueGreenOptions {
            kind: n.clone(),
            ..BlueGreenOptions::default()
        },
        Some(DeploymentSetting::Named(n)) => {
            return Err(Error::spec(format!(
                "{at}: '{n}' is not a deployment type (\"rolling\" or \"blue-green\")"
            )))
        }
        Some(DeploymentSetting::BlueGreen(o)) if o.kind == "blue-green" => o.clone(),
        Some(DeploymentSetting::BlueGreen(o)) => {
            return Err(Error::spec(format!(
                "{at}.type: '{}' is not \"blue-green\" (the object form is for blue/green options; \
                 a rolling service needs no object)",
                o.kind
            )))
        }
    };
    if let Some(p) = options.test_port {
        if !(1..=65535).contains(&p) || p == 80 || p == 443 {
            return Err(Error::spec(format!(
                "{at}.test_port {p} is not a test listener port: 1 to 65535, not 80 or 443 (the production listeners)"
            )));
        }
    }
    let traffic = options.traffic.as_deref().unwrap_or("all-at-once");
    let config = traffic_config(traffic).ok_or_else(|| {
        Error::spec(format!(
            "{at}.traffic: '{traffic}' is not a traffic shift: one of {}",
            TRAFFIC
                .iter()
                .map(|(short, _)| *short)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let wait = options
        .termination_wait_minutes
        .unwrap_or(DEFAULT_TERMINATION_WAIT_MINUTES);
    if !(0..=MAX_TERMINATION_WAIT_MINUTES).contains(&wait) {
        return Err(Error::spec(format!(
            "{at}.termination_wait_minutes {wait} is out of range: 0 to {MAX_TERMINATION_WAIT_MINUTES}"
        )));
    }
    Ok(Some(Checked {
        test_port: options.test_port,
        config,
        termination_wait_minutes: wait as i32,
        rollback_on_alarms: options.rollback_on_alarms.unwrap_or(true),
    }))
}

/// The CodeDeploy deployment configuration of a `traffic` value: a short name
/// or CodeDeploy's own name of one of the ECS configurations.
pub fn traffic_config(traffic: &str) -> Option<&'static str> {
    TRAFFIC
        .iter()
        .find(|(short, full)| *short == traffic || *full == traffic)
        .map(|(_, full)| *full)
}

/// The deployment group's parts: the target group pair and listeners alb-up
/// made (an older `.alb` without them means alb-up has not seen this spec yet),
/// the traffic shift, and the alarms that roll back.
fn resolve_blue_green(
    name: &str,
    o: &Checked,
    s: &ServiceSpec,
    alb: &Alb,
    tg: &common::sections::AlbTargetGroup,
    stack: &str,
    env: &str,
) -> Result<BlueGreen> {
    let stale = |what: &str| {
        Error::Document(format!(
            ".alb.target_groups.{name} has no {what}: re-run alb-up with this spec (blue/green needs a green target group and a test listener)"
        ))
    };
    let green = tg
        .green
        .as_ref()
        .ok_or_else(|| stale("green target group"))?;
    let test_listener_arn = tg
        .test_listener_arn
        .clone()
        .ok_or_else(|| stale("test listener"))?;
    if let (Some(want), Some(have)) = (o.test_port, tg.test_port) {
        if i64::from(have) != want {
            return Err(Error::Document(format!(
                ".alb.target_groups.{name}.test_port is {have} but the spec asks for {want}: re-run alb-up with this spec"
            )));
        }
    }
    let alarms = if o.rollback_on_alarms {
        let asked = s.scaling.as_ref().and_then(|v| v.get("alarms"));
        AlarmMetric::ALL
            .into_iter()
            .filter(|m| {
                asked
                    .and_then(|a| a.get(m.key()))
                    .is_some_and(|v| !v.is_null())
            })
            .map(|m| alarm_name(stack, env, name, m))
            .collect()
    } else {
        Vec::new()
    };
    Ok(BlueGreen {
        config: o.config.to_owned(),
        termination_wait_minutes: o.termination_wait_minutes,
        alarms,
        target_groups: [tg.name.clone(), green.name.clone()],
        prod_listener_arn: alb
            .https_listener_arn
            .clone()
            .unwrap_or_else(|| alb.http_listener_arn.clone()),
        test_listener_arn,
    })
}

/// Two blue/green services cannot share a test listener.
fn check_test_ports(services: &BTreeMap<String, ServiceSpec>) -> Result<()> {
    let mut seen: BTreeMap<i64, &str> = BTreeMap::new();
    for (name, s) in services {
        if let Some(DeploymentSetting::BlueGreen(o)) = &s.deployment {
            if let Some(p) = o.test_port {
                if let Some(other) = seen.insert(p, name) {
                    return Err(Error::spec(format!(
                        "test_port {p} is given to both {other} and {name}: each blue/green service needs its own test listener"
                    )));
                }
            }
        }
    }
    Ok(())
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

/// The task role's policy with what ECS Exec needs on real AWS added: the
/// agent opens its channels through `ssmmessages` (those actions take no
/// resource, hence `*`, the one wildcard we grant), decrypts the session with
/// the cluster's key when it has one, and logs the session to the service's
/// own log group (the cluster's exec logging is `DEFAULT`, which uses the
/// container's awslogs settings). Moto does not check any of it.
pub fn task_policy(
    declared: Option<&Value>,
    exec: bool,
    log_group_arn: &str,
    kms_key_arn: Option<&str>,
) -> Option<Value> {
    if !exec {
        return declared.cloned();
    }
    let mut statements: Vec<Value> = declared
        .and_then(|d| d["Statement"].as_array().cloned())
        .unwrap_or_default();
    statements.push(json!({
        "Sid": "EcsExecChannels",
        "Effect": "Allow",
        "Action": [
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel"
        ],
        "Resource": "*",
    }));
    statements.push(json!({
        "Sid": "EcsExecSessionLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "Resource": format!("{log_group_arn}:*"),
    }));
    if let Some(key) = kms_key_arn {
        statements.push(json!({
            "Sid": "EcsExecSessionKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": key,
        }));
    }
    Some(json!({"Version": "2012-10-17", "Statement": statements}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_adds_its_grants_to_the_declared_ones() {
        let declared = policy(
            "x",
            &[Permission {
                actions: vec!["s3:GetObject".into()],
                resources: vec!["arn:aws:s3:::b/*".into()],
            }],
        )
        .unwrap();
        assert_eq!(
            task_policy(declared.as_ref(), false, "arn:lg", Some("arn:key")),
            declared
        );
        assert_eq!(task_policy(None, false, "arn:lg", None), None);
        let p = task_policy(declared.as_ref(), true, "arn:lg", Some("arn:key")).unwrap();
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(st[0]["Action"], json!(["s3:GetObject"]));
        assert_eq!(st[1]["Resource"], "*");
        assert_eq!(st[2]["Resource"], "arn:lg:*");
        assert_eq!(st[3]["Resource"], "arn:key");
        let p = task_policy(None, true, "arn:lg", None).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 2);
    }

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

    fn alb_with_blue_green(name: &str) -> Alb {
        serde_json::from_value(json!({
            "arn": "arn:alb", "name": "a-alb-dev", "dns_name": "x", "zone_id": "z",
            "security_group_id": "sg-1", "http_listener_arn": "arn:listener/http",
            "default_service": name,
            "target_groups": {name: {
                "arn": "arn:tg/blue", "name": "a-tg-pay-dev", "port": 8080,
                "green": {"arn": "arn:tg/green", "name": "a-tg-pay-green-dev"},
                "test_port": 8080, "test_listener_arn": "arn:listener/test"
            }}
        }))
        .unwrap()
    }

    fn plan_with(services: Value, alb: Option<&Alb>) -> Result<Plan> {
        let all: BTreeMap<String, ServiceSpec> =
            serde_json::from_value(services).map_err(|e| Error::spec(e.to_string()))?;
        let cluster = Cluster::default();
        let up = Upstream {
            cluster: &cluster,
            ecr: None,
            secrets: None,
            alb,
        };
        plan(&all, &DiscoverySpec::default(), up, "a", "dev")
    }

    #[test]
    fn blue_green_resolves_against_the_alb() {
        let alb = alb_with_blue_green("pay");
        let p = plan_with(
            json!({"pay": {"image": "nginx", "port": 8080, "deployment": {
                "type": "blue-green", "traffic": "canary-10-5", "termination_wait_minutes": 0},
                "scaling": {"min": 3, "max": 10, "cpu": 70, "alarms": {"cpu": 85}}}}),
            Some(&alb),
        )
        .unwrap();
        let pay = &p.services[0];
        assert!(pay.scaled);
        assert_eq!(pay.target_group_arn.as_deref(), Some("arn:tg/blue"));
        let bg = pay.blue_green.as_ref().unwrap();
        assert_eq!(bg.config, "CodeDeployDefault.ECSCanary10Percent5Minutes");
        assert_eq!(bg.termination_wait_minutes, 0);
        assert_eq!(bg.alarms, ["a--pay-cpu-high--dev"]);
        assert_eq!(bg.target_groups, ["a-tg-pay-dev", "a-tg-pay-green-dev"]);
        assert_eq!(
            (bg.prod_listener_arn.as_str(), bg.test_listener_arn.as_str()),
            ("arn:listener/http", "arn:listener/test")
        );
        // The short form takes every default; no alarms without scaling's.
        let p = plan_with(
            json!({"pay": {"image": "nginx", "port": 8080, "deployment": "blue-green"}}),
            Some(&alb),
        )
        .unwrap();
        let bg = p.services[0].blue_green.as_ref().unwrap();
        assert_eq!(
            (bg.config.as_str(), bg.termination_wait_minutes),
            ("CodeDeployDefault.ECSAllAtOnce", 5)
        );
        assert!(bg.alarms.is_empty() && !p.services[0].scaled);
        // Rolling is the default, and a full CodeDeploy name is accepted.
        let p = plan_with(
            json!({"pay": {"image": "nginx", "port": 8080, "deployment": "rolling"}}),
            Some(&alb),
        )
        .unwrap();
        assert!(p.services[0].blue_green.is_none());
        assert_eq!(
            traffic_config("CodeDeployDefault.ECSLinear10PercentEvery3Minutes"),
            traffic_config("linear-10-3")
        );
    }

    #[test]
    fn bad_blue_green_specs_are_refused() {
        let alb = alb_with_blue_green("pay");
        let err = |services: Value| plan_with(services, Some(&alb)).unwrap_err().to_string();
        for (deployment, needle) in [
            (json!("canary"), "not a deployment type"),
            (json!({"type": "rolling"}), "not \"blue-green\""),
            (
                json!({"type": "blue-green", "traffic": "slowly"}),
                "'slowly' is not a traffic shift",
            ),
            (
                json!({"type": "blue-green", "test_port": 443}),
                "not a test listener port",
            ),
            (
                json!({"type": "blue-green", "termination_wait_minutes": 3000}),
                "0 to 2880",
            ),
            (
                json!({"type": "blue-green", "trafic": "all-at-once"}),
                "trafic",
            ),
            (json!(7), "not 7"),
        ] {
            let e = err(json!({"pay": {"image": "nginx", "port": 8080, "deployment": deployment}}));
            assert!(e.contains(needle), "{needle}: {e}");
        }
        assert!(
            err(json!({"w": {"image": "nginx", "port": 1, "deployment": "blue-green"}}))
                .contains("needs the service behind the ALB")
        );
        let e = err(json!({
            "pay": {"image": "nginx", "port": 8080, "deployment": {"type": "blue-green", "test_port": 9000}},
            "api": {"image": "nginx", "port": 8081, "route": {"paths": ["/a"]},
                    "deployment": {"type": "blue-green", "test_port": 9000}}
        }));
        assert!(e.contains("test_port 9000"), "{e}");
        // An .alb from before the service was blue/green, or without any ALB.
        let mut old = alb.clone();
        old.target_groups.get_mut("pay").unwrap().green = None;
        let e = plan_with(
            json!({"pay": {"image": "nginx", "port": 8080, "deployment": "blue-green"}}),
            Some(&old),
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        let e = plan_with(
            json!({"pay": {"image": "nginx", "port": 8080, "route": {"default": true}, "deployment": "blue-green"}}),
            None,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 6, "{e}");
    }

    #[test]
    fn exec_needs_a_writable_root_filesystem() {
        let p = plan_with(
            json!({"a": {"image": "nginx"}, "b": {"image": "nginx", "exec": true}}),
            None,
        )
        .unwrap();
        assert_eq!(
            (p.services[0].read_only, p.services[1].read_only),
            (true, false)
        );
        let e = plan_with(
            json!({"b": {"image": "nginx", "exec": true, "read_only_root_filesystem": true}}),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("writable root filesystem"), "{e}");
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
