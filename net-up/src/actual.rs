//! What AWS holds of the network, as discovery found it: plain values the pure
//! plan compares with the desired state (and that its unit tests build by hand).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::IpPermission;
use common::naming::TAG_COMPONENT;
use serde_json::Value;

pub type Tags = BTreeMap<String, String>;

/// One resource: its id, the tags AWS returned for it, and what the plan compares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Res<T> {
    pub id: String,
    pub tags: Tags,
    pub state: T,
}

impl<T> Res<T> {
    /// Its `fargate-pipes:component` tag.
    pub fn component(&self) -> &str {
        self.tags.get(TAG_COMPONENT).map_or("", String::as_str)
    }

    /// The tags as the ownership check reads them.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VpcState {
    pub cidr: String,
    pub dns_support: Option<bool>,
    pub dns_hostnames: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubnetState {
    pub vpc_id: String,
    pub cidr: String,
    pub az: String,
    pub map_public_ip: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IgwState {
    pub attached_to: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EipState {
    pub public_ip: String,
}

/// A NAT gateway that is pending or available (deleted and failed ones are gone for us).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NatState {
    pub vpc_id: String,
    pub subnet_id: String,
    pub allocation_id: Option<String>,
    pub available: bool,
}

/// A route table's default route as AWS holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteNow {
    pub gateway: Option<String>,
    pub nat: Option<String>,
    pub blackhole: bool,
}

impl RouteNow {
    /// Its target's id, for plans.
    pub fn target(&self) -> String {
        self.gateway
            .clone()
            .or_else(|| self.nat.clone())
            .unwrap_or_else(|| "(other target)".to_owned())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assoc {
    pub id: String,
    pub subnet_id: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableState {
    pub vpc_id: String,
    pub default_route: Option<RouteNow>,
    pub associations: Vec<Assoc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupState {
    pub vpc_id: String,
    pub ingress: Vec<IpPermission>,
    pub egress: Vec<IpPermission>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointState {
    pub vpc_id: String,
    pub service: String,
    pub subnets: Vec<String>,
    pub tables: Vec<String>,
    pub groups: Vec<String>,
    pub private_dns: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowLogState {
    pub resource_id: String,
    pub traffic_type: String,
    pub destination_type: String,
    pub log_group: String,
    pub role_arn: String,
    pub interval: i32,
}

/// The flow logs' log group (`id` is its name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogGroupState {
    pub arn: String,
    pub retention: Option<i32>,
}

/// The role flow logs deliver with (`id` is its name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleState {
    pub arn: String,
    pub trust: Option<Value>,
    pub policy: Option<Value>,
}

/// Everything of this stack's and env's network that AWS holds, by tag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actual {
    pub vpcs: Vec<Res<VpcState>>,
    pub subnets: Vec<Res<SubnetState>>,
    pub igws: Vec<Res<IgwState>>,
    pub eips: Vec<Res<EipState>>,
    pub nats: Vec<Res<NatState>>,
    pub tables: Vec<Res<TableState>>,
    /// The interface endpoints' group(s).
    pub groups: Vec<Res<GroupState>>,
    pub endpoints: Vec<Res<EndpointState>>,
    pub flow_logs: Vec<Res<FlowLogState>>,
    /// The default security group of our VPC (untagged: AWS made it).
    pub default_group: Option<Res<GroupState>>,
    pub log_group: Option<Res<LogGroupState>>,
    pub role: Option<Res<RoleState>>,
    /// Per subnet id (of subnets the spec no longer has), the network
    /// interfaces of others still in it: such a subnet cannot go yet.
    pub enis: BTreeMap<String, usize>,
}
