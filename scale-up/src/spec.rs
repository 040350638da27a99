//! `spec.services.<name>.scaling` (scale-up owns this schema), checked and
//! resolved against the document before any AWS call.
//!
//! Only `scaling` is read of each service: the other fields belong to svc-up
//! and alb-up, which check them. Inside `scaling` a typo is an error. The
//! upstream sections give the names: `.cluster.name`, `.services.<name>.
//! service_name`, and for request-count scaling `.alb.arn` with the service's
//! target group.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use common::naming;
use common::sections::{AlarmMetric, Alb, Cluster, Services};
use common::{Error, Result};

/// ECS runs at most this many tasks per service.
const MAX_TASKS: i64 = 1000;
/// Cooldowns are seconds, up to an hour.
const MAX_COOLDOWN: i64 = 3600;

/// `spec.services.<name>.scaling`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalingSpec {
    pub min: i64,
    pub max: i64,
    /// Env (`prod`) to bounds overriding `min` / `max` there.
    #[serde(default)]
    pub sizes: BTreeMap<String, Bounds>,
    /// Target average CPU, percent.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Target average memory, percent.
    #[serde(default)]
    pub memory: Option<f64>,
    /// Target ALB requests per task (per target, per minute).
    #[serde(default)]
    pub requests: Option<f64>,
    #[serde(default)]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default)]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default)]
    pub alarms: Option<AlarmsSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

/// `scaling.alarms`: alarm when the service's average CPU / memory stays above these.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsSpec {
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub memory: Option<f64>,
    /// Seconds per evaluated datapoint [60].
    #[serde(default)]
    pub period: Option<i64>,
    /// Datapoints above the threshold before the alarm fires [2].
    #[serde(default)]
    pub evaluation_periods: Option<i64>,
    /// What the alarm notifies (SNS topic ARNs...).
    #[serde(default)]
    pub actions: Vec<String>,
}

/// What a target-tracking policy follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tracked {
    Cpu,
    Memory,
    Requests,
}

impl Tracked {
    pub const ALL: [Tracked; 3] = [Tracked::Cpu, Tracked::Memory, Tracked::Requests];

    /// The spec key, the policy name's part and the `.scaling.<svc>.policies` key.
    pub fn key(self) -> &'static str {
        match self {
            Tracked::Cpu => "cpu",
            Tracked::Memory => "memory",
            Tracked::Requests => "requests",
        }
    }
}

/// One target-tracking policy to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyPlan {
    pub tracked: Tracked,
    pub target: f64,
    /// `app/<lb>/<id>/targetgroup/<tg>/<id>`, for `Requests` only.
    pub resource_label: Option<String>,
}

/// One CloudWatch alarm to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmPlan {
    pub metric: AlarmMetric,
    pub threshold: f64,
    pub period: i32,
    pub evaluation_periods: i32,
    pub actions: Vec<String>,
}

/// One scaled service, resolved for this env and against the upstream layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The spec's name (`api`).
    pub service: String,
    /// The ECS service (`{stack}--api--{env}`).
    pub service_name: String,
    /// `service/{cluster}/{service_name}`.
    pub resource_id: String,
    pub min: i32,
    pub max: i32,
    pub scale_in_cooldown: i32,
    pub scale_out_cooldown: i32,
    pub policies: Vec<PolicyPlan>,
    pub alarms: Vec<AlarmPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub cluster: String,
    pub services: Vec<Planned>,
}

/// A service's scaling, checked and resolved for `env`; upstream names come later.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub service: String,
    pub spec: ScalingSpec,
    pub min: i32,
    pub max: i32,
}

/// `scaling` of every service of `spec.services` that has one, checked, in name order.
pub fn read(services: &BTreeMap<String, Map<String, Value>>, env: &str) -> Result<Vec<Checked>> {
    let mut out = Vec::new();
    for (name, fields) in services {
        let Some(raw) = fields.get("scaling").filter(|v| !v.is_null()) else {
            continue;
        };
        naming::check_label("service name", name, 32)?;
        let at = format!("spec.services.{name}.scaling");
        let spec: ScalingSpec = serde_json::from_value(raw.clone()).map_err(|e| {
            Error::spec(format!("{at}: {}", common::error::one_line(&e.to_string())))
        })?;
        let (min, max) = check(&at, &spec, env)?;
        out.push(Checked {
            service: name.clone(),
            spec,
            min,
            max,
        });
    }
    Ok(out)
}

