//! VPC endpoints and the interface endpoints' security group (HTTPS from the
//! VPC, nothing else in).

use common::spec::network::EndpointKind;
use common::Result;
use serde_json::Value;

use super::{find, sorted, Fix, Op, Planner, What};
use crate::actual::{EndpointState, Res};
use crate::components::{self as c, Key, Kind};
use crate::desired::EndpointWant;
use crate::rules;

impl Planner<'_> {
    pub(super) fn endpoints(&mut self) -> Result<()> {
        self.endpoint_group()?;
        for want in self.desired.endpoints.clone() {
            match find(&self.actual.endpoints, &want.component) {
                None => self.push(Op::Create(Key::new(Kind::Endpoint, &want.component))),
                Some(e) => self.endpoint(e, &want)?,
            }
        }
        for e in &self.actual.endpoints {
            if self.desired.endpoint(e.component()).is_none() {
                self.prune(Kind::Endpoint, e)?;
            }
        }
        Ok(())
    }

    /// The rule the interface endpoints' group holds.
    pub(crate) fn https_from_vpc(&self) -> aws_sdk_ec2::types::IpPermission {
        rules::tcp_from(443, &self.desired.cidr.to_string(), "HTTPS from the VPC")
    }

    fn endpoint_group(&mut self) -> Result<()> {
        let found = find(&self.actual.groups, c::ENDPOINT_GROUP);
        match (self.desired.wants_endpoint_group(), found) {
            (true, None) => self.push(Op::Create(Key::new(Kind::Group, c::ENDPOINT_GROUP))),
            (true, Some(g)) => {
                self.know(Kind::Group, c::ENDPOINT_GROUP, &g.id);
                let want = [self.https_from_vpc()];
                let (add, revoke) = rules::diff(&g.state.ingress, &want);
                let mut fixes = Vec::new();
                if !add.is_empty() || !revoke.is_empty() {
                    fixes.push(Fix {
                        field: "ingress",
                        from: Value::from(rules::shown(&g.state.ingress)),
                        to: Value::from(rules::shown(&want)),
                        what: What::Ingress { add, revoke },
                    });
                }
                fixes.extend(self.tag_fix(g));
                self.update(Kind::Group, g, fixes)?;
            }
            (false, Some(g)) => self.prune(Kind::Group, g)?,
            (false, None) => {}
        }
        Ok(())
    }

    fn endpoint(&mut self, e: &Res<EndpointState>, want: &EndpointWant) -> Result<()> {
        let service = format!("com.amazonaws.{}.{}", self.ctx.region, want.short);
        if e.state.service != service {
            self.owned(Kind::Endpoint, e)?;
            self.push(Op::Replace {
                key: Key::new(Kind::Endpoint, &want.component),
                old: e.id.clone(),
                fields: vec![(
                    "service",
                    Value::from(e.state.service.clone()),
                    Value::from(service),
                )],
            });
            return Ok(());
        }
        self.know(Kind::Endpoint, &want.component, &e.id);
        let mut fixes = match want.kind {
            EndpointKind::Interface => self.interface_fixes(e),
            EndpointKind::Gateway => {
                let tables = self.desired.private_tables();
                self.members(
                    "route_tables",
                    Kind::RouteTable,
                    &e.state.tables,
                    &tables,
                    |add, remove| What::EndpointTables { add, remove },
                )
                .into_iter()
                .collect()
            }
        };
        fixes.extend(self.tag_fix(e));
        self.update(Kind::Endpoint, e, fixes)
    }

    fn interface_fixes(&self, e: &Res<EndpointState>) -> Vec<Fix> {
        let subnets = self.desired.private_subnets();
        let mut fixes: Vec<Fix> = self
            .members(
                "subnets",
                Kind::Subnet,
                &e.state.subnets,
                &subnets,
                |add, remove| What::EndpointSubnets { add, remove },
            )
            .into_iter()
            .collect();
        fixes.extend(self.members(
            "security_groups",
            Kind::Group,
            &e.state.groups,
            &[c::ENDPOINT_GROUP.to_owned()],
            |add, remove| What::EndpointGroups { add, remove },
        ));
        if !e.state.private_dns {
            fixes.push(Fix {
                field: "private_dns",
                from: Value::Bool(false),
                to: Value::Bool(true),
                what: What::PrivateDns,
            });
        }
        fixes
    }

    /// The fix that makes an endpoint's members (subnets, tables, groups: ids)
    /// the wanted components: components to add (resolved when applied, they
    /// may be made by this run), ids to remove.
    fn members(
        &self,
        field: &'static str,
        kind: Kind,
        have: &[String],
        want: &[String],
        what: impl Fn(Vec<String>, Vec<String>) -> What,
    ) -> Option<Fix> {
        let want_ids: Vec<Option<&str>> = want.iter().map(|w| self.plan.id(kind, w)).collect();
        let add: Vec<String> = want
            .iter()
            .zip(&want_ids)
            .filter(|(_, id)| !id.is_some_and(|id| have.iter().any(|h| h == id)))
            .map(|(w, _)| w.clone())
            .collect();
        let remove: Vec<String> = have
            .iter()
            .filter(|h| !want_ids.contains(&Some(h.as_str())))
            .cloned()
            .collect();
        if add.is_empty() && remove.is_empty() {
            return None;
        }
        let names: Vec<String> = want.iter().map(|w| self.name(w)).collect();
        let shown_have: Vec<String> = have.iter().map(|h| self.shown_member(kind, h)).collect();
        Some(Fix {
            field,
            from: sorted(&shown_have),
            to: sorted(&names),
            what: what(add, remove),
        })
    }

    /// A member id as plans show it: the name of ours, else the id.
    fn shown_member(&self, kind: Kind, id: &str) -> String {
        let component = match kind {
            Kind::Subnet => self
                .actual
                .subnets
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.component()),
            Kind::RouteTable => self
                .actual
                .tables
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.component()),
            Kind::Group => self
                .actual
                .groups
                .iter()
                .find(|g| g.id == id)
                .map(|g| g.component()),
            _ => None,
        };
        component.map_or_else(|| id.to_owned(), |c| self.name(c))
    }
}
