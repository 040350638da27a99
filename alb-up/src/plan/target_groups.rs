//! Target groups: one per routed service (`tg-{service}`) and a green twin per
//! blue/green service (`tg-{service}-green`). The health check and the
//! deregistration delay are updated in place. The port is not compared: ECS
//! registers every task with the container port svc-up gives it, and health
//! checks go to that traffic port, so a target group's own port is only a
//! default nobody uses (and AWS cannot change it; replacing the group would
//! take the service off the load balancer). The VPC cannot change either:
//! a group in another VPC stops the run.

use std::collections::BTreeMap;

use serde_json::json;

use common::{Context, Error, Result};

use super::listeners::Listeners;
use super::{by_component, delete, duplicates, update, Key, Op, OutTg, Prune, Ref, TARGET_GROUP};
use crate::desired::{Desired, WantTg, DEREGISTRATION_DELAY};
use crate::discover::{Actual, FoundTg};
use crate::names;

/// Plans every target group; returns each wanted component's id (or ref).
pub fn plan(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> Result<BTreeMap<String, Ref>> {
    let ours = by_component(ctx, &have.tgs, |t| &t.tags);
    let mut refs = BTreeMap::new();
    for w in &want.tgs {
        refuse_taken(ctx, have, w)?;
        let found = ours
            .get(&w.component)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let r = match found {
            [] => {
                ops.push(Op::CreateTargetGroup(w.clone()));
                Ref::New(Key::new(TARGET_GROUP, &w.name))
            }
            [one] => {
                ops.extend(compare(ctx, want, w, one)?);
                Ref::Have(one.arn().to_owned())
            }
            many => {
                let ids: Vec<&str> = many.iter().map(|t| t.arn()).collect();
                return Err(duplicates(TARGET_GROUP, &w.name, &ids));
            }
        };
        refs.insert(w.component.clone(), r);
    }
    for (component, found) in &ours {
        if !names::is_tg_component(component) || refs.contains_key(component) {
            continue;
        }
        for t in found {
            let name = t.tg.target_group_name().unwrap_or_default();
            if prune == Prune::No {
                tracing::warn!(
                    "target group {name} is no longer routed; kept (spec.services is not stated)"
                );
                continue;
            }
            ctx.check_owned(TARGET_GROUP, name, names::pairs(&t.tags), component)?;
            ops.push(Op::DeleteTargetGroup {
                arn: t.arn().to_owned(),
                change: delete(TARGET_GROUP, name, t.arn()),
            });
        }
    }
    Ok(refs)
}

/// A group with the wanted name that is not ours: creating ours would fail,
/// or worse, AWS would answer with that group (CreateTargetGroup returns an
/// identical existing group).
fn refuse_taken(ctx: &Context, have: &Actual, w: &WantTg) -> Result<()> {
    for t in &have.tgs {
        if t.tg.target_group_name() == Some(w.name.as_str()) {
            ctx.check_owned(TARGET_GROUP, &w.name, names::pairs(&t.tags), &w.component)?;
        }
    }
    Ok(())
}

/// The update an existing group needs, if any.
fn compare(ctx: &Context, want: &Desired, w: &WantTg, t: &FoundTg) -> Result<Option<Op>> {
    ctx.check_owned(TARGET_GROUP, &w.name, names::pairs(&t.tags), &w.component)?;
    if t.tg.vpc_id() != Some(want.vpc_id.as_str()) {
        return Err(Error::spec(format!(
            "target group {} is in {} but .network's VPC is {}: a target group cannot move; \
             tear the load balancer layer down first (teardown), then run alb-up",
            w.name,
            t.tg.vpc_id().unwrap_or("no VPC"),
            want.vpc_id
        )));
    }
    let mut change = update(TARGET_GROUP, &w.name, t.arn());
    let h = &w.health;
    let tg = &t.tg;
    let checks = [
        (
            "health_check.path",
            json!(tg.health_check_path()),
            json!(h.path),
        ),
        (
            "health_check.interval",
            json!(tg.health_check_interval_seconds()),
            json!(h.interval),
        ),
        (
            "health_check.timeout",
            json!(tg.health_check_timeout_seconds()),
            json!(h.timeout),
        ),
        (
            "health_check.healthy",
            json!(tg.healthy_threshold_count()),
            json!(h.healthy),
        ),
        (
            "health_check.unhealthy",
            json!(tg.unhealthy_threshold_count()),
            json!(h.unhealthy),
        ),
        (
            "health_check.matcher",
            json!(tg.matcher().and_then(|m| m.http_code())),
            json!(h.matcher),
        ),
    ];
    let mut health = false;
    for (field, from, to) in checks {
        if from != to {
            health = true;
            change = change.field(field, from, to);
        }
    }
    let delay = w.deregistration_delay.to_string();
    let have_delay = t.attributes.get(DEREGISTRATION_DELAY);
    let deregistration_delay = have_delay != Some(&delay);
    if deregistration_delay {
        change = change.field(
            "deregistration_delay",
            have_delay.and_then(|d| d.parse::<u32>().ok()),
            w.deregistration_delay,
        );
    }
    Ok(
        (health || deregistration_delay).then(|| Op::UpdateTargetGroup {
            arn: t.arn().to_owned(),
            want: w.clone(),
            health,
            deregistration_delay,
            change,
        }),
    )
}

/// `.alb.target_groups`: each routed service's group, green twin and test listener.
pub fn out(
    want: &Desired,
    refs: &BTreeMap<String, Ref>,
    listeners: &Listeners,
) -> BTreeMap<String, OutTg> {
    want.tgs
        .iter()
        .filter(|t| !t.green)
        .map(|t| {
            let green = want
                .tg(&t.service, true)
                .map(|g| (refs[&g.component].clone(), g.name.clone()));
            let out = OutTg {
                arn: refs[&t.component].clone(),
                name: t.name.clone(),
                port: t.port,
                green,
                test_port: listeners.test_ports.get(&t.service).copied(),
                test_listener: listeners.tests.get(&t.service).cloned(),
            };
            (t.service.clone(), out)
        })
        .collect()
}