/// Every rule of the schema; returns the bounds in force in `env`.
fn check(at: &str, s: &ScalingSpec, env: &str) -> Result<(i32, i32)> {
    check_bounds(at, s.min, s.max)?;
    for (e, b) in &s.sizes {
        naming::check_label("env", e, 12)?;
        check_bounds(
            &format!("{at}.sizes.{e}"),
            b.min.unwrap_or(s.min),
            b.max.unwrap_or(s.max),
        )?;
    }
    if s.cpu.is_none() && s.memory.is_none() && s.requests.is_none() {
        return Err(Error::spec(format!(
            "{at}: set at least one of cpu, memory, requests (the metric to track)"
        )));
    }
    for (what, v) in [("cpu", s.cpu), ("memory", s.memory)] {
        check_percent(&format!("{at}.{what}"), v, "a target percentage")?;
    }
    if let Some(r) = s.requests {
        if !(r >= 1.0 && r.is_finite()) {
            return Err(Error::spec(format!(
                "{at}.requests: {r} is not a request count: at least 1 per target"
            )));
        }
    }
    for (what, v) in [
        ("scale_in_cooldown", s.scale_in_cooldown),
        ("scale_out_cooldown", s.scale_out_cooldown),
    ] {
        if let Some(v) = v {
            if !(0..=MAX_COOLDOWN).contains(&v) {
                return Err(Error::spec(format!(
                    "{at}.{what}: {v} is not between 0 and {MAX_COOLDOWN} seconds"
                )));
            }
        }
    }
    if let Some(a) = &s.alarms {
        check_alarms(&format!("{at}.alarms"), a)?;
    }
    let bounds = s.sizes.get(env);
    let min = bounds.and_then(|b| b.min).unwrap_or(s.min);
    let max = bounds.and_then(|b| b.max).unwrap_or(s.max);
    // Checked above: 0..=1000 fits.
    Ok((min as i32, max as i32))
}

fn check_bounds(at: &str, min: i64, max: i64) -> Result<()> {
    if min < 0 {
        return Err(Error::spec(format!("{at}: min {min} is below 0")));
    }
    if max > MAX_TASKS {
        return Err(Error::spec(format!(
            "{at}: max {max} is above {MAX_TASKS}, the most tasks ECS runs per service"
        )));
    }
    if min > max {
        return Err(Error::spec(format!("{at}: min {min} is above max {max}")));
    }
    Ok(())
}

fn check_percent(at: &str, v: Option<f64>, what: &str) -> Result<()> {
    match v {
        Some(p) if !(1.0..=100.0).contains(&p) => {
            Err(Error::spec(format!("{at}: {p} is not {what} (1 to 100)")))
        }
        _ => Ok(()),
    }
}

fn check_alarms(at: &str, a: &AlarmsSpec) -> Result<()> {
    if a.cpu.is_none() && a.memory.is_none() {
        return Err(Error::spec(format!(
            "{at}: set cpu and/or memory (the percentage to alarm above)"
        )));
    }
    for (what, v) in [("cpu", a.cpu), ("memory", a.memory)] {
        check_percent(&format!("{at}.{what}"), v, "an alarm threshold")?;
    }
    let period = a.period.unwrap_or(60);
    // CloudWatch's rule: high resolution (10, 30) or whole minutes.
    if !(period == 10 || period == 30 || (period > 0 && period % 60 == 0)) {
        return Err(Error::spec(format!(
            "{at}.period: {period} is not 10, 30 or a multiple of 60 seconds"
        )));
    }
    let n = a.evaluation_periods.unwrap_or(2);
    if n < 1 {
        return Err(Error::spec(format!(
            "{at}.evaluation_periods: {n} is below 1"
        )));
    }
    // CloudWatch evaluates at most a day of sub-hour periods, at most 7 days otherwise.
    let limit = if period < 3600 { 86_400 } else { 604_800 };
    if period.saturating_mul(n) > limit {
        return Err(Error::spec(format!(
            "{at}: period {period} x evaluation_periods {n} is more than the {limit} seconds CloudWatch evaluates"
        )));
    }
    for action in &a.actions {
        if !action.starts_with("arn:") {
            return Err(Error::spec(format!(
                "{at}.actions: '{action}' is not an ARN (e.g. an SNS topic arn:aws:sns:...)"
            )));
        }
    }
    Ok(())
}

/// `service/{cluster}/{service}`: how Application Auto Scaling names an ECS service.
pub fn resource_id(cluster: &str, service_name: &str) -> String {
    format!("service/{cluster}/{service_name}")
}

/// The upstream sections the plan reads.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    pub cluster: &'a Cluster,
    /// `None` when svc-up has not run.
    pub services: Option<&'a Services>,
    pub alb: Option<&'a Alb>,
}

