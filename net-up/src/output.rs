//! `.network`, from the desired network and the ids of its resources (made,
//! found, or `planned:` placeholders in a plan).

use std::collections::BTreeMap;

use common::sections::{FlowLog, Network, Subnet};
use common::Context;

use crate::apply::Ids;
use crate::components::{self as c, Kind};
use crate::desired::Desired;

pub fn network(ctx: &Context, desired: &Desired, ids: &Ids) -> Network {
    let id = |kind: Kind, component: &str| ids.get(kind, component).unwrap_or_default().to_owned();
    let subnets = |public: bool| -> Vec<Subnet> {
        desired
            .subnets
            .iter()
            .filter(|s| s.public == public)
            .map(|s| Subnet {
                id: id(Kind::Subnet, &s.component),
                az: s.az.clone(),
                cidr: s.cidr.clone(),
            })
            .collect()
    };
    let (public, private) = (subnets(true), subnets(false));
    let azs: Vec<String> = desired.zones.iter().map(|z| z.name.clone()).collect();
    let endpoints: BTreeMap<String, String> = desired
        .endpoints
        .iter()
        .map(|e| (e.short.clone(), id(Kind::Endpoint, &e.component)))
        .collect();
    Network {
        vpc_id: id(Kind::Vpc, c::VPC),
        cidr: desired.cidr.to_string(),
        az_ids: desired.zones.iter().map(|z| z.id.clone()).collect(),
        public_subnet_ids: public.iter().map(|s| s.id.clone()).collect(),
        private_subnet_ids: private.iter().map(|s| s.id.clone()).collect(),
        public_subnets: public,
        private_subnets: private,
        internet_gateway_id: id(Kind::Igw, c::IGW),
        nat: desired.nat.as_str().to_owned(),
        nat_gateway_ids: desired
            .nat_azs
            .iter()
            .map(|az| id(Kind::Nat, &c::nat(az)))
            .collect(),
        nat_public_ips: desired
            .nat_azs
            .iter()
            .map(|az| ids.public_ips.get(&c::eip(az)).cloned().unwrap_or_default())
            .collect(),
        elastic_ip_allocation_ids: desired
            .nat_azs
            .iter()
            .map(|az| id(Kind::Eip, &c::eip(az)))
            .collect(),
        public_route_table_id: id(Kind::RouteTable, c::PUBLIC_TABLE),
        private_route_table_ids: azs
            .iter()
            .map(|az| id(Kind::RouteTable, &c::private_table(az)))
            .collect(),
        endpoint_security_group_id: desired
            .wants_endpoint_group()
            .then(|| id(Kind::Group, c::ENDPOINT_GROUP)),
        endpoints,
        azs,
        flow_log: desired.flow_logs.map(|days| FlowLog {
            id: id(Kind::FlowLog, c::FLOW_LOGS),
            log_group: c::log_group_name(ctx),
            role_arn: id(Kind::Role, c::FLOW_LOGS),
            retention_days: days,
        }),
        adopted: false,
    }
}
