//! `.services` and `.discovery`, written by svc-up: each ECS service with its
//! task definition, task role, security group and log group, and the Cloud Map
//! namespace the discovered services are registered in, and a blue/green
//! service's CodeDeploy application and deployment group. scale-up reads
//! `.services[name].service_name` for its scalable targets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `.services`: service name (`api`) to what svc-up made of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Services(pub BTreeMap<String, ServiceOut>);

impl Services {
    pub fn get(&self, name: &str) -> Option<&ServiceOut> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ServiceOut)> {
        self.0.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &ServiceOut> {
        self.0.values()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, ServiceOut)> for Services {
    fn from_iter<I: IntoIterator<Item = (String, ServiceOut)>>(iter: I) -> Self {
        Services(iter.into_iter().collect())
    }
}

/// One service: `.services.api`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceOut {
    /// The ECS service, `{stack}--{service}--{env}`, in `.cluster.name`.
    pub service_name: String,
    pub service_arn: String,
    /// The revision the service runs (`...:task-definition/{family}:{n}`).
    pub task_definition_arn: String,
    pub task_role_arn: String,
    pub security_group_id: String,
    /// `/ecs/{stack}/{env}/{service}`.
    pub log_group: String,
    /// The Cloud Map service, when the service is discovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_service_arn: Option<String>,
    /// The image the task definition runs.
    pub image: String,
    /// A blue/green service's CodeDeploy side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<CodeDeployOut>,
}

/// `.services.<name>.codedeploy`: what rolls out a blue/green service's new
/// task definitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeDeployOut {
    /// `{stack}--{service}--{env}`, like the deployment group.
    pub application: String,
    pub deployment_group: String,
    /// The role CodeDeploy assumes, `{stack}--codedeploy--{env}`.
    pub role_arn: String,
    /// The deployment configuration, e.g. `CodeDeployDefault.ECSAllAtOnce`.
    pub config: String,
    /// The deployment that rolled out the current task definition, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployment_id: Option<String>,
}

/// `.discovery`: the private DNS namespace of the discovered services (written
/// only when at least one service is discovered).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    pub namespace_id: String,
    /// `{env}.{stack}.local` unless `spec.discovery.namespace` says otherwise.
    pub namespace_name: String,
    pub namespace_arn: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_the_map_itself() {
        let s: Services = [(
            "api".to_owned(),
            ServiceOut {
                service_name: "a-api-dev".into(),
                ..ServiceOut::default()
            },
        )]
        .into_iter()
        .collect();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["api"]["service_name"], "a-api-dev");
        assert!(v["api"].get("discovery_service_arn").is_none());
        assert!(v["api"].get("codedeploy").is_none());
        assert_eq!(serde_json::from_value::<Services>(v).unwrap(), s);
    }
}
