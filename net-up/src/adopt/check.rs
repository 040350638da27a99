//! The pure half of adopting a VPC: what AWS holds of it (`Seen`), checked
//! against `spec.network.existing`, and turned into `.network`. Every refusal
//! is exit 5 and names the spec path to fix: the VPC is the user's, so the
//! fix is in the spec or in their VPC, never something net-up would do.

use common::sections::{Network, Subnet};
use common::spec::network::{Azs, Existing};
use common::{Error, Result};

/// A subnet as AWS describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubnetSeen {
    pub id: String,
    pub vpc_id: String,
    pub az: String,
    pub az_id: String,
    pub cidr: String,
}

/// A route table of the VPC: which subnets it serves and where 0.0.0.0/0 goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableSeen {
    pub id: String,
    /// The VPC's main table: it serves every subnet without a table of its own.
    pub main: bool,
    pub subnets: Vec<String>,
    /// The active default route's target, when it is a way out for tasks
    /// without public IPs (NAT gateway, transit gateway, appliance...).
    pub way_out: Option<String>,
    /// The active default route goes to an internet gateway.
    pub to_igw: bool,
}

/// A live VPC endpoint of the VPC, by its service's short name (`ecr.api`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointSeen {
    pub short: String,
    pub gateway: bool,
    pub private_dns: bool,
    pub tables: Vec<String>,
}

/// What the reads found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The VPC's CIDR, when the VPC exists.
    pub vpc_cidr: Option<String>,
    pub subnets: Vec<SubnetSeen>,
    pub tables: Vec<TableSeen>,
    pub endpoints: Vec<EndpointSeen>,
}

/// What the spec asks of the VPC.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    pub existing: &'a Existing,
    pub azs: Azs,
    /// Endpoints the services need when a private subnet has no way out.
    pub needed: Vec<&'static str>,
    pub region: &'a str,
}

const AT: &str = "spec.network.existing";

/// Checks the VPC and writes `.network`, or refuses naming what to fix.
pub fn check(want: &Want, seen: &Seen) -> Result<Network> {
    let e = want.existing;
    let cidr = seen.vpc_cidr.clone().ok_or_else(|| {
        Error::spec(format!(
            "{AT}.vpc_id: VPC {} not found in {}; name a VPC of this account and region",
            e.vpc_id, want.region
        ))
    })?;
    let public = subnets(want, seen, "public_subnets", &e.public_subnets)?;
    let private = subnets(want, seen, "private_subnets", &e.private_subnets)?;
    fargate_runs_there(want, &private)?;
    let azs = spanned(want, &private)?;
    let mut public_tables = Vec::new();
    for (i, s) in public.iter().enumerate() {
        let table = table_of(seen, &s.id)?;
        if !table.to_igw {
            return Err(Error::spec(format!(
                "{AT}.public_subnets[{i}]: subnet {}'s route table {} has no route 0.0.0.0/0 to an internet gateway; \
                 list a public subnet, or leave public_subnets empty",
                s.id, table.id
            )));
        }
        public_tables.push(table.id.clone());
    }
    let mut private_tables = Vec::new();
    for (i, s) in private.iter().enumerate() {
        let table = table_of(seen, &s.id)?;
        if table.way_out.is_none() {
            no_way_out(want, seen, i, s, table)?;
        }
        private_tables.push(table.id.clone());
    }
    Ok(network(
        e,
        cidr,
        azs,
        &public,
        &private,
        public_tables,
        private_tables,
    ))
}

/// The subnets of one tier, in the spec's order, each found and in the VPC.
fn subnets(want: &Want, seen: &Seen, tier: &str, ids: &[String]) -> Result<Vec<SubnetSeen>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let at = format!("{AT}.{tier}[{i}]");
            let s = seen.subnets.iter().find(|s| &s.id == id).ok_or_else(|| {
                Error::spec(format!("{at}: subnet {id} not found in {}", want.region))
            })?;
            if s.vpc_id != want.existing.vpc_id {
                return Err(Error::spec(format!(
                    "{at}: subnet {id} is in {}, not in {}; list the subnets of spec.network.existing.vpc_id",
                    s.vpc_id, want.existing.vpc_id
                )));
            }
            Ok(s.clone())
        })
        .collect()
}

