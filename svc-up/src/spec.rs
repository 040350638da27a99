//! svc-up's plan: `spec.services` resolved against the upstream sections
//! (images from `.ecr`, secret ARNs from `.secrets`, target groups and
//! listeners from `.alb`). The types and rules of `spec.services` and
//! `spec.discovery` (Fargate sizes in every env, secret references, callers,
//! least-privilege permissions, log retention, blue/green options...) are
//! `common::spec`'s, checked with the whole spec before any call.

use serde_json::{json, Value};

use common::sections::{alarm_name, AlarmMetric, Alb, Cluster, Ecr, Secrets};
use common::spec::discovery::check_namespace;
use common::spec::refs::{self, Ref, ServiceAttr};
use common::spec::services::{
    Condition, ContainerHealthCheck, CpuArchitecture, Permission, SecretRef, Sidecar,
    DEFAULT_LOG_RETENTION_DAYS,
};
use common::spec::{deployment, DiscoverySpec, ServiceSpec, ServicesSpec};
use common::{Error, Result};

pub use common::spec::deployment::{traffic_config, TRAFFIC};

/// One service, resolved against the upstream layers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planned {
    pub name: String,
    pub image: String,
    /// The spec names the image (`image` or `image_tag`). Otherwise a running
    /// service keeps the image it runs, and a new one gets the newest image of
    /// its repository (`images.rs`): a re-run never rolls a deploy back.
    pub image_given: bool,
    /// The service's ECR repository (`.ecr.repositories.<name>`), when its
    /// image comes from there: (repository name, URL).
    pub repository: Option<(String, String)>,
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
    /// A blue/green service's green target group (CodeDeploy may move the
    /// service to it).
    pub green_target_group_arn: Option<String>,
    /// `scaling` is set: Application Auto Scaling owns the desired count once
    /// the service exists.
    pub scaled: bool,
    /// Deployed by CodeDeploy instead of ECS rolling updates.
    pub blue_green: Option<BlueGreen>,
    /// `--force-new-deployment`: new tasks even when nothing changed.
    pub force_new_deployment: bool,
    /// The container's command and entrypoint, references resolved.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Each an ephemeral task volume mounted read-write.
    pub writable_paths: Vec<String>,
    /// Runs on Graviton (`runtimePlatform` ARM64) instead of x86_64.
    pub arm64: bool,
    /// Container name to ECS's condition (`HEALTHY`), sorted.
    pub depends_on: Vec<(String, String)>,
    /// The task's other containers, sorted by name.
    pub sidecars: Vec<SidecarPlan>,
}

/// A sidecar container, resolved like the main one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SidecarPlan {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    pub port: Option<u16>,
    pub essential: bool,
    pub depends_on: Vec<(String, String)>,
    pub health_check: Option<ContainerHealthCheck>,
    pub writable_paths: Vec<String>,
    pub read_only: bool,
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

/// What `${...}` references resolve against (common::spec::refs): the
/// upstream sections, the services of this env, and svc-up's own namespace.
#[derive(Debug, Clone, Copy)]
struct Refs<'a> {
    up: Upstream<'a>,
    services: &'a ServicesSpec,
    namespace: &'a str,
    stack: &'a str,
    env: &'a str,
    region: &'a str,
}

impl Refs<'_> {
    /// `text` with its references resolved; checked with the spec, so only
    /// a missing upstream layer (or secret not yet made) fails here. Under
    /// `--plan` an upstream placeholder resolves to itself: the plan shows
    /// the value as planned.
    fn text(&self, at: &str, text: &str) -> Result<String> {
        refs::resolve(text, |r| self.value(at, r))
    }

    fn list(&self, at: &str, list: Option<&Vec<String>>) -> Result<Option<Vec<String>>> {
        list.map(|l| {
            l.iter()
                .enumerate()
                .map(|(i, t)| self.text(&format!("{at}[{i}]"), t))
                .collect()
        })
        .transpose()
    }

    fn value(&self, at: &str, r: &Ref) -> Result<String> {
        let alb = || {
            self.up.alb.ok_or(Error::MissingLayer {
                section: "alb".into(),
                tool: "alb-up",
            })
        };
        Ok(match r {
            Ref::Service { name, attr } => {
                let host = format!("{name}.{}", self.namespace);
                let port = self.services.get(name).and_then(|s| s.port).unwrap_or_default();
                match attr {
                    ServiceAttr::Host => host,
                    ServiceAttr::Address => format!("{host}:{port}"),
                    ServiceAttr::Url => format!("http://{host}:{port}"),
                }
            }
            Ref::AlbDnsName => alb()?.dns_name.clone(),
            Ref::AlbUrl => {
                let a = alb()?;
                let scheme = if a.https_listener_arn.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", a.dns_name)
            }
            Ref::SecretArn(name) => match self.up.secrets.and_then(|s| s.get(name)) {
                Some(secret) => secret.arn.clone(),
                None => {
                    return Err(Error::spec(format!(
                        "{at}: ${{secret.{name}.arn}}: secret '{name}' is not in .secrets (declare it in spec.secrets and run secrets-up)"
                    )))
                }
            },
            Ref::ClusterName => self.up.cluster.name.clone(),
            Ref::ClusterArn => self.up.cluster.arn.clone(),
            Ref::Stack => self.stack.to_owned(),
            Ref::Env => self.env.to_owned(),
            Ref::Region => self.region.to_owned(),
        })
    }

    /// Environment values as ECS takes them (text), references resolved.
    fn environment(
        &self,
        at: &str,
        env: &std::collections::BTreeMap<String, Value>,
    ) -> Result<Vec<(String, String)>> {
        env.iter()
            .map(|(k, v)| {
                let text = self.text(&format!("{at}.environment.{k}"), &plain(v))?;
                Ok((k.clone(), text))
            })
            .collect()
    }
}

