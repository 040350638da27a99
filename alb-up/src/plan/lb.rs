//! The load balancer: found by its `alb` tag; its security groups, subnets,
//! IP address type and attributes are updated in place. Its scheme and VPC
//! cannot change, and replacing it would give clients a new DNS name: the run
//! stops and says how to replace it deliberately. Its name is not compared:
//! AWS cannot rename one, and the tags, not the name, say it is ours.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::{IpAddressType, LoadBalancerSchemeEnum};

use common::{Context, Error, Result};

use super::{by_component, duplicates, shown, update, Key, Op, Ref, LOAD_BALANCER};
use crate::desired::Desired;
use crate::discover::{Actual, FoundLb};
use crate::names;

/// The one load balancer of ours, if any. Refuses two, and a load balancer
/// with our name that is not ours.
pub fn find<'a>(ctx: &Context, want: &Desired, have: &'a Actual) -> Result<Option<&'a FoundLb>> {
    for l in &have.lbs {
        if l.lb.load_balancer_name() == Some(want.lb.name.as_str()) {
            ctx.check_owned(
                LOAD_BALANCER,
                &want.lb.name,
                names::pairs(&l.tags),
                names::LB,
            )?;
        }
    }
    let ours = by_component(ctx, &have.lbs, |l| &l.tags);
    match ours.get(names::LB).map(Vec::as_slice).unwrap_or_default() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => {
            let ids: Vec<&str> = many.iter().map(|l| l.arn()).collect();
            Err(duplicates(LOAD_BALANCER, &want.lb.name, &ids))
        }
    }
}

/// Plans the load balancer; returns its ref and, when it exists, its DNS name and zone.
pub fn plan(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    found: Option<&FoundLb>,
    group: &Ref,
    ops: &mut Vec<Op>,
) -> Result<(Ref, Option<(String, String)>)> {
    let Some(found) = found else {
        ops.push(Op::CreateLoadBalancer {
            want: want.lb.clone(),
            group: group.clone(),
        });
        return Ok((Ref::New(Key::new(LOAD_BALANCER, &want.lb.name)), None));
    };
    let lb = &found.lb;
    let name = lb.load_balancer_name().unwrap_or(&want.lb.name);
    ctx.check_owned(LOAD_BALANCER, name, names::pairs(&found.tags), names::LB)?;
    check_fixed(want, found)?;
    if let Some(op) = compare(want, have, found, group) {
        ops.push(op);
    }
    let dns = (
        lb.dns_name().unwrap_or_default().to_owned(),
        lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
    );
    Ok((Ref::Have(found.arn().to_owned()), Some(dns)))
}

/// What AWS cannot change on a load balancer.
fn check_fixed(want: &Desired, found: &FoundLb) -> Result<()> {
    let lb = &found.lb;
    let name = lb.load_balancer_name().unwrap_or_default();
    let scheme = if want.lb.internal {
        LoadBalancerSchemeEnum::Internal
    } else {
        LoadBalancerSchemeEnum::InternetFacing
    };
    if lb.scheme() != Some(&scheme) {
        return Err(Error::spec(format!(
            "load balancer {name} is {} but the spec asks for {}: AWS cannot change a scheme, and a new \
             load balancer has a new DNS name; to replace it, tear the load balancer layer down (teardown) and run alb-up",
            lb.scheme().map_or("of no scheme", |s| s.as_str()),
            scheme.as_str()
        )));
    }
    if lb.vpc_id() != Some(want.vpc_id.as_str()) {
        return Err(Error::spec(format!(
            "load balancer {name} is in {} but .network's VPC is {}: a load balancer cannot move; \
             tear the load balancer layer down first (teardown), then run alb-up",
            lb.vpc_id().unwrap_or("no VPC"),
            want.vpc_id
        )));
    }
    Ok(())
}

/// The one update (security groups, subnets, IP address type, attributes) it needs.
fn compare(want: &Desired, have: &Actual, found: &FoundLb, group: &Ref) -> Option<Op> {
    let lb = &found.lb;
    let name = lb.load_balancer_name().unwrap_or(&want.lb.name);
    let mut change = update(LOAD_BALANCER, name, found.arn());
    let groups = lb.security_groups().to_vec();
    let set_group = groups != [shown(group)];
    if set_group {
        change = change.field("security_groups", &groups, [shown(group)]);
    }
    let have_subnets: BTreeSet<&str> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id())
        .collect();
    let want_subnets: BTreeSet<&str> = want.lb.subnets.iter().map(String::as_str).collect();
    let set_subnets = have_subnets != want_subnets;
    if set_subnets {
        change = change.field("subnets", &have_subnets, &want_subnets);
    }
    let ipv4 = lb.ip_address_type() != Some(&IpAddressType::Ipv4);
    if ipv4 {
        change = change.field(
            "ip_address_type",
            lb.ip_address_type().map(|t| t.as_str()),
            "ipv4",
        );
    }
    let mut attributes = BTreeMap::new();
    for (key, value) in &want.lb.attributes {
        let current = have.lb_attributes.get(key);
        if current != Some(value) {
            change = change.field(key, current, value);
            attributes.insert(key.clone(), value.clone());
        }
    }
    let changed = set_group || set_subnets || ipv4 || !attributes.is_empty();
    changed.then(|| Op::UpdateLoadBalancer {
        arn: found.arn().to_owned(),
        group: set_group.then(|| group.clone()),
        subnets: set_subnets.then(|| want.lb.subnets.clone()),
        ipv4,
        attributes,
        change,
    })
}