/// The checked services, named after what svc-up and alb-up made.
pub fn plan(checked: &[Checked], up: Upstream<'_>) -> Result<Plan> {
    let mut services = Vec::new();
    for c in checked {
        let at = format!("spec.services.{}.scaling", c.service);
        let Some(svc) = up.services.and_then(|s| s.get(&c.service)) else {
            // "no .services.api section: run svc-up first".
            return Err(Error::MissingLayer {
                section: format!("services.{}", c.service),
                tool: "svc-up",
            });
        };
        let s = &c.spec;
        let mut policies = Vec::new();
        for (tracked, target) in [
            (Tracked::Cpu, s.cpu),
            (Tracked::Memory, s.memory),
            (Tracked::Requests, s.requests),
        ] {
            let Some(target) = target else { continue };
            let resource_label = match tracked {
                Tracked::Requests => Some(request_label(&at, &c.service, up.alb)?),
                _ => None,
            };
            policies.push(PolicyPlan {
                tracked,
                target,
                resource_label,
            });
        }
        let mut alarms = Vec::new();
        if let Some(a) = &s.alarms {
            for (metric, threshold) in [(AlarmMetric::Cpu, a.cpu), (AlarmMetric::Memory, a.memory)]
            {
                let Some(threshold) = threshold else { continue };
                alarms.push(AlarmPlan {
                    metric,
                    threshold,
                    // Checked: small enough.
                    period: a.period.unwrap_or(60) as i32,
                    evaluation_periods: a.evaluation_periods.unwrap_or(2) as i32,
                    actions: a.actions.clone(),
                });
            }
        }
        services.push(Planned {
            service: c.service.clone(),
            service_name: svc.service_name.clone(),
            resource_id: resource_id(&up.cluster.name, &svc.service_name),
            min: c.min,
            max: c.max,
            scale_in_cooldown: s.scale_in_cooldown.unwrap_or(300) as i32,
            scale_out_cooldown: s.scale_out_cooldown.unwrap_or(60) as i32,
            policies,
            alarms,
        });
    }
    Ok(Plan {
        cluster: up.cluster.name.clone(),
        services,
    })
}

