//! What scale-up wants, from the checked spec and this run's own names.
//!
//! The names come from the stack and env, never from the document: the
//! cluster is `{stack}--cluster--{env}`, a service's ECS service
//! `{stack}--{service}--{env}`, its resource id
//! `service/{cluster}/{ecs service}`. `.cluster.name`, `.services.*.service_name`
//! and `.scaling.*.resource_id` are only hints (discovery checks whose they
//! are). The load balancer and target group ARNs a request-count policy needs
//! are read from `.alb`, and their tags are checked before they are used.
//!
//! Request-count scaling of a blue/green service gets one policy per target
//! group (`requests` on blue, `requests-green` on green): see `docs/scale-up.md`.

use common::sections::{AlarmMetric, Alb, Services};
use common::spec::scaling::{
    DEFAULT_ALARM_PERIOD, DEFAULT_EVALUATION_PERIODS, DEFAULT_SCALE_IN_COOLDOWN,
    DEFAULT_SCALE_OUT_COOLDOWN,
};
use common::spec::{ScalingSpec, ServicesSpec};
use common::{Context, Error, Result};

/// What a target-tracking policy follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tracked {
    Cpu,
    Memory,
    Requests,
}

/// A policy's key in `.scaling.<svc>.policies` and in its name.
pub const KEYS: [&str; 4] = ["cpu", "memory", "requests", "requests-green"];

/// One target-tracking policy to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct WantPolicy {
    /// `cpu`, `memory`, `requests`, `requests-green`.
    pub key: &'static str,
    pub name: String,
    pub tracked: Tracked,
    pub target: f64,
    /// `app/<lb>/<id>/targetgroup/<tg>/<id>`, for requests only; `None` while
    /// the load balancer is only planned.
    pub label: Option<String>,
}

/// One CloudWatch alarm to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct WantAlarm {
    pub metric: AlarmMetric,
    pub name: String,
    pub threshold: f64,
    pub period: i32,
    pub evaluation_periods: i32,
    pub actions: Vec<String>,
}

/// One scaled service.
#[derive(Debug, Clone, PartialEq)]
pub struct WantService {
    /// The spec's name (`api`).
    pub service: String,
    /// The ECS service, `{stack}--api--{env}`.
    pub ecs_service: String,
    pub resource_id: String,
    pub min: i32,
    pub max: i32,
    pub scale_in_cooldown: i32,
    pub scale_out_cooldown: i32,
    pub policies: Vec<WantPolicy>,
    pub alarms: Vec<WantAlarm>,
    /// The ECS service is only planned (plan mode, upstream placeholders):
    /// nothing hangs on it yet, so everything of it is a create.
    pub planned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub cluster: String,
    pub services: Vec<WantService>,
}

impl Desired {
    /// Marks the services `planned` says are only planned upstream.
    pub fn mark_planned(&mut self, planned: impl Fn(&str) -> bool) {
        for s in &mut self.services {
            s.planned = planned(&s.service);
        }
    }
}

/// A service's scaling, checked and resolved for the env.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub service: String,
    pub spec: ScalingSpec,
    pub min: i32,
    pub max: i32,
}

/// `scaling` of every service of a checked spec that has one, in name order,
/// with the bounds in force in `env`.
pub fn read(services: &ServicesSpec, env: &str) -> Vec<Checked> {
    services
        .iter()
        .filter_map(|(name, s)| {
            let spec = s.scaling.clone()?;
            let (min, max) = spec.bounds(env);
            Some(Checked {
                service: name.clone(),
                spec,
                min,
                max,
            })
        })
        .collect()
}

/// `service/{cluster}/{service}`: how Application Auto Scaling names an ECS service.
pub fn resource_id(cluster: &str, ecs_service: &str) -> String {
    format!("service/{cluster}/{ecs_service}")
}

/// `{stack}--{service}-{key}--{env}`.
pub fn policy_name(ctx: &Context, service: &str, key: &str) -> String {
    ctx.name(&format!("{service}-{key}"))
}

/// The component a scalable target is tagged with.
pub fn target_component(service: &str) -> String {
    format!("{service}-scaling")
}

/// The component an alarm is tagged with (the middle of its name).
pub fn alarm_component(service: &str, metric: AlarmMetric) -> String {
    format!("{service}-{}-high", metric.key())
}