/// The services of a checked spec, resolved for `env` against the upstream sections.
pub fn plan(
    services: &ServicesSpec,
    discovery: &DiscoverySpec,
    up: Upstream<'_>,
    stack: &str,
    env: &str,
    region: &str,
) -> Result<Plan> {
    let ns = discovery.namespace(stack, env);
    let refs = Refs {
        up,
        services,
        namespace: &ns,
        stack,
        env,
        region,
    };
    let out = services
        .iter()
        .map(|(name, s)| plan_one(name, s, &refs))
        .collect::<Result<Vec<_>>>()?;
    let namespace = if out.iter().any(|s| s.discovery_ttl.is_some()) {
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

fn plan_one(name: &str, s: &ServiceSpec, refs: &Refs<'_>) -> Result<Planned> {
    let (up, stack, env) = (refs.up, refs.stack, refs.env);
    let at = format!("spec.services.{name}");
    let size = s.size(env);
    let health_check = match &s.container_health_check {
        Some(h) => Some(h.checked(&format!("{at}.container_health_check"))?),
        None => None,
    };
    let discovery_ttl = match &s.discovery {
        Some(d) => d.ttl(&format!("{at}.discovery"))?,
        None => None,
    };
    let (exec, read_only) = s.exec_and_read_only();
    let (target_group, blue_green) = attachment(name, s, up, stack, env)?;
    let (image, repository) = image(name, s, up.ecr)?;
    // Checked with the spec: sizes in Fargate's table, the port 1 to 65535.
    Ok(Planned {
        name: name.to_owned(),
        image,
        image_given: s.image.is_some() || s.image_tag.is_some(),
        repository,
        cpu: size.cpu as u32,
        memory: size.memory as u32,
        port: s.port.map(|p| p as u16),
        desired_count: size.desired_count as u32,
        environment: refs.environment(&at, &s.environment)?,
        secrets: secret_refs(&at, &s.secrets, up.secrets)?,
        health_check,
        stop_timeout: s.stop_timeout,
        read_only,
        exec,
        discovery_ttl,
        callers: s.callers.clone(),
        policy: policy(&s.permissions),
        log_retention_days: s.log_retention_days.unwrap_or(DEFAULT_LOG_RETENTION_DAYS),
        target_group_arn: target_group.map(|t| t.arn.clone()),
        green_target_group_arn: target_group
            .and_then(|t| t.green.as_ref())
            .filter(|_| blue_green.is_some())
            .map(|g| g.arn.clone()),
        scaled: s.scaling.is_some(),
        blue_green,
        force_new_deployment: false,
        command: refs.list(&format!("{at}.command"), s.command.as_ref())?,
        entrypoint: refs.list(&format!("{at}.entrypoint"), s.entrypoint.as_ref())?,
        writable_paths: s.writable_paths.clone(),
        arm64: s.cpu_architecture == Some(CpuArchitecture::Arm64),
        depends_on: conditions(&s.depends_on),
        sidecars: s
            .sidecars
            .iter()
            .map(|(side, c)| sidecar(&format!("{at}.sidecars.{side}"), side, c, refs))
            .collect::<Result<_>>()?,
    })
}

fn sidecar(at: &str, name: &str, c: &Sidecar, refs: &Refs<'_>) -> Result<SidecarPlan> {
    let health_check = match &c.health_check {
        Some(h) => Some(h.checked(&format!("{at}.health_check"))?),
        None => None,
    };
    Ok(SidecarPlan {
        name: name.to_owned(),
        image: c.image.clone(),
        command: refs.list(&format!("{at}.command"), c.command.as_ref())?,
        entrypoint: refs.list(&format!("{at}.entrypoint"), c.entrypoint.as_ref())?,
        environment: refs.environment(at, &c.environment)?,
        secrets: secret_refs(at, &c.secrets, refs.up.secrets)?,
        // Checked with the spec: 1 to 65535.
        port: c.port.map(|p| p as u16),
        essential: c.essential(),
        depends_on: conditions(&c.depends_on),
        health_check,
        writable_paths: c.writable_paths.clone(),
        read_only: c.read_only_root_filesystem.unwrap_or(true),
    })
}

fn conditions(deps: &std::collections::BTreeMap<String, Condition>) -> Vec<(String, String)> {
    deps.iter()
        .map(|(k, c)| (k.clone(), c.ecs().to_owned()))
        .collect()
}

/// The tag a service of an ECR repository gets when nothing names one and its
/// repository holds no image yet (`images.rs` says so, and how to deploy one).
pub const PLACEHOLDER_TAG: &str = "latest";

/// The spec's image, or the service's ECR repository at `image_tag` (for now
/// the placeholder tag when none is named: `images.rs` settles it).
type Image = (String, Option<(String, String)>);

fn image(name: &str, s: &ServiceSpec, ecr: Option<&Ecr>) -> Result<Image> {
    match (&s.image, ecr.and_then(|e| e.repositories.get(name))) {
        (Some(i), _) if !i.trim().is_empty() => Ok((i.clone(), None)),
        (_, Some(repo)) => Ok((
            format!(
                "{}:{}",
                repo.url,
                s.image_tag.as_deref().unwrap_or(PLACEHOLDER_TAG)
            ),
            Some((repo.name.clone(), repo.url.clone())),
        )),
        _ => Err(Error::spec(format!(
            "spec.services.{name}: no image: set spec.services.{name}.image or create its repository with ecr-up (.ecr.repositories.{name})"
        ))),
    }
}

/// An environment value as ECS takes it: text. Checked with the spec to be a
/// string, number or boolean.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Each secret reference as `valueFrom`: the secret's ARN from `.secrets` (and
/// its JSON key).
fn secret_refs(
    at: &str,
    wanted: &std::collections::BTreeMap<String, SecretRef>,
    secrets: Option<&Secrets>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (var, r) in wanted {
        let Some(secret) = secrets.and_then(|all| all.get(&r.secret)) else {
            return Err(Error::spec(format!(
                "{at}.secrets.{var}: refers to secret '{}', which is not in .secrets (declare it in spec.secrets and run secrets-up)",
                r.secret
            )));
        };
        let value_from = match &r.key {
            Some(key) => {
                if !secret.json_keys.is_empty() && !secret.json_keys.contains(key) {
                    return Err(Error::spec(format!(
                        "{at}.secrets.{var}: secret '{}' has no key '{key}' (it has {})",
                        r.secret,
                        secret.json_keys.join(", ")
                    )));
                }
                format!("{}:{key}::", secret.arn)
            }
            None => secret.arn.clone(),
        };
        out.push((var.clone(), value_from));
    }
    Ok(out)
}

/// The service's target group when it is routed and the ALB exists, and its
/// deployment group when blue/green. Routed: a route of its own, or `.alb`'s
/// default service.
fn attachment<'a>(
    name: &str,
    s: &ServiceSpec,
    up: Upstream<'a>,
    stack: &str,
    env: &str,
) -> Result<(
    Option<&'a common::sections::AlbTargetGroup>,
    Option<BlueGreen>,
)> {
    let at = format!("spec.services.{name}");
    let options = deployment::blue_green(&format!("{at}.deployment"), s.deployment.as_ref())?;
    let routed =
        s.route.is_some() || up.alb.and_then(|a| a.default_service.as_deref()) == Some(name);
    if options.is_some() && !routed {
        return Err(Error::spec(format!(
            "{at}: a blue/green deployment needs the service behind the ALB: give it a route \
             (or make it the ALB's default service), or deploy it \"rolling\""
        )));
    }
    if routed && s.port.is_none() {
        return Err(Error::spec(format!("{at}: a routed service needs a port")));
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
    Ok((target_group, blue_green))
}

/// The deployment group's parts: the target group pair and listeners alb-up
/// made (an older `.alb` without them means alb-up has not seen this spec yet),
/// the traffic shift, and the alarms that roll back.
fn resolve_blue_green(
    name: &str,
    o: &deployment::BlueGreen,
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
        if have != want {
            return Err(Error::Document(format!(
                ".alb.target_groups.{name}.test_port is {have} but the spec asks for {want}: re-run alb-up with this spec"
            )));
        }
    }
    let alarms = if o.rollback_on_alarms {
        let asked = s.scaling.as_ref().and_then(|v| v.alarms.as_ref());
        AlarmMetric::ALL
            .into_iter()
            .filter(|m| {
                asked.is_some_and(|a| match m {
                    AlarmMetric::Cpu => a.cpu.is_some(),
                    AlarmMetric::Memory => a.memory.is_some(),
                })
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

/// The task role's inline policy: exactly the declared statements, which the
/// spec check keeps free of wildcards and administration.
fn policy(permissions: &[Permission]) -> Option<Value> {
    common::spec::services::task_policy_of(permissions)
}

/// The task role's policy with what ECS Exec needs on real AWS added, as
/// AWS's amazon-ecs-exec-checker checks a task role: the agent opens its
/// channels through `ssmmessages` (those actions take no resource, hence `*`);
/// the session is logged to the service's own log group (the cluster's exec
/// logging is `DEFAULT`: the container's awslogs settings), which needs
/// `logs:DescribeLogGroups` (a listing, checked on `*`) and the stream writes
/// on the group; and decrypted with the cluster's key when it has one. Moto
/// checks none of it.
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
        "Sid": "EcsExecLogGroups",
        "Effect": "Allow",
        "Action": ["logs:DescribeLogGroups"],
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
        let declared = policy(&[Permission {
            actions: vec!["s3:GetObject".into()],
            resources: vec!["arn:aws:s3:::b/*".into()],
        }]);
        assert_eq!(
            task_policy(declared.as_ref(), false, "arn:lg", Some("arn:key")),
            declared
        );
        assert_eq!(task_policy(None, false, "arn:lg", None), None);
        let p = task_policy(declared.as_ref(), true, "arn:lg", Some("arn:key")).unwrap();
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 5);
        assert_eq!(st[0]["Action"], json!(["s3:GetObject"]));
        // What amazon-ecs-exec-checker checks a task role for.
        let granted: Vec<&str> = st[1..]
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        for action in [
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel",
            "logs:DescribeLogGroups",
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
            "kms:Decrypt",
        ] {
            assert!(granted.contains(&action), "{action}");
        }
        assert_eq!(st[1]["Resource"], "*");
        assert_eq!(st[3]["Resource"], "arn:lg:*");
        assert_eq!(st[4]["Resource"], "arn:key");
        let p = task_policy(None, true, "arn:lg", None).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 3);
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
        let all: ServicesSpec = common::spec::read("spec.services", &services)?;
        let cluster = Cluster::default();
        let up = Upstream {
            cluster: &cluster,
            ecr: None,
            secrets: None,
            alb,
        };
        plan(&all, &DiscoverySpec::default(), up, "a", "dev", "us-east-1")
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
            (json!(7), "got the number 7"),
        ] {
            let e = err(json!({"pay": {"image": "nginx", "port": 8080, "deployment": deployment}}));
            assert!(e.contains(needle), "{needle}: {e}");
        }
        assert!(
            err(json!({"w": {"image": "nginx", "port": 1, "deployment": "blue-green"}}))
                .contains("needs the service behind the ALB")
        );
        // Two services on one test port, and every other rule of the spec alone,
        // are common::spec's: svc-up plans a spec already checked.
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
        // Exec with a read-only root filesystem is refused by the spec check.
    }

    #[test]
    fn sizes_follow_the_env() {
        let s: ServiceSpec = serde_json::from_value(json!({
            "image": "nginx", "sizes": {"prod": {"cpu": 1024, "memory": 2048, "desired_count": 3}}
        }))
        .unwrap();
        let all = ServicesSpec::from([("api".to_owned(), s)]);
        let cluster = Cluster::default();
        let up = Upstream {
            cluster: &cluster,
            ecr: None,
            secrets: None,
            alb: None,
        };
        let prod = plan(
            &all,
            &DiscoverySpec::default(),
            up,
            "a",
            "prod",
            "us-east-1",
        )
        .unwrap();
        assert_eq!(
            (prod.services[0].cpu, prod.services[0].desired_count),
            (1024, 3)
        );
        let dev = plan(&all, &DiscoverySpec::default(), up, "a", "dev", "us-east-1").unwrap();
        assert_eq!((dev.services[0].cpu, dev.services[0].memory), (256, 512));
        assert!(dev.namespace.is_none());
    }
}
