//! `.alb`, written by alb-up; svc-up reads `target_groups` (to attach each routed
//! service) and `security_group_id` (to open each service's own group to the ALB);
//! for a blue/green service also the green group and the production and test
//! listeners, which its CodeDeploy deployment group names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `.alb`, written by alb-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alb {
    pub arn: String,
    pub name: String,
    /// The name clients resolve (`jq -r .alb.dns_name`).
    pub dns_name: String,
    /// The hosted zone of `dns_name`, for Route 53 alias records.
    pub zone_id: String,
    pub security_group_id: String,
    pub http_listener_arn: String,
    /// Present when a certificate was given; HTTP then only redirects here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_listener_arn: Option<String>,
    /// Routed service name to its target group.
    #[serde(default)]
    pub target_groups: BTreeMap<String, AlbTargetGroup>,
    /// Service name to its listener rule (the default service has none unless it has paths).
    #[serde(default)]
    pub rules: BTreeMap<String, AlbRule>,
    /// The service the listener forwards to when no rule matches; none means a fixed 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_service: Option<String>,
    /// The S3 bucket the access logs go to, when `spec.alb.access_logs` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs_bucket: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlbTargetGroup {
    pub arn: String,
    pub name: String,
    pub port: u16,
    /// A blue/green service's second target group: CodeDeploy moves traffic
    /// between this (`arn`, the blue one) and the green one at each deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green: Option<AlbGreenTargetGroup>,
    /// A blue/green service's test listener port (HTTP, forwards to whichever
    /// group CodeDeploy is testing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_listener_arn: Option<String>,
}

/// `.alb.target_groups.<service>.green`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlbGreenTargetGroup {
    pub arn: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlbRule {
    pub arn: String,
    pub priority: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blue_green_fields_appear_only_when_set() {
        let rolling = AlbTargetGroup {
            arn: "arn:tg/a".into(),
            name: "a".into(),
            port: 80,
            ..AlbTargetGroup::default()
        };
        let v = serde_json::to_value(&rolling).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 3, "{v}");
        let blue_green = AlbTargetGroup {
            green: Some(AlbGreenTargetGroup {
                arn: "arn:tg/b".into(),
                name: "b".into(),
            }),
            test_port: Some(8080),
            test_listener_arn: Some("arn:listener/t".into()),
            ..rolling
        };
        let v = serde_json::to_value(&blue_green).unwrap();
        assert_eq!(v["green"]["name"], "b");
        assert_eq!(v["test_port"], 8080);
        assert_eq!(
            serde_json::from_value::<AlbTargetGroup>(v).unwrap(),
            blue_green
        );
    }
}
