//! Listener rules: one per routed service with conditions (`rule-{service}`),
//! on the serving listener (HTTPS with a certificate, else HTTP). Priorities
//! are stable: explicit ones win, a service keeps the priority its rule has
//! (wherever it was), a new one takes the lowest free slot (`ports`); moves go
//! in one SetRulePriorities call. Conditions and target are updated in place.
//! A rule of ours on the other production listener (after a certificate came
//! or went) is deleted and made again on the serving one. Rules that are not
//! ours are never touched; their priorities are skipped.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::types::RuleCondition;
use serde_json::json;

use common::spec::alb::Conditions;
use common::{Context, Error, Result};

use super::listeners::{converged, text, Listeners, Live, Seen};
use super::{by_component, delete, duplicates, update, Forward, Op, Prune, Ref, RULE};
use crate::desired::Desired;
use crate::discover::{Actual, FoundRule};
use crate::names;
use crate::ports::assign_priorities;

/// Plans every rule; returns each ruled service's rule and priority.
pub fn plan(
    ctx: &Context,
    want: &Desired,
    have: &Actual,
    listeners: &Listeners,
    live: &Live,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> Result<BTreeMap<String, (Ref, u32)>> {
    let serving = listeners.serving();
    let on_serving = |r: &FoundRule| serving.have() == Some(r.listener_arn.as_str());
    let ours = by_component(ctx, &have.rules, |r| &r.tags);
    let foreign: BTreeSet<u32> = have
        .rules
        .iter()
        .filter(|r| on_serving(r) && names::our_component(ctx, &r.tags).is_none())
        .filter_map(priority)
        .collect();
    let priorities = priorities(want, &ours, &foreign)?;
    let mut moves = Vec::new();
    let mut out = BTreeMap::new();
    for w in &want.ruled {
        let component = names::rule_component(&w.service);
        let name = ctx.name(&component);
        let found = ours.get(&component).cloned().unwrap_or_default();
        let (here, elsewhere): (Vec<&FoundRule>, Vec<&FoundRule>) =
            found.into_iter().partition(|r| on_serving(r));
        for r in elsewhere {
            ctx.check_owned(RULE, &name, names::pairs(&r.tags), &component)?;
            ops.push(Op::DeleteRule {
                arn: r.arn().to_owned(),
                change: delete(RULE, &name, r.arn()),
            });
        }
        let p = priorities[&w.service];
        let r = match here.as_slice() {
            [] => {
                ops.push(Op::CreateRule {
                    listener: serving.clone(),
                    component,
                    name: name.clone(),
                    priority: p,
                    conditions: w.conditions.clone(),
                    target: live.target(&w.service),
                });
                Ref::New(super::Key::new(RULE, &name))
            }
            [one] => {
                ctx.check_owned(RULE, &name, names::pairs(&one.tags), &component)?;
                if priority(one) != Some(p) {
                    let change = update(RULE, &name, one.arn()).field("priority", priority(one), p);
                    moves.push((one.arn().to_owned(), p, change));
                }
                ops.extend(compare(w, one, &name, live));
                Ref::Have(one.arn().to_owned())
            }
            many => {
                let ids: Vec<&str> = many.iter().map(|r| r.arn()).collect();
                return Err(duplicates(RULE, &name, &ids));
            }
        };
        out.insert(w.service.clone(), (r, p));
    }
    if !moves.is_empty() {
        let (moves, changes) = moves.into_iter().map(|(a, p, c)| ((a, p), c)).unzip();
        ops.push(Op::SetRulePriorities { moves, changes });
    }
    remove_unrouted(ctx, want, &ours, prune, ops)?;
    Ok(out)
}

fn priority(r: &FoundRule) -> Option<u32> {
    r.rule.priority().and_then(|p| p.parse().ok())
}

/// Each ruled service's priority; an explicit one that a rule not ours holds
/// on the serving listener stops the run (AWS would refuse the rule).
fn priorities(
    want: &Desired,
    ours: &BTreeMap<String, Vec<&FoundRule>>,
    foreign: &BTreeSet<u32>,
) -> Result<BTreeMap<String, u32>> {
    let mut remembered = BTreeMap::new();
    for (component, rules) in ours {
        let Some(service) = names::rule_service(component) else {
            continue;
        };
        if let Some(p) = rules.iter().filter_map(|r| priority(r)).min() {
            remembered.insert(service.to_owned(), p);
        }
    }
    for w in &want.ruled {
        if let Some(p) = w.priority.filter(|p| foreign.contains(p)) {
            return Err(Error::spec(format!(
                "spec.services.{}.route.priority {p} is held by a listener rule that is not this stack's: pick another priority",
                w.service
            )));
        }
    }
    let wanted: Vec<(&str, Option<u32>)> = want
        .ruled
        .iter()
        .map(|w| (w.service.as_str(), w.priority))
        .collect();
    assign_priorities(&wanted, &remembered, foreign)
}

/// The update a kept rule needs: its conditions, or a target that is not the
/// service's (either group of a blue/green service is).
fn compare(w: &crate::desired::WantRule, r: &FoundRule, name: &str, live: &Live) -> Option<Op> {
    let have = conditions_of(r.rule.conditions());
    let mut change = update(RULE, name, r.arn());
    let mut changed = false;
    if have.as_ref() != Some(&w.conditions) {
        changed = true;
        change = change.field("conditions", have.map(|c| shown(&c)), shown(&w.conditions));
    }
    let seen = Seen::of(r.rule.actions());
    let want = Forward::To(live.target(&w.service));
    let target = match &seen {
        Seen::Forward(arn) if converged(&want, &seen, Some(&w.service), live) => {
            Ref::Have(arn.clone())
        }
        _ => {
            changed = true;
            change = change.field("target", seen.text(), text(&want));
            live.target(&w.service)
        }
    };
    changed.then(|| Op::UpdateRule {
        arn: r.arn().to_owned(),
        conditions: w.conditions.clone(),
        target,
        change,
    })
}

/// Conditions as a change shows them.
fn shown(c: &Conditions) -> serde_json::Value {
    json!({"paths": c.paths, "hosts": c.hosts, "headers": c.headers})
}

/// Rules of ours for services that no longer have a route with conditions.
fn remove_unrouted(
    ctx: &Context,
    want: &Desired,
    ours: &BTreeMap<String, Vec<&FoundRule>>,
    prune: Prune,
    ops: &mut Vec<Op>,
) -> Result<()> {
    for (component, rules) in ours {
        let Some(service) = names::rule_service(component) else {
            continue;
        };
        if want.ruled.iter().any(|w| w.service == service) {
            continue;
        }
        let name = ctx.name(component);
        for r in rules {
            if prune == Prune::No {
                tracing::warn!(
                    "listener rule {name} is no longer wanted; kept (spec.services is not stated)"
                );
                continue;
            }
            ctx.check_owned(RULE, &name, names::pairs(&r.tags), component)?;
            ops.push(Op::DeleteRule {
                arn: r.arn().to_owned(),
                change: delete(RULE, &name, r.arn()),
            });
        }
    }
    Ok(())
}

/// Conditions as AWS holds them, in our terms (sorted); `None` if one is of a
/// kind alb-up does not set.
pub fn conditions_of(conditions: &[RuleCondition]) -> Option<Conditions> {
    let mut c = Conditions::default();
    for rc in conditions {
        let values = |config: Option<&[String]>| {
            config
                .filter(|v| !v.is_empty())
                .unwrap_or(rc.values())
                .to_vec()
        };
        match rc.field()? {
            "path-pattern" => c
                .paths
                .extend(values(rc.path_pattern_config().map(|p| p.values()))),
            "host-header" => c
                .hosts
                .extend(values(rc.host_header_config().map(|h| h.values()))),
            "http-header" => {
                let h = rc.http_header_config()?;
                c.headers
                    .entry(h.http_header_name()?.to_owned())
                    .or_default()
                    .extend(h.values().iter().cloned());
            }
            _ => return None,
        }
    }
    Some(c.normalized())
}
