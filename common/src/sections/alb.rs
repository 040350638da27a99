//! `.alb`, written by alb-up; svc-up reads `target_groups` (to attach each routed
//! service) and `security_group_id` (to open each service's own group to the ALB).

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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlbTargetGroup {
    pub arn: String,
    pub name: String,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlbRule {
    pub arn: String,
    pub priority: u32,
}