/// ALBRequestCountPerTarget's resource label: the load balancer's and the
/// target group's ARN suffixes, `app/<lb>/<id>/targetgroup/<tg>/<id>`.
fn request_label(at: &str, service: &str, alb: Option<&Alb>) -> Result<String> {
    let Some((alb, tg)) = alb.and_then(|a| Some((a, a.target_groups.get(service)?))) else {
        return Err(Error::spec(format!(
            "{at}.requests: {service} has no target group in .alb.target_groups: request-count scaling needs a routed service (give it a route and run alb-up)"
        )));
    };
    let lb = alb
        .arn
        .split_once(":loadbalancer/")
        .map(|(_, s)| s)
        .filter(|s| s.starts_with("app/"));
    let tg_part = tg.arn.find(":targetgroup/").map(|i| &tg.arn[i + 1..]);
    match (lb, tg_part) {
        (Some(lb), Some(tg)) => Ok(format!("{lb}/{tg}")),
        _ => Err(Error::Document(format!(
            ".alb.arn ({}) or .alb.target_groups.{service}.arn ({}) is not an application load balancer ARN: re-run alb-up",
            alb.arn, tg.arn
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::sections::{AlbTargetGroup, ServiceOut};
    use serde_json::json;

    fn services(v: Value) -> BTreeMap<String, Map<String, Value>> {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: Value) -> String {
        read(&services(v), "dev").unwrap_err().to_string()
    }

    #[test]
    fn only_scaling_is_read_and_sizes_follow_the_env() {
        let s = services(json!({
            "api": {"image": "x", "whatever": 1,
                    "scaling": {"min": 2, "max": 10, "cpu": 70,
                                "sizes": {"prod": {"min": 3, "max": 20}}}},
            "job": {"image": "y"}
        }));
        let dev = read(&s, "dev").unwrap();
        assert_eq!(dev.len(), 1);
        assert_eq!((dev[0].min, dev[0].max), (2, 10));
        let prod = read(&s, "prod").unwrap();
        assert_eq!((prod[0].min, prod[0].max), (3, 20));
    }

    #[test]
    fn every_rule_has_its_message() {
        let cases = [
            (
                json!({"min": 5, "max": 2, "cpu": 50}),
                "min 5 is above max 2",
            ),
            (json!({"min": -1, "max": 2, "cpu": 50}), "below 0"),
            (json!({"min": 1, "max": 1001, "cpu": 50}), "above 1000"),
            (json!({"min": 1, "max": 2}), "at least one of"),
            (json!({"min": 1, "max": 2, "cpu": 0}), "scaling.cpu: 0"),
            (
                json!({"min": 1, "max": 2, "memory": 101}),
                "scaling.memory: 101",
            ),
            (
                json!({"min": 1, "max": 2, "requests": 0}),
                "scaling.requests",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "scale_in_cooldown": 3601}),
                "scale_in_cooldown",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "scale_out_cooldown": -1}),
                "scale_out_cooldown",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "sizes": {"prod": {"max": 0}}}),
                "sizes.prod: min 1 is above max 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "mx": 3}),
                "unknown field `mx`",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {}}),
                "cpu and/or memory",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 0}}),
                "alarms.cpu: 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "period": 45}}),
                "alarms.period: 45",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "evaluation_periods": 0}}),
                "evaluation_periods: 0",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "period": 60, "evaluation_periods": 1441}}),
                "86400",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "actions": ["sns-topic"]}}),
                "not an ARN",
            ),
            (
                json!({"min": 1, "max": 2, "cpu": 50, "alarms": {"cpu": 80, "threshold": 3}}),
                "unknown field `threshold`",
            ),
        ];
        for (scaling, needle) in cases {
            let e = err(json!({"api": {"scaling": scaling}}));
            assert!(e.starts_with("spec.services.api.scaling"), "{e}");
            assert!(e.contains(needle), "{needle} in {e}");
        }
        // Periods CloudWatch takes.
        for period in [10, 30, 60, 300, 3600] {
            let ok = read(
                &services(json!({"api": {"scaling": {"min": 1, "max": 2, "cpu": 50,
                    "alarms": {"cpu": 80, "period": period}}}})),
                "dev",
            );
            assert!(ok.is_ok(), "{period}: {ok:?}");
        }
    }

    fn upstream_parts() -> (Cluster, Services, Alb) {
        let cluster = Cluster {
            name: "a-cluster-dev".into(),
            ..Cluster::default()
        };
        let services: Services = [(
            "api".to_owned(),
            ServiceOut {
                service_name: "a-api-dev".into(),
                ..ServiceOut::default()
            },
        )]
        .into_iter()
        .collect();
        let alb = Alb {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a-alb-dev/50dc6c495c0c9188".into(),
            target_groups: BTreeMap::from([(
                "api".to_owned(),
                AlbTargetGroup {
                    arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/a-api-dev/73e2d6bc24d8a067".into(),
                    name: "a-api-dev".into(),
                    port: 80,
                    ..AlbTargetGroup::default()
                },
            )]),
            ..Alb::default()
        };
        (cluster, services, alb)
    }

    #[test]
    fn the_plan_names_what_upstream_made() {
        let (cluster, services_out, alb) = upstream_parts();
        let checked = read(
            &services(
                json!({"api": {"scaling": {"min": 2, "max": 10, "cpu": 70, "requests": 500,
                "alarms": {"memory": 90, "actions": ["arn:aws:sns:us-east-1:1:ops"]}}}}),
            ),
            "dev",
        )
        .unwrap();
        let up = Upstream {
            cluster: &cluster,
            services: Some(&services_out),
            alb: Some(&alb),
        };
        let plan = plan(&checked, up).unwrap();
        let api = &plan.services[0];
        assert_eq!(api.resource_id, "service/a-cluster-dev/a-api-dev");
        assert_eq!((api.scale_in_cooldown, api.scale_out_cooldown), (300, 60));
        assert_eq!(api.policies.len(), 2);
        assert_eq!(
            api.policies[1].resource_label.as_deref(),
            Some("app/a-alb-dev/50dc6c495c0c9188/targetgroup/a-api-dev/73e2d6bc24d8a067")
        );
        assert_eq!(api.alarms.len(), 1);
        assert_eq!(api.alarms[0].metric, AlarmMetric::Memory);
        assert_eq!(
            (api.alarms[0].period, api.alarms[0].evaluation_periods),
            (60, 2)
        );
    }

    #[test]
    fn missing_upstream_is_named() {
        let (cluster, services_out, _) = upstream_parts();
        let checked = read(
            &services(json!({"web": {"scaling": {"min": 1, "max": 2, "cpu": 50}},
                             "api": {"scaling": {"min": 1, "max": 2, "requests": 100}}})),
            "dev",
        )
        .unwrap();
        let up = Upstream {
            cluster: &cluster,
            services: Some(&services_out),
            alb: None,
        };
        let e = plan(&checked, up).unwrap_err();
        assert_eq!(e.exit_code(), 5, "{e}");
        assert!(e.to_string().contains("no target group"), "{e}");
        let e = plan(&checked[1..], up).unwrap_err();
        assert_eq!(e.exit_code(), 6, "{e}");
        assert!(
            e.to_string().contains(".services.web") && e.to_string().contains("svc-up"),
            "{e}"
        );
    }
}