/// The tasks' subnets must be in AZs where Fargate runs (`azs::FARGATE`).
fn fargate_runs_there(want: &Want, private: &[SubnetSeen]) -> Result<()> {
    for (i, s) in private.iter().enumerate() {
        if !crate::azs::fargate_offered(want.region, &s.az_id) {
            return Err(Error::spec(format!(
                "{AT}.private_subnets[{i}]: subnet {} is in {} ({}), where Fargate does not run; \
                 list a private subnet in another AZ",
                s.id, s.az, s.az_id
            )));
        }
    }
    Ok(())
}

/// The distinct AZs of the private subnets, in order: as many as `azs`
/// counts, or each AZ it names.
fn spanned(want: &Want, private: &[SubnetSeen]) -> Result<Vec<(String, String)>> {
    let mut azs: Vec<(String, String)> = Vec::new();
    for s in private {
        if !azs.iter().any(|(name, _)| *name == s.az) {
            azs.push((s.az.clone(), s.az_id.clone()));
        }
    }
    let names: Vec<&str> = azs.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<String> = match &want.azs {
        Azs::Count(n) if names.len() < *n as usize => vec![format!("{n} AZs")],
        Azs::Count(_) => vec![],
        Azs::Names(wanted) => wanted
            .iter()
            .filter(|w| !names.contains(&w.as_str()))
            .cloned()
            .collect(),
    };
    if missing.is_empty() {
        return Ok(azs);
    }
    Err(Error::spec(format!(
        "{AT}.private_subnets: the private subnets span {} ({}) but spec.network.azs asks for {}; \
         add a private subnet in each AZ it names, or lower spec.network.azs",
        plural(names.len(), "AZ"),
        names.join(", "),
        missing.join(", ")
    )))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The table that routes a subnet: its own, else the VPC's main table.
fn table_of<'a>(seen: &'a Seen, subnet: &str) -> Result<&'a TableSeen> {
    seen.tables
        .iter()
        .find(|t| t.subnets.iter().any(|s| s == subnet))
        .or_else(|| seen.tables.iter().find(|t| t.main))
        .ok_or_else(|| {
            // AWS gives every VPC a main table; none means the reads raced a delete.
            Error::spec(format!(
                "{AT}: subnet {subnet} has no route table, not even the VPC's main one"
            ))
        })
}

/// A private subnet without a way out is fine when the VPC has every endpoint
/// its tasks use (a gateway endpoint must serve the subnet's table); refused
/// otherwise.
fn no_way_out(want: &Want, seen: &Seen, i: usize, s: &SubnetSeen, table: &TableSeen) -> Result<()> {
    let missing: Vec<&str> = want
        .needed
        .iter()
        .copied()
        .filter(|short| {
            !seen.endpoints.iter().any(|ep| {
                ep.short == *short
                    && if ep.gateway {
                        ep.tables.contains(&table.id)
                    } else {
                        ep.private_dns
                    }
            })
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let igw = if table.to_igw {
        " (its route to an internet gateway is no way out for tasks, which get no public IP)"
    } else {
        ""
    };
    Err(Error::spec(format!(
        "{AT}.private_subnets[{i}]: subnet {}'s route table {} has no route out{igw} and the VPC lacks \
         the endpoints the services need: {}; route 0.0.0.0/0 to a NAT or transit gateway, or add \
         those endpoints (interface ones with private DNS) to the VPC",
        s.id,
        table.id,
        missing.join(", ")
    )))
}

fn network(
    e: &Existing,
    cidr: String,
    azs: Vec<(String, String)>,
    public: &[SubnetSeen],
    private: &[SubnetSeen],
    public_tables: Vec<String>,
    private_tables: Vec<String>,
) -> Network {
    let plain = |s: &[SubnetSeen]| -> Vec<Subnet> {
        s.iter()
            .map(|s| Subnet {
                id: s.id.clone(),
                az: s.az.clone(),
                cidr: s.cidr.clone(),
            })
            .collect()
    };
    Network {
        vpc_id: e.vpc_id.clone(),
        cidr,
        azs: azs.iter().map(|(n, _)| n.clone()).collect(),
        az_ids: azs.into_iter().map(|(_, id)| id).collect(),
        public_subnet_ids: e.public_subnets.clone(),
        private_subnet_ids: e.private_subnets.clone(),
        public_subnets: plain(public),
        private_subnets: plain(private),
        nat: "existing".to_owned(),
        public_route_table_id: public_tables.into_iter().next().unwrap_or_default(),
        private_route_table_ids: private_tables,
        adopted: true,
        ..Network::default()
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
