//! AWS's descriptions, as the plan reads them.

use aws_sdk_ec2::types::{
    Address, FlowLog, InternetGateway, NatGateway, NatGatewayState, RouteState, RouteTable,
    SecurityGroup, Subnet, Tag, Vpc, VpcEndpoint,
};

use crate::actual::*;
use crate::components::ANY;

pub fn tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn owned(s: Option<&str>) -> String {
    s.unwrap_or_default().to_owned()
}

pub fn vpc(v: &Vpc) -> Res<VpcState> {
    Res {
        id: owned(v.vpc_id()),
        tags: tags(v.tags()),
        state: VpcState {
            cidr: owned(v.cidr_block()),
            ..VpcState::default()
        },
    }
}

pub fn subnet(s: &Subnet) -> Res<SubnetState> {
    Res {
        id: owned(s.subnet_id()),
        tags: tags(s.tags()),
        state: SubnetState {
            vpc_id: owned(s.vpc_id()),
            cidr: owned(s.cidr_block()),
            az: owned(s.availability_zone()),
            map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
        },
    }
}

pub fn igw(g: &InternetGateway) -> Res<IgwState> {
    Res {
        id: owned(g.internet_gateway_id()),
        tags: tags(g.tags()),
        state: IgwState {
            attached_to: g
                .attachments()
                .iter()
                .filter_map(|a| a.vpc_id().map(str::to_owned))
                .collect(),
        },
    }
}

pub fn eip(a: &Address) -> Res<EipState> {
    Res {
        id: owned(a.allocation_id()),
        tags: tags(a.tags()),
        state: EipState {
            public_ip: owned(a.public_ip()),
        },
    }
}

/// Pending or available: a deleting, deleted or failed gateway is gone for us.
pub fn nat_live(n: &NatGateway) -> bool {
    matches!(
        n.state(),
        Some(NatGatewayState::Pending | NatGatewayState::Available)
    )
}

pub fn nat(n: &NatGateway) -> Res<NatState> {
    Res {
        id: owned(n.nat_gateway_id()),
        tags: tags(n.tags()),
        state: NatState {
            vpc_id: owned(n.vpc_id()),
            subnet_id: owned(n.subnet_id()),
            allocation_id: n
                .nat_gateway_addresses()
                .iter()
                .find_map(|a| a.allocation_id().map(str::to_owned)),
            available: n.state() == Some(&NatGatewayState::Available),
        },
    }
}

pub fn table(t: &RouteTable) -> Res<TableState> {
    let default_route = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(ANY))
        .map(|r| RouteNow {
            gateway: r.gateway_id().map(str::to_owned),
            nat: r.nat_gateway_id().map(str::to_owned),
            blackhole: r.state() == Some(&RouteState::Blackhole),
        });
    Res {
        id: owned(t.route_table_id()),
        tags: tags(t.tags()),
        state: TableState {
            vpc_id: owned(t.vpc_id()),
            default_route,
            associations: t
                .associations()
                .iter()
                .filter(|a| a.main() != Some(true))
                .filter_map(|a| {
                    Some(Assoc {
                        id: a.route_table_association_id()?.to_owned(),
                        subnet_id: a.subnet_id()?.to_owned(),
                    })
                })
                .collect(),
        },
    }
}

pub fn group(g: &SecurityGroup) -> Res<GroupState> {
    Res {
        id: owned(g.group_id()),
        tags: tags(g.tags()),
        state: GroupState {
            vpc_id: owned(g.vpc_id()),
            ingress: g.ip_permissions().to_vec(),
            egress: g.ip_permissions_egress().to_vec(),
        },
    }
}

/// An endpoint's state, lower case: AWS answers `available`, `deleted`...,
/// which the SDK's `State` enum (capitalised variants) does not recognise.
pub fn endpoint_state(e: &VpcEndpoint) -> String {
    e.state()
        .map(|s| s.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Not deleted, not on its way out, not failed.
pub fn endpoint_live(e: &VpcEndpoint) -> bool {
    !matches!(
        endpoint_state(e).as_str(),
        "deleted" | "deleting" | "failed" | "rejected" | "expired"
    )
}

pub fn endpoint(e: &VpcEndpoint) -> Res<EndpointState> {
    Res {
        id: owned(e.vpc_endpoint_id()),
        tags: tags(e.tags()),
        state: EndpointState {
            vpc_id: owned(e.vpc_id()),
            service: owned(e.service_name()),
            subnets: e.subnet_ids().to_vec(),
            tables: e.route_table_ids().to_vec(),
            groups: e
                .groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect(),
            private_dns: e.private_dns_enabled().unwrap_or(false),
        },
    }
}

pub fn flow_log(f: &FlowLog) -> Res<FlowLogState> {
    Res {
        id: owned(f.flow_log_id()),
        tags: tags(f.tags()),
        state: FlowLogState {
            resource_id: owned(f.resource_id()),
            traffic_type: f
                .traffic_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            destination_type: f
                .log_destination_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            log_group: owned(f.log_group_name()),
            role_arn: owned(f.deliver_logs_permission_arn()),
            interval: f.max_aggregation_interval().unwrap_or(600),
        },
    }
}
