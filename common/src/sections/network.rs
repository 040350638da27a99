//! `.network`, written by net-up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `.network`, written by net-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub vpc_id: String,
    pub cidr: String,
    pub azs: Vec<String>,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    pub public_subnets: Vec<Subnet>,
    pub private_subnets: Vec<Subnet>,
    pub internet_gateway_id: String,
    /// `none`, `single` or `per-az`; `existing` for an adopted VPC.
    pub nat: String,
    pub nat_gateway_ids: Vec<String>,
    pub nat_public_ips: Vec<String>,
    pub elastic_ip_allocation_ids: Vec<String>,
    pub public_route_table_id: String,
    pub private_route_table_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_security_group_id: Option<String>,
    /// Endpoint service short name (`ecr.api`, `s3`...) to endpoint id.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// The AZ IDs of `azs`, in the same order (the same physical zone in every account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub az_ids: Vec<String>,
    /// The VPC's flow log, when `spec.network.flow_logs` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_log: Option<FlowLog>,
    /// The VPC and its subnets are not ours (`spec.network.existing`): net-up
    /// never changes them and teardown never deletes them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
}

/// `.network.flow_log`: where the VPC's traffic records go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowLog {
    pub id: String,
    pub log_group: String,
    pub role_arn: String,
    pub retention_days: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    pub az: String,
    pub cidr: String,
}
