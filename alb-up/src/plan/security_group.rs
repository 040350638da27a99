//! The load balancer's security group (component `alb`): in, HTTP (and HTTPS)
//! from the spec's ingress CIDRs and each test listener's port from the test
//! CIDRs (the VPC's own when the spec names none: a test listener is for the
//! pipeline's checks, not the internet); out, only the services' port range
//! into the VPC. Rules are converged exactly (`sg`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use common::{Context, Result};

use super::{duplicates, update, Key, Op, Ref, SECURITY_GROUP};
use crate::desired::Desired;
use crate::discover::Actual;
use crate::names;
use crate::sg::{grants, texts, Diff, Grant};

/// Plans the group and its rules; returns its id (or ref).
pub fn plan(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    test_ports: &BTreeMap<String, u16>,
    ops: &mut Vec<Op>,
) -> Result<Ref> {
    let name = ctx.name(names::LB);
    let taken = have
        .groups
        .iter()
        .filter(|g| g.group_name() == Some(name.as_str()));
    for g in taken {
        ctx.check_owned(
            SECURITY_GROUP,
            &name,
            common::ec2::pairs(g.tags()),
            names::LB,
        )?;
    }
    let ours: Vec<_> = have
        .groups
        .iter()
        .filter(|g| {
            ctx.owns(common::ec2::pairs(g.tags()))
                && common::ec2::component(g.tags()) == Some(names::LB)
        })
        .collect();
    let (ingress, egress) = wanted(want, test_ports);
    let (group, have_in, have_out) = match ours.as_slice() {
        [] => {
            ops.push(Op::CreateSecurityGroup {
                name: name.clone(),
                vpc_id: want.vpc_id.clone(),
            });
            let group = Ref::New(Key::new(SECURITY_GROUP, &name));
            (group, BTreeSet::new(), BTreeSet::from([Grant::all_out()]))
        }
        [g] => {
            ctx.check_owned(
                SECURITY_GROUP,
                &name,
                common::ec2::pairs(g.tags()),
                names::LB,
            )?;
            let id = g.group_id().unwrap_or_default().to_owned();
            (
                Ref::Have(id),
                grants(g.ip_permissions()),
                grants(g.ip_permissions_egress()),
            )
        }
        many => {
            let ids: Vec<&str> = many.iter().filter_map(|g| g.group_id()).collect();
            return Err(duplicates(SECURITY_GROUP, &name, &ids));
        }
    };
    let (diff_in, diff_out) = (Diff::new(&ingress, &have_in), Diff::new(&egress, &have_out));
    if diff_in.is_empty() && diff_out.is_empty() {
        return Ok(group);
    }
    let change = group.have().map(|id| {
        let mut c = update(SECURITY_GROUP, &name, id);
        let keys = |m: &BTreeMap<Grant, String>| m.keys().cloned().collect::<BTreeSet<_>>();
        if !diff_in.is_empty() {
            c = c.field(
                "ingress",
                json!(texts(&have_in)),
                json!(texts(&keys(&ingress))),
            );
        }
        if !diff_out.is_empty() {
            c = c.field(
                "egress",
                json!(texts(&have_out)),
                json!(texts(&keys(&egress))),
            );
        }
        c
    });
    ops.push(Op::SecurityGroupRules {
        group: group.clone(),
        name,
        ingress: diff_in,
        egress: diff_out,
        change,
    });
    Ok(group)
}

/// The wanted ingress and egress grants, each with its description.
pub fn wanted(
    want: &Desired,
    test_ports: &BTreeMap<String, u16>,
) -> (BTreeMap<Grant, String>, BTreeMap<Grant, String>) {
    let mut ingress = BTreeMap::new();
    for cidr in &want.ingress {
        ingress.insert(Grant::tcp(80, 80, cidr), "HTTP".to_owned());
        if want.tls.is_some() {
            ingress.insert(Grant::tcp(443, 443, cidr), "HTTPS".to_owned());
        }
    }
    for (service, port) in test_ports {
        for cidr in &want.test_ingress {
            ingress.insert(
                Grant::tcp(*port, *port, cidr),
                format!("test listener of {service}"),
            );
        }
    }
    let egress = want
        .egress
        .map(|(from, to)| {
            (
                Grant::tcp(from, to, &want.vpc_cidr),
                "to the services in the VPC".to_owned(),
            )
        })
        .into_iter()
        .collect();
    (ingress, egress)
}
