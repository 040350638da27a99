//! The network the spec asks for, resolved to resources: pure, from the
//! checked spec and the chosen AZs. Every resource is named by its component
//! (see `components`), so the plan can compare it with what AWS holds.

use std::collections::BTreeMap;

use common::cidr::Ipv4Net;
use common::spec::network::{EndpointKind, NatMode, Shape, ENDPOINTS};

use crate::azs::Zone;
use crate::components::{self as c};

/// One subnet to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetWant {
    pub component: String,
    pub az: String,
    pub cidr: String,
    pub public: bool,
}

/// Where a route table's default route goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The internet gateway.
    Igw,
    /// The NAT gateway of this component.
    Nat(String),
    /// No default route (private tables without a NAT).
    Nothing,
}

/// One VPC endpoint to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointWant {
    pub short: String,
    pub component: String,
    pub kind: EndpointKind,
}

/// The whole network.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub cidr: Ipv4Net,
    pub zones: Vec<Zone>,
    pub nat: NatMode,
    pub subnets: Vec<SubnetWant>,
    /// AZs that get a NAT gateway (and its Elastic IP).
    pub nat_azs: Vec<String>,
    /// Route table component to its default route.
    pub tables: BTreeMap<String, Via>,
    /// Subnet component to its route table's component.
    pub associations: BTreeMap<String, String>,
    pub endpoints: Vec<EndpointWant>,
    /// The retention of the flow logs' group, when flow logs are on.
    pub flow_logs: Option<i32>,
}

impl Desired {
    pub fn new(shape: &Shape, zones: Vec<Zone>) -> Desired {
        let names: Vec<String> = zones.iter().map(|z| z.name.clone()).collect();
        let nat_azs: Vec<String> = match shape.nat {
            NatMode::None => vec![],
            NatMode::Single => names.iter().take(1).cloned().collect(),
            NatMode::PerAz => names.clone(),
        };
        let mut subnets = Vec::new();
        let mut associations = BTreeMap::new();
        let mut tables = BTreeMap::from([(c::PUBLIC_TABLE.to_owned(), Via::Igw)]);
        for (az, cidr) in names.iter().zip(&shape.public) {
            let component = c::subnet("public", az);
            associations.insert(component.clone(), c::PUBLIC_TABLE.to_owned());
            subnets.push(SubnetWant {
                component,
                az: az.clone(),
                cidr: cidr.to_string(),
                public: true,
            });
        }
        for (i, (az, cidr)) in names.iter().zip(&shape.private).enumerate() {
            let component = c::subnet("private", az);
            let table = c::private_table(az);
            associations.insert(component.clone(), table.clone());
            let via = match shape.nat {
                NatMode::None => Via::Nothing,
                NatMode::Single => Via::Nat(c::nat(&nat_azs[0])),
                NatMode::PerAz => Via::Nat(c::nat(&names[i])),
            };
            tables.insert(table, via);
            subnets.push(SubnetWant {
                component,
                az: az.clone(),
                cidr: cidr.to_string(),
                public: false,
            });
        }
        let endpoints = shape
            .endpoints
            .iter()
            .map(|short| EndpointWant {
                short: short.clone(),
                component: c::endpoint(short),
                kind: kind_of(short),
            })
            .collect();
        Desired {
            cidr: shape.vpc,
            zones,
            nat: shape.nat,
            subnets,
            nat_azs,
            tables,
            associations,
            endpoints,
            flow_logs: shape.flow_logs,
        }
    }

    /// Whether an interface endpoint (and so their security group) is wanted.
    pub fn wants_endpoint_group(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.kind == EndpointKind::Interface)
    }

    pub fn subnet(&self, component: &str) -> Option<&SubnetWant> {
        self.subnets.iter().find(|s| s.component == component)
    }

    pub fn endpoint(&self, component: &str) -> Option<&EndpointWant> {
        self.endpoints.iter().find(|e| e.component == component)
    }

    /// The public subnet of an AZ (where its NAT gateway lives).
    pub fn public_subnet(&self, az: &str) -> String {
        c::subnet("public", az)
    }

    /// The private subnets, in AZ order (interface endpoints sit in them).
    pub fn private_subnets(&self) -> Vec<String> {
        self.subnets
            .iter()
            .filter(|s| !s.public)
            .map(|s| s.component.clone())
            .collect()
    }

    /// The private route tables, in AZ order (gateway endpoints route through them).
    pub fn private_tables(&self) -> Vec<String> {
        self.zones
            .iter()
            .map(|z| c::private_table(&z.name))
            .collect()
    }
}

pub fn kind_of(short: &str) -> EndpointKind {
    ENDPOINTS
        .iter()
        .find(|(n, _)| *n == short)
        .map_or(EndpointKind::Interface, |(_, k)| *k)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use common::spec::NetworkSpec;

    pub fn zones(names: &[&str]) -> Vec<Zone> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Zone {
                name: (*n).to_owned(),
                id: format!("use1-az{}", i + 1),
            })
            .collect()
    }

    pub fn desired(json: &str, azs: &[&str]) -> Desired {
        let spec: NetworkSpec = serde_json::from_str(json).unwrap();
        Desired::new(&spec.shape().unwrap(), zones(azs))
    }

    #[test]
    fn per_az_nat_routes_each_private_table_to_its_own_nat() {
        let d = desired(r#"{"azs":2,"nat":"per-az"}"#, &["a1", "b1"]);
        assert_eq!(d.nat_azs, ["a1", "b1"]);
        assert_eq!(d.tables["rt-private-b1"], Via::Nat("nat-b1".into()));
        assert_eq!(d.tables["rt-public"], Via::Igw);
        assert_eq!(d.associations["public-b1"], "rt-public");
        assert_eq!(d.associations["private-b1"], "rt-private-b1");
        assert_eq!(d.subnets.len(), 4);
    }

    #[test]
    fn single_and_no_nat() {
        let d = desired(r#"{"azs":2,"nat":"single"}"#, &["a1", "b1"]);
        assert_eq!(d.tables["rt-private-b1"], Via::Nat("nat-a1".into()));
        let d = desired(
            r#"{"azs":2,"nat":"none","endpoints":["s3"]}"#,
            &["a1", "b1"],
        );
        assert!(d.nat_azs.is_empty());
        assert_eq!(d.tables["rt-private-a1"], Via::Nothing);
        assert!(!d.wants_endpoint_group(), "s3 is a gateway endpoint");
    }
}
