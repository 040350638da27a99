//! The VPC (CIDR, DNS attributes, tags), its default security group (AWS FSBP
//! EC2.2: no rules) and the subnets.

use aws_sdk_ec2::types::IpPermission;
use common::{Error, Result};
use serde_json::Value;

use super::{find, Fix, Op, Planner, What};
use crate::components::{self as c, Key, Kind};

impl Planner<'_> {
    pub(super) fn vpc(&mut self) -> Result<()> {
        let Some(vpc) = find(&self.actual.vpcs, c::VPC) else {
            self.push(Op::Create(Key::new(Kind::Vpc, c::VPC)));
            // AWS gives every new VPC a default group that lets its members
            // talk to each other and everything out: revoked once it exists.
            self.push(clear_default(None, 1, 1));
            return Ok(());
        };
        let want = self.desired.cidr.to_string();
        if vpc.state.cidr != want {
            return Err(Error::spec(format!(
                "spec.network.cidr: VPC {} ({}) has CIDR {} but the spec asks for {want}: a VPC's CIDR cannot change; \
                 tear the network down first (teardown), or keep {}",
                self.name(c::VPC),
                vpc.id,
                vpc.state.cidr,
                vpc.state.cidr
            )));
        }
        self.know(Kind::Vpc, c::VPC, &vpc.id);
        let mut fixes = Vec::new();
        // Interface endpoints' private DNS and Cloud Map need both on.
        if vpc.state.dns_support != Some(true) {
            fixes.push(dns_fix(
                "enable_dns_support",
                vpc.state.dns_support,
                What::DnsSupport,
            ));
        }
        if vpc.state.dns_hostnames != Some(true) {
            fixes.push(dns_fix(
                "enable_dns_hostnames",
                vpc.state.dns_hostnames,
                What::DnsHostnames,
            ));
        }
        fixes.extend(self.tag_fix(vpc));
        self.update(Kind::Vpc, vpc, fixes)?;
        self.default_group()
    }

    /// The default group of our VPC has no rules. AWS made it and it carries
    /// no tags of ours: it is ours by being the default group of our VPC,
    /// whose tags are checked.
    fn default_group(&mut self) -> Result<()> {
        let Some(group) = &self.actual.default_group else {
            return Ok(());
        };
        if group.state.ingress.is_empty() && group.state.egress.is_empty() {
            return Ok(());
        }
        let vpc = find(&self.actual.vpcs, c::VPC).expect("the default group is our VPC's");
        self.owned(Kind::Vpc, vpc)?;
        self.push(clear_default(
            Some((&group.id, &group.state.ingress, &group.state.egress)),
            group.state.ingress.len(),
            group.state.egress.len(),
        ));
        Ok(())
    }

    pub(super) fn subnets(&mut self) -> Result<()> {
        let vpc_id = self.plan.id(Kind::Vpc, c::VPC).map(str::to_owned);
        for want in &self.desired.subnets {
            let Some(s) = find(&self.actual.subnets, &want.component) else {
                self.push(Op::Create(Key::new(Kind::Subnet, &want.component)));
                continue;
            };
            if s.state.cidr != want.cidr
                || s.state.az != want.az
                || Some(&s.state.vpc_id) != vpc_id.as_ref()
            {
                return Err(Error::spec(format!(
                    "spec.network: subnet {} ({}) is {} in {} but the spec asks for {} in {}: a subnet cannot move; \
                     tear the network down first (teardown), or keep its CIDR",
                    self.name(&want.component),
                    s.id,
                    s.state.cidr,
                    s.state.az,
                    want.cidr,
                    want.az
                )));
            }
            self.know(Kind::Subnet, &want.component, &s.id);
            let mut fixes = Vec::new();
            // Nothing we place gets a public IP by default (AWS FSBP EC2.15):
            // the ALB and NAT gateways have their own addresses.
            if s.state.map_public_ip {
                fixes.push(Fix {
                    field: "map_public_ip_on_launch",
                    from: Value::Bool(true),
                    to: Value::Bool(false),
                    what: What::NoPublicIps,
                });
            }
            fixes.extend(self.tag_fix(s));
            self.update(Kind::Subnet, s, fixes)?;
        }
        self.stale_subnets()
    }

    /// Subnets of AZs the spec dropped. One that still holds others' network
    /// interfaces (the ALB's, the services') stays until the layers above have
    /// moved off it: deleting it would fail, and would strand them.
    fn stale_subnets(&mut self) -> Result<()> {
        let stale: Vec<_> = self
            .actual
            .subnets
            .iter()
            .filter(|s| self.desired.subnet(s.component()).is_none())
            .collect();
        for s in stale {
            match self.actual.enis.get(&s.id) {
                Some(&n) if n > 0 && self.prune => self.plan.warnings.push(format!(
                    "subnet {} ({}) is no longer in the spec but {n} network interface(s) still use it; \
                     kept: re-run net-up once alb-up and svc-up have moved off it",
                    self.name(s.component()),
                    s.id
                )),
                _ => self.prune(Kind::Subnet, s)?,
            }
        }
        Ok(())
    }
}

fn dns_fix(field: &'static str, from: Option<bool>, what: What) -> Fix {
    Fix {
        field,
        from: from.map_or(Value::Null, Value::Bool),
        to: Value::Bool(true),
        what,
    }
}

/// The update that empties the default group: `found` is the group and its
/// rules when the VPC exists.
fn clear_default(
    found: Option<(&String, &Vec<IpPermission>, &Vec<IpPermission>)>,
    ingress: usize,
    egress: usize,
) -> Op {
    let (id, what) = match found {
        Some((id, i, e)) => (
            id.clone(),
            What::ClearDefault {
                ingress: i.clone(),
                egress: e.clone(),
            },
        ),
        None => (
            String::new(),
            What::ClearDefault {
                ingress: vec![],
                egress: vec![],
            },
        ),
    };
    let fix = |field, n: usize, what| Fix {
        field,
        from: Value::from(n),
        to: Value::from(0),
        what,
    };
    let mut fixes = vec![fix("ingress_rules", ingress, what)];
    // One fix does the work; the second only shows the egress count.
    fixes.push(fix("egress_rules", egress, What::Shown));
    Op::Update {
        key: Key::new(Kind::DefaultGroup, c::VPC),
        id,
        fixes,
    }
}
