//! The internet gateway, the NAT gateways and their Elastic IPs.

use common::Result;
use serde_json::Value;

use super::{find, Fix, Op, Planner, What};
use crate::components::{self as c, Key, Kind};

impl Planner<'_> {
    pub(super) fn gateways(&mut self) -> Result<()> {
        self.igw()?;
        self.eips()?;
        self.nats()
    }

    /// One internet gateway, attached to our VPC: the public subnets' way out.
    fn igw(&mut self) -> Result<()> {
        let Some(igw) = find(&self.actual.igws, c::IGW) else {
            self.push(Op::Create(Key::new(Kind::Igw, c::IGW)));
            return Ok(());
        };
        self.know(Kind::Igw, c::IGW, &igw.id);
        let vpc = self.plan.id(Kind::Vpc, c::VPC).map(str::to_owned);
        let mut fixes = Vec::new();
        let attached = vpc
            .as_ref()
            .is_some_and(|v| igw.state.attached_to.contains(v));
        if !attached {
            let detach_from = igw.state.attached_to.first().cloned();
            fixes.push(Fix {
                field: "vpc",
                from: detach_from.clone().map_or(Value::Null, Value::from),
                to: Value::from(self.name(c::VPC)),
                what: What::Attach { detach_from },
            });
        }
        fixes.extend(self.tag_fix(igw));
        self.update(Kind::Igw, igw, fixes)
    }

    /// One Elastic IP per NAT gateway; those of NAT gateways no longer wanted go
    /// (after their gateways).
    fn eips(&mut self) -> Result<()> {
        for az in &self.desired.nat_azs {
            let component = c::eip(az);
            let Some(eip) = find(&self.actual.eips, &component) else {
                self.push(Op::Create(Key::new(Kind::Eip, &component)));
                continue;
            };
            self.know(Kind::Eip, &component, &eip.id);
            self.plan
                .public_ips
                .insert(component.clone(), eip.state.public_ip.clone());
            let fixes = self.tag_fix(eip).into_iter().collect();
            self.update(Kind::Eip, eip, fixes)?;
        }
        let wanted: Vec<String> = self.desired.nat_azs.iter().map(|az| c::eip(az)).collect();
        for eip in &self.actual.eips {
            if !wanted.iter().any(|w| w == eip.component()) {
                self.prune(Kind::Eip, eip)?;
            }
        }
        Ok(())
    }

    /// One NAT gateway per NAT AZ, in that AZ's public subnet with its own
    /// Elastic IP. A gateway in another subnet or with another address is
    /// replaced (AWS changes neither in place).
    fn nats(&mut self) -> Result<()> {
        for az in &self.desired.nat_azs {
            let component = c::nat(az);
            let Some(nat) = find(&self.actual.nats, &component) else {
                self.push(Op::Create(Key::new(Kind::Nat, &component)));
                continue;
            };
            let subnet = self.plan.id(Kind::Subnet, &c::subnet("public", az));
            let eip = self.plan.id(Kind::Eip, &c::eip(az));
            let mut fields = Vec::new();
            if subnet != Some(nat.state.subnet_id.as_str()) {
                fields.push((
                    "subnet",
                    Value::from(nat.state.subnet_id.clone()),
                    Value::from(self.name(&c::subnet("public", az))),
                ));
            }
            if eip != nat.state.allocation_id.as_deref() {
                fields.push((
                    "elastic_ip",
                    nat.state
                        .allocation_id
                        .clone()
                        .map_or(Value::Null, Value::from),
                    Value::from(self.name(&c::eip(az))),
                ));
            }
            if !fields.is_empty() {
                self.owned(Kind::Nat, nat)?;
                self.push(Op::Replace {
                    key: Key::new(Kind::Nat, &component),
                    old: nat.id.clone(),
                    fields,
                });
                continue;
            }
            self.know(Kind::Nat, &component, &nat.id);
            let fixes = self.tag_fix(nat).into_iter().collect();
            self.update(Kind::Nat, nat, fixes)?;
        }
        let wanted: Vec<String> = self.desired.nat_azs.iter().map(|az| c::nat(az)).collect();
        for nat in &self.actual.nats {
            if !wanted.iter().any(|w| w == nat.component()) {
                self.prune(Kind::Nat, nat)?;
            }
        }
        Ok(())
    }
}