/// The services to scale. `deployed` is `.services`: a scaled service svc-up
/// has not run for stops the run (exit 6).
pub fn build(
    ctx: &Context,
    checked: &[Checked],
    deployed: Option<&Services>,
    alb: Option<&Alb>,
) -> Result<Desired> {
    let cluster = ctx.name("cluster");
    let mut services = Vec::new();
    for c in checked {
        if deployed.and_then(|s| s.get(&c.service)).is_none() {
            return Err(Error::MissingLayer {
                section: format!("services.{}", c.service),
                tool: "svc-up",
            });
        }
        let ecs_service = ctx.name(&c.service);
        let s = &c.spec;
        services.push(WantService {
            resource_id: resource_id(&cluster, &ecs_service),
            ecs_service,
            min: c.min,
            max: c.max,
            scale_in_cooldown: s.scale_in_cooldown.unwrap_or(DEFAULT_SCALE_IN_COOLDOWN) as i32,
            scale_out_cooldown: s.scale_out_cooldown.unwrap_or(DEFAULT_SCALE_OUT_COOLDOWN) as i32,
            policies: policies(ctx, c, alb)?,
            alarms: alarms(ctx, c),
            service: c.service.clone(),
            planned: false,
        });
    }
    Ok(Desired { cluster, services })
}

fn policies(ctx: &Context, c: &Checked, alb: Option<&Alb>) -> Result<Vec<WantPolicy>> {
    let s = &c.spec;
    let mut out = Vec::new();
    let mut push = |key: &'static str, tracked, target, label| {
        out.push(WantPolicy {
            key,
            name: policy_name(ctx, &c.service, key),
            tracked,
            target,
            label,
        });
    };
    if let Some(t) = s.cpu {
        push("cpu", Tracked::Cpu, t, None);
    }
    if let Some(t) = s.memory {
        push("memory", Tracked::Memory, t, None);
    }
    if let Some(t) = s.requests {
        let at = format!("spec.services.{}.scaling", c.service);
        let (blue, green) = labels(&at, &c.service, alb)?;
        push("requests", Tracked::Requests, t, blue);
        if let Some(green) = green {
            push("requests-green", Tracked::Requests, t, green);
        }
    }
    Ok(out)
}

fn alarms(ctx: &Context, c: &Checked) -> Vec<WantAlarm> {
    let Some(a) = &c.spec.alarms else {
        return vec![];
    };
    [(AlarmMetric::Cpu, a.cpu), (AlarmMetric::Memory, a.memory)]
        .into_iter()
        .filter_map(|(metric, threshold)| {
            Some(WantAlarm {
                metric,
                name: common::sections::alarm_name(&ctx.stack, &ctx.env, &c.service, metric),
                threshold: threshold?,
                // Checked: small enough.
                period: a.period.unwrap_or(DEFAULT_ALARM_PERIOD) as i32,
                evaluation_periods: a.evaluation_periods.unwrap_or(DEFAULT_EVALUATION_PERIODS)
                    as i32,
                actions: {
                    let mut v = a.actions.clone();
                    v.sort();
                    v
                },
            })
        })
        .collect()
}

/// The resource labels of a service's target group and, for a blue/green
/// service, of its green twin: `None` inside while `.alb` holds placeholders.
#[allow(clippy::type_complexity)]
fn labels(
    at: &str,
    service: &str,
    alb: Option<&Alb>,
) -> Result<(Option<String>, Option<Option<String>>)> {
    let Some((alb, tg)) = alb.and_then(|a| Some((a, a.target_groups.get(service)?))) else {
        return Err(Error::spec(format!(
            "{at}.requests: {service} has no target group in .alb.target_groups: request-count scaling needs a routed service (give it a route and run alb-up)"
        )));
    };
    let blue = label(&alb.arn, &tg.arn, service)?;
    let green = match &tg.green {
        Some(g) => Some(label(&alb.arn, &g.arn, service)?),
        None => None,
    };
    Ok((blue, green))
}

/// ALBRequestCountPerTarget's resource label: the load balancer's and the
/// target group's ARN suffixes, `app/<lb>/<id>/targetgroup/<tg>/<id>`.
fn label(lb_arn: &str, tg_arn: &str, service: &str) -> Result<Option<String>> {
    if common::plan::is_planned(lb_arn) || common::plan::is_planned(tg_arn) {
        return Ok(None);
    }
    let lb = lb_arn
        .split_once(":loadbalancer/")
        .map(|(_, s)| s)
        .filter(|s| s.starts_with("app/"));
    let tg = tg_arn.find(":targetgroup/").map(|i| &tg_arn[i + 1..]);
    match (lb, tg) {
        (Some(lb), Some(tg)) => Ok(Some(format!("{lb}/{tg}"))),
        _ => Err(Error::Document(format!(
            ".alb.arn ({}) or the target group ARN of {service} ({}) is not an application load balancer ARN: re-run alb-up",
            common::error::shown(lb_arn),
            common::error::shown(tg_arn)
        ))),
    }
}

#[cfg(test)]
#[path = "desired_tests.rs"]
mod tests;
