//! `.scaling`, written by scale-up: per scaled service, its Application Auto
//! Scaling target, target-tracking policies and CloudWatch alarms.
//!
//! The alarm names are defined here, once: scale-up creates the alarms and svc-up
//! names the same alarms in a blue/green service's CodeDeploy deployment group
//! (roll back when they fire), before scale-up has run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::naming;

/// `.scaling`: service name (`api`) to what scale-up made of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scaling(pub BTreeMap<String, ScalingOut>);

impl Scaling {
    pub fn get(&self, service: &str) -> Option<&ScalingOut> {
        self.0.get(service)
    }

    /// (service name, what scales it), in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ScalingOut)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, ScalingOut)> for Scaling {
    fn from_iter<I: IntoIterator<Item = (String, ScalingOut)>>(iter: I) -> Self {
        Scaling(iter.into_iter().collect())
    }
}

/// One scaled service: `.scaling.api`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingOut {
    /// Application Auto Scaling's `service/{cluster}/{service}`.
    pub resource_id: String,
    /// The task count bounds in force (the env's `sizes` applied).
    pub min: i32,
    pub max: i32,
    /// `cpu`, `memory`, `requests` to the target-tracking policy on that metric.
    #[serde(default)]
    pub policies: BTreeMap<String, ScalingPolicyOut>,
    /// The service's alarm names (see `alarm_name`).
    #[serde(default)]
    pub alarms: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingPolicyOut {
    pub name: String,
    pub arn: String,
}

/// The metrics a service's alarms watch (`spec.services.<name>.scaling.alarms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlarmMetric {
    Cpu,
    Memory,
}

impl AlarmMetric {
    pub const ALL: [AlarmMetric; 2] = [AlarmMetric::Cpu, AlarmMetric::Memory];

    /// The key under `scaling.alarms` that asks for this alarm: `cpu`, `memory`.
    pub fn key(self) -> &'static str {
        match self {
            AlarmMetric::Cpu => "cpu",
            AlarmMetric::Memory => "memory",
        }
    }
}

/// `{stack}-{service}-cpu-high-{env}` / `{stack}-{service}-memory-high-{env}`:
/// the CloudWatch alarm scale-up keeps on a service's average CPU or memory.
pub fn alarm_name(stack: &str, env: &str, service: &str, metric: AlarmMetric) -> String {
    naming::name(stack, &format!("{service}-{}-high", metric.key()), env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_names() {
        assert_eq!(
            alarm_name("pay", "dev", "api", AlarmMetric::Cpu),
            "pay--api-cpu-high--dev"
        );
        assert_eq!(
            alarm_name("pay", "prod", "api", AlarmMetric::Memory),
            "pay--api-memory-high--prod"
        );
    }

    #[test]
    fn the_section_is_the_map_itself() {
        let s: Scaling = [(
            "api".to_owned(),
            ScalingOut {
                resource_id: "service/a-cluster-dev/a-api-dev".into(),
                min: 2,
                max: 10,
                policies: BTreeMap::from([(
                    "cpu".to_owned(),
                    ScalingPolicyOut {
                        name: "a-api-cpu-dev".into(),
                        arn: "arn:aws:autoscaling:x".into(),
                    },
                )]),
                alarms: vec!["a-api-cpu-high-dev".into()],
            },
        )]
        .into_iter()
        .collect();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["api"]["policies"]["cpu"]["name"], "a-api-cpu-dev");
        assert_eq!(v["api"]["max"], 10);
        assert_eq!(serde_json::from_value::<Scaling>(v).unwrap(), s);
    }
}
