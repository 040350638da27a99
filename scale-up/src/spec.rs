//! scale-up's plan: each scaled service of `spec.services` resolved for this env
//! and against the upstream sections, which give the names: `.cluster.name`,
//! `.services.<name>.service_name`, and for request-count scaling `.alb.arn`
//! with the service's target group. The types and rules of `scaling` (every
//! env's bounds included) are `common::spec::scaling`'s, checked with the whole
//! spec before any call.

use common::sections::{AlarmMetric, Alb, Cluster, Services};
use common::spec::scaling::{
    DEFAULT_ALARM_PERIOD, DEFAULT_EVALUATION_PERIODS, DEFAULT_SCALE_IN_COOLDOWN,
    DEFAULT_SCALE_OUT_COOLDOWN,
};
use common::spec::{ScalingSpec, ServicesSpec};
use common::{Error, Result};

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
                    period: a.period.unwrap_or(DEFAULT_ALARM_PERIOD) as i32,
                    evaluation_periods: a.evaluation_periods.unwrap_or(DEFAULT_EVALUATION_PERIODS)
                        as i32,
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
            scale_in_cooldown: s.scale_in_cooldown.unwrap_or(DEFAULT_SCALE_IN_COOLDOWN) as i32,
            scale_out_cooldown: s.scale_out_cooldown.unwrap_or(DEFAULT_SCALE_OUT_COOLDOWN) as i32,
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
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn services(v: Value) -> ServicesSpec {
        common::spec::read("spec.services", &v).unwrap()
    }

    #[test]
    fn only_scaling_is_read_and_sizes_follow_the_env() {
        let s = services(json!({
            "api": {"image": "x",
                    "scaling": {"min": 2, "max": 10, "cpu": 70,
                                "sizes": {"prod": {"min": 3, "max": 20}}}},
            "job": {"image": "y"}
        }));
        let dev = read(&s, "dev");
        assert_eq!(dev.len(), 1);
        assert_eq!((dev[0].min, dev[0].max), (2, 10));
        let prod = read(&s, "prod");
        assert_eq!((prod[0].min, prod[0].max), (3, 20));
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
        );
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
        );
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
